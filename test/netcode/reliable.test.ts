/**
 * The reliable channel over netcode payloads (src/netcode/session/reliable.ts), sans-IO: two
 * channels joined by a simulated network that loses, duplicates and reorders datagrams deliver
 * every message exactly once and in order, both ways; a peer cannot make a receiver hold more than
 * its bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES } from '../../src/netcode/constants.js';
import { FRAGMENT_BYTES, RELIABLE_ACK, RELIABLE_DATA, ReliableChannel } from '../../src/netcode/session/reliable.js';
import { decodeGameMessage, encodeGameMessage, type ReliableGameMessage } from '../../src/netcode/session/game-messages.js';

/** A seeded PRNG (mulberry32), so a failing case replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Net {
  loss: number;
  dup: number;
  maxDelayMs: number;
}

/** Runs both channels over a bad network until everything sent has been delivered (or the time runs out). */
function simulate(seed: number, net: Net, aMsgs: Uint8Array[], bMsgs: Uint8Array[], limitMs = 120_000) {
  const rnd = prng(seed);
  const a = new ReliableChannel({ resendMs: 100 });
  const b = new ReliableChannel({ resendMs: 100 });
  const inFlight: { at: number; to: 'a' | 'b'; d: Uint8Array }[] = [];
  const got = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const queued = { a: [...aMsgs], b: [...bMsgs] };
  let now = 0;
  const put = (to: 'a' | 'b', d: Uint8Array) => {
    if (d.length > MAX_PAYLOAD_BYTES) throw new Error(`datagram of ${d.length} bytes`);
    if (rnd() < net.loss) return;
    const copies = rnd() < net.dup ? 2 : 1;
    for (let i = 0; i < copies; i++) inFlight.push({ at: now + Math.floor(rnd() * net.maxDelayMs), to, d: d.slice() });
  };
  while (now < limitMs) {
    // feed the senders a few messages at a time (the queue is bounded)
    for (const side of ['a', 'b'] as const) {
      const ch = side === 'a' ? a : b;
      while (queued[side].length > 0 && ch.send(queued[side][0]!)) queued[side].shift();
    }
    for (const d of a.poll(now)) put('b', d);
    for (const d of b.poll(now)) put('a', d);
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const f = inFlight[i]!;
      if (f.at > now) continue;
      inFlight.splice(i, 1);
      const r = (f.to === 'a' ? a : b).receive(f.d);
      expect(r.ok).toBe(true);
      if (r.ok) got[f.to].push(...r.messages);
    }
    if (got.b.length === aMsgs.length && got.a.length === bMsgs.length && a.idle && b.idle) break;
    now += 10;
  }
  return { got, a, b, now };
}

const bytes = (n: number, fill: number) => new Uint8Array(n).map((_, i) => (i * 31 + fill) & 0xff);

describe('reliable channel', () => {
  it('delivers every message once and in order over a network that loses, duplicates and reorders', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 30 }),
        fc.record({
          loss: fc.double({ min: 0, max: 0.3, noNaN: true }),
          dup: fc.double({ min: 0, max: 0.2, noNaN: true }),
          maxDelayMs: fc.integer({ min: 1, max: 300 }),
        }),
        (seed, aSizes, bSizes, net) => {
          const aMsgs = aSizes.map((n, i) => bytes(n, i));
          const bMsgs = bSizes.map((n, i) => bytes(n, 100 + i));
          const { got, a, b } = simulate(seed, net, aMsgs, bMsgs);
          expect(got.b).toEqual(aMsgs);
          expect(got.a).toEqual(bMsgs);
          expect(a.idle && b.idle).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('splits a large message into fragments that each fit a netcode payload', () => {
    const a = new ReliableChannel();
    expect(a.send(bytes(FRAGMENT_BYTES * 3 + 1, 1))).toBe(true);
    const out = a.poll(0);
    expect(out).toHaveLength(4);
    expect(out.every((d) => d.length <= MAX_PAYLOAD_BYTES && d[0] === RELIABLE_DATA)).toBe(true);
    expect(out.map((d) => d[5])).toEqual([0, 0, 0, 1]);
    // nothing more until the resend interval
    expect(a.poll(50)).toEqual([]);
    expect(a.poll(100)).toHaveLength(4);
    expect(a.stats.resent).toBe(4);
  });

  it('keeps at most the window in flight and bounds what waits', () => {
    const a = new ReliableChannel({ window: 8, maxQueuedFragments: 10 });
    for (let i = 0; i < 10; i++) expect(a.send(bytes(10, i))).toBe(true);
    expect(a.send(bytes(10, 99))).toBe(false);
    expect(a.poll(0)).toHaveLength(8);
    expect(a.send(bytes(64 * 1024 + 1, 0))).toBe(false);
  });

  it('a receiver holds at most the window ahead, refuses a message over the limit, ignores garbage', () => {
    const b = new ReliableChannel({ maxMessageBytes: 2000 });
    const frag = (seq: number, last: boolean, n = 100) => {
      const d = new Uint8Array(6 + n);
      d[0] = RELIABLE_DATA;
      new DataView(d.buffer).setUint32(1, seq);
      d[5] = last ? 1 : 0;
      return d;
    };
    // far ahead of what it needs: dropped, not buffered
    expect(b.receive(frag(1000, true))).toEqual({ ok: true, messages: [] });
    expect(b.stats.outOfWindow).toBe(1);
    // garbage: unknown flags, short datagrams, a wrong-length ack
    expect(b.receive(Uint8Array.of(RELIABLE_DATA, 0, 0))).toEqual({ ok: true, messages: [] });
    const flags = frag(0, true);
    flags[5] = 0x80;
    expect(b.receive(flags)).toEqual({ ok: true, messages: [] });
    expect(b.receive(Uint8Array.of(RELIABLE_ACK, 1))).toEqual({ ok: true, messages: [] });
    // a message that grows past the limit is a protocol violation
    expect(b.receive(frag(0, false, 1100)).ok).toBe(true);
    expect(b.receive(frag(1, false, 1000))).toEqual({ ok: false, reason: 'message_too_large' });
  });

  it('acknowledges out-of-order fragments selectively, so only the lost one is sent again', () => {
    const a = new ReliableChannel();
    const b = new ReliableChannel();
    for (let i = 0; i < 4; i++) a.send(bytes(10, i));
    const [d0, d1, d2, d3] = a.poll(0);
    // d1 is lost
    for (const d of [d0!, d2!, d3!]) b.receive(d);
    for (const d of b.poll(10)) a.receive(d);
    const again = a.poll(100);
    expect(again).toEqual([d1]);
    expect(b.receive(d1!)).toEqual({ ok: true, messages: [bytes(10, 1), bytes(10, 2), bytes(10, 3)] });
  });

  it('game messages round-trip, and malformed ones decode to null', () => {
    const msgs: ReliableGameMessage[] = [
      { type: 'msg', ext: { t: 'state', board: [null, 'X'] }, channel: 'c', seq: 3 },
      { type: 'act', id: 7, ext: { t: 'move', cell: 4 } },
      { type: 'res', id: 7, ok: true, ext: { t: 'ok' } },
      { type: 'res', id: 8, ok: false, kind: 'refused', code: 'cell_taken', message: 'that cell is taken' },
      { type: 'end', reason: 'completed', message: '', results: [{ playerId: 'a', outcome: 'win', rank: 1 }], ext: { t: 'state' } },
    ];
    for (const m of msgs) expect(decodeGameMessage(encodeGameMessage(m))).toEqual(m);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => void decodeGameMessage(junk)));
    expect(decodeGameMessage(Uint8Array.of(0x93, 9, 1, 2))).toBeNull();
  });
});
