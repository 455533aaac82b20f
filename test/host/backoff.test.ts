import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/host/backoff.js';

const fixed = (r: number) => () => r;

describe('Backoff', () => {
  it('grows exponentially up to the cap (no jitter)', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 });
    const delays = Array.from({ length: 7 }, () => b.next());
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(b.attempts).toBe(7);
  });

  it('does not overflow after very many attempts', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 5000, jitter: 0 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(5000);
    expect(b.baseDelay(1e9)).toBe(5000);
  });

  it('keeps jittered delays within [base·(1−jitter), base], driven by the injected random', () => {
    expect(new Backoff({ initialMs: 1000, jitter: 0.5, random: fixed(0) }).next()).toBe(1000);
    expect(new Backoff({ initialMs: 1000, jitter: 0.5, random: fixed(0.999999) }).next()).toBe(500);
    expect(new Backoff({ initialMs: 1000, jitter: 1, random: fixed(0.25) }).next()).toBe(750);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 40 }),
        (initialMs, extra, jitter, randoms) => {
          const maxMs = initialMs + extra;
          let i = 0;
          const b = new Backoff({ initialMs, maxMs, jitter, random: () => randoms[i++ % randoms.length]! });
          for (let n = 0; n < randoms.length; n++) {
            const base = b.baseDelay();
            const d = b.next();
            expect(d).toBeGreaterThanOrEqual(Math.floor(base * (1 - jitter)));
            expect(d).toBeLessThanOrEqual(Math.min(base, maxMs));
          }
        },
      ),
    );
  });

  it('resets after a stable connection, not after a flapping one', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, jitter: 0, stableAfterMs: 5000 });
    b.next();
    b.next();
    b.next();
    b.connected(1000);
    b.disconnected(2000); // up 1 s: flapping
    expect(b.attempts).toBe(3);
    expect(b.next()).toBe(800);
    b.connected(10_000);
    b.disconnected(15_000); // up 5 s: stable
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('resets on tick once a connection has stayed up long enough', () => {
    const b = new Backoff({ initialMs: 100, jitter: 0, stableAfterMs: 5000 });
    b.next();
    b.next();
    b.connected(0);
    b.tick(4999);
    expect(b.attempts).toBe(2);
    b.tick(5000);
    expect(b.attempts).toBe(0);
    b.next();
    b.reset();
    expect(b.attempts).toBe(0);
  });

  it('rejects nonsense settings', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ multiplier: 0.5 })).toThrow(RangeError);
    expect(() => new Backoff({ jitter: 2 })).toThrow(RangeError);
  });
});
