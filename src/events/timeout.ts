/**
 * The one deadline race of iyesmp's drivers: a promise against a timer. Every "wait for X, but no
 * longer than N ms" (a confirmation, a graceful close, a readiness probe) goes through here, so
 * each clears its timer the moment the race is decided and none keeps the process alive for nothing.
 */

/** What `withTimeout` resolves to when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');
export type TimedOut = typeof TIMED_OUT;

/**
 * Settles as `p` does (value or rejection), or resolves `TIMED_OUT` once `ms` pass first. A symbol,
 * not undefined, because some raced promises resolve undefined themselves (a stream that ended
 * before its first frame). The timer is cleared as soon as either side settles; `unref` also lets
 * the process exit while the race is still on (a courtesy wait that must not hold a CLI open).
 * `p` is not cancelled on a timeout; its late rejection is handled (the race listens to it).
 */
export function withTimeout<T>(p: PromiseLike<T>, ms: number, opts: { unref?: boolean } = {}): Promise<T | TimedOut> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<TimedOut>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
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
