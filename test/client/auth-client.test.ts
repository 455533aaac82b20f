/**
 * The Auth client against a scripted auth peer (real protocol layer, in-memory stream): hello
 * refusals become player-readable errors, requests map to the protocol, matchmaking and the
 * hand-off produce a usable ticket (client-made key or seed design), and a reconnect during a live
 * session yields the same hand-off with the stored key.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthClient, MemoryKeyStore, type MatchmakingStatus } from '../../src/client/index.js';
import { IyesmpError } from '../../src/errors.js';
import { authFamily, gameVersionRange } from '../../src/protocol/index.js';
import { makePki, ScriptedPeer, wireHandoff, type PkiFixture } from './helpers.js';
import { duplexPair } from '../support/duplex.js';
import { failureOf } from '../support/assert.js';

let f: PkiFixture;
beforeAll(async () => {
  f = await makePki();
}, 60_000);
afterAll(async () => f?.cleanup());

const welcome = () => ({ serverName: 'auth-test', time: 1_700_000_000_000, motd: 'hi' });

async function connect(opts: { gameVersion?: string; keyStore?: MemoryKeyStore; serverOpts?: ConstructorParameters<typeof ScriptedPeer>[2] } = {}) {
  const { client, server } = duplexPair();
  const peer = new ScriptedPeer(authFamily, server, { welcome, ...opts.serverOpts });
  const c = await AuthClient.open(client, {
    gameVersion: opts.gameVersion ?? '1.2.0',
    ...(opts.keyStore ? { keyStore: opts.keyStore } : {}),
  });
  return { c, peer };
}

const rejection = (p: Promise<unknown>): Promise<IyesmpError> => failureOf(p, 'expected a rejection');

describe('hello', () => {
  it('exposes the welcome', async () => {
    const { c } = await connect();
    expect(c.welcome).toEqual({ serverName: 'auth-test', time: 1_700_000_000_000, motd: 'hi', serverGameVersion: '1.0.0' });
    await c.close();
    expect(c.closed).toBe(true);
  });

  it('a build below the server minimum is told to update the game', async () => {
    const e = await rejection(connect({ gameVersion: '0.9.0', serverOpts: { acceptGameVersion: gameVersionRange({ min: '1.0.0' }) } }));
    expect(e.code).toBe('version_too_old');
    expect(e.message).toBe('this game build (0.9.0) is too old for the login server: update the game');
  });

  it('a build newer than the server accepts says so', async () => {
    const e = await rejection(connect({ gameVersion: '3.0.0', serverOpts: { acceptGameVersion: gameVersionRange({ below: '2.0.0' }) } }));
    expect(e.code).toBe('version_too_new');
    expect(e.message).toContain('newer than the login server accepts');
  });

  it('a server refusal with its own code keeps the code and the reason', async () => {
    const e = await rejection(connect({ serverOpts: { refuse: { code: 'update_required', reason: 'version 1.3 is out' } } }));
    expect(e.code).toBe('version_too_old');
    expect(e.hint).toContain('version 1.3 is out');
    const e2 = await rejection(connect({ serverOpts: { refuse: { code: 'maintenance', reason: 'back at 14:00' } } }));
    expect(e2.code).toBe('maintenance');
    expect(e2.message).toBe('the login server refused the connection: back at 14:00');
  });
});

describe('requests', () => {
  it('login sends the credentials and keeps the account; a refusal reads "login refused: <reason>"', async () => {
    const { c, peer } = await connect();
    const ok = c.login({ method: 'guest', displayName: 'ada' });
    const req = await peer.request('account.login');
    expect(req.body).toEqual({ method: 'guest', displayName: 'ada' });
    await peer.respond(req.id, { accountId: 'guest:1', displayName: 'ada', isNew: true });
    expect(await ok).toEqual({ accountId: 'guest:1', displayName: 'ada', isNew: true });
    expect(c.account?.accountId).toBe('guest:1');

    const bad = c.login({ method: 'password', username: 'ada', password: 'nope-nope' });
    const r2 = await peer.request('account.login');
    await peer.fail(r2.id, 'auth.bad_credentials', 'wrong username or password');
    const e = await rejection(bad);
    expect(e.code).toBe('auth.bad_credentials');
    expect(e.message).toBe('login refused: wrong username or password');
    await c.close();
  });

  it('lobby calls map to their requests and lobby events arrive typed', async () => {
    const { c, peer } = await connect();
    const lobby = { lobbyId: 'L1', name: 'fun', ownerId: 'guest:1', visibility: 'public', state: 'open', maxPlayers: 2, hasPassword: false, members: [] };
    const created = c.lobbies.create({ name: 'fun', visibility: 'public', maxPlayers: 2, mode: 'tictactoe' });
    const r = await peer.request('lobby.create');
    expect(r.body).toMatchObject({ name: 'fun', maxPlayers: 2, mode: 'tictactoe' });
    await peer.respond(r.id, { lobby });
    expect((await created).lobbyId).toBe('L1');

    const seen = c.next('lobby');
    await peer.notify('lobby.updated', { lobby: { ...lobby, members: [{ accountId: 'guest:1', displayName: 'ada', ready: true, isOwner: true }] } });
    expect((await seen).members).toHaveLength(1);

    const ready = c.lobbies.ready('L1');
    const rr = await peer.request('lobby.ready');
    expect(rr.body).toEqual({ lobbyId: 'L1', ready: true });
    await peer.respond(rr.id, {});
    await ready;
    await c.close();
  });

  it('a server that stops answering is a timeout, not a hang', async () => {
    const { client, server } = duplexPair();
    new ScriptedPeer(authFamily, server, { welcome });
    const c = await AuthClient.open(client, { gameVersion: '1.0.0', requestTimeoutMs: 300 });
    const e = await rejection(c.logout());
    expect(e.code).toBe('timeout');
    expect(e.message).toContain('logout failed: the server did not answer in time');
    await c.close();
  });
});

describe('matchmaking and hand-off', () => {
  it('queues, confirms, claims with a fresh public key and returns a ticket whose cert names that key', async () => {
    const { c, peer } = await connect();
    const seen: MatchmakingStatus[] = [];
    const done = c.matchmake({ mode: 'tictactoe', onStatus: (s) => seen.push(s) });
    const q = await peer.request('match.queue');
    expect(q.body).toEqual({ mode: 'tictactoe' });
    await peer.respond(q.id, { ticketId: 'T1' });
    await peer.notify('match.found', { matchId: 'M1', ticketId: 'T1', mode: 'tictactoe', playerCount: 2, confirmBy: Date.now() + 10_000 });
    const conf = await peer.request('match.confirm');
    // a 1.3 client asks for its seat with the confirmation; with no key (match.found asked for none) a server still offers it with session.ready
    expect(conf.body).toEqual({ matchId: 'M1', claim: true });
    await peer.respond(conf.id, {});
    await peer.notify('session.ready', { sessionId: 'S1', transport: 'quic', needsPublicKey: true, matchId: 'M1', claimBy: Date.now() + 10_000 });
    const claim = await peer.request('session.claim');
    const body = claim.body as { sessionId: string; publicKey: Uint8Array };
    expect(body.sessionId).toBe('S1');
    expect(body.publicKey).toBeInstanceOf(Uint8Array);
    await peer.respond(claim.id, await wireHandoff(f.minter, { sessionId: 'S1', playerId: 'seat-1', publicKey: body.publicKey }));
    const ticket = await done;
    expect(ticket).toMatchObject({
      sessionId: 'S1',
      playerId: 'seat-1',
      transport: 'quic',
      serverMadeKey: false,
      host: { host: '127.0.0.1', port: 4444, tlsName: 'localhost' },
    });
    const cert = new X509Certificate(ticket.credentials!.certPem);
    expect(cert.checkPrivateKey(createPrivateKey(ticket.credentials!.keyPem))).toBe(true);
    expect(ticket.credentials!.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2); // session cert + SessionAuth
    expect(seen.map((s) => s.phase)).toEqual(['queued', 'found', 'confirmed', 'claiming']);
    await c.close();
  });

  it('a match found in the same read as the queue reply is not missed', async () => {
    const { c, peer } = await connect();
    const done = c.matchmake({ mode: 'm' });
    const q = await peer.request('match.queue');
    peer.session.respond(q.id, { ticketId: 'T5' } as never);
    peer.session.notify('match.found' as never, { matchId: 'M5', ticketId: 'T5', mode: 'm', playerCount: 2, confirmBy: Date.now() + 10_000 } as never);
    await peer.raw(Buffer.concat(peer.session.takeOutput()));
    const conf = await peer.request('match.confirm');
    // a 1.3 client asks for its seat with the confirmation; with no key (match.found asked for none) a server still offers it with session.ready
    expect(conf.body).toEqual({ matchId: 'M5', claim: true });
    await peer.respond(conf.id, {});
    await peer.notify('session.ready', { sessionId: 'S5', transport: 'quic', needsPublicKey: false, matchId: 'M5', claimBy: Date.now() + 10_000 });
    const claim = await peer.request('session.claim');
    await peer.respond(claim.id, await wireHandoff(f.minter, { sessionId: 'S5', playerId: 'seat-5' }));
    expect((await done).sessionId).toBe('S5');
    await c.close();
  });

  it('while the server looks for a host the game hears "waiting"; giving up is a clear "no host available" error', async () => {
    const { c, peer } = await connect();
    const seen: MatchmakingStatus[] = [];
    const done = c.matchmake({ mode: 'tictactoe', waitingNoticeMs: 30, onStatus: (s) => seen.push(s) });
    const q = await peer.request('match.queue');
    await peer.respond(q.id, { ticketId: 'T1' });
    await peer.notify('match.found', { matchId: 'M1', ticketId: 'T1', mode: 'tictactoe', playerCount: 2, confirmBy: Date.now() + 10_000 });
    await peer.respond((await peer.request('match.confirm')).id, {});
    await c.next('matchmaking', { filter: (s) => s.phase === 'waiting' && s.waitedMs >= 60 });
    await peer.notify('match.cancelled', { matchId: 'M1', reason: 'no host available', requeued: false });
    const e = await rejection(done);
    expect(e.code).toBe('no_host_available');
    expect(e.message).toBe('no game host is available right now: try again in a moment');
    const phases = seen.map((s) => s.phase);
    expect(phases.slice(0, 3)).toEqual(['queued', 'found', 'confirmed']);
    expect(phases.at(-1)).toBe('cancelled');
    expect(phases.filter((p) => p === 'waiting').length).toBeGreaterThanOrEqual(2);
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(count); // the notices stop with the matchmaking
    await c.close();
  });

  it('a claim outlasts the server\'s search for a host (session.waiting) and ends in "no host available", not a timeout', async () => {
    const { client, server } = duplexPair();
    const peer = new ScriptedPeer(authFamily, server, { welcome });
    // our own claim deadline alone would pass in 300 ms
    const c = await AuthClient.open(client, { gameVersion: '1.2.0', claimTimeoutMs: 300 });
    const done = c.waitForHandoff();
    await peer.notify('session.ready', { sessionId: 'S9', transport: 'quic', needsPublicKey: true, matchId: 'M9', claimBy: Date.now() - 29_700 });
    const claim = await peer.request('session.claim');
    // the host refused; the server looks for another for up to 600 ms more
    const since = Date.now();
    const reason = 'game host h1 is full; trying another host or waiting for a free slot';
    await peer.notify('session.waiting', { matchId: 'M9', since, attempt: 0, giveUpAt: since + 600, reason });
    await new Promise((r) => setTimeout(r, 700));
    await peer.fail(claim.id, 'session_failed', 'the game session could not be set up (no host took the session in time (last: capacity_sessions: full))');
    const e = await rejection(done);
    expect(e.code).toBe('no_host_available');
    expect(e.details).toMatchObject({ reason: expect.stringContaining('no host took the session') });
    await c.close();
  });

  it('matchmaking outlasts the server\'s search for a host (session.waiting): "no host available", not a timeout', async () => {
    const { client, server } = duplexPair();
    const peer = new ScriptedPeer(authFamily, server, { welcome });
    const c = await AuthClient.open(client, { gameVersion: '1.2.0' });
    // our own deadline alone would pass in 300 ms
    const done = c.matchmake({ mode: 'duel', timeoutMs: 300 });
    await peer.respond((await peer.request('match.queue')).id, { ticketId: 'T7' });
    await peer.notify('match.found', { matchId: 'M7', ticketId: 'T7', mode: 'duel', playerCount: 2, confirmBy: Date.now() + 10_000 });
    await peer.respond((await peer.request('match.confirm')).id, {});
    const since = Date.now();
    await peer.notify('session.waiting', { matchId: 'M7', since, attempt: 0, giveUpAt: since + 600, reason: 'no game host is free' });
    await new Promise((r) => setTimeout(r, 700));
    await peer.notify('match.cancelled', { matchId: 'M7', reason: 'no host available', requeued: false });
    expect((await rejection(done)).code).toBe('no_host_available');
    await c.close();
  });

  it('matchmaking with no word from the server times out as `timeout` and leaves the queue', async () => {
    const { client, server } = duplexPair();
    const peer = new ScriptedPeer(authFamily, server, { welcome });
    const c = await AuthClient.open(client, { gameVersion: '1.2.0' });
    const done = c.matchmake({ mode: 'duel', timeoutMs: 300 });
    await peer.respond((await peer.request('match.queue')).id, { ticketId: 'T6' });
    const e = await rejection(done);
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/^waiting for the game session: no answer within \d+ ms$/);
    expect((await peer.request('match.cancel')).body).toEqual({ ticketId: 'T6' });
    await c.close();
  });

  it('matchmake waits out a slow answer to its queue request (a server busy with a burst), past the request timeout', async () => {
    const { client, server } = duplexPair();
    const peer = new ScriptedPeer(authFamily, server, { welcome });
    const c = await AuthClient.open(client, { gameVersion: '1.2.0', requestTimeoutMs: 100 });
    // a plain request still gives up at requestTimeoutMs
    const plain = c.queue('duel');
    await peer.request('match.queue');
    expect((await rejection(plain)).code).toBe('timeout');
    const ac = new AbortController();
    const seen: MatchmakingStatus[] = [];
    const done = c.matchmake({ mode: 'duel', timeoutMs: 5_000, signal: ac.signal, onStatus: (s) => seen.push(s) });
    const q = await peer.request('match.queue');
    await new Promise((r) => setTimeout(r, 400));
    const queued = c.next('matchmaking', { filter: (s) => s.phase === 'queued' });
    await peer.respond(q.id, { ticketId: 'T4' });
    // (a matchmake that gave up on the queue request fails here, not by hanging)
    await Promise.race([queued, done]);
    expect(seen[0]).toEqual({ phase: 'queued', ticketId: 'T4' });
    ac.abort();
    const cancel = await peer.request('match.cancel');
    expect(cancel.body).toEqual({ ticketId: 'T4' });
    await peer.respond(cancel.id, {});
    expect((await rejection(done)).code).toBe('aborted');
    await c.close();
  });

  it('a claim with no word from the server still times out', async () => {
    const { client, server } = duplexPair();
    const peer = new ScriptedPeer(authFamily, server, { welcome });
    const c = await AuthClient.open(client, { gameVersion: '1.2.0', claimTimeoutMs: 300 });
    const done = c.waitForHandoff();
    await peer.notify('session.ready', { sessionId: 'S8', transport: 'quic', needsPublicKey: true, matchId: 'M8', claimBy: Date.now() - 29_700 });
    await peer.request('session.claim');
    const e = await rejection(done);
    expect(e.code).toBe('timeout');
    expect(e.message).toBe('claiming the game session failed: the server did not answer in time');
    await c.close();
  });

  it('a requeued match keeps waiting; aborting leaves the queue', async () => {
    const { c, peer } = await connect();
    const ac = new AbortController();
    const seen: string[] = [];
    const done = c.matchmake({ mode: 'm', signal: ac.signal, onStatus: (s) => seen.push(s.phase) });
    await peer.respond((await peer.request('match.queue')).id, { ticketId: 'T9' });
    await peer.notify('match.found', { matchId: 'M2', ticketId: 'T9', mode: 'm', playerCount: 2, confirmBy: Date.now() + 10_000 });
    await peer.respond((await peer.request('match.confirm')).id, {});
    const requeued = c.next('matchmaking', { filter: (s) => s.phase === 'requeued' });
    await peer.notify('match.cancelled', { matchId: 'M2', reason: 'a player declined', requeued: true });
    await requeued;
    ac.abort();
    const cancel = await peer.request('match.cancel');
    expect(cancel.body).toEqual({ ticketId: 'T9' });
    await peer.respond(cancel.id, {});
    const e = await rejection(done);
    expect(e.code).toBe('aborted');
    expect(seen).toEqual(['queued', 'found', 'confirmed', 'requeued']);
    await c.close();
  });

  it('seed design: no public key is sent and the hand-off private key is used', async () => {
    const { c, peer } = await connect();
    await peer.notify('session.ready', { sessionId: 'S2', transport: 'quic', needsPublicKey: false, lobbyId: 'L1', claimBy: Date.now() + 10_000 });
    const wait = c.waitForHandoff({ lobbyId: 'L1' });
    const claim = await peer.request('session.claim');
    expect(claim.body).toEqual({ sessionId: 'S2' });
    await peer.respond(claim.id, await wireHandoff(f.minter, { sessionId: 'S2', playerId: 'seat-2' }));
    const t = await wait;
    expect(t.serverMadeKey).toBe(true);
    expect(new X509Certificate(t.credentials!.certPem).checkPrivateKey(createPrivateKey(t.credentials!.keyPem))).toBe(true);
    await c.close();
  });

  it('a lobby start the server gives up on rejects the wait, even when told before the wait began', async () => {
    const { c, peer } = await connect();
    const wait = c.waitForHandoff({ lobbyId: 'L7' });
    await peer.notify('match.cancelled', { matchId: 'L7', reason: 'no host available', requeued: false });
    expect((await rejection(wait)).code).toBe('no_host_available');
    const seen = c.next('matchCancelled');
    await peer.notify('match.cancelled', { matchId: 'L8', reason: 'session failed: host_refused', requeued: false });
    await seen;
    const late = await rejection(c.waitForHandoff({ lobbyId: 'L8' }));
    expect(late.code).toBe('match_cancelled');
    expect(late.message).toBe('the match was cancelled: session failed: host_refused');
    // old news is used once: a second start of that lobby waits for its own outcome
    const again = c.waitForHandoff({ lobbyId: 'L8', timeoutMs: 200 });
    expect((await rejection(again)).code).toBe('timeout');
    await c.close();
  });

  it('a hand-off whose certificate is not for our key is refused as bad server data', async () => {
    const { c, peer } = await connect();
    const claimed = c.claim({ sessionId: 'S3', needsPublicKey: true });
    const claim = await peer.request('session.claim');
    const other = await wireHandoff(f.minter, { sessionId: 'S3', playerId: 'seat-3' });
    delete (other['transport'] as Record<string, unknown>)['privateKey'];
    await peer.respond(claim.id, other);
    const e = await rejection(claimed);
    expect(e.code).toBe('bad_server_data');
    expect(e.message).toContain("not for this client's session key");
    await c.close();
  });

  it('reconnecting during a live session yields the same hand-off with the stored key', async () => {
    const keys = new MemoryKeyStore();
    const first = await connect({ keyStore: keys });
    const t1p = first.c.claim({ sessionId: 'S4', needsPublicKey: true });
    const claim = await first.peer.request('session.claim');
    const handoff = await wireHandoff(f.minter, { sessionId: 'S4', playerId: 'seat-4', publicKey: (claim.body as { publicKey: Uint8Array }).publicKey });
    await first.peer.respond(claim.id, handoff);
    const t1 = await t1p;
    await first.c.close();

    // the game restarts its auth connection; the server re-offers the session and returns the same hand-off
    const second = await connect({ keyStore: keys });
    await second.peer.notify('session.ready', { sessionId: 'S4', transport: 'quic', needsPublicKey: false, claimBy: Date.now() + 10_000 });
    const t2p = second.c.waitForHandoff();
    const again = await second.peer.request('session.claim');
    expect(again.body).toEqual({ sessionId: 'S4' });
    await second.peer.respond(again.id, handoff);
    const t2 = await t2p;
    expect(t2.credentials).toEqual(t1.credentials);
    await second.c.close();
  });
});

describe('connection end', () => {
  it('a kick then close reports the kick reason; pending requests reject', async () => {
    const { c, peer } = await connect();
    const closed = c.next('close');
    const pending = c.logout();
    await peer.request('account.logout');
    await peer.notify('kick', { code: 'logged_in_elsewhere', reason: 'this account logged in on another connection' });
    await peer.close('logged_in_elsewhere', 'bye');
    const { error } = await closed;
    expect(error?.code).toBe('logged_in_elsewhere');
    expect(error?.message).toContain('this account logged in on another connection');
    expect((await rejection(pending)).code).toBe('logged_in_elsewhere');
    expect((await rejection(c.logout())).code).toBe('logged_in_elsewhere');
  });

  it('session_lost is an event, not a disconnect', async () => {
    const { c, peer } = await connect();
    const kick = c.next('kick');
    await peer.notify('kick', { code: 'session_lost', reason: 'the game host stopped answering' });
    expect((await kick).code).toBe('session_lost');
    const out = c.logout();
    await peer.respond((await peer.request('account.logout')).id, {});
    await out;
    expect(c.closed).toBe(false);
    await c.close();
  });

  it('a vanished server is "connection to the login server was lost"', async () => {
    const { c, peer } = await connect();
    const closed = c.next('close');
    await peer.end();
    const { error } = await closed;
    expect(error?.code).toBe('auth_lost');
    expect(error?.message).toContain('the connection to the login server was lost');
  });
});
