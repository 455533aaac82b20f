import { afterEach, describe, expect, it, vi } from 'vitest';
import { TIMED_OUT, orTimeout, withTimeout } from '../../src/events/timeout.js';

const never = new Promise<never>(() => {});

describe('withTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('settles as the promise when it is first, and clears the timer then', async () => {
    vi.useFakeTimers();
    const won = withTimeout(Promise.resolve('frame'), 1000);
    await expect(won).resolves.toBe('frame');
    expect(vi.getTimerCount()).toBe(0);
    const failed = withTimeout(Promise.reject(new Error('reset')), 1000);
    await expect(failed).rejects.toThrow('reset');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tells a timeout from a promise that resolves undefined', async () => {
    vi.useFakeTimers();
    await expect(withTimeout(Promise.resolve(undefined), 1000)).resolves.toBeUndefined();
    const late = withTimeout(never, 1000);
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void late.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(late).resolves.toBe(TIMED_OUT);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a late rejection after the timeout is handled (no unhandled rejection)', async () => {
    vi.useFakeTimers();
    let reject!: (e: Error) => void;
    const p = new Promise<never>((_, r) => (reject = r));
    const r = withTimeout(p, 10);
    await vi.advanceTimersByTimeAsync(10);
    await expect(r).resolves.toBe(TIMED_OUT);
    vi.useRealTimers();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      reject(new Error('too late'));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('holds the process open while it waits unless asked not to', async () => {
    const timers: NodeJS.Timeout[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      const t = real(fn, ms);
      timers.push(t);
      return t;
    }) as typeof setTimeout);
    void withTimeout(never, 60_000);
    void withTimeout(never, 60_000, { unref: true });
    try {
      expect(timers.map((t) => t.hasRef())).toEqual([true, false]);
    } finally {
      for (const t of timers) clearTimeout(t);
    }
  });
});

describe('orTimeout', () => {
  afterEach(() => vi.useRealTimers());

  it("passes the promise's value, or rejects with the caller's error at the deadline", async () => {
    vi.useFakeTimers();
    await expect(orTimeout(Promise.resolve(7), 100, () => new Error('slow'))).resolves.toBe(7);
    const late = orTimeout(never, 100, () => new Error('no answer within 100 ms'));
    const caught = late.catch((e: Error) => e.message);
    await vi.advanceTimersByTimeAsync(100);
    await expect(caught).resolves.toBe('no answer within 100 ms');
    expect(vi.getTimerCount()).toBe(0);
  });
});
