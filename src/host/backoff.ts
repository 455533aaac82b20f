/**
 * Reconnect backoff for re-dialling Auth servers (and for re-sending unacknowledged results).
 * Exponential growth with a cap, jitter from an injected random source (so tests are exact and
 * many hosts restarting together do not dial in lockstep), and a reset once a connection has
 * stayed up long enough to count as stable: a link that flaps after a second keeps backing off.
 */
export interface BackoffOptions {
  /** delay before the first retry; default 500 ms */
  initialMs?: number;
  /** upper bound of the un-jittered delay; default 30 s */
  maxMs?: number;
  /** growth factor per failed attempt; default 2 */
  multiplier?: number;
  /**
   * Fraction of the delay that is randomised, 0..1: the delay lies in [base·(1−jitter), base].
   * 1 is "full jitter", 0 is none. Default 0.5.
   */
  jitter?: number;
  /** returns a number in [0, 1); default Math.random */
  random?: () => number;
  /** a connection up at least this long resets the attempts; default 10 s */
  stableAfterMs?: number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  readonly jitter: number;
  readonly stableAfterMs: number;
  readonly #random: () => number;
  #attempts = 0;
  #connectedAt: number | undefined;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.multiplier = opts.multiplier ?? 2;
    this.jitter = opts.jitter ?? 0.5;
    this.stableAfterMs = opts.stableAfterMs ?? 10_000;
    this.#random = opts.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) throw new RangeError('backoff needs 0 < initialMs <= maxMs');
    if (!(this.multiplier >= 1)) throw new RangeError('backoff multiplier must be >= 1');
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError('backoff jitter must lie in [0, 1]');
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The un-jittered delay after `attempt` earlier failures (default: the current count). */
  baseDelay(attempt = this.#attempts): number {
    // repeated multiplication with an early stop, so huge attempt counts cannot overflow to Infinity
    let d = this.initialMs;
    for (let i = 0; i < attempt && d < this.maxMs; i++) d *= this.multiplier;
    return Math.min(d, this.maxMs);
  }

  /** The jittered delay for a given attempt number, without recording anything. */
  delayFor(attempt: number): number {
    const r = Math.min(Math.max(this.#random(), 0), 1);
    return Math.round(this.baseDelay(Math.max(0, attempt)) * (1 - this.jitter * r));
  }

  /** Record a failed attempt and return how long to wait before the next one. */
  next(): number {
    const d = this.delayFor(this.#attempts);
    this.#attempts++;
    return d;
  }

  reset(): void {
    this.#attempts = 0;
    this.#connectedAt = undefined;
  }

  /** The connection came up at `now`. Attempts are kept until it proves stable. */
  connected(now: number): void {
    this.#connectedAt = now;
  }

  /** The connection went down at `now`; resets the attempts if it had been up for `stableAfterMs`. */
  disconnected(now: number): void {
    if (this.#connectedAt !== undefined && now - this.#connectedAt >= this.stableAfterMs) this.#attempts = 0;
    this.#connectedAt = undefined;
  }

  /** Reset once the connection has been up long enough, even while it stays up. */
  tick(now: number): void {
    if (this.#connectedAt !== undefined && now - this.#connectedAt >= this.stableAfterMs) this.#attempts = 0;
  }
}
