import { setTimeout as sleep } from 'node:timers/promises';
import { accountError, type AuthError } from '../errors.js';
import { cleanDisplayName, type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

/** What a studio's verifier answers for accepted credentials. Return null (or throw) to refuse. */
export interface VerifiedIdentity {
  accountId: string;
  displayName?: string;
  data?: Record<string, unknown>;
}

export interface VerifierContext {
  now: number;
  remoteAddress?: string;
  /** Aborted at the deadline or when the client leaves: stop the backend call when it fires. */
  signal: AbortSignal;
}

export type StudioVerifier = (credentials: Credentials, ctx: VerifierContext) => Promise<VerifiedIdentity | null>;

export interface CustomVerifierOptions {
  verify: StudioVerifier;
  /** Credentials method this provider answers to (default `custom`). */
  method?: string;
  /** Per-call deadline, counted from the call's arrival (time queued for a slot included). */
  timeoutMs?: number;
  /** Calls running in the studio's code at once. */
  maxConcurrent?: number;
  /** Calls waiting for a slot; beyond this, refuse at once with `auth.verifier_busy`. */
  maxQueued?: number;
  /** Deadline timer; injectable so tests control time. Must reject or stay pending once `signal` aborts. */
  timer?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Runs a studio's own credential check with a deadline and a concurrency limit, so one slow or broken
 * backend degrades to clear failures for its own calls instead of stalling every login.
 * The semaphore is hand-written (a counter and a FIFO) because it also has to drop waiters whose
 * deadline passed, which general-purpose limiters do not offer.
 *
 * A call that times out gives its slot back at the deadline even if the studio code ignores the
 * abort signal: the limit is on calls we are still waiting for, not on leaked work.
 */
export class CustomVerifierProvider implements AccountProvider {
  readonly method: string;
  readonly #verify: StudioVerifier;
  readonly #timeoutMs: number;
  readonly #max: number;
  readonly #maxQueued: number;
  readonly #timer: (ms: number, signal: AbortSignal) => Promise<void>;
  #active = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(opts: CustomVerifierOptions) {
    this.method = opts.method ?? 'custom';
    this.#verify = opts.verify;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#max = Math.max(1, opts.maxConcurrent ?? 16);
    this.#maxQueued = Math.max(0, opts.maxQueued ?? 256);
    this.#timer = opts.timer ?? ((ms, signal) => sleep(ms, undefined, { signal }));
  }

  /** Calls currently holding a slot / waiting for one (for metrics and tests). */
  get load(): { active: number; queued: number } {
    return { active: this.#active, queued: this.#waiters.length };
  }

  async authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account> {
    if (this.#active >= this.#max && this.#waiters.length >= this.#maxQueued) {
      throw accountError('auth.verifier_busy', 'login service is busy, try again shortly');
    }
    const ac = new AbortController();
    const onOuterAbort = () => ac.abort(ctx.signal?.reason);
    ctx.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const deadline = this.#timer(this.#timeoutMs, ac.signal).then(
      (): typeof TIMED_OUT => TIMED_OUT,
      (): typeof TIMED_OUT => TIMED_OUT, // aborted: either we finished (result ignored) or the client left
    );
    let holding = false;
    let waiter: (() => void) | undefined;
    try {
      if (this.#active < this.#max) {
        this.#active++;
        holding = true;
      } else {
        const granted = new Promise<void>((resolve) => {
          // release() hands its slot straight to us; mark it at once so the slot is given back
          // in `finally` even if the deadline wins the race below in the same turn.
          waiter = () => {
            holding = true;
            resolve();
          };
          this.#waiters.push(waiter);
        });
        if ((await Promise.race([granted, deadline])) === TIMED_OUT) throw this.#timeout();
      }
      // Promise.resolve().then(...) turns a synchronous throw in studio code into a rejection.
      const call = Promise.resolve().then(() =>
        this.#verify(credentials, { now: ctx.now, remoteAddress: ctx.remoteAddress, signal: ac.signal } as VerifierContext),
      );
      call.catch(() => undefined); // a late rejection after our deadline must not become unhandled
      let outcome: VerifiedIdentity | null | typeof TIMED_OUT;
      try {
        outcome = await Promise.race([call, deadline]);
      } catch (err) {
        throw accountError('auth.verifier_error', 'login service failed to check these credentials', {
          cause: err,
        });
      }
      if (outcome === TIMED_OUT) throw this.#timeout();
      if (outcome === null || outcome === undefined) {
        throw accountError('auth.verifier_rejected', 'credentials were refused by the game login service');
      }
      return this.#toAccount(outcome, credentials);
    } finally {
      ctx.signal?.removeEventListener('abort', onOuterAbort);
      ac.abort(); // stops the deadline timer and tells studio code we no longer care
      if (holding) this.#release();
      else if (waiter) this.#dropWaiter(waiter);
    }
  }

  #timeout(): AuthError {
    return accountError('auth.verifier_timeout', `login service did not answer within ${this.#timeoutMs} ms`, {
      hint: 'try again; if it persists the game login backend is down or overloaded',
    });
  }

  #release(): void {
    const next = this.#waiters.shift();
    if (next)
      next(); // hand the slot over without decrementing, so no newcomer can jump the queue
    else this.#active--;
  }

  #dropWaiter(w: () => void): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
  }

  #toAccount(v: VerifiedIdentity, credentials: Credentials): Account {
    if (typeof v !== 'object' || typeof v.accountId !== 'string' || v.accountId.length === 0 || v.accountId.length > 128) {
      throw accountError('auth.verifier_error', 'login service returned an identity without a usable accountId');
    }
    const a: Account = {
      playerId: `${this.method}:${v.accountId}`,
      accountId: v.accountId,
      method: this.method,
      displayName: (typeof v.displayName === 'string' ? cleanDisplayName(v.displayName) : undefined) ?? v.accountId,
    };
    if (v.data !== undefined) a.data = v.data;
    if (credentials.ext !== undefined) a.ext = credentials.ext;
    return a;
  }
}
