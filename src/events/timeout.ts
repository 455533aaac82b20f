/**
 * The one deadline race of iyesmp's drivers: a promise against a timer. Every "wait for X, but no
 * longer than N ms" (a confirmation, a graceful close, a readiness probe) goes through here, so
 * each clears its timer the moment the race is decided and none keeps the process alive for nothing.
 */

/**
 * How late (ms) a deadline's timer may fire before its expiry waits for the sockets to be read. A
 * stalled event loop (CPU starvation, a long GC) runs its expired timers before it polls its
 * sockets, so an answer that arrived in time would lose to its own deadline.
 */
export const LATE_TIMER_MS = 10;

/**
 * For a deadline's timer callback: runs `expire` at once, or, when the timer fired more than
 * LATE_TIMER_MS after `dueAt` (a `performance.now()` time), after the event loop's next poll phase
 * (`setImmediate`), so the input that was waiting is handled first and whatever it settles wins. An
 * on-time timer costs one clock read; `expire` must therefore cope with the wait it guards having
 * ended meanwhile (a settled race, a cleared deadline).
 */
export function expireAfterInput(dueAt: number, expire: () => void): void {
  if (performance.now() - dueAt > LATE_TIMER_MS) setImmediate(expire);
  else expire();
}

/**
 * `setTimeout` for a deadline: `expire` runs `ms` from now, or, when the timer fires late, after the
 * input waiting in the sockets was handled (`expireAfterInput`).
 */
export function setDeadline(expire: () => void, ms: number): ReturnType<typeof setTimeout> {
  const dueAt = performance.now() + ms;
  return setTimeout(() => expireAfterInput(dueAt, expire), ms);
}

/** What `withTimeout` resolves to when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');
export type TimedOut = typeof TIMED_OUT;

/**
 * Settles as `p` does (value or rejection), or resolves `TIMED_OUT` once `ms` pass first. A symbol,
 * not undefined, because some raced promises resolve undefined themselves (a stream that ended
 * before its first frame). The timer is cleared as soon as either side settles; `unref` also lets
 * the process exit while the race is still on (a courtesy wait that must not hold a CLI open).
 * `p` is not cancelled on a timeout; its late rejection is handled (the race listens to it). A timer
 * that fires late lets waiting input settle `p` first (`expireAfterInput`).
 */
export function withTimeout<T>(p: PromiseLike<T>, ms: number, opts: { unref?: boolean } = {}): Promise<T | TimedOut> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<TimedOut>((resolve) => {
    timer = setDeadline(() => resolve(TIMED_OUT), ms);
    if (opts.unref) timer.unref?.();
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/** `withTimeout` for a wait whose timeout is an error: rejects with `onTimeout()` when `ms` pass first. */
export async function orTimeout<T>(p: PromiseLike<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const r = await withTimeout(p, ms);
  if (r === TIMED_OUT) throw onTimeout();
  return r;
}
