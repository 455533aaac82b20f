import { accountError } from '../errors.js';

/**
 * Failed-login tracking with exponential back-off, per account and per source address. Sans-IO:
 * every call takes `now`. After `freeFailures` misses a key is locked for `baseDelayMs`, doubling
 * with each further miss up to `maxDelayMs`; while locked, attempts are refused before any password
 * is hashed, so guessing costs the attacker time and the server nothing.
 *
 * A lock is temporary and capped because anyone can trip an account's: the cap bounds how long a
 * stranger can keep a player out, the doubling bounds how fast anyone can guess.
 */
export interface LockoutRule {
  /** Misses allowed before the first lock. */
  freeFailures: number;
  /** The first lock; each further miss doubles it. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface LockoutOptions {
  /** Default: 5 misses, then 1 s doubling up to 15 min. */
  perAccount?: LockoutRule;
  /** Default: 20 misses (players behind one NAT share an address), then 1 s doubling up to 15 min. */
  perAddress?: LockoutRule;
  /** A key with no miss for this long starts afresh (default 1 h). */
  forgetAfterMs?: number;
  /** Keys remembered per table; the least recently missed beyond this are forgotten (default 100,000). */
  maxKeys?: number;
}

interface Misses {
  count: number;
  last: number;
  lockedUntil: number;
}

class MissTable {
  // Map order is the eviction order: a key moves to the end on each miss.
  readonly #misses = new Map<string, Misses>();

  constructor(
    readonly rule: LockoutRule,
    readonly forgetAfterMs: number,
    readonly maxKeys: number,
  ) {}

  lockedFor(key: string, now: number): number {
    const m = this.#live(key, now);
    return m ? Math.max(0, m.lockedUntil - now) : 0;
  }

  miss(key: string, now: number): void {
    const count = (this.#live(key, now)?.count ?? 0) + 1;
    const over = count - this.rule.freeFailures;
    // 2 ** over grows past maxDelayMs long before it overflows; min() keeps it there
    const lockedUntil = over >= 0 ? now + Math.min(this.rule.maxDelayMs, this.rule.baseDelayMs * 2 ** over) : 0;
    this.#misses.delete(key);
    this.#misses.set(key, { count, last: now, lockedUntil });
    if (this.#misses.size > this.maxKeys) this.#misses.delete(this.#misses.keys().next().value!);
  }

  forget(key: string): void {
    this.#misses.delete(key);
  }

  get size(): number {
    return this.#misses.size;
  }

  #live(key: string, now: number): Misses | undefined {
    const m = this.#misses.get(key);
    if (m && now - m.last >= this.forgetAfterMs && now >= m.lockedUntil) {
      this.#misses.delete(key);
      return undefined;
    }
    return m;
  }
}

/** Who is logging in: the account key (username key) and the source address, when known. */
export interface LoginKeys {
  account?: string;
  address?: string;
}

const FIFTEEN_MINUTES = 15 * 60_000;

export class LoginLockout {
  readonly #byAccount: MissTable;
  readonly #byAddress: MissTable;

  constructor(opts: LockoutOptions = {}) {
    const forget = opts.forgetAfterMs ?? 3_600_000;
    const max = opts.maxKeys ?? 100_000;
    this.#byAccount = new MissTable(opts.perAccount ?? { freeFailures: 5, baseDelayMs: 1_000, maxDelayMs: FIFTEEN_MINUTES }, forget, max);
    this.#byAddress = new MissTable(opts.perAddress ?? { freeFailures: 20, baseDelayMs: 1_000, maxDelayMs: FIFTEEN_MINUTES }, forget, max);
  }

  /** Refuses with `auth.locked` (details: `retryAfterMs`) while the account or the address is locked. */
  check(keys: LoginKeys, now: number): void {
    const account = keys.account === undefined ? 0 : this.#byAccount.lockedFor(keys.account, now);
    const address = keys.address === undefined ? 0 : this.#byAddress.lockedFor(keys.address, now);
    const retryAfterMs = Math.max(account, address);
    if (retryAfterMs === 0) return;
    throw accountError('auth.locked', `too many failed logins; try again in ${Math.ceil(retryAfterMs / 1000)} s`, {
      hint: 'check the username and password; the wait doubles with each further failure',
      details: { retryAfterMs },
    });
  }

  failed(keys: LoginKeys, now: number): void {
    if (keys.account !== undefined) this.#byAccount.miss(keys.account, now);
    if (keys.address !== undefined) this.#byAddress.miss(keys.address, now);
  }

  /**
   * The account's misses are forgiven; the address's are not, or an attacker could clear its
   * address's count by logging in to an account of its own between guesses.
   */
  succeeded(keys: LoginKeys): void {
    if (keys.account !== undefined) this.#byAccount.forget(keys.account);
  }

  /** Keys remembered (for metrics and tests). */
  get size(): { accounts: number; addresses: number } {
    return { accounts: this.#byAccount.size, addresses: this.#byAddress.size };
  }
}
