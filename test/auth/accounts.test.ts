import { describe, expect, it, vi } from 'vitest';

// Wrap timingSafeEqual in a spy (keeping the real behaviour) to prove the password check uses it.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, default: real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

import * as crypto from 'node:crypto';
import {
  AccountService,
  CustomVerifierProvider,
  GuestProvider,
  HashQueue,
  LoginLockout,
  MemoryAccountStore,
  MemoryBanStore,
  PasswordProvider,
  TokenProvider,
  hashPassword,
  needsRehash,
  signToken,
  verifyPassword,
  verifyToken,
} from '../../src/auth/accounts/index.js';
import type { AuthError } from '../../src/auth/errors.js';

const FAST = { ln: 4, r: 8, p: 1, saltBytes: 16, keyBytes: 32 }; // cheap scrypt for tests
const ctx = (now = 1_000_000) => ({ now });

async function refusal(p: Promise<unknown>): Promise<AuthError> {
  try {
    await p;
  } catch (err) {
    return err as AuthError;
  }
  throw new Error('expected a refusal');
}

describe('guest', () => {
  it('gives a cleaned display name and a fresh player id each time', async () => {
    const g = new GuestProvider();
    const a = await g.authenticate({ method: 'guest', displayName: '  Ann\u0000ie \u202e ', ext: { skin: 3 } }, ctx());
    const b = await g.authenticate({ method: 'guest', displayName: 'Annie' }, ctx());
    expect(a.displayName).toBe('Annie');
    expect(a.playerId).toMatch(/^guest:/);
    expect(a.playerId).not.toBe(b.playerId);
    expect(a.ext).toEqual({ skin: 3 });
  });

  it('gives every guest its own 96-bit id, across many logins and several providers (ids come from a shared random pool)', async () => {
    const providers = [new GuestProvider(), new GuestProvider()];
    const ids = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const a = await providers[i % 2]!.authenticate({ method: 'guest' }, ctx());
      expect(a.accountId).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(a.playerId).toBe(`guest:${a.accountId}`);
      ids.add(a.accountId);
    }
    expect(ids.size).toBe(1500);
  });

  it('invents a name when none or only junk is given', async () => {
    const g = new GuestProvider({ randomId: () => 'abcdef' });
    expect((await g.authenticate({ method: 'guest' }, ctx())).displayName).toBe('Guest-abcd');
    expect((await g.authenticate({ method: 'guest', displayName: '\u0007  ' }, ctx())).displayName).toBe('Guest-abcd');
  });

  it('refuses a non-string display name', async () => {
    const e = await refusal(new GuestProvider().authenticate({ method: 'guest', displayName: 5 }, ctx()));
    expect(e.code).toBe('auth.invalid_request');
  });
});

describe('password hashing', () => {
  it('stores parameters and salt with the hash and verifies only the right password', async () => {
    const h1 = await hashPassword('correct horse', FAST);
    const h2 = await hashPassword('correct horse', FAST);
    expect(h1).toMatch(/^\$scrypt\$ln=4,r=8,p=1\$/);
    expect(h1).not.toBe(h2); // per-hash salt
    expect(await verifyPassword('correct horse', h1)).toBe(true);
    expect(await verifyPassword('correct horsf', h1)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });

  it('compares with crypto.timingSafeEqual', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    const h = await hashPassword('pw-12345', FAST);
    spy.mockClear();
    expect(await verifyPassword('wrong-pw', h)).toBe(false);
    expect(spy).toHaveBeenCalledTimes(1);
    const [a, b] = spy.mock.calls[0]! as [Buffer, Buffer];
    expect(a.length).toBe(32);
    expect(b.length).toBe(32);
  });

  it('asks for a rehash when stored parameters are weaker than configured', async () => {
    const h = await hashPassword('pw', FAST);
    expect(needsRehash(h, FAST)).toBe(false);
    expect(needsRehash(h, { ...FAST, ln: 5 })).toBe(true);
  });
});

describe('password accounts', () => {
  const make = () => {
    const store = new MemoryAccountStore();
    return { store, p: new PasswordProvider({ store, scrypt: FAST }) };
  };

  it('registers and logs in; case-insensitive usernames; data and ext pass through', async () => {
    const { p } = make();
    const reg = await p.register({ username: 'Alice', password: 'longenough', data: { elo: 1200 } }, ctx());
    const login = await p.authenticate({ method: 'password', username: 'alice', password: 'longenough', ext: 'x' }, ctx());
    expect(login.playerId).toBe(reg.playerId);
    expect(login.displayName).toBe('Alice');
    expect(login.data).toEqual({ elo: 1200 });
    expect(login.ext).toBe('x');
  });

  it('refuses a taken username, a short password and a bad username', async () => {
    const { p } = make();
    await p.register({ username: 'bob', password: 'longenough' }, ctx());
    expect((await refusal(p.register({ username: 'BOB', password: 'longenough' }, ctx()))).code).toBe('auth.username_taken');
    expect((await refusal(p.register({ username: 'carol', password: 'short' }, ctx()))).code).toBe('auth.weak_password');
    expect((await refusal(p.register({ username: 'a b', password: 'longenough' }, ctx()))).code).toBe('auth.invalid_request');
  });

  it('gives one answer for a wrong password and an unknown user', async () => {
    const { p } = make();
    await p.register({ username: 'dave', password: 'longenough' }, ctx());
    const wrong = await refusal(p.authenticate({ method: 'password', username: 'dave', password: 'nope-nope' }, ctx()));
    const unknown = await refusal(p.authenticate({ method: 'password', username: 'eve', password: 'nope-nope' }, ctx()));
    expect(wrong.code).toBe('auth.bad_credentials');
    expect(unknown.code).toBe('auth.bad_credentials');
    expect(wrong.message).toBe(unknown.message);
  });

  it('upgrades a weak stored hash after a successful login', async () => {
    const store = new MemoryAccountStore();
    const weak = new PasswordProvider({ store, scrypt: FAST });
    const acct = await weak.register({ username: 'frank', password: 'longenough' }, ctx());
    const strong = new PasswordProvider({ store, scrypt: { ...FAST, ln: 5 } });
    await strong.authenticate({ method: 'password', username: 'frank', password: 'longenough' }, ctx());
    expect((await store.findById(acct.accountId))!.passwordHash).toMatch(/^\$scrypt\$ln=5,/);
    await strong.authenticate({ method: 'password', username: 'frank', password: 'longenough' }, ctx());
  });
});

describe('shared-secret tokens', () => {
  const secrets = { k1: 'studio-secret-1', k2: 'studio-secret-2' };
  const now = 1_700_000_000_000;

  it('signs and verifies, carrying name and data', async () => {
    const t = signToken({ sub: 'u42', name: 'Zed', data: { tier: 'gold' } }, { secret: secrets.k2, kid: 'k2', now, ttlMs: 60_000 });
    const a = await new TokenProvider({ secrets }).authenticate({ method: 'token', token: t }, { now: now + 1000 });
    expect(a).toMatchObject({ playerId: 'token:u42', displayName: 'Zed', data: { tier: 'gold' } });
  });

  it('refuses expired tokens with their own code (after the skew allowance)', () => {
    const t = signToken({ sub: 'u' }, { secret: secrets.k1, kid: 'k1', now, ttlMs: 1000 });
    expect(verifyToken(t, now + 1000 + 500, { secrets, clockSkewMs: 1000 }).sub).toBe('u');
    expect(() => verifyToken(t, now + 1000 + 1001, { secrets, clockSkewMs: 1000 })).toThrow(expect.objectContaining({ code: 'auth.token_expired' }));
  });

  it('refuses tampered claims, a wrong key, unknown kid, wrong audience, junk', () => {
    const t = signToken({ sub: 'u', aud: 'game-a' }, { secret: secrets.k1, kid: 'k1', now, ttlMs: 60_000 });
    const [pre, kid, payload, sig] = t.split('.') as [string, string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.sub = 'admin';
    const forged = [pre, kid, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.');
    const otherKey = signToken({ sub: 'u' }, { secret: 'not-the-secret', kid: 'k1', now, ttlMs: 60_000 });
    const unknownKid = signToken({ sub: 'u' }, { secret: secrets.k1, kid: 'k9', now, ttlMs: 60_000 });
    for (const bad of [forged, otherKey, unknownKid, 'ist1.k1.e30', 'hello', t.slice(0, -2)]) {
      expect(() => verifyToken(bad, now, { secrets })).toThrow(expect.objectContaining({ code: 'auth.token_invalid' }));
    }
    expect(() => verifyToken(t, now, { secrets, audience: 'game-b' })).toThrow(/audience/);
    expect(verifyToken(t, now, { secrets, audience: 'game-a' }).sub).toBe('u');
  });
});

/** A timer the test fires by hand, so timeouts need no real waiting. */
function manualTimer() {
  const pending: Array<{ resolve: () => void }> = [];
  const timer = (_ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const entry = { resolve };
      pending.push(entry);
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  return { timer, fireAll: () => pending.splice(0).forEach((p) => p.resolve()) };
}

describe('studio verifier hook', () => {
  it('accepts, refuses (null) and contains a throwing verifier', async () => {
    const p = new CustomVerifierProvider({
      verify: async (c) => {
        if (c.secret === 'boom') throw new Error('db down');
        if (c.secret === 'sync') return (null as any).x;
        return c.secret === 'ok' ? { accountId: 'steam-1', displayName: 'Sam', data: { lvl: 9 } } : null;
      },
    });
    expect(await p.authenticate({ method: 'custom', secret: 'ok' }, ctx())).toMatchObject({
      playerId: 'custom:steam-1',
      displayName: 'Sam',
      data: { lvl: 9 },
    });
    expect((await refusal(p.authenticate({ method: 'custom', secret: 'no' }, ctx()))).code).toBe('auth.verifier_rejected');
    const thrown = await refusal(p.authenticate({ method: 'custom', secret: 'boom' }, ctx()));
    expect(thrown.code).toBe('auth.verifier_error');
    expect(thrown.message).not.toContain('db down'); // internals stay out of the client's message
    expect((await refusal(p.authenticate({ method: 'custom', secret: 'sync' }, ctx()))).code).toBe('auth.verifier_error');
    expect(p.load).toEqual({ active: 0, queued: 0 });
  });

  it('times out a hung call while other logins proceed, and frees its slot', async () => {
    const t = manualTimer();
    let abortedSeen = false;
    const p = new CustomVerifierProvider({
      timer: t.timer,
      maxConcurrent: 2,
      verify: (c, vctx) => {
        if (c.secret === 'hang') {
          vctx.signal.addEventListener('abort', () => (abortedSeen = true));
          return new Promise(() => {}); // never answers
        }
        return Promise.resolve({ accountId: String(c.secret) });
      },
    });
    const hung = p.authenticate({ method: 'custom', secret: 'hang' }, ctx());
    const fast = await Promise.all([1, 2, 3].map((i) => p.authenticate({ method: 'custom', secret: `p${i}` }, ctx())));
    expect(fast.map((a) => a.accountId)).toEqual(['p1', 'p2', 'p3']);
    expect(p.load.active).toBe(1);
    t.fireAll();
    const e = await refusal(hung);
    expect(e.code).toBe('auth.verifier_timeout');
    expect(abortedSeen).toBe(true);
    expect(p.load).toEqual({ active: 0, queued: 0 });
  });

  it('queues past the concurrency limit, times out queued calls, and refuses beyond the queue', async () => {
    const t = manualTimer();
    const release: Array<() => void> = [];
    const p = new CustomVerifierProvider({
      timer: t.timer,
      maxConcurrent: 1,
      maxQueued: 1,
      verify: (c) => new Promise((res) => release.push(() => res({ accountId: String(c.secret) }))),
    });
    const first = p.authenticate({ method: 'custom', secret: 'a' }, ctx());
    const queued = p.authenticate({ method: 'custom', secret: 'b' }, ctx());
    await Promise.resolve();
    expect(p.load).toEqual({ active: 1, queued: 1 });
    expect((await refusal(p.authenticate({ method: 'custom', secret: 'c' }, ctx()))).code).toBe('auth.verifier_busy');
    await vi.waitFor(() => expect(release.length).toBe(1));
    release[0]!();
    expect((await first).accountId).toBe('a');
    await vi.waitFor(() => expect(release.length).toBe(2)); // the queued call got the slot
    t.fireAll(); // its deadline passes before the studio answers
    expect((await refusal(queued)).code).toBe('auth.verifier_timeout');
    expect(p.load).toEqual({ active: 0, queued: 0 });
  });

  it('the default (real) timer also ends a hung call', async () => {
    const p = new CustomVerifierProvider({ timeoutMs: 20, verify: () => new Promise(() => {}) });
    expect((await refusal(p.authenticate({ method: 'custom' }, ctx()))).code).toBe('auth.verifier_timeout');
    expect(p.load).toEqual({ active: 0, queued: 0 });
  });

  it('a client that goes away aborts its call', async () => {
    const t = manualTimer();
    const p = new CustomVerifierProvider({ timer: t.timer, verify: () => new Promise(() => {}) });
    const ac = new AbortController();
    const call = p.authenticate({ method: 'custom' }, { now: 0, signal: ac.signal });
    ac.abort();
    expect((await refusal(call)).code).toBe('auth.verifier_timeout');
    expect(p.load).toEqual({ active: 0, queued: 0 });
  });

  it('a queued call whose deadline passes leaves the queue', async () => {
    const t = manualTimer();
    const p = new CustomVerifierProvider({ timer: t.timer, maxConcurrent: 1, verify: () => new Promise(() => {}) });
    const a = p.authenticate({ method: 'custom' }, ctx());
    const b = p.authenticate({ method: 'custom' }, ctx());
    await Promise.resolve();
    expect(p.load).toEqual({ active: 1, queued: 1 });
    t.fireAll();
    expect((await refusal(a)).code).toBe('auth.verifier_timeout');
    expect((await refusal(b)).code).toBe('auth.verifier_timeout');
    expect(p.load).toEqual({ active: 0, queued: 0 });
  });
});

describe('account service and bans', () => {
  it('routes by method and refuses unknown methods', async () => {
    const svc = new AccountService({ providers: [new GuestProvider()] });
    expect((await svc.authenticate({ method: 'guest' }, ctx())).method).toBe('guest');
    expect((await refusal(svc.authenticate({ method: 'ldap' }, ctx()))).code).toBe('auth.unknown_method');
    expect((await refusal(svc.authenticate(null as any, ctx()))).code).toBe('auth.invalid_request');
    expect(() => svc.use(new GuestProvider())).toThrow(/already/);
  });

  it('refuses banned players until the ban expires, by player id or by account', async () => {
    const store = new MemoryAccountStore();
    const bans = new MemoryBanStore();
    const pw = new PasswordProvider({ store, scrypt: FAST });
    const svc = new AccountService({ providers: [pw], bans });
    const acct = await pw.register({ username: 'mallory', password: 'longenough' }, ctx());
    const login = (now: number) => svc.authenticate({ method: 'password', username: 'mallory', password: 'longenough' }, { now });

    await bans.add({ target: { playerId: acct.playerId }, reason: 'cheating', createdAt: 0, expiresAt: 5000 });
    const e = await refusal(login(1000));
    expect(e.code).toBe('auth.banned');
    expect(e.details).toEqual({ reason: 'cheating', expiresAt: 5000 });
    expect((await login(5000)).playerId).toBe(acct.playerId); // expired exactly at 5000

    await bans.add({ target: { method: 'password', accountId: acct.accountId }, reason: 'abuse', createdAt: 6000, expiresAt: null });
    await bans.add({ target: { playerId: acct.playerId }, reason: 'spam', createdAt: 6000, expiresAt: 9000 });
    const perm = await refusal(login(7000));
    expect(perm.details).toEqual({ reason: 'abuse', expiresAt: null }); // permanent ban wins
    expect(perm.message).toContain('permanently');
    expect(await bans.remove({ method: 'password', accountId: acct.accountId })).toBe(1);
    expect((await refusal(login(7000))).details).toMatchObject({ reason: 'spam' });
  });
});

describe('failed-login back-off (issue 9, item 7)', () => {
  const make = (lockout?: LoginLockout) => new PasswordProvider({ store: new MemoryAccountStore(), scrypt: FAST, ...(lockout ? { lockout } : {}) });
  const login = (p: PasswordProvider, password: string, now: number, remoteAddress = '203.0.113.9') =>
    p.authenticate({ method: 'password', username: 'gina', password }, { now, remoteAddress });

  it('64 guesses at 5 a second hash only a handful, and then the right password waits out the lock', async () => {
    const p = make();
    await p.register({ username: 'gina', password: 'the right one' }, ctx(0));
    const codes: string[] = [];
    let now = 1_000_000;
    for (let i = 0; i < 64; i++, now += 200) codes.push((await refusal(login(p, `guess-${i}`, now))).code);
    const hashed = codes.filter((c) => c === 'auth.bad_credentials').length;
    expect(hashed).toBeLessThanOrEqual(10); // 5 free, then 1, 2, 4, 8 s locks
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('auth.bad_credentials'));
    const locked = await refusal(login(p, 'the right one', now));
    expect(locked.code).toBe('auth.locked');
    const wait = locked.details!.retryAfterMs as number;
    expect(wait).toBeGreaterThan(0);
    expect(locked.message).toMatch(/try again in \d+ s/);
    // once the lock runs out the right password works, and the account starts afresh
    expect((await login(p, 'the right one', now + wait)).displayName).toBe('gina');
    expect((await refusal(login(p, 'wrong', now + wait + 1))).code).toBe('auth.bad_credentials');
  });

  it('an unknown username locks the same way (no hint which names exist)', async () => {
    const p = make();
    for (let i = 0; i < 5; i++) await refusal(p.authenticate({ method: 'password', username: 'nobody', password: 'x' }, { now: 0 }));
    expect((await refusal(p.authenticate({ method: 'password', username: 'nobody', password: 'x' }, { now: 1 }))).code).toBe('auth.locked');
  });

  it('one address guessing across many accounts is locked by its address', async () => {
    const lockout = new LoginLockout({ perAddress: { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 60_000 } });
    const p = make(lockout);
    for (let i = 0; i < 3; i++) {
      await refusal(p.authenticate({ method: 'password', username: `user${i}`, password: 'x' }, { now: 0, remoteAddress: '198.51.100.1' }));
    }
    const e = await refusal(p.authenticate({ method: 'password', username: 'user9', password: 'x' }, { now: 10, remoteAddress: '198.51.100.1' }));
    expect(e.code).toBe('auth.locked');
    // another address is not affected
    expect((await refusal(p.authenticate({ method: 'password', username: 'user9', password: 'x' }, { now: 10, remoteAddress: '198.51.100.2' }))).code).toBe(
      'auth.bad_credentials',
    );
  });

  it('back-off doubles up to its cap, is forgotten after a quiet hour, and memory stays bounded', () => {
    const rule = { freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 4000 };
    const l = new LoginLockout({ perAccount: rule, forgetAfterMs: 60_000, maxKeys: 3 });
    const waitOf = (now: number): number => {
      try {
        l.check({ account: 'k' }, now);
        return 0;
      } catch (e) {
        return (e as AuthError).details!.retryAfterMs as number;
      }
    };
    l.failed({ account: 'k' }, 0);
    expect(waitOf(0)).toBe(0);
    l.failed({ account: 'k' }, 0);
    expect(waitOf(0)).toBe(1000);
    l.failed({ account: 'k' }, 1000);
    expect(waitOf(1000)).toBe(2000);
    l.failed({ account: 'k' }, 3000);
    expect(waitOf(3000)).toBe(4000);
    l.failed({ account: 'k' }, 7000);
    expect(waitOf(7000)).toBe(4000); // capped
    expect(waitOf(7000 + 60_000)).toBe(0);
    l.failed({ account: 'k' }, 70_000);
    expect(waitOf(70_000)).toBe(0); // the count started afresh
    for (const k of ['a', 'b', 'c', 'd']) l.failed({ account: k }, 80_000);
    expect(l.size.accounts).toBe(3);
  });
});

describe('password hashing concurrency (issue 9, item 5)', () => {
  const gate = () => {
    let open!: () => void;
    const p = new Promise<void>((r) => (open = r));
    return { p, open };
  };

  it('runs at most N hashes, logins before queued registrations, and refuses beyond the queue', async () => {
    const q = new HashQueue({ maxConcurrent: 2, maxQueued: { login: 1, register: 2 } });
    const order: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const job = (lane: 'login' | 'register', name: string) => {
      const g = gate();
      gates.set(name, g);
      return q.run(lane, async () => {
        order.push(name);
        await g.p;
        return name;
      });
    };
    const r1 = job('register', 'r1');
    const r2 = job('register', 'r2');
    const r3 = job('register', 'r3');
    const r4 = job('register', 'r4');
    expect((await refusal(job('register', 'r5'))).code).toBe('auth.busy');
    const l1 = job('login', 'l1');
    expect((await refusal(job('login', 'l2'))).code).toBe('auth.busy');
    await Promise.resolve();
    expect(q.load).toEqual({ running: 2, login: 1, register: 2 });
    gates.get('r1')!.open();
    await r1;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['r1', 'r2', 'l1']); // the login jumped the queued registrations
    for (const n of ['r2', 'l1', 'r3', 'r4']) {
      await new Promise((r) => setImmediate(r));
      gates.get(n)!.open();
    }
    expect(await Promise.all([r2, l1, r3, r4])).toEqual(['r2', 'l1', 'r3', 'r4']);
    expect(q.load).toEqual({ running: 0, login: 0, register: 0 });
  });

  it('password accounts hash through the queue: a registration flood waits, a login goes first', async () => {
    const hashes = new HashQueue({ maxConcurrent: 1 });
    const p = new PasswordProvider({ store: new MemoryAccountStore(), scrypt: FAST, hashes });
    await p.register({ username: 'hana', password: 'longenough' }, ctx());
    const regs = Array.from({ length: 6 }, (_, i) => p.register({ username: `flood${i}`, password: 'longenough' }, ctx()));
    expect(hashes.load.register).toBe(5);
    const login = p.authenticate({ method: 'password', username: 'hana', password: 'longenough' }, ctx());
    const done: string[] = [];
    await Promise.all([login.then(() => done.push('login')), ...regs.map((r, i) => r.then(() => done.push(`r${i}`)))]);
    expect(done.indexOf('login')).toBeLessThanOrEqual(1);
  });
});
