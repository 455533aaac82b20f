import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { ClientState, NetcodeUdpClient, NetcodeUdpServer, formatAddress, generateConnectToken } from '../../src/netcode/index.js';

const KEY = new Uint8Array(32).fill(3);
const PROTOCOL = 0xabcdefn;

async function withServer<T>(bind: string, maxClients: number, fn: (s: NetcodeUdpServer) => Promise<T>): Promise<T> {
  const server = await NetcodeUdpServer.listen({ bind, privateKey: KEY, protocolId: PROTOCOL, maxClients });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

function token(server: NetcodeUdpServer, clientId: bigint, timeoutSeconds = 10): Uint8Array {
  return generateConnectToken({
    privateKey: KEY,
    protocolId: PROTOCOL,
    clientId,
    publicServerAddresses: [server.boundAddress],
    expireSeconds: 60,
    timeoutSeconds,
    userData: new Uint8Array(Buffer.from(`player-${clientId}`)),
  });
}

function nextPayload(c: NetcodeUdpClient, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no payload')), timeoutMs);
    c.once('payload', (p) => {
      clearTimeout(t);
      resolve(p);
    });
  });
}

describe('UDP server adapter robustness', () => {
  it('survives garbage datagrams and still serves clients', async () => {
    await withServer('127.0.0.1:0', 2, async (server) => {
      const warnings: Error[] = [];
      server.on('warning', (e) => warnings.push(e));
      const s = dgram.createSocket('udp4');
      try {
        const sizes = [0, 1, 2, 17, 18, 100, 1078, 1300, 1500, 4000];
        for (const size of sizes) {
          const junk = Buffer.alloc(size, size & 0xff);
          if (size > 0) junk[0] = size % 7;
          await new Promise<void>((r) => s.send(junk, server.boundAddress.port, '127.0.0.1', () => r()));
        }
        const client = new NetcodeUdpClient();
        try {
          client.connect(token(server, 11n));
          expect(await client.waitUntilSettled(15_000)).toBe(ClientState.connected);
        } finally {
          await client.close();
        }
        expect(warnings).toEqual([]);
      } finally {
        await new Promise<void>((r) => s.close(() => r()));
      }
    });
  });
});

describe('UDP client socket connected to its server', () => {
  /** the client's IPv4 socket's connected peer, or undefined while it is not connected */
  const peerOf = (c: NetcodeUdpClient): string | undefined => {
    const s = (c as unknown as { sockets: Map<number, dgram.Socket> }).sockets.get(4);
    try {
      const a = s?.remoteAddress();
      return a && `${a.address}:${a.port}`;
    } catch {
      return undefined;
    }
  };

  it('connects while connected, moves to another server on a new token, and takes a vanished server quietly', async () => {
    // b sits behind a UDP relay, so closing the relay makes b vanish without disconnect packets:
    // the client's datagrams then meet a closed port and the kernel answers port unreachable
    const relay = dgram.createSocket('udp4');
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
    const relayAddress = `127.0.0.1:${relay.address().port}`;
    const b = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', address: relayAddress, privateKey: KEY, protocolId: PROTOCOL, maxClients: 2 });
    let clientPort = 0;
    relay.on('message', (msg, r) => {
      if (r.port === b.boundAddress.port) relay.send(msg, clientPort, '127.0.0.1');
      else {
        clientPort = r.port;
        relay.send(msg, b.boundAddress.port, '127.0.0.1');
      }
    });
    const tokenB = generateConnectToken({
      privateKey: KEY,
      protocolId: PROTOCOL,
      clientId: 22n,
      publicServerAddresses: [relayAddress],
      expireSeconds: 60,
      timeoutSeconds: 2,
    });
    try {
      await withServer('127.0.0.1:0', 2, async (a) => {
        for (const s of [a, b]) s.on('payload', (e) => s.sendPayload(e.clientIndex, e.payload));
        const client = new NetcodeUdpClient();
        const warnings: Error[] = [];
        client.on('warning', (e) => warnings.push(e));
        try {
          client.connect(token(a, 21n, 2));
          expect(await client.waitUntilSettled(15_000)).toBe(ClientState.connected);
          expect(peerOf(client)).toBe(formatAddress(a.boundAddress));
          const echoed = nextPayload(client, 10_000);
          client.sendPayload(new Uint8Array([1, 2, 3]));
          expect([...(await echoed)]).toEqual([1, 2, 3]);
          // a new token for another server: the disconnect packets still reach a, the request goes to b
          const left = waitFor(() => a.core.numConnectedClients === 0, 10_000);
          client.connect(tokenB);
          expect(await client.waitUntilSettled(15_000)).toBe(ClientState.connected);
          await left;
          expect(peerOf(client)).toBe(relayAddress);
          const again = nextPayload(client, 10_000);
          client.sendPayload(new Uint8Array([4]));
          expect([...(await again)]).toEqual([4]);
          await new Promise<void>((r) => relay.close(() => r()));
          for (let i = 0; i < 5; i++) client.sendPayload(new Uint8Array([5]));
          // the client times out as before, with no warnings, and its socket is unconnected again
          await waitFor(() => client.state === ClientState.connectionTimedOut, 15_000);
          expect(peerOf(client)).toBeUndefined();
          expect(warnings).toEqual([]);
        } finally {
          await client.close();
        }
      });
    } finally {
      await b.close();
    }
  }, 40_000);
});

describe.each(['127.0.0.1:0', '[::1]:0'])('UDP adapters on %s', (bind) => {
  it('connect, echo payloads both ways, then client disconnect', async () => {
    await withServer(bind, 4, async (server) => {
      const connects: { clientId: bigint; userData: string; address: string }[] = [];
      const reasons: string[] = [];
      server.on('connect', (e) =>
        connects.push({ clientId: e.clientId, userData: Buffer.from(e.userData.subarray(0, 8)).toString(), address: formatAddress(e.address) }),
      );
      server.on('disconnect', (e) => reasons.push(e.reason));
      server.on('payload', (e) => server.sendPayload(e.clientIndex, e.payload));
      const client = new NetcodeUdpClient();
      try {
        client.connect(token(server, 7n));
        expect(await client.waitUntilSettled(15_000)).toBe(ClientState.connected);
        expect(connects[0]!.clientId).toBe(7n);
        expect(connects[0]!.userData).toBe('player-7');
        expect(connects[0]!.address.startsWith(bind.startsWith('[') ? '[::1]' : '127.0.0.1')).toBe(true);
        for (let i = 0; i < 5; i++) {
          const msg = new Uint8Array(Buffer.from(`msg-${i}-`.padEnd(1200, 'x')));
          const echoed = nextPayload(client, 10_000);
          expect(client.sendPayload(msg)).toBe(true);
          expect(Buffer.from(await echoed).equals(Buffer.from(msg))).toBe(true);
        }
        client.disconnect();
        expect(client.state).toBe(ClientState.disconnected);
        await waitFor(() => reasons.length > 0, 10_000);
        expect(reasons).toEqual(['client_disconnect']);
      } finally {
        await client.close();
      }
    });
  });

  it('denies when full, and server-initiated disconnect reaches the client', async () => {
    await withServer(bind, 1, async (server) => {
      const a = new NetcodeUdpClient();
      const b = new NetcodeUdpClient();
      try {
        a.connect(token(server, 1n));
        expect(await a.waitUntilSettled(15_000)).toBe(ClientState.connected);
        b.connect(token(server, 2n));
        expect(await b.waitUntilSettled(15_000)).toBe(ClientState.connectionDenied);
        const settled = new Promise<number>((r) => a.on('state', (s) => r(s)));
        server.disconnectClient(0);
        expect(await settled).toBe(ClientState.disconnected);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
