/**
 * Retrying a connect that failed for a reason that passes. A saturated server times handshakes
 * out, closes connections it has no room for (`too_many_connections`, `server_full`), or closes
 * ones whose first stream or hello came late (`deadline`); trying again a moment later works, and a
 * crowd that retries with jittered back-off spreads itself out instead of arriving in waves.
 * Refusals that cannot pass (a retired build, a wrong certificate, a version the server does not
 * take) are never retried. Sans-IO: the driver passes `now` and owns the timers.
 */
import { IyesmpError } from '../errors.js';

export interface ConnectRetryPolicy {
  /** the first back-off; each retry doubles it, up to maxDelayMs (then jittered: half to all of it) */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * the longest one attempt (handshake, confirmation, hello) may take within the overall budget;
   * default: all that is left. A busy server answers queued handshakes late, and abandoning one
   * throws away the work it already did and queues another (measured: 10 s attempts under a crowd
   * lost more players than one long attempt). A silent server still ends an attempt at the QUIC
   * idle timeout.
   */
  attemptTimeoutMs: number;
  /** an attempt with less time than this left is not started: it could not finish a handshake */
  minAttemptMs: number;
}

export const DEFAULT_CONNECT_RETRY: ConnectRetryPolicy = {
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  attemptTimeoutMs: Number.POSITIVE_INFINITY,
  minAttemptMs: 1_000,
};

/**
 * Codes of failures that say "not now" rather than "no": the server was too busy to answer or to
 * keep the connection. `closed` counts only where the caller says so (before a login nothing is lost).
 */
const TRANSIENT = new Set<string>(['timeout', 'too_many_connections', 'server_full', 'deadline', 'transport_error', 'confirm_failed', 'quic_failed']);

export function isTransientConnectError(err: unknown, o: { closedIsTransient: boolean }): boolean {
  if (!(err instanceof IyesmpError)) return false;
  return TRANSIENT.has(err.code) || (o.closedIsTransient && err.code === 'closed');
}

export type RetryDecision = { retry: true; delayMs: number; attempt: number } | { retry: false };

/** The attempts of one connect: how long each may take, and whether and when to try again. */
export class ConnectRetry {
  readonly #policy: ConnectRetryPolicy;
  readonly #deadline: number;
  readonly #random: () => number;
  readonly #closedIsTransient: boolean;
  #failures = 0;

  constructor(o: { policy: ConnectRetryPolicy; start: number; budgetMs: number; random: () => number; closedIsTransient: boolean }) {
    this.#policy = o.policy;
    this.#deadline = o.start + o.budgetMs;
    this.#random = o.random;
    this.#closedIsTransient = o.closedIsTransient;
  }

  /** The timeout of the attempt starting at `now` (the first one always gets at least 1 ms). */
  attemptTimeout(now: number): number {
    return Math.max(1, Math.min(this.#policy.attemptTimeoutMs, this.#deadline - now));
  }

  /** An attempt failed at `now` with `err`: retry after `delayMs`, or give up (the caller throws `err`). */
  failed(err: unknown, now: number): RetryDecision {
    if (!isTransientConnectError(err, { closedIsTransient: this.#closedIsTransient })) return { retry: false };
    const p = this.#policy;
    const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** this.#failures);
    const delayMs = Math.round(cap / 2 + (this.#random() * cap) / 2);
    if (now + delayMs + p.minAttemptMs > this.#deadline) return { retry: false };
    this.#failures++;
    return { retry: true, delayMs, attempt: this.#failures + 1 };
  }
}

/** What a game is told before each retry (e.g. to show "the server is busy, retrying"). */
export interface ConnectRetryInfo {
  /** the attempt about to start (2 for the first retry) */
  attempt: number;
  delayMs: number;
  error: IyesmpError;
}

export interface RetryOptions {
  /** the whole connect, retries included */
  budgetMs: number;
  /** `false`: one attempt only */
  retry?: false | Partial<ConnectRetryPolicy> | undefined;
  onRetry?: ((info: ConnectRetryInfo) => void) | undefined;
  closedIsTransient: boolean;
}

/** Runs `attempt(timeoutMs)` until it succeeds, fails for good, or the budget is spent. */
export async function withConnectRetry<T>(o: RetryOptions, attempt: (timeoutMs: number) => Promise<T>): Promise<T> {
  if (o.retry === false) return attempt(o.budgetMs);
  const policy = { ...DEFAULT_CONNECT_RETRY, ...o.retry };
  const retry = new ConnectRetry({ policy, start: Date.now(), budgetMs: o.budgetMs, random: Math.random, closedIsTransient: o.closedIsTransient });
  for (;;) {
    try {
      return await attempt(retry.attemptTimeout(Date.now()));
    } catch (err) {
      const next = retry.failed(err, Date.now());
      if (!next.retry) throw err;
      o.onRetry?.({ attempt: next.attempt, delayMs: next.delayMs, error: err as IyesmpError });
      await new Promise((r) => setTimeout(r, next.delayMs));
    }
  }
}
