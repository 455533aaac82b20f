import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TIMED_OUT, orTimeout, withTimeout } from '../../src/events/timeout.js';
import { TypedEmitter } from '../../src/events/emitter.js';
import { datagramLater, stall } from '../support/stall.js';

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

/**
 * After a stall libuv runs expired timers before it polls sockets: an answer that arrived before the
 * deadline, unread in the socket, must still win over the deadline's timer.
 */
describe('a deadline whose timer fires late (the event loop was stalled)', () => {
  async function socket(): Promise<{ port: number; next: () => Promise<string>; close: () => void }> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    return {
      port: (s.address() as AddressInfo).port,
      next: () => new Promise((r) => s.once('message', (m) => r(m.toString()))),
      close: () => s.close(),
    };
  }

  it('withTimeout settles with the answer that came during the stall', async () => {
    const sock = await socket();
    const peer = await datagramLater(sock.port, 'answer', 50);
    try {
      const raced = withTimeout(sock.next(), 100);
      await stall(300, peer.go); // the answer arrives at ~50 ms, the deadline passes at 100 ms, the loop wakes at 300 ms
      await expect(raced).resolves.toBe('answer');
    } finally {
      sock.close();
      await peer.close();
    }
  });

  it('withTimeout still times out, right after the stall, when nothing came', async () => {
    const sock = await socket();
    try {
      const raced = withTimeout(sock.next(), 100);
      await stall(300);
      const woke = performance.now();
      await expect(raced).resolves.toBe(TIMED_OUT);
      expect(performance.now() - woke).toBeLessThan(100);
    } finally {
      sock.close();
    }
  });

  it("an emitter's next() gets the event that came during the stall", async () => {
    const sock = await socket();
    const peer = await datagramLater(sock.port, 'answer', 50);
    const ee = new (class extends TypedEmitter<{ answer: string }> {
      fire(m: string): void {
        this.emit('answer', m);
      }
    })();
    try {
      const next = ee.next('answer', { timeoutMs: 100 });
      void sock.next().then((m) => ee.fire(m));
      await stall(300, peer.go);
      await expect(next).resolves.toBe('answer');
    } finally {
      sock.close();
      await peer.close();
    }
  });
});
