/**
 * What iyesmp-auth/1.1 adds, seen from the client library against a scripted auth peer: the
 * server's "still looking for a host" notices drive the `waiting` status (the local timer stops),
 * `session.lost` (and a 1.0 server's `kick session_lost`) ends the game session it names, join
 * codes come back as a field and go out in a way old and new servers understand, and a netcode
 * hand-off is claimed and joined through the AuthClient without any TLS trust.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthClient, MemoryKeyStore, type MatchmakingStatus, type SessionLost, type SessionWaiting } from '../../src/client/index.js';
import { HostSessions } from '../../src/host/sessions.js';
import { formatAddress } from '../../src/netcode/address.js';
import { issueNetcodeHandoff } from '../../src/netcode/handoff.js';
import { netcodeExpectedPlayer } from '../../src/host/transports/netcode/seat.js';
import { NetcodeHostTransport } from '../../src/host/transports/netcode/transport.js';
import { authFamily } from '../../src/protocol/index.js';
import { rejection } from '../support/assert.js';
import { ScriptedPeer } from './helpers.js';
import { duplexPair } from '../support/duplex.js';

const welcome = () => ({ serverName: 'auth-test', time: 1_700_000_000_000 });
const lobby = { lobbyId: 'L1', name: 'mine', ownerId: 'guest:a', visibility: 'private', state: 'open', maxPlayers: 2, hasPassword: false, members: [] };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function connect(keyStore?: MemoryKeyStore) {
  const { client, server } = duplexPair();
  const peer = new ScriptedPeer(authFamily, server, { welcome });
  const c = await AuthClient.open(client, { gameVersion: '1.0.0', ...(keyStore ? { keyStore } : {}) });
  cleanup.push(() => c.close());
  return { c, peer };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('iyesmp-auth/1.1 in the client', () => {
  it("negotiates the server's version (1.1 or later)", async () => {
    const { c } = await connect();
    expect(c.protocolVersion.minor).toBeGreaterThanOrEqual(1);
  });

  it("the server's session.waiting drives the waiting status and replaces the local timer", async () => {
    const { c, peer } = await connect();
    const seen: MatchmakingStatus[] = [];
    const waits: SessionWaiting[] = [];
    c.on('sessionWaiting', (w) => waits.push(w));
    const done = c.matchmake({ mode: 'duel', waitingNoticeMs: 20, onStatus: (s) => seen.push(s) });
    await peer.respond((await peer.request('match.queue')).id, { ticketId: 'T1' });
    await peer.notify('match.found', { matchId: 'M1', ticketId: 'T1', mode: 'duel', playerCount: 2, confirmBy: Date.now() + 10_000 });
    await peer.respond((await peer.request('match.confirm')).id, {});
    const since = Date.now() - 2_000;
    const giveUpAt = since + 60_000;
    const first = c.next('matchmaking', { filter: (s) => s.phase === 'waiting' && s.noHost !== undefined, timeoutMs: 5_000 });
    await peer.notify('session.waiting', { matchId: 'M1', since, attempt: 4, giveUpAt, reason: 'no game host is free' });
    const w = await first;
    expect(w).toMatchObject({ phase: 'waiting', matchId: 'M1', noHost: { attempt: 4, giveUpAt, reason: 'no game host is free' } });
    expect(w.phase === 'waiting' && w.waitedMs).toBeGreaterThanOrEqual(2_000);
    // from now on only the server's notices: no local ones in between
    const count = seen.filter((s) => s.phase === 'waiting').length;
    await new Promise((r) => setTimeout(r, 150));
    expect(seen.filter((s) => s.phase === 'waiting').length).toBe(count);
    const fifth = c.next('matchmaking', { filter: (s) => s.phase === 'waiting' && s.noHost?.attempt === 5, timeoutMs: 5_000 });
    await peer.notify('session.waiting', { matchId: 'M1', since, attempt: 5 });
    await fifth;
    // a notice for somebody else's match is not ours
    await peer.notify('session.waiting', { matchId: 'OTHER', since, attempt: 1 });
    await peer.notify('match.cancelled', { matchId: 'M1', reason: 'no host available', requeued: false });
    expect((await rejection(done)).code).toBe('no_host_available');
    await until(() => waits.length === 3);
    expect(seen.filter((s) => s.phase === 'waiting' && s.matchId !== 'M1')).toEqual([]);
    expect(waits.map((x) => x.attempt)).toEqual([4, 5, 1]);
    expect(waits[1]).toEqual({ matchId: 'M1', since, attempt: 5 });
  });

  it('what arrives in the same read as the confirmation\'s answer is reported after "confirmed"', async () => {
    const { c, peer } = await connect();
    const phases: string[] = [];
    const done = c.matchmake({ mode: 'duel', onStatus: (s) => phases.push(s.phase) });
    await peer.respond((await peer.request('match.queue')).id, { ticketId: 'T1' });
    await peer.notify('match.found', { matchId: 'M1', ticketId: 'T1', mode: 'duel', playerCount: 2, confirmBy: Date.now() + 10_000 });
    const conf = await peer.request('match.confirm');
    // the answer and the server's next events in one chunk (one datagram over QUIC)
    peer.session.respond(conf.id, {} as never);
    peer.session.notify('session.waiting' as never, { matchId: 'M1', since: Date.now(), attempt: 1 } as never);
    peer.session.notify('match.cancelled' as never, { matchId: 'M1', reason: 'no host available', requeued: false } as never);
    await peer.raw(Buffer.concat(peer.session.takeOutput()));
    expect((await rejection(done)).code).toBe('no_host_available');
    expect(phases).toEqual(['queued', 'found', 'confirmed', 'waiting', 'cancelled']);
  });

  it('a lobby start still looking for a host is told as sessionWaiting', async () => {
    const { c, peer } = await connect();
    const w = c.next('sessionWaiting', { timeoutMs: 5_000 });
    await peer.notify('session.waiting', { lobbyId: 'L1', since: 5, attempt: 0 });
    expect(await w).toEqual({ lobbyId: 'L1', since: 5, attempt: 0 });
  });

  it('session.lost forgets the offer and the key, and is an event', async () => {
    const keys = new MemoryKeyStore();
    await keys.set('S9', 'a key');
    const { c, peer } = await connect(keys);
    const offered = c.next('sessionReady', { timeoutMs: 5_000 });
    await peer.notify('session.ready', { sessionId: 'S9', transport: 'quic', needsPublicKey: true, matchId: 'M9', claimBy: Date.now() + 10_000 });
    await offered;
    expect(c.pendingSessions.map((r) => r.sessionId)).toEqual(['S9']);
    const lost = c.next('sessionLost', { timeoutMs: 5_000 });
    await peer.notify('session.lost', { sessionId: 'S9', reason: 'the game host stopped answering' });
    expect(await lost).toEqual({ sessionId: 'S9', reason: 'the game host stopped answering' });
    expect(c.pendingSessions).toEqual([]);
    expect(await keys.get('S9')).toBeUndefined();
    expect(c.closed).toBe(false);
  });

  it("a 1.0 server's kick with code session_lost is still understood, and the connection stays usable", async () => {
    const { c, peer } = await connect();
    const lost: SessionLost[] = [];
    c.on('sessionLost', (l) => lost.push(l));
    const kick = c.next('kick', { timeoutMs: 5_000 });
    await peer.notify('kick', { code: 'session_lost', reason: 'the game host stopped answering; session S4 is over' });
    await kick;
    expect(lost).toEqual([{ sessionId: 'S4', reason: 'the game host stopped answering; session S4 is over' }]);
    const out = c.logout();
    await peer.respond((await peer.request('account.logout')).id, {});
    await out;
    expect(c.closed).toBe(false);
  });

  it("join codes: the create reply field (or a 1.0 server's ext), and a join every server understands", async () => {
    const { c, peer } = await connect();
    const created = c.lobbies.create({ name: 'mine', visibility: 'private', maxPlayers: 2 });
    await peer.respond((await peer.request('lobby.create')).id, { lobby, joinCode: 'K7XQ2M' });
    expect(await created).toEqual({ ...lobby, joinCode: 'K7XQ2M' });

    const legacy = c.lobbies.create({ name: 'mine', visibility: 'private', maxPlayers: 2 });
    await peer.respond((await peer.request('lobby.create')).id, { lobby, ext: { joinCode: 'ABCDEF' } });
    expect((await legacy).joinCode).toBe('ABCDEF');

    const publicOne = c.lobbies.create({ name: 'open', visibility: 'public', maxPlayers: 2 });
    await peer.respond((await peer.request('lobby.create')).id, { lobby: { ...lobby, visibility: 'public' } });
    expect('joinCode' in (await publicOne)).toBe(false);

    const joined = c.lobbies.joinByCode('k7xq-2m');
    const req = await peer.request('lobby.join');
    expect(req.body).toEqual({ lobbyId: 'k7xq-2m', joinCode: 'k7xq-2m', password: 'k7xq-2m' });
    await peer.respond(req.id, { lobby });
    expect((await joined).lobbyId).toBe('L1');

    const byId = c.lobbies.join('L2');
    const req2 = await peer.request('lobby.join');
    expect(req2.body).toEqual({ lobbyId: 'L2' });
    await peer.fail(req2.id, 'lobby.not_found', 'lobby L2 does not exist');
    expect((await rejection(byId)).message).toBe('joining the lobby refused: lobby L2 does not exist');
  });

  it('claims and joins a netcode hand-off without TLS trust; session.lost then ends the game with session_lost', { timeout: 60_000 }, async () => {
    const KEY = new Uint8Array(32).fill(11);
    const table = new HostSessions({ maxSessions: 2, maxPlayers: 4 });
    const transport = await NetcodeHostTransport.listen({
      sessions: table,
      privateKey: KEY,
      protocolId: 5n,
      bind: '127.0.0.1:0',
      maxClients: 4,
      nowMs: () => 0,
    });
    cleanup.push(() => transport.close());
    const r = table.create(
      { sessionId: 'NS1', transport: 'netcode', players: [netcodeExpectedPlayer('NS1', { playerId: 'guest.a', address: '127.0.0.1' })] },
      0,
    );
    expect(r.ok).toBe(true);

    const { c, peer } = await connect();
    await peer.notify('session.ready', { sessionId: 'NS1', transport: 'netcode', needsPublicKey: false, matchId: 'M1', claimBy: Date.now() + 10_000 });
    const wait = c.waitForHandoff();
    const claim = await peer.request('session.claim');
    expect(claim.body).toEqual({ sessionId: 'NS1' });
    const address = transport.endpoint().address;
    const { connectToken } = issueNetcodeHandoff({
      privateKey: KEY,
      protocolId: 5n,
      host: { publicAddresses: [formatAddress(transport.boundAddress)] },
      sessionId: 'NS1',
      playerId: 'guest.a',
      expireSeconds: 30,
      timeoutSeconds: 5,
    });
    await peer.respond(claim.id, {
      sessionId: 'NS1',
      playerId: 'guest.a',
      expiresAt: Date.now() + 30_000,
      host: { address, tlsName: `${address.host}:${address.port}` },
      transport: { kind: 'netcode', connectToken: new Uint8Array(connectToken) },
    });
    const ticket = await wait;
    expect(ticket.transport).toBe('netcode');
    expect(ticket.credentials).toBeUndefined();

    // an AuthClient opened on a bare stream has no TLS trust: fine for netcode
    const game = await c.joinHost(ticket);
    cleanup.push(() => game.close());
    expect(game.transport).toBe('netcode');
    expect(game.players.map((p) => p.playerId)).toEqual(['guest.a']);

    const closed = game.next('close', { timeoutMs: 10_000 });
    await peer.notify('session.lost', { sessionId: 'NS1', reason: 'the game host stopped answering' });
    const { error } = await closed;
    expect(error?.code).toBe('session_lost');
    expect(error?.message).toBe('the game host stopped answering and the login server ended the session: the game host stopped answering');
    expect((await rejection(game.result)).code).toBe('session_lost');
  });
});
