import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deframer, Framer, encodeFrame } from '../../src/protocol/index.js';

/** Splits `bytes` at the given cut points (sorted, deduplicated, in range). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

describe('framing', () => {
  it('prefixes the payload with a big-endian u32 length', () => {
    const f = encodeFrame(new Uint8Array([9, 8, 7]), 100);
    expect([...f]).toEqual([0, 0, 0, 3, 9, 8, 7]);
  });

  it('refuses to encode a payload above the limit', () => {
    expect(() => new Framer(4).encode(new Uint8Array(5))).toThrow(RangeError);
    expect(new Framer(4).encode(new Uint8Array(4)).byteLength).toBe(8);
  });

  it('recovers the same frames from any chunk split, coalesced or not', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (payloads, cuts) => {
        const stream = concat(payloads.map((p) => encodeFrame(p, 1024)));
        const d = new Deframer(1024);
        const got: Uint8Array[] = [];
        for (const chunk of split(stream, cuts)) {
          const r = d.push(chunk);
          expect(r.error).toBeUndefined();
          got.push(...r.frames);
        }
        expect(got.map((g) => [...g])).toEqual(payloads.map((p) => [...p]));
        expect(d.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('handles one byte at a time', () => {
    const payload = new Uint8Array(2000).map((_, i) => i & 0xff);
    const stream = concat([encodeFrame(payload, 4096), encodeFrame(new Uint8Array(0), 4096)]);
    const d = new Deframer(4096);
    const got: Uint8Array[] = [];
    for (let i = 0; i < stream.byteLength; i++) got.push(...d.push(stream.subarray(i, i + 1)).frames);
    expect(got).toHaveLength(2);
    expect(got[0]).toEqual(payload);
    expect(got[1]!.byteLength).toBe(0);
  });

  it('returns copies that do not change when the input buffer is reused', () => {
    const buf = encodeFrame(new Uint8Array([1, 2, 3]), 10);
    const [frame] = new Deframer(10).push(buf).frames;
    buf.fill(0);
    expect([...frame!]).toEqual([1, 2, 3]);
  });

  it('fails on a 4 GB declared length from the prefix alone, holding nothing', () => {
    const d = new Deframer(64 * 1024);
    const r = d.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    expect(r.error?.code).toBe('frame_too_large');
    expect(r.frames).toHaveLength(0);
    expect(d.bufferedBytes).toBe(0);
    // the stream stays failed: no resynchronisation on garbage
    expect(d.push(encodeFrame(new Uint8Array(1), 10)).error?.code).toBe('frame_too_large');
  });

  it('delivers the frames before an oversize prefix in the same chunk', () => {
    const d = new Deframer(10);
    const r = d.push(concat([encodeFrame(new Uint8Array([5]), 10), new Uint8Array([0, 0, 0, 11])]));
    expect(r.frames.map((f) => [...f])).toEqual([[5]]);
    expect(r.error?.code).toBe('frame_too_large');
  });

  it('never buffers more than one partial frame, whatever the input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 50 }), (chunks) => {
        const d = new Deframer(100);
        for (const c of chunks) {
          const r = d.push(c);
          expect(d.bufferedBytes).toBeLessThanOrEqual(104 + 64);
          if (r.error) expect(r.error.code).toBe('frame_too_large');
        }
      }),
      { numRuns: 300 },
    );
  });
});
