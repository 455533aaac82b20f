import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { issueNetcodeHandoff } from '../../src/netcode/handoff.js';
import {
  ClientState,
  ConnectTokenSequence,
  NETCODE_VERSIONS,
  NetcodeServerCore,
  NetcodeUdpClient,
  NetcodeUdpServer,
  type NetcodeVersion,
  PacketType,
  ReplayProtection,
  generateConnectToken,
  parseAddress,
  readConnectToken,
  readConnectTokenPrivate,
  readConnectionRequest,
  readEncryptedPacket,
  writePacket,
} from '../../src/netcode/index.js';
import { KEY, PROTOCOL, SimNet } from './sim.js';

const S1 = '10.1.0.1:40000';
const ALL = [true, true, true, true, true, true, true];
const connected = (n: SimNet) => () => n.clients[0]!.core.state === ClientState.connected;
const tokenSequence = (t: Uint8Array): bigint => new DataView(t.buffer, t.byteOffset).getBigUint64(37, true);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof IyesmpError ? err.code : String(err);
  }
  return undefined;
}

describe('replay protection records a sequence only after the packet authenticates', () => {
  const key = new Uint8Array(32).fill(9);
  for (const version of NETCODE_VERSIONS) {
    it(`netcode ${version}`, () => {
      const replay = new ReplayProtection();
      const read = (data: Uint8Array) => readEncryptedPacket(data, { key, protocolId: PROTOCOL, allowed: ALL, replay, version });
      const keepAlive = (seq: bigint) => writePacket({ type: PacketType.keepAlive, clientIndex: 0, maxClients: 1 }, seq, key, PROTOCOL, version);
      // a copy with a corrupted tag must not block the genuine packet with the same sequence
      const genuine = keepAlive(5n);
      const forged = Uint8Array.from(genuine);
      forged[forged.length - 1]! ^= 1;
      expect(read(forged)).toBeNull();
      expect(read(genuine)?.sequence).toBe(5n);
      expect(read(genuine)).toBeNull();
      // 20 junk bytes claiming sequence 1,000,000 must not move the window past genuine sequence 8
      const junk = new Uint8Array(20);
      junk[0] = (3 << 4) | PacketType.keepAlive;
      junk.set([0x40, 0x42, 0x0f], 1);
      expect(read(junk)).toBeNull();
      expect(replay.mostRecent).toBe(5n);
      expect(read(keepAlive(8n))?.sequence).toBe(8n);
    });
  }

  it('a connected 1.00 client survives a forged high-sequence datagram from the server address', () => {
    const n = new SimNet();
    const server = n.addServer(S1, 4, PROTOCOL, KEY, '1.00');
    const c = n.addClient('10.0.0.1', '1.00');
    n.connect(c, n.token([S1], { version: '1.00', sequence: 1n }));
    n.run(2, connected(n));
    expect(c.core.state).toBe(ClientState.connected);
    const junk = new Uint8Array(20);
    junk[0] = (3 << 4) | PacketType.payload;
    junk.set([0x40, 0x42, 0x0f], 1);
    c.core.receive(junk, server.core.address, n.time);
    n.run(8);
    expect(c.core.state).toBe(ClientState.connected);
    expect(server.core.sendPayload(0, Buffer.from('still here'))).toBe(true);
    n.pump();
    expect(c.payloads).toEqual(['still here']);
  });
});

describe('netcode 1.00 client and server cores', () => {
  it('connect, exchange payloads, stay up while idle, and the server times out a silent client after its fixed 5 s', () => {
    const n = new SimNet();
    const server = n.addServer(S1, 4, PROTOCOL, KEY, '1.00');
    const c = n.addClient('10.0.0.1', '1.00');
    n.connect(c, n.token([S1], { version: '1.00', sequence: 7n, clientId: 77n, timeoutSeconds: 30 }));
    n.run(2, connected(n));
    expect(c.states).toEqual([ClientState.sendingConnectionRequest, ClientState.sendingConnectionResponse, ClientState.connected]);
    expect(n.log.find((d) => d.data[0] === 0)!.data.length).toBe(1062);
    expect(server.ofType('connect')[0]!.clientId).toBe(77n);
    expect(c.core.sendPayload(Buffer.from('ping'))).toBe(true);
    n.pump();
    expect(server.ofType('payload').map((p) => Buffer.from(p.payload).toString())).toEqual(['ping']);
    server.core.sendPayload(0, Buffer.from('pong'));
    n.pump();
    expect(c.payloads).toEqual(['pong']);
    n.run(20);
    expect(c.core.state).toBe(ClientState.connected);
    // the client goes silent: a 1.00 server ignores the token's 30 s and drops it after 5 s
    n.filter = (d) => d.to.port !== server.core.address.port;
    const silentFrom = n.time;
    n.run(10, () => server.ofType('disconnect').length > 0);
    expect(server.ofType('disconnect')[0]!.reason).toBe('timed_out');
    // the last packet it heard arrived up to one tick before the filter went up
    expect(n.time - silentFrom).toBeGreaterThan(4.9);
    expect(n.time - silentFrom).toBeLessThan(5.2);
  });

  it('a restarted 1.00 server still sends challenges from sequence 2^63 (never on the per-client nonces)', () => {
    // each start is a new core: nothing carries the 1.00 reference's reset-to-0 across
    for (let start = 0; start < 2; start++) {
      const n = new SimNet();
      n.addServer(S1, 4, PROTOCOL, KEY, '1.00');
      const c = n.addClient('10.0.0.1', '1.00');
      n.connect(c, n.token([S1], { version: '1.00', sequence: BigInt(10 + start) }));
      n.run(1, connected(n));
      const challenge = n.log.find((d) => (d.data[0]! & 0xf) === PacketType.connectionChallenge)!;
      expect(challenge.data[0]! >> 4).toBe(8);
      expect(challenge.data[8]).toBe(0x80);
    }
  });

  it('refuses datagrams over 1220 bytes, and will not write one', () => {
    const server = new NetcodeServerCore({ protocolId: PROTOCOL, privateKey: KEY, address: S1, maxClients: 1, version: '1.00' });
    server.receive(new Uint8Array(1221), parseAddress('10.0.0.1:1'), 0, 0n);
    expect(server.drops.size).toBe(1);
    const payload = { type: PacketType.payload, payload: new Uint8Array(1200) } as const;
    expect(writePacket(payload, (1n << 24n) - 1n, KEY, PROTOCOL, '1.00')).toHaveLength(1220);
    expect(() => writePacket(payload, 1n << 24n, KEY, PROTOCOL, '1.00')).toThrow(RangeError);
    expect(writePacket(payload, 1n << 24n, KEY, PROTOCOL)).toHaveLength(1221);
  });
});

describe('1.02 and 1.00 peers refuse each other cleanly', () => {
  const cases: [NetcodeVersion, NetcodeVersion][] = [
    ['1.02', '1.00'],
    ['1.00', '1.02'],
  ];
  for (const [clientVersion, serverVersion] of cases) {
    it(`a ${clientVersion} client with a ${clientVersion} token against a ${serverVersion} server: dropped at the length check, request timed out`, () => {
      const n = new SimNet();
      const server = n.addServer(S1, 4, PROTOCOL, KEY, serverVersion);
      const c = n.addClient('10.0.0.1', clientVersion);
      n.connect(c, n.token([S1], clientVersion === '1.00' ? { version: '1.00', sequence: 3n } : {}));
      n.run(7, () => c.core.state <= ClientState.disconnected);
      expect(c.core.state).toBe(ClientState.connectionRequestTimedOut);
      expect(server.core.drops.wrong_size).toBeGreaterThan(10);
      expect(server.events).toEqual([]);
    });

    it(`a ${serverVersion} token given to a ${clientVersion} client: invalid_connect_token at once`, () => {
      const n = new SimNet();
      const c = n.addClient('10.0.0.1', clientVersion);
      n.connect(c, n.token([S1], serverVersion === '1.00' ? { version: '1.00', sequence: 3n } : {}));
      expect(c.core.state).toBe(ClientState.invalidConnectToken);
      expect(c.core.takeDatagrams()).toEqual([]);
    });
  }
});

describe('1.00 connect token sequences never repeat under one key', () => {
  it('are strictly increasing within a millisecond, when the clock steps back, and past 4096 in one millisecond', () => {
    const s = new ConnectTokenSequence();
    const seen: bigint[] = [];
    const now = 1_800_000_000_000;
    for (let i = 0; i < 5000; i++) seen.push(s.next(now));
    seen.push(s.next(now - 60_000));
    seen.push(s.next(now + 5));
    for (let i = 1; i < seen.length; i++) expect(seen[i]! > seen[i - 1]!).toBe(true);
    expect(seen[0]).toBe(BigInt(now) << 22n);
  });

  it('a restarted issuer starts above what it issued before; issuers with distinct ids never meet', () => {
    const now = 1_800_000_000_000;
    const before = new ConnectTokenSequence();
    let last = 0n;
    for (let i = 0; i < 100; i++) last = before.next(now);
    expect(new ConnectTokenSequence().next(now + 1) > last).toBe(true);
    const a = new ConnectTokenSequence(1);
    const b = new ConnectTokenSequence(2);
    const fromA = new Set(Array.from({ length: 5000 }, (_, i) => a.next(now + (i >> 6))));
    for (let i = 0; i < 5000; i++) expect(fromA.has(b.next(now + (i >> 6)))).toBe(false);
    expect(codeOf(() => new ConnectTokenSequence(1024))).toBe('netcode_bad_issuer_id');
  });

  it('generateConnectToken requires a sequence for 1.00, refuses a nonce there, and refuses timeouts a 1.00 client cannot use', () => {
    const base = { privateKey: KEY, protocolId: PROTOCOL, clientId: 1n, publicServerAddresses: [S1], expireSeconds: 30, timeoutSeconds: 5 };
    expect(codeOf(() => generateConnectToken({ ...base, version: '1.00' }))).toBe('netcode_no_token_sequence');
    expect(codeOf(() => generateConnectToken({ ...base, version: '1.00', sequence: 1n, nonce: new Uint8Array(24) }))).toBe('netcode_nonce_not_in_version');
    expect(codeOf(() => generateConnectToken({ ...base, sequence: 1n }))).toBe('netcode_sequence_not_in_version');
    expect(codeOf(() => generateConnectToken({ ...base, version: '1.00', sequence: 1n, timeoutSeconds: -1 }))).toBe('netcode_bad_timeout');
  });

  it('the hand-off issuer takes each 1.00 token sequence from its ConnectTokenSequence', () => {
    const tokenSequenceSource = new ConnectTokenSequence();
    const issue = (playerId: string) =>
      issueNetcodeHandoff({
        privateKey: KEY,
        protocolId: PROTOCOL,
        host: { publicAddresses: [S1] },
        sessionId: 's1',
        playerId,
        version: '1.00',
        tokenSequence: tokenSequenceSource,
        unixNow: 1_800_000_000n,
      }).connectToken;
    const tokens = ['p1', 'p2', 'p3'].map(issue);
    for (const t of tokens) expect(readConnectToken(t, '1.00').ok).toBe(true);
    const seqs = tokens.map(tokenSequence);
    expect(seqs[1]! > seqs[0]! && seqs[2]! > seqs[1]!).toBe(true);
    expect(seqs[0]).toBe(1_800_000_000_000n << 22n);
    expect(
      codeOf(() =>
        issueNetcodeHandoff({ privateKey: KEY, protocolId: PROTOCOL, host: { publicAddresses: [S1] }, sessionId: 's', playerId: 'p', version: '1.00' }),
      ),
    ).toBe('netcode_no_token_sequence');
  });
});

describe('netcode 1.00 over UDP loopback', () => {
  it('a 1.00 client connects to a 1.00 server and payloads echo', async () => {
    const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: KEY, protocolId: PROTOCOL, maxClients: 2, version: '1.00' });
    const client = new NetcodeUdpClient({ version: '1.00' });
    try {
      server.on('payload', (e) => server.sendPayload(e.clientIndex, e.payload));
      const token = generateConnectToken({
        version: '1.00',
        sequence: new ConnectTokenSequence().next(Date.now()),
        privateKey: KEY,
        protocolId: PROTOCOL,
        clientId: 5n,
        publicServerAddresses: [server.boundAddress],
        expireSeconds: 60,
        timeoutSeconds: 10,
      });
      client.connect(token);
      expect(await client.waitUntilSettled(5000)).toBe(ClientState.connected);
      const echoed = new Promise<string>((resolve) => client.once('payload', (p) => resolve(Buffer.from(p).toString())));
      client.sendPayload(Buffer.from('hello 1.00'));
      expect(await echoed).toBe('hello 1.00');
      expect(server.core.clients().map((c) => c.clientId)).toEqual([5n]);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe('netcode 1.00 under arbitrary bytes', () => {
  it('decoders never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2100 }), (bytes) => {
        const t = Uint8Array.from({ length: 2048 }, (_, i) => bytes[i % Math.max(1, bytes.length)] ?? 0);
        t.set(new TextEncoder().encode('NETCODE 1.00'));
        readConnectToken(t, '1.00');
        readConnectTokenPrivate(bytes, '1.00');
        readConnectionRequest(bytes, PROTOCOL, 0n, KEY, '1.00');
        readEncryptedPacket(bytes, { key: KEY, protocolId: PROTOCOL, allowed: ALL, replay: new ReplayProtection(), version: '1.00' });
      }),
      { numRuns: 300 },
    );
  });

  it('altered copies of real 1.00 traffic never connect, disconnect or deliver on the server', () => {
    const n = new SimNet();
    const server = n.addServer(S1, 2, PROTOCOL, KEY, '1.00');
    const c = n.addClient('10.0.0.1', '1.00');
    n.connect(c, n.token([S1], { version: '1.00', sequence: 9n }));
    n.run(2, connected(n));
    c.core.sendPayload(Buffer.from('hello'));
    n.pump();
    const toServer = n.log.filter((d) => d.from === c.address).map((d) => Uint8Array.from(d.data));
    server.core.takeEvents();
    server.events.length = 0;
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 7 }), (pick, at, bit) => {
        const data = Uint8Array.from(toServer[pick % toServer.length]!);
        data[at % data.length]! ^= 1 << bit;
        server.core.receive(data, c.address, n.time, n.unix);
        expect(server.core.takeEvents()).toEqual([]);
        expect(server.core.takeDatagrams()).toEqual([]);
        expect(server.core.numConnectedClients).toBe(1);
      }),
      { numRuns: 300 },
    );
  });
});
