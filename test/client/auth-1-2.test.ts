/**
 * What iyesmp-auth/1.2 adds, seen from the client library against scripted auth peers: against a
 * 1.1 server, registration and party queueing are refused locally (such a server does not know
 * `account.register` and would drop `lobbyId`, queueing the owner alone); against a 1.2 server they
 * go out as such, and a party member follows the owner's queueing from `match.queued`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthClient, type MatchmakingStatus } from '../../src/client/index.js';
import { IyesmpError } from '../../src/errors.js';
import { authFamily, type FamilyDef } from '../../src/protocol/index.js';
import { authFamily11, authFamily12 } from '../support/families.js';
import { rejection } from '../support/assert.js';
import { ScriptedPeer } from './helpers.js';
import { duplexPair } from '../support/duplex.js';

const welcome = () => ({ serverName: 'auth-test', time: 1_700_000_000_000 });

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function connect(family: FamilyDef = authFamily) {
  const { client, server } = duplexPair();
  // typed as the current family: the tests only use what both versions share, or check the 1.2 side
  const peer = new ScriptedPeer(family as typeof authFamily, server, { welcome });
  const c = await AuthClient.open(client, { gameVersion: '1.0.0' });
  cleanup.push(() => c.close());
  return { c, peer };
}

describe('iyesmp-auth/1.2 in the client', () => {
  it('against a 1.1 server, register and a party queue are refused locally with not_supported', async () => {
    const { c, peer } = await connect(authFamily11());
    expect(c.protocolVersion).toEqual({ major: 1, minor: 1 });
    const reg = await rejection(c.register({ username: 'ada', password: 'a long enough secret' }));
    expect(reg.code).toBe('not_supported');
    expect(reg.message).toMatch(/1\.2/);
    expect((await rejection(c.queue('duel', undefined, undefined, { lobbyId: 'L1' }))).code).toBe('not_supported');
    expect((await rejection(c.matchmake({ mode: 'duel', lobbyId: 'L1' }))).code).toBe('not_supported');
    // nothing reached the server; a plain queue still works
    const q = c.queue('duel');
    const req = await peer.request();
    expect(req).toMatchObject({ type: 'match.queue', body: { mode: 'duel' } });
    await peer.respond(req.id, { ticketId: 'T1' });
    expect((await q).ticketId).toBe('T1');
  });

  it('against a 1.2 server, register goes out and logs in; lobbyId goes out in match.queue', async () => {
    const { c, peer } = await connect(authFamily12());
    expect(c.protocolVersion).toEqual({ major: 1, minor: 2 });
    const reg = c.register({ username: 'ada', password: 'a long enough secret', displayName: 'Ada' });
    const r = await peer.request('account.register');
    expect(r.body).toEqual({ username: 'ada', password: 'a long enough secret', displayName: 'Ada' });
    await peer.respond(r.id, { accountId: 'password:1', displayName: 'Ada', isNew: true });
    expect(await reg).toMatchObject({ accountId: 'password:1', isNew: true });
    expect(c.account?.accountId).toBe('password:1');

    const q = c.queue('duel', undefined, undefined, { lobbyId: 'L1' });
    const qr = await peer.request('match.queue');
    expect(qr.body).toEqual({ mode: 'duel', lobbyId: 'L1' });
    await peer.respond(qr.id, { ticketId: 'T1' });
    await q;
  });

  it('a refused registration carries the server code', async () => {
    const { c, peer } = await connect();
    const reg = c.register({ username: 'ada', password: 'a long enough secret' });
    await peer.fail((await peer.request('account.register')).id, 'auth.username_taken', 'username "ada" is already registered');
    const e = await rejection(reg);
    expect(e.code).toBe('auth.username_taken');
    expect(e.message).toMatch(/already registered/);
    expect(c.account).toBeUndefined();
  });

  it("followParty picks up the owner's queueing (also one received earlier) and confirms the match for its ticket only", async () => {
    const { c, peer } = await connect(authFamily12());
    await peer.notify('match.queued', { ticketId: 'T9', mode: 'squad', lobbyId: 'L1', byAccountId: 'guest:owner' });
    const seen: MatchmakingStatus[] = [];
    const stop = new AbortController();
    const following = c.followParty({ lobbyId: 'L1', signal: stop.signal, onStatus: (s) => seen.push(s) }).catch((e: unknown) => e);
    // another ticket's match is not ours
    await peer.notify('match.found', { matchId: 'M0', ticketId: 'T0', mode: 'squad', playerCount: 4, confirmBy: Date.now() + 10_000 });
    await peer.notify('match.found', { matchId: 'M1', ticketId: 'T9', mode: 'squad', playerCount: 4, confirmBy: Date.now() + 10_000 });
    const conf = await peer.request('match.confirm');
    expect(conf.body).toEqual({ matchId: 'M1' });
    await peer.respond(conf.id, {});
    for (let i = 0; i < 500 && !seen.some((s) => s.phase === 'confirmed'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen.map((s) => s.phase)).toEqual(expect.arrayContaining(['queued', 'found', 'confirmed']));
    expect(seen.some((s) => s.phase === 'found' && s.matchId === 'M0')).toBe(false);
    stop.abort();
    // aborting leaves the queue with the party's ticket
    const cancel = await peer.request('match.cancel');
    expect(cancel.body).toEqual({ ticketId: 'T9' });
    await peer.respond(cancel.id, {});
    expect(((await following) as IyesmpError).code).toBe('aborted');
  });

  it('match.dequeued for the followed ticket ends followParty with party_dequeued', async () => {
    const { c, peer } = await connect();
    const following = c.followParty({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    await peer.notify('match.queued', { ticketId: 'T5', mode: 'squad', lobbyId: 'L2', byAccountId: 'guest:owner' });
    await peer.notify('match.dequeued', { ticketId: 'T4', reason: 'another party' });
    await peer.notify('match.dequeued', { ticketId: 'T5', reason: 'the lobby changed' });
    const e = (await following) as IyesmpError;
    expect(e.code).toBe('party_dequeued');
    expect(e.message).toContain('the lobby changed');
  });
});
