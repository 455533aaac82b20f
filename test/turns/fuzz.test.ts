/**
 * Fuzz every decoder of the turns protocol: arbitrary bytes, arbitrary MsgPack values, and real
 * frames with bytes flipped. No throw escapes, and nothing inauthentic changes any state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  pack,
  decodeBody,
  decodeOuter,
  makeCodec,
  parseBlock,
  parseChal,
  parseKey,
  parseMove,
  parseMsg,
  parseReg,
  parseReject,
  parseSync,
  parseSyncReq,
  type SignedKind,
} from '../../src/turns/wire.js';
import type { TurnsAction } from '../../src/turns/index.js';
import { act, type Loop, room, ROOM } from './sim.js';

const codec = makeCodec(64 * 1024);
const KINDS: SignedKind[] = ['reg', 'move', 'block', 'reject', 'syncreq', 'sync', 'key', 'msg', 'chal', 'resp'];
const PARSERS = [parseReg, parseMove, parseBlock, parseReject, parseSyncReq, parseSync, parseKey, parseMsg, parseChal];
const RUNS = 300;

// MsgPack-encodable values, including the shapes the parsers look for
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('genesis', 'reg', 'leave', 'round', 'move', 'end', 'alice', 'iyesmp/turns/move', ''),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 80 }),
    fc.array(tie('v'), { maxLength: 8 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 }),
  ),
})).v;

describe('turns: decoders never throw', () => {
  it('decodeOuter and decodeBody on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(...KINDS), (bytes, kind) => {
        decodeOuter(codec, bytes);
        decodeBody(codec, kind, bytes, ROOM);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('every field parser and frame decoder on arbitrary MsgPack values', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 10 }), fc.constantFrom(...KINDS), (fields, kind) => {
        for (const parse of PARSERS) parse(fields);
        const body = pack([`iyesmp/turns/${kind}`, 1, ROOM.game, ROOM.room, ROOM.sessionId, ...fields]);
        const d = decodeBody(codec, kind, body, ROOM);
        expect(d.ok).toBe(true);
        decodeOuter(codec, pack([1, kind, body, new Uint8Array(64)]));
        decodeOuter(codec, pack([1, 'sealed', ...fields.slice(0, 3)]));
        decodeOuter(codec, pack([1, 'pair', ...fields.slice(0, 2)]));
      }),
      { numRuns: RUNS * 2 },
    );
  });
});

/** Everything observable about the machines' state. */
function snapshot(r: Awaited<ReturnType<typeof room>>): string {
  const parts: unknown[] = [r.host.chain.head, Buffer.from(r.host.chain.headHash).toString('hex'), r.host.chain.round];
  for (const [id, p] of r.players) {
    const me = p.chain.player(id);
    parts.push(id, p.chain.head, Buffer.from(p.chain.headHash).toString('hex'), p.chain.round, p.ready, me?.epoch, me?.lastSeq, p.registered);
  }
  for (const [id, lp] of r.host.chain.players) parts.push(id, lp.epoch, lp.lastSeq, lp.live === undefined ? '-' : Buffer.from(lp.live.signKey).toString('hex'));
  return JSON.stringify(parts);
}

const noInternal = (actions: TurnsAction<unknown>[]) => actions.every((a) => !(a.type === 'event' && (a.event as { code?: string }).code === 'turns_internal'));

async function fuzzRoom(encrypt: boolean): Promise<void> {
  const r = await room({ encrypt });
  await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
  await act(r.loop, 'bob', r.players.get('bob')!.move('move', { t: 'move', cell: 0 }, r.loop.now));
  // every frame that travelled, with its topic: the material to mutate
  const real = r.loop.published.filter((p) => p.payload.length > 0).map((p) => ({ topic: p.topic, payload: p.payload }));
  const topics = [...new Set(real.map((p) => p.topic)), r.host.chain.roundTopic!, `${r.host.topics.base}/challenge/_host`];
  const before = snapshot(r);
  const loop: Loop = r.loop;
  const machines = [r.host, ...r.players.values()];

  fc.assert(
    fc.property(
      fc.oneof(
        // a real frame with 1-4 bytes flipped, delivered on its own topic or another
        fc
          .record({
            i: fc.nat({ max: real.length - 1 }),
            flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
            topic: fc.option(fc.constantFrom(...topics), { nil: undefined }),
          })
          .map(({ i, flips, topic }) => {
            const payload = Uint8Array.from(real[i]!.payload);
            for (const [at, x] of flips) payload[at % payload.length]! ^= x;
            return { topic: topic ?? real[i]!.topic, payload };
          }),
        // a real frame cut short (never to nothing: an empty register payload is the broker's will, not a forgery)
        fc
          .record({ i: fc.nat({ max: real.length - 1 }), cut: fc.nat() })
          .map(({ i, cut }) => ({ topic: real[i]!.topic, payload: real[i]!.payload.subarray(0, 1 + (cut % (real[i]!.payload.length - 1))) })),
        // arbitrary bytes or MsgPack on any topic
        fc.record({
          topic: fc.constantFrom(...topics),
          payload: fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 300 }),
            value.map((v) => pack(v)),
          ),
        }),
      ),
      (msg) => {
        for (const m of machines) {
          const out = m.receive({ topic: msg.topic, payload: msg.payload }, loop.now);
          expect(noInternal(out)).toBe(true);
          // a host never asks the game about an inauthentic move, nor publishes a block for it
          expect(out.some((a) => a.type === 'validate' || (a.type === 'event' && (a.event as { type: string }).type === 'block'))).toBe(false);
        }
        expect(snapshot(r)).toBe(before);
      },
    ),
    { numRuns: RUNS },
  );
}

describe('turns: inauthentic messages change nothing', () => {
  it('in a plain room', async () => {
    await fuzzRoom(false);
  });
  it('in an encrypted room', async () => {
    await fuzzRoom(true);
  });
});
