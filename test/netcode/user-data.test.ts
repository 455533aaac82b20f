import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSessionUserData, encodeSessionUserData } from '../../src/netcode/index.js';

describe('session user data layout', () => {
  it('round-trips session id, player id and ext in 256 bytes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 100 }), (sessionId, playerId, ext) => {
        const bytes = encodeSessionUserData({ sessionId, playerId, ext });
        expect(bytes).toHaveLength(256);
        const d = decodeSessionUserData(bytes);
        // lone surrogates do not survive UTF-8; everything else must round-trip exactly
        if (Buffer.from(sessionId).toString() === sessionId && Buffer.from(playerId).toString() === playerId) {
          expect(d).toEqual({ sessionId, playerId, ext });
        }
      }),
    );
  });

  it('refuses data that does not fit and never throws when decoding', () => {
    expect(() => encodeSessionUserData({ sessionId: 'x'.repeat(200), playerId: 'y'.repeat(60) })).toThrow(RangeError);
    expect(decodeSessionUserData(new Uint8Array(256))).toBeNull();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void decodeSessionUserData(b)));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 253 }), (b) => {
        void decodeSessionUserData(Uint8Array.from([0x49, 0x59, 1, ...b]));
      }),
    );
  });
});
