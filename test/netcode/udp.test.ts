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
