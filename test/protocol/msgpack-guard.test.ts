import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTROL_LIMITS, MsgpackCodec, resolveLimits, scanMsgpack } from '../../src/protocol/index.js';

const limits = resolveLimits({ maxDepth: 8, maxArrayLength: 100, maxMapEntries: 50, maxStringBytes: 200, maxBinBytes: 300 });

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('msgpack guard', () => {
  it('accepts values within every limit', () => {
    const value = { a: [1, 'x'.repeat(200), new Uint8Array(300)], b: { c: null, d: true, e: -1.5, f: 2 ** 40 } };
    expect(scanMsgpack(encode(value), limits)).toBeUndefined();
  });

  it('enforces depth', () => {
    expect(scanMsgpack(encode(nested(8)), limits)).toBeUndefined();
    expect(scanMsgpack(encode(nested(9)), limits)).toMatch(/nesting/);
  });

  it('enforces string, bin, array and map limits', () => {
    expect(scanMsgpack(encode('x'.repeat(201)), limits)).toMatch(/string/);
    expect(scanMsgpack(encode(new Uint8Array(301)), limits)).toMatch(/bin/);
    expect(scanMsgpack(encode(new Array(101).fill(0)), limits)).toMatch(/array/);
    expect(scanMsgpack(encode(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]))), limits)).toMatch(/map/);
  });

  it('refuses huge declared lengths without reading past the input', () => {
    const big = resolveLimits({ maxBinBytes: 0xffffffff, maxStringBytes: 0xffffffff, maxArrayLength: 0xffffffff, maxMapEntries: 0xffffffff });
    expect(scanMsgpack(new Uint8Array([0xc6, 0xff, 0xff, 0xff, 0xff, 1]), limits)).toMatch(/bin/);
    expect(scanMsgpack(new Uint8Array([0xc6, 0xff, 0xff, 0xff, 0xff, 1]), big)).toMatch(/truncated/);
    expect(scanMsgpack(new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff]), big)).toMatch(/truncated/);
    expect(scanMsgpack(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), big)).toMatch(/truncated/);
    expect(scanMsgpack(new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff]), big)).toMatch(/truncated/);
  });

  it('refuses extension types, the unused tag and trailing bytes', () => {
    expect(scanMsgpack(encode(new Date(0)), limits)).toMatch(/extension/);
    expect(scanMsgpack(new Uint8Array([0xc1]), limits)).toMatch(/0xc1/);
    expect(scanMsgpack(new Uint8Array([0x01, 0x02]), limits)).toMatch(/trailing/);
    expect(scanMsgpack(new Uint8Array([]), limits)).toMatch(/truncated/);
  });

  it('handles 60 000 levels of declared nesting iteratively', () => {
    const bytes = new Uint8Array(60_000).fill(0x91); // fixarray(1) repeated
    const deep = resolveLimits({ maxDepth: 100_000 });
    expect(scanMsgpack(bytes, deep)).toMatch(/truncated/);
    expect(scanMsgpack(bytes, limits)).toMatch(/nesting/);
  });

  it('agrees with the decoder: whatever it accepts decodes without error', () => {
    const codec = new MsgpackCodec(DEFAULT_CONTROL_LIMITS);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const scanned = scanMsgpack(bytes, DEFAULT_CONTROL_LIMITS);
        const decoded = codec.decode(bytes);
        // The only thing the scan leaves to the decoder: map keys that are not strings or numbers.
        if (scanned === undefined && !decoded.ok) expect(decoded.reason).toMatch(/key/i);
        if (scanned !== undefined) expect(decoded.ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  /** A `__proto__` map key anywhere in the value (a string value "__proto__" is fine; it once failed the check below). */
  const hasProtoKey = (v: unknown): boolean =>
    Array.isArray(v) ? v.some(hasProtoKey) : typeof v === 'object' && v !== null && (Object.hasOwn(v, '__proto__') || Object.values(v).some(hasProtoKey));

  it('round-trips arbitrary JSON-like values and bins through the codec', () => {
    const codec = new MsgpackCodec(DEFAULT_CONTROL_LIMITS);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.uint8Array({ maxLength: 100 }), (json, bin) => {
        const value = { json, bin };
        const r = codec.decode(codec.encode(value));
        // A `__proto__` key is refused by the decoder (prototype pollution guard), never passed on.
        if (hasProtoKey(json)) {
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.reason).toMatch(/__proto__/);
          return;
        }
        expect(r.ok).toBe(true);
        if (r.ok) {
          const v = r.value as { json: unknown; bin: Uint8Array };
          expect(v.bin).toBeInstanceOf(Uint8Array); // bin, never an array of ints
          expect([...v.bin]).toEqual([...bin]);
          expect(v.json).toEqual(JSON.parse(JSON.stringify(json)));
        }
      }),
      { numRuns: 300 },
    );
  });
});
