/**
 * iyesmp-auth/1.2 against a real Auth server on loopback, through the client library: ratings come
 * from the server (token claims or the `ratingFor` hook) and the rating window holds over the wire;
 * a lobby's owner queues the lobby as a party that stays whole; password registration; bans from
 * the studio's code kick a connected player and refuse its next login with the reason and expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, IyesmpError, type AuthClient, type MatchFound } from '../../src/client/index.js';
import { AccountService, GuestProvider, MemoryAccountStore, PasswordProvider, TokenProvider, signToken } from '../../src/auth/accounts/index.js';
import { AuthServer, type AuthServerOptions } from '../../src/auth/server.js';
import { AuthLimits } from '../../src/auth/limits.js';
import type { Pki } from '../../src/pki/index.js';
import { rejection } from '../support/assert.js';
import { authAddress, authOptions, clientIdentity, closeLive, devPki, silent, type DevPki } from '../support/live-servers.js';
import { pollUntil as until } from '../support/wait.js';

const T = 90_000;
const FAST = { ln: 4, r: 8, p: 1, saltBytes: 16, keyBytes: 32 }; // cheap scrypt for tests
const SECRET = 'studio-secret-for-tests';

let dev: DevPki;
let pki: Pki;
let masterPem: string;
let identity: { cert: string; key: string };
const servers: AuthServer[] = [];
const open: AuthClient[] = [];
/** ratings the `ratingFor` hook of the second server answers with, by display name */
const hookRatings = new Map<string, number>();

async function startAuth(extra: Partial<AuthServerOptions>): Promise<AuthServer> {
  const s = await AuthServer.start(
    await authOptions(pki, {
      gameVersion: '1.0.0',
      matchSize: 2,
      modeSizes: { squad: 4 },
      tickIntervalMs: 50,
      matchmaker: { modes: { ranked: { rating: { baseWindow: 50, widenPerSecond: 0, maxWindow: 50 } } } },
      logger: silent,
      ...extra,
    }),
  );
  servers.push(s);
  return s;
}

function accounts(): AccountService {
  return new AccountService({
    providers: [
      new GuestProvider(),
      new PasswordProvider({ store: new MemoryAccountStore(), scrypt: FAST, minPasswordLength: 10, maxPasswordLength: 64 }),
      new TokenProvider({ secrets: { k1: SECRET } }),
    ],
  });
}

let auth: AuthServer;

beforeAll(async () => {
  dev = await devPki('iyesmp-client-auth12-');
  ({ pki, masterPem } = dev);
  identity = await clientIdentity(pki);
  auth = await startAuth({ accounts: accounts(), allowRegistration: true });
}, 120_000);

afterAll(async () => {
  await closeLive(open.reverse(), servers, dev);
}, 30_000);

async function connect(server = auth): Promise<AuthClient> {
  const c = await connectToAuth({
    ...authAddress(server.clientPort, identity, masterPem),
    gameVersion: '1.0.0',
  });
  open.push(c);
  return c;
}

async function guest(name: string, server = auth): Promise<AuthClient> {
  const c = await connect(server);
  await c.login({ method: 'guest', displayName: name });
  return c;
}

/** A token player whose studio backend put its rating in the token's data. */
async function rated(sub: string, rating: number | undefined): Promise<AuthClient> {
  const c = await connect();
  const token = signToken(
    { sub, name: sub, ...(rating === undefined ? {} : { data: { ratings: { ranked: rating } } }) },
    { secret: SECRET, kid: 'k1', now: Date.now(), ttlMs: 600_000 },
  );
  await c.login({ method: 'token', token });
  return c;
}

function collect(c: AuthClient): MatchFound[] {
  const found: MatchFound[] = [];
  c.on('matchFound', (f) => found.push(f));
  return found;
}

describe('iyesmp-auth/1.2 against a real Auth server', () => {
  it(
    'speaks 1.2 (or later)',
    async () => {
      const c = await guest('zed');
      expect(c.protocolVersion.major).toBe(1);
      expect(c.protocolVersion.minor).toBeGreaterThanOrEqual(2);
    },
    T,
  );

  it(
    'ratings come from the server: the window keeps far-apart players apart, near ones meet',
    async () => {
      // the client has no way to send a rating: ext is game data and is not read as one
      const a = await rated('ana', 1000);
      const b = await rated('bea', 1500);
      const [fa, fb] = [collect(a), collect(b)];
      const ta = await a.queue('ranked', undefined, { rating: 1500 });
      const tb = await b.queue('ranked');
      expect(auth.matchmaker.ticketOf('token:ana')?.rating).toBe(1000);
      expect(auth.matchmaker.ticketOf('token:bea')?.rating).toBe(1500);
      // several ticks pass: 500 apart is outside the window of 50
      await new Promise((r) => setTimeout(r, 400));
      expect(auth.matchmaker.stats.pendingMatches).toBe(0);
      expect(fa.length + fb.length).toBe(0);

      const c = await rated('cid', 1030);
      const fc = collect(c);
      const tc = await c.queue('ranked');
      await until(() => fa.length > 0 && fc.length > 0, 'ana and cid to be matched');
      expect(fa[0]!.matchId).toBe(fc[0]!.matchId);
      expect(fa[0]!.ticketId).toBe(ta.ticketId);
      expect(fc[0]!.ticketId).toBe(tc.ticketId);
      expect(fb).toEqual([]);
      expect(auth.matchmaker.ticketOf('token:bea')?.id).toBe(tb.ticketId);
      await a.declineMatch(fa[0]!.matchId);
      await c.cancelQueue(tc.ticketId).catch(() => undefined);
      await b.cancelQueue(tb.ticketId);
    },
    T,
  );

  it(
    'a rated mode refuses a player the server has no rating for',
    async () => {
      const d = await rated('dan', undefined);
      expect((await rejection(d.queue('ranked'))).code).toBe('mm.rating_required');
    },
    T,
  );

  it(
    'ratingFor, when given, decides the rating',
    async () => {
      const s = await startAuth({ ratingFor: (account, mode) => (mode === 'ranked' ? hookRatings.get(account.displayName) : undefined) });
      hookRatings.set('eve', 1200).set('fay', 1230);
      const e = await guest('eve', s);
      const f = await guest('fay', s);
      const g = await guest('gus', s);
      expect((await rejection(g.queue('ranked'))).code).toBe('mm.rating_required');
      const [fe, ff] = [collect(e), collect(f)];
      await e.queue('ranked');
      await f.queue('ranked');
      await until(() => fe.length > 0 && ff.length > 0, 'eve and fay to be matched');
      const m = s.matchmaker.match(fe[0]!.matchId)!;
      expect(m.tickets.map((t) => t.rating).sort()).toEqual([1200, 1230]);
    },
    T,
  );
});

describe('parties: a lobby queued as one ticket', () => {
  it(
    'a 2-player party and 2 solo players form a 4-player match with the party intact; members get the match events',
    async () => {
      const owner = await guest('olga');
      const member = await guest('max');
      const lobby = await owner.lobbies.create({ name: 'duo', visibility: 'public', maxPlayers: 2 });
      await member.lobbies.join(lobby.lobbyId);
      const s1 = await guest('solo-1');
      const s2 = await guest('solo-2');
      const [fo, fm, f1, f2] = [collect(owner), collect(member), collect(s1), collect(s2)];
      const queued = member.next('matchQueued', { timeoutMs: 20_000 });
      const t1 = await s1.queue('squad');
      const party = await owner.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId });
      const q = await queued;
      expect(q).toMatchObject({ ticketId: party.ticketId, mode: 'squad', lobbyId: lobby.lobbyId, byAccountId: owner.account!.accountId });
      const t2 = await s2.queue('squad');
      await until(() => [fo, fm, f1, f2].every((f) => f.length > 0), 'all four to hear match.found');
      const matchId = fo[0]!.matchId;
      expect(new Set([fo, fm, f1, f2].map((f) => f[0]!.matchId))).toEqual(new Set([matchId]));
      expect(fm[0]!.ticketId).toBe(party.ticketId);
      expect(fo[0]!.playerCount).toBe(4);
      const m = auth.matchmaker.match(matchId)!;
      expect(m.players).toHaveLength(4);
      const partyTicket = m.tickets.find((t) => t.id === party.ticketId)!;
      expect(partyTicket.players).toEqual([owner.account!.accountId, member.account!.accountId]);
      expect(m.tickets).toHaveLength(3);
      // the party declines: the solo players go back to the queue; take them out for the next tests
      await owner.declineMatch(matchId);
      await s1.cancelQueue(t1.ticketId);
      await s2.cancelQueue(t2.ticketId);
      expect(auth.matchmaker.stats.queuedTickets).toBe(0);
    },
    T,
  );

  it(
    'matchmake({ lobbyId }) and followParty take a party through confirmation to the hand-off',
    async () => {
      const owner = await guest('rhea');
      const member = await guest('rolf');
      const lobby = await owner.lobbies.create({ name: 'duo', visibility: 'public', maxPlayers: 2 });
      await member.lobbies.join(lobby.lobbyId);
      const solos = [await guest('solo-3'), await guest('solo-4')];
      const stop = new AbortController();
      const phases = new Map<AuthClient, string[]>();
      const watch = (c: AuthClient) => {
        phases.set(c, []);
        return (st: { phase: string }) => phases.get(c)!.push(st.phase);
      };
      const runs = [
        member.followParty({ lobbyId: lobby.lobbyId, signal: stop.signal, onStatus: watch(member) }),
        owner.matchmake({ mode: 'squad', lobbyId: lobby.lobbyId, signal: stop.signal, onStatus: watch(owner) }),
        ...solos.map((c) => c.matchmake({ mode: 'squad', signal: stop.signal, onStatus: watch(c) })),
      ].map((p) => p.catch((err: unknown) => err));
      // no game host in this test: once every player confirmed, the server says it is looking for one
      const waiting = member.next('sessionWaiting', { timeoutMs: 30_000 });
      await until(() => [...phases.values()].every((p) => p.includes('confirmed')), 'all four to confirm', 30_000);
      const w = await waiting;
      expect(w.matchId).toBeDefined();
      expect(phases.get(member)).toEqual(expect.arrayContaining(['found', 'confirmed']));
      stop.abort();
      for (const r of await Promise.all(runs)) expect((r as IyesmpError).code).toBe('aborted');
    },
    T,
  );

  it(
    'followParty rejects with party_dequeued when the party leaves the queue',
    async () => {
      const owner = await guest('sven');
      const member = await guest('sara');
      const lobby = await owner.lobbies.create({ name: 'duo', visibility: 'public', maxPlayers: 2 });
      await member.lobbies.join(lobby.lobbyId);
      const following = member.followParty({ timeoutMs: 30_000 }).catch((err: unknown) => err);
      const t = await owner.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId });
      await until(() => auth.matchmaker.ticketOf(member.account!.accountId)?.id === t.ticketId, 'the party ticket');
      await owner.cancelQueue(t.ticketId);
      const err = (await following) as IyesmpError;
      expect(err).toBeInstanceOf(IyesmpError);
      expect(err.code).toBe('party_dequeued');
    },
    T,
  );

  it(
    'only the owner may queue the lobby, and only its own lobby',
    async () => {
      const owner = await guest('owen');
      const member = await guest('mia');
      const other = await guest('ozzy');
      const lobby = await owner.lobbies.create({ name: 'trio', visibility: 'public', maxPlayers: 3 });
      await member.lobbies.join(lobby.lobbyId);
      expect((await rejection(member.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId }))).code).toBe('lobby.not_owner');
      expect((await rejection(other.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId }))).code).toBe('lobby.not_member');
      expect((await rejection(owner.queue('squad', undefined, undefined, { lobbyId: 'no-such-lobby' }))).code).toBe('lobby.not_found');
      expect(auth.matchmaker.ticketOf(owner.account!.accountId)).toBeUndefined();
    },
    T,
  );

  it(
    'a member leaving the lobby takes the party out of the queue; the members hear match.dequeued',
    async () => {
      const owner = await guest('pia');
      const member = await guest('pat');
      const lobby = await owner.lobbies.create({ name: 'pair', visibility: 'public', maxPlayers: 2 });
      await member.lobbies.join(lobby.lobbyId);
      const dequeued = owner.next('matchDequeued', { timeoutMs: 20_000 });
      const t = await owner.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId });
      expect(auth.matchmaker.ticketOf(member.account!.accountId)?.id).toBe(t.ticketId);
      await member.lobbies.leave(lobby.lobbyId);
      expect((await dequeued).ticketId).toBe(t.ticketId);
      expect(auth.matchmaker.ticketOf(owner.account!.accountId)).toBeUndefined();
      expect(auth.matchmaker.ticketOf(member.account!.accountId)).toBeUndefined();
    },
    T,
  );

  it(
    'any member may cancel the party ticket',
    async () => {
      const owner = await guest('quin');
      const member = await guest('quill');
      const lobby = await owner.lobbies.create({ name: 'pair', visibility: 'public', maxPlayers: 2 });
      await member.lobbies.join(lobby.lobbyId);
      const queued = member.next('matchQueued', { timeoutMs: 20_000 });
      await owner.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId });
      const dequeued = owner.next('matchDequeued', { timeoutMs: 20_000 });
      await member.cancelQueue((await queued).ticketId);
      await dequeued;
      expect(auth.matchmaker.ticketOf(owner.account!.accountId)).toBeUndefined();
      // the lobby is untouched and can queue again
      const again = await owner.queue('squad', undefined, undefined, { lobbyId: lobby.lobbyId });
      await owner.cancelQueue(again.ticketId);
    },
    T,
  );
});

describe('lobby passwords over the wire (issue 9, item 6)', () => {
  it(
    'a lobby created with a password reports it, refuses joiners without it, and takes the right one',
    async () => {
      const [owner, joiner, other] = await Promise.all([guest('lp-owner'), guest('lp-joiner'), guest('lp-other')]);
      const lobby = await owner.lobbies.create({ name: 'locked', visibility: 'public', maxPlayers: 3, password: 'open sesame' });
      expect(lobby.hasPassword).toBe(true);
      expect((await joiner.lobbies.list()).lobbies.find((l) => l.lobbyId === lobby.lobbyId)?.hasPassword).toBe(true);
      expect((await rejection(joiner.lobbies.join(lobby.lobbyId))).code).toBe('lobby.bad_password');
      expect((await rejection(joiner.lobbies.join(lobby.lobbyId, 'wrong'))).code).toBe('lobby.bad_password');
      const joined = await joiner.lobbies.join(lobby.lobbyId, 'open sesame');
      expect(joined.members.map((m) => m.displayName).sort()).toEqual(['lp-joiner', 'lp-owner']);

      const priv = await other.lobbies.create({ name: 'hidden', visibility: 'private', maxPlayers: 2, password: 'pw-2' });
      const late = await guest('lp-late');
      expect((await rejection(late.lobbies.joinByCode(priv.joinCode!))).code).toBe('lobby.bad_password');
      expect((await late.lobbies.joinByCode(priv.joinCode!, 'pw-2')).lobbyId).toBe(priv.lobbyId);
    },
    T,
  );
});

describe('under attack (issue 9, items 5 and 7)', () => {
  it(
    'a registration flood from one address is refused with auth.rate_limited; a real login still works',
    async () => {
      const s = await startAuth({
        accounts: accounts(),
        allowRegistration: true,
        limits: new AuthLimits({ registerPerAddress: { burst: 2, perSecond: 0.001 } }),
      });
      const [a, b, c] = await Promise.all([connect(s), connect(s), connect(s)]);
      await a.register({ username: 'flood-a', password: 'a long enough secret' });
      await b.register({ username: 'flood-b', password: 'a long enough secret' });
      const e = await rejection(c.register({ username: 'flood-c', password: 'a long enough secret' }));
      expect(e.code).toBe('auth.rate_limited');
      expect(e.message).toMatch(/try again in \d+ s/);
      expect((await c.login({ method: 'password', username: 'flood-a', password: 'a long enough secret' })).accountId).toMatch(/^password:/);
    },
    T,
  );

  it(
    'two registrations at once on one connection: one is done, the other refused for what it is',
    async () => {
      const c = await connect();
      const [first, second] = await Promise.allSettled([
        c.register({ username: 'twin-a', password: 'a long enough secret' }),
        c.register({ username: 'twin-b', password: 'a long enough secret' }),
      ]);
      expect(first.status).toBe('fulfilled');
      expect(second.status === 'rejected' && (second.reason as { code: string }).code).toBe('auth.login_in_progress');
      // the refused one created nothing: its name is still free
      expect((await (await connect()).register({ username: 'twin-b', password: 'a long enough secret' })).isNew).toBe(true);
    },
    T,
  );

  it(
    'wrong passwords lock the account with auth.locked, even for the right one',
    async () => {
      const owner = await connect();
      await owner.register({ username: 'guessme', password: 'a long enough secret' });
      const attacker = await connect();
      for (let i = 0; i < 5; i++) {
        expect((await rejection(attacker.login({ method: 'password', username: 'guessme', password: `guess number ${i}` }))).code).toBe('auth.bad_credentials');
      }
      const locked = await rejection(attacker.login({ method: 'password', username: 'guessme', password: 'a long enough secret' }));
      expect(locked.code).toBe('auth.locked');
      expect(locked.message).toMatch(/try again in \d+ s/);
    },
    T,
  );
});

describe('game modes named like Object members (issue 9, item 8)', () => {
  it(
    '"constructor", "__proto__" and "toString" queue and match as ordinary modes',
    async () => {
      for (const mode of ['constructor', '__proto__', 'toString']) {
        expect(auth.matchSizeFor(mode)).toBe(2);
        expect(auth.transportFor(mode)).toBe('quic');
        const [a, b] = await Promise.all([guest(`${mode}-a`), guest(`${mode}-b`)]);
        const [fa, fb] = [collect(a), collect(b)];
        await a.queue(mode);
        await b.queue(mode);
        await until(() => fa.length > 0 && fb.length > 0, `a ${mode} match`);
        expect(fa[0]!.matchId).toBe(fb[0]!.matchId);
        expect(fa[0]!.mode).toBe(mode);
      }
    },
    T,
  );
});

describe('password registration', () => {
  it(
    'registers and logs in; the account then logs in from another connection',
    async () => {
      const c = await connect();
      const r = await c.register({ username: 'Regina', password: 'a long enough secret', displayName: 'Regina R' });
      expect(r).toMatchObject({ displayName: 'Regina R', isNew: true });
      expect(r.accountId).toMatch(/^password:/);
      // the connection is logged in: it can use lobbies
      await c.lobbies.list();
      const d = await connect();
      expect((await d.login({ method: 'password', username: 'regina', password: 'a long enough secret' })).accountId).toBe(r.accountId);
    },
    T,
  );

  it(
    'refuses a taken name, a weak or too long password, and a bad username, with clear codes',
    async () => {
      const c = await connect();
      await c.register({ username: 'taken', password: 'a long enough secret' });
      const d = await connect();
      expect((await rejection(d.register({ username: 'TAKEN', password: 'another long secret' }))).code).toBe('auth.username_taken');
      const weak = await rejection(d.register({ username: 'shorty', password: 'short' }));
      expect(weak.code).toBe('auth.weak_password');
      expect(weak.message).toMatch(/at least 10/);
      const long = await rejection(d.register({ username: 'longy', password: 'x'.repeat(65) }));
      expect(long.code).toBe('auth.password_too_long');
      expect(long.message).toMatch(/64/);
      expect((await rejection(d.register({ username: 'no spaces allowed', password: 'a long enough secret' }))).code).toBe('auth.invalid_request');
      // still not logged in after the refusals
      expect((await rejection(d.lobbies.list())).code).toBe('login_required');
    },
    T,
  );

  it(
    'a server without registration refuses it with auth.registration_disabled',
    async () => {
      const s = await startAuth({ accounts: accounts() });
      const c = await connect(s);
      const e = await rejection(c.register({ username: 'nobody', password: 'a long enough secret' }));
      expect(e.code).toBe('auth.registration_disabled');
    },
    T,
  );
});

describe('bans from the studio code', () => {
  it(
    'kicks a connected player with the reason, refuses its login with reason and expiry, and unban lets it back',
    async () => {
      const c = await connect();
      const me = await c.register({ username: 'cheater', password: 'a long enough secret' });
      const until = Date.now() + 3_600_000;
      const closed = c.next('close', { timeoutMs: 20_000 });
      await auth.ban(me.accountId, { reason: 'aimbot', until });
      const { error } = await closed;
      expect(error?.code).toBe('banned');
      expect(error?.message).toContain('aimbot');

      const d = await connect();
      const refused = await rejection(d.login({ method: 'password', username: 'cheater', password: 'a long enough secret' }));
      expect(refused.code).toBe('auth.banned');
      expect(refused.message).toContain('aimbot');
      expect(refused.message).toContain(new Date(until).toISOString());
      expect(d.closed).toBe(false);

      expect(await auth.unban(me.accountId)).toBe(1);
      expect((await d.login({ method: 'password', username: 'cheater', password: 'a long enough secret' })).accountId).toBe(me.accountId);
    },
    T,
  );

  it(
    'a permanent ban given as the account says so; a banned player loses its queue ticket',
    async () => {
      const c = await rated('perma', 1000);
      await c.queue('ranked');
      const closed = c.next('close', { timeoutMs: 20_000 });
      await auth.ban(auth.accountOf('token:perma')!, { reason: 'chargeback' });
      expect((await closed).error?.message).toMatch(/permanently: chargeback/);
      await until(() => auth.matchmaker.ticketOf('token:perma') === undefined, 'the ticket to go');
      const d = await connect();
      const token = signToken({ sub: 'perma' }, { secret: SECRET, kid: 'k1', now: Date.now(), ttlMs: 600_000 });
      const refused = await rejection(d.login({ method: 'token', token }));
      expect(refused.code).toBe('auth.banned');
      expect(refused.message).toMatch(/permanently: chargeback/);
    },
    T,
  );
});
