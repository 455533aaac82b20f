import { describe, expect, it } from 'vitest';
import type { AuthError } from '../../src/auth/errors.js';
import { AuthLimits, TokenBuckets } from '../../src/auth/limits.js';

function refusal(fn: () => void): AuthError {
  try {
    fn();
  } catch (e) {
    return e as AuthError;
  }
  throw new Error('expected a refusal');
}

describe('token buckets', () => {
  it('allow a burst, then refill at the rule rate, never above the burst', () => {
    const b = new TokenBuckets({ burst: 3, perSecond: 2 });
    for (let i = 0; i < 3; i++) {
      expect(b.wait('a', 0)).toBe(0);
      b.take('a', 0);
    }
    expect(b.wait('a', 0)).toBe(500);
    expect(b.wait('a', 499)).toBe(2);
    expect(b.wait('a', 500)).toBe(0);
    expect(b.wait('b', 0)).toBe(0); // keys are independent
    b.take('a', 500);
    expect(b.wait('a', 100_000)).toBe(0);
    for (let i = 0; i < 3; i++) b.take('a', 100_000);
    expect(b.wait('a', 100_000)).toBe(500); // the long pause refilled 3, not 200
  });

  it('a clock stepping back refills nothing', () => {
    const b = new TokenBuckets({ burst: 1, perSecond: 1 });
    b.take('a', 10_000);
    expect(b.wait('a', 5_000)).toBe(1000);
  });

  it('remembers at most maxKeys keys, forgetting the least recently used', () => {
    const b = new TokenBuckets({ burst: 1, perSecond: 0.001 }, 2);
    b.take('a', 0);
    b.take('b', 0);
    b.take('a', 0); // a is now the most recent
    b.take('c', 0);
    expect(b.size).toBe(2);
    expect(b.wait('a', 0)).toBeGreaterThan(0);
    expect(b.wait('b', 0)).toBe(0); // forgotten: a full bucket again
  });
});

describe('auth limits (issue 9, item 5)', () => {
  it('a registration flood from one address is refused with auth.rate_limited and a retry time', () => {
    const l = new AuthLimits({ registerPerAddress: { burst: 10, perSecond: 1 / 6 } });
    for (let i = 0; i < 10; i++) l.admit('register', { address: '203.0.113.5' }, 0);
    const e = refusal(() => l.admit('register', { address: '203.0.113.5' }, 0));
    expect(e.code).toBe('auth.rate_limited');
    expect(e.details).toEqual({ retryAfterMs: 6000 });
    expect(e.message).toMatch(/try again in 6 s/);
    l.admit('register', { address: '203.0.113.6' }, 0); // another address is not affected
    l.admit('register', { address: '203.0.113.5' }, 6000);
  });

  it('logins are limited per address and per account; a refused request takes no token', () => {
    const l = new AuthLimits({ loginPerAddress: { burst: 3, perSecond: 1 }, loginPerAccount: { burst: 2, perSecond: 1 } });
    l.admit('login', { address: 'x', account: 'ann' }, 0);
    l.admit('login', { address: 'y', account: 'ann' }, 0);
    // ann's account is out of tokens whichever address asks
    expect(refusal(() => l.admit('login', { address: 'z', account: 'ann' }, 0)).code).toBe('auth.rate_limited');
    // z's refused attempt did not spend z's address tokens
    for (const who of ['bob', 'cat', 'dan']) l.admit('login', { address: 'z', account: who }, 0);
    expect(refusal(() => l.admit('login', { address: 'z', account: 'eve' }, 0)).code).toBe('auth.rate_limited');
    // registrations and logins are counted apart
    l.admit('register', { address: 'z' }, 0);
  });
});
