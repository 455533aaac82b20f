import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClientState,
  ReplayProtection,
  decryptChallengeToken,
  parseAddress,
  readAddress,
  readConnectToken,
  readConnectTokenPrivate,
  readConnectionRequest,
  readEncryptedPacket,
} from '../../src/netcode/index.js';
import { ByteReader as Reader } from '../../src/netcode/bytes.js';
import { KEY, PROTOCOL, SimNet } from './sim.js';

const ALL = [true, true, true, true, true, true, true];
const S1 = '10.1.0.1:40000';

/** A server with one connected client, plus every datagram both sides sent while connecting. */
function connectedPair() {
  const n = new SimNet();
  const server = n.addServer(S1, 2);
  const c = n.addClient();
  n.connect(c, n.token([S1]));
  n.run(2, () => c.core.state === ClientState.connected);
  c.core.sendPayload(Buffer.from('hello'));
  server.core.sendPayload(0, Buffer.from('world'));
  n.pump();
  n.run(0.3);
  const captured = n.log.map((d) => ({ ...d, data: Uint8Array.from(d.data) }));
  return { n, server, c, captured };
}

/** Flips, overwrites, truncates or extends a datagram. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(data: Uint8Array, ms: Mutation[]): Uint8Array {
  let d = Uint8Array.from(data);
  for (const m of ms) {
    if (d.length === 0) break;
    if (m.kind === 'flip') d[m.at % d.length]! ^= 1 << m.bit;
    else if (m.kind === 'set') d[m.at % d.length] = m.value;
    else if (m.kind === 'truncate') d = d.slice(0, m.at % d.length);
    else d = Uint8Array.from([...d, ...m.extra]);
  }
  return d;
}

const changed = (a: Uint8Array, b: Uint8Array) => a.length !== b.length || a.some((v, i) => v !== b[i]);

describe('decoders never throw on arbitrary bytes', () => {
  it('token, private part, request, packets, addresses, challenge tokens', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2100 }), fc.boolean(), (bytes, asToken) => {
        const t = asToken ? Uint8Array.from({ length: 2048 }, (_, i) => bytes[i % Math.max(1, bytes.length)] ?? 0) : bytes;
        readConnectToken(t);
        readConnectTokenPrivate(bytes);
        readConnectionRequest(bytes, PROTOCOL, 0n, KEY);
        readEncryptedPacket(bytes, { key: KEY, protocolId: PROTOCOL, allowed: ALL, replay: new ReplayProtection() });
        readAddress(new Reader(bytes));
        decryptChallengeToken(bytes, 0n, KEY);
      }),
      { numRuns: 300 },
    );
  });

  it('parseAddress only throws TypeError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          parseAddress(s);
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('cores under random and mutated datagrams', () => {
  it('random datagrams change nothing on a server with a connected client', () => {
    const { n, server, c } = connectedPair();
    server.events.length = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), fc.boolean(), (bytes, fromClient) => {
        const from = fromClient ? c.address : parseAddress('10.66.0.1:1234');
        server.core.receive(bytes, from, n.time, n.unix);
        expect(server.core.takeEvents()).toEqual([]);
        expect(server.core.takeDatagrams()).toEqual([]);
        expect(server.core.numConnectedClients).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated copies of real traffic never connect, disconnect or deliver on the server', () => {
    const { n, server, c, captured } = connectedPair();
    const toServer = captured.filter((d) => d.from === c.address);
    expect(toServer.length).toBeGreaterThan(3);
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (pick, ms, otherSource) => {
        const orig = toServer[pick % toServer.length]!;
        const data = mutate(orig.data, ms);
        if (!changed(data, orig.data)) return;
        const from = otherSource ? parseAddress('10.66.0.2:999') : c.address;
        server.core.receive(data, from, n.time, n.unix);
        expect(server.core.takeEvents()).toEqual([]);
        expect(server.core.takeDatagrams()).toEqual([]);
        expect(server.core.numConnectedClients).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  it('random and mutated datagrams never change client state or deliver payloads', () => {
    const { n, server, c, captured } = connectedPair();
    c.core.takeEvents();
    const fromServer = captured.filter((d) => d.from === server.core.address);
    expect(fromServer.length).toBeGreaterThan(3);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1400 }),
          fc.tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([p, ms]) => {
            const orig = fromServer[p % fromServer.length]!.data;
            const d = mutate(orig, ms);
            return changed(d, orig) ? d : new Uint8Array(0);
          }),
        ),
        (data) => {
          c.core.receive(data, server.core.address, n.time);
          c.core.update(n.time);
          expect(c.core.state).toBe(ClientState.connected);
          expect(c.core.takeEvents()).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('request-shaped datagrams (right size, version and protocol) never get an answer', () => {
    const { n, server } = connectedPair();
    server.events.length = 0;
    const head = Uint8Array.from([0, ...Buffer.from('NETCODE 1.02\0', 'latin1'), ...new Uint8Array(new BigUint64Array([PROTOCOL]).buffer)]);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1078 - head.length, maxLength: 1078 - head.length }), (rest) => {
        const data = Uint8Array.from([...head, ...rest]);
        server.core.receive(data, parseAddress('10.66.0.3:77'), n.time, n.unix);
        expect(server.core.takeDatagrams()).toEqual([]);
        expect(server.core.takeEvents()).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('random datagrams never move a connecting client', () => {
    const n = new SimNet();
    const c = n.addClient();
    n.connect(c, n.token([S1]));
    c.core.takeEvents();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), (data) => {
        c.core.receive(data, parseAddress(S1), n.time);
        expect(c.core.state).toBe(ClientState.sendingConnectionRequest);
        expect(c.core.takeEvents()).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
