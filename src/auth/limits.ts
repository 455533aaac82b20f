import { accountError } from './errors.js';

/**
 * Rate limits for the requests that cost the Auth server a password hash: registration and password
 * login. Sans-IO: the caller passes `now`; nothing here reads a clock or starts a timer. Memory is
 * bounded: each table keeps at most `maxKeys` keys and forgets the least recently used beyond that
 * (a forgotten key starts again with a full bucket, which only ever errs towards letting a client in).
 */

export interface BucketRule {
  /** Requests allowed at once (the bucket's size). */
  burst: number;
  /** Tokens added back per second. */
  perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by key (an address, an account), one rule for all keys. */
export class TokenBuckets {
  readonly #rule: BucketRule;
  readonly #maxKeys: number;
  // Map order is the eviction order: a key is moved to the end each time it is used.
  readonly #buckets = new Map<string, Bucket>();

  constructor(rule: BucketRule, maxKeys = 50_000) {
    if (!(rule.burst >= 1) || !(rule.perSecond > 0)) throw new RangeError('a bucket needs burst >= 1 and perSecond > 0');
    if (!(maxKeys >= 1)) throw new RangeError('maxKeys must be at least 1');
    this.#rule = rule;
    this.#maxKeys = maxKeys;
  }

  /** Milliseconds until `key` would have a token (0: it has one now). Takes nothing. */
  wait(key: string, now: number): number {
    const tokens = this.#refilled(this.#buckets.get(key), now);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / this.#rule.perSecond);
  }

  /** Takes one token from `key` (callers check `wait` first; an empty bucket goes no lower than 0). */
  take(key: string, now: number): void {
    const tokens = this.#refilled(this.#buckets.get(key), now);
    this.#buckets.delete(key);
    this.#buckets.set(key, { tokens: Math.max(0, tokens - 1), at: now });
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #refilled(b: Bucket | undefined, now: number): number {
    if (!b) return this.#rule.burst;
    // a clock that steps back refills nothing rather than draining the bucket
    return Math.min(this.#rule.burst, b.tokens + (Math.max(0, now - b.at) * this.#rule.perSecond) / 1000);
  }
}

/** What a limited request is: a new account, or a password login. */
export type LimitedRequest = 'register' | 'login';

export interface AuthLimitsOptions {
  /** Registrations per source address (default: 20 at once, then one every 3 s). */
  registerPerAddress?: BucketRule;
  /** Password logins per source address (default: 30 at once, then 2 a second). */
  loginPerAddress?: BucketRule;
  /** Password logins per account, whatever the address (default: 10 at once, then one every 2 s). */
  loginPerAccount?: BucketRule;
  /** Keys each table remembers (default 50,000). */
  maxKeys?: number;
}

/**
 * The Auth server's limits on hash-costing requests. A request is admitted only if every bucket
 * that applies to it has a token, and then takes one from each, so a refused request costs nothing.
 */
export class AuthLimits {
  readonly #registerByAddress: TokenBuckets;
  readonly #loginByAddress: TokenBuckets;
  readonly #loginByAccount: TokenBuckets;

  constructor(opts: AuthLimitsOptions = {}) {
    const max = opts.maxKeys ?? 50_000;
    this.#registerByAddress = new TokenBuckets(opts.registerPerAddress ?? { burst: 20, perSecond: 1 / 3 }, max);
    this.#loginByAddress = new TokenBuckets(opts.loginPerAddress ?? { burst: 30, perSecond: 2 }, max);
    this.#loginByAccount = new TokenBuckets(opts.loginPerAccount ?? { burst: 10, perSecond: 0.5 }, max);
  }

  /**
   * Admits one request or refuses it with `auth.rate_limited` (details: `retryAfterMs`).
   * `account` is the account a login names (its username key); a registration is limited by
   * address only, since an attacker picks a fresh username each time.
   */
  admit(kind: LimitedRequest, who: { address?: string; account?: string }, now: number): void {
    const keyed: Array<[TokenBuckets, string | undefined]> =
      kind === 'register'
        ? [[this.#registerByAddress, who.address]]
        : [
            [this.#loginByAddress, who.address],
            [this.#loginByAccount, who.account],
          ];
    const hits = keyed.filter((h): h is [TokenBuckets, string] => h[1] !== undefined);
    const retryAfterMs = Math.max(0, ...hits.map(([t, k]) => t.wait(k, now)));
    if (retryAfterMs > 0) {
      const what = kind === 'register' ? 'new accounts' : 'login attempts';
      throw accountError('auth.rate_limited', `too many ${what}; try again in ${Math.ceil(retryAfterMs / 1000)} s`, {
        details: { retryAfterMs },
      });
    }
    for (const [t, k] of hits) t.take(k, now);
  }
}
