import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Envelope, parseEnvelope } from '../../src/protocol/envelope.js';

// parseEnvelope checks the common frames by hand before zod: it must accept exactly what zod
// accepts, return what zod returns, and leave every refusal (and its message) to zod.
const same = (value: unknown): void => {
  const fast = parseEnvelope(value);
  const ref = Envelope.safeParse(value);
  expect(fast.success).toBe(ref.success);
  if (fast.success && ref.success) expect(fast.data).toStrictEqual(ref.data);
  if (!fast.success && !ref.success) expect(fast.error.issues).toStrictEqual(ref.error.issues);
};

const oddValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer({ min: -2, max: 3 }),
  fc.constantFrom(0xffff_ffff, 0x1_0000_0000, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0),
  fc.constantFrom('session.create', 'match.found', 'a', 'A.b', 'a..b', 'a.', '1a', 'x'.repeat(64), 'x'.repeat(65), ''),
  fc.string(),
  fc.uint8Array({ maxLength: 4 }),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const kind = fc.constantFrom('request', 'response', 'event', 'error', 'close', 'hello', 'welcome', 'other', undefined);

describe('parseEnvelope', () => {
  it('accepts and refuses exactly as the zod schema does, with the same result', () => {
    fc.assert(
      fc.property(
        kind,
        fc.record({ id: oddValue, type: oddValue, body: oddValue, extra: oddValue, code: oddValue, message: oddValue }, { requiredKeys: [] }),
        (k, rest) => same(k === undefined ? rest : { kind: k, ...rest }),
      ),
      { numRuns: 3000 },
    );
  });

  it('takes the frames of an open connection without zod and strips unknown keys', () => {
    const body = { nested: [1, 2] };
    const r = parseEnvelope({ kind: 'request', id: 7, type: 'match.queue', body, junk: 1 });
    expect(r).toStrictEqual({ success: true, data: { kind: 'request', id: 7, type: 'match.queue', body } });
    if (r.success) expect((r.data as { body: unknown }).body).toBe(body);
    same({ kind: 'event', type: 'session.handoff', body: undefined });
    same({ kind: 'response', id: 1 }); // no body: refused
    same(Object.assign(Object.create({ body: 1 }), { kind: 'event', type: 'a' })); // an inherited body is not a body
    same([1, 2]);
    same(new Uint8Array(3));
    same('request');
  });
});
