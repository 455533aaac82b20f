import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES } from '../../src/netcode/constants.js';
import {
  BEGIN_MESSAGE,
  MAX_GAME_BYTES,
  StatusAssembler,
  Tag,
  decodeClientMessage,
  decodeHostMessage,
  encodeBye,
  encodeClientMessage,
  encodeGame,
  encodeStatusPages,
  type StatusPlayer,
} from '../../src/netcode/session/messages.js';

const statusArb = fc.constantFrom('expected', 'connected', 'ready', 'left') as fc.Arbitrary<StatusPlayer['status']>;
const playerArb = fc.record({ playerId: fc.string({ minLength: 1, maxLength: 128 }), status: statusArb, displayName: fc.string({ maxLength: 128 }) });

describe('session messages over netcode payloads', () => {
  it('round-trips client messages', () => {
    for (const m of [{ type: 'ready' }, { type: 'unready' }, { type: 'leave' }] as const) expect(decodeClientMessage(encodeClientMessage(m))).toEqual(m);
    const game = decodeClientMessage(encodeClientMessage({ type: 'game', data: new Uint8Array([1, 2]) }));
    expect(game?.type === 'game' && [...game.data]).toEqual([1, 2]);
    // trailing bytes after a control tag are not that control message
    expect(decodeClientMessage(new Uint8Array([Tag.ready, 0]))).toBeNull();
    expect(decodeClientMessage(new Uint8Array([0x7f]))).toBeNull();
    expect(decodeClientMessage(new Uint8Array([]))).toBeNull();
  });

  it('bounds game payloads to what a netcode payload can carry', () => {
    expect(encodeGame(new Uint8Array(MAX_GAME_BYTES)).length).toBe(MAX_PAYLOAD_BYTES);
    expect(() => encodeGame(new Uint8Array(MAX_GAME_BYTES + 1))).toThrow(RangeError);
  });

  it('round-trips bye and begin, and keeps a long bye within one payload', () => {
    expect(decodeHostMessage(encodeBye('unknown_session', 'no session s1'))).toEqual({ type: 'bye', code: 'unknown_session', message: 'no session s1' });
    const long = encodeBye('x', 'é'.repeat(5000));
    expect(long.length).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(decodeHostMessage(long)?.type).toBe('bye');
    expect(decodeHostMessage(BEGIN_MESSAGE)).toEqual({ type: 'begin' });
  });

  it('pages any roster into payloads that reassemble to it', () => {
    fc.assert(
      fc.property(
        fc.array(playerArb, { maxLength: 80 }),
        fc.constantFrom('readying', 'in_game', 'ended') as fc.Arbitrary<'readying' | 'in_game' | 'ended'>,
        (players, phase) => {
          const pages = encodeStatusPages(phase, players);
          const asm = new StatusAssembler();
          let roster: ReturnType<StatusAssembler['add']>;
          for (const page of pages) {
            expect(page.length).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
            const m = decodeHostMessage(page);
            if (m?.type !== 'status') throw new Error('not a status page');
            roster = asm.add(m);
          }
          expect(roster!).toEqual({ phase, players });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a large roster needs several pages and is incomplete until all arrive', () => {
    const players = Array.from({ length: 64 }, (_, i) => ({
      playerId: `player-${i}-${'x'.repeat(30)}`,
      status: 'connected' as const,
      displayName: `Name ${i} ${'y'.repeat(20)}`,
    }));
    const pages = encodeStatusPages('readying', players);
    expect(pages.length).toBeGreaterThan(1);
    const asm = new StatusAssembler();
    const results = pages.map((p) => asm.add(decodeHostMessage(p) as Extract<ReturnType<typeof decodeHostMessage>, { type: 'status' }>));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    expect(results.at(-1)?.players).toHaveLength(64);
  });

  it('refuses status pages that are inconsistent or mistyped', () => {
    const page = (body: unknown) => new Uint8Array([Tag.status, ...encode(body)]);
    expect(decodeHostMessage(page(['readying', 0, 1, [['a', 'ready', 'A']]]))?.type).toBe('status');
    expect(decodeHostMessage(page(['readying', 1, 1, [['a', 'ready', 'A']]]))).toBeNull(); // beyond total
    expect(decodeHostMessage(page(['dancing', 0, 1, [['a', 'ready', 'A']]]))).toBeNull();
    expect(decodeHostMessage(page(['readying', 0, 1, [['a', 'sleepy', 'A']]]))).toBeNull();
    expect(decodeHostMessage(page({ phase: 'readying' }))).toBeNull();
    expect(decodeHostMessage(new Uint8Array([Tag.status, 0xc1]))).toBeNull(); // 0xc1 is never valid MsgPack
    expect(decodeHostMessage(new Uint8Array([Tag.begin, 1]))).toBeNull();
  });

  it('decoders never throw on arbitrary payloads (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_PAYLOAD_BYTES }), (bytes) => {
        decodeClientMessage(bytes);
        decodeHostMessage(bytes);
      }),
      { numRuns: 2000 },
    );
    // and with a valid tag in front of arbitrary MsgPack-ish bodies
    fc.assert(
      fc.property(fc.constantFrom(Tag.status, Tag.bye, Tag.begin), fc.anything(), (tag, value) => {
        let body: Uint8Array;
        try {
          body = encode(value);
        } catch {
          return;
        }
        const m = decodeHostMessage(new Uint8Array([tag, ...body]));
        if (m) expect(['status', 'bye', 'begin']).toContain(m.type);
      }),
      { numRuns: 500 },
    );
  });
});
