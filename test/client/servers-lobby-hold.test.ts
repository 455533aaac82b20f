/**
 * A lobby started while one of its members is still in a game, against the real Auth and Host
 * servers on loopback: the member's previous session is live as the Auth sees it (the host's report
 * of its end is held back), or its confirmed match is still being set up (waiting for a host that
 * serves its mode). Before, the start was taken, its session could not be created ("already in live
 * session"), the members got `match.cancelled`, and the lobby stayed "in game" for good. Now the
 * start is refused at once with `lobby.member_in_session`, naming the member, and goes once that
 * game is over. The other way round, a member who queues alone while its lobby's start is being set
 * up is held as after a match, and a start that falls through opens the lobby again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthClient } from '../../src/client/index.js';
import { HOLD_MODE as MODE, gateReports, instantGame, playOneGame, startHoldServers, type LiveServers, type ReportGate } from '../support/live-servers.js';
import { failureOf } from '../support/assert.js';
import { pollUntil } from '../support/wait.js';

/** a mode no host serves (mqtt; the host runs quic): its starts wait for a host, then give up */
const FAR = 'far';
const NO_HOST_MS = 2_500;
/** a seat not claimed by then fails the session */
const CLAIM_MS = 3_000;

let live: LiveServers<unknown>;
let reports: ReportGate;

beforeAll(async () => {
  live = await startHoldServers('iyesmp-client-lobby-hold-', instantGame, {
    modeTransports: { [FAR]: 'mqtt' },
    noHostTimeoutMs: NO_HOST_MS,
    claimTimeoutMs: CLAIM_MS,
  });
  reports = gateReports(live.auth);
}, 120_000);

afterAll(() => live?.close(), 30_000);

/** `owner` makes a lobby of `mode` that `other` joins and is ready in; resolves its id. */
async function readyLobby(owner: AuthClient, other: AuthClient, mode: string): Promise<string> {
  const { lobbyId } = await owner.lobbies.create({ name: 'after the game', maxPlayers: 2, visibility: 'public', mode });
  await other.lobbies.join(lobbyId);
  await other.lobbies.ready(lobbyId);
  return lobbyId;
}

/** The started lobby's two members take their hand-off to one session and play its game to the end. */
async function playLobbyGame(a: AuthClient, c: AuthClient, lobbyId: string): Promise<void> {
  const [t1, t2] = await Promise.all([a.waitForHandoff({ lobbyId, timeoutMs: 20_000 }), c.waitForHandoff({ lobbyId, timeoutMs: 20_000 })]);
  expect(t1.sessionId).toBe(t2.sessionId);
  const games = await Promise.all([a.joinHost(t1), c.joinHost(t2)]);
  await Promise.all(games.map((g) => g.ready()));
  await Promise.all(games.map((g) => g.result));
  await Promise.all(games.map((g) => g.close().catch(() => undefined)));
}

/** Starting the lobby fails: the error. */
const startRefused = (owner: AuthClient, lobbyId: string) => failureOf(owner.lobbies.start(lobbyId), 'the lobby started, not refused');

describe('a lobby started while a member is still in a game (real servers)', () => {
  it("is refused, naming the member and its session, until the host's report of that game arrives; then it starts", async () => {
    const { auth } = live;
    const [a, b, c] = await Promise.all([live.player('Ann'), live.player(), live.player()]);
    reports.hold();
    try {
      const { ta, games } = await playOneGame(a, b);
      const lobbyId = await readyLobby(a, c, MODE);
      // before: taken, then match.cancelled naming the lobby ("already in live session"), the lobby stuck in game
      expect(await startRefused(a, lobbyId)).toMatchObject({
        code: 'lobby.member_in_session',
        message: expect.stringContaining(`Ann (${a.id}) is still in game session ${ta.sessionId}`),
      });
      expect(auth.lobbies.get(lobbyId)?.state).toBe('open');
      expect(auth.handoffs.pendingCount + auth.handoffs.waitingForHost).toBe(0);

      reports.release();
      await pollUntil(async () => (await auth.sessions.store.get(ta.sessionId))?.state === 'ended', "the first game's end", 10_000, 20);
      await a.lobbies.start(lobbyId);
      await playLobbyGame(a, c, lobbyId);
      await Promise.all(games.map((g) => g.close().catch(() => undefined)));
    } finally {
      reports.release();
    }
  }, 90_000);

  it("is refused while a member's confirmed match is still being set up, and starts once that match fell through", async () => {
    const { auth } = live;
    const [a, b, c] = await Promise.all([live.player(), live.player(), live.player()]);
    const match = Promise.all([a.matchmake({ mode: FAR, timeoutMs: 20_000 }), b.matchmake({ mode: FAR, timeoutMs: 20_000 })]);
    match.catch(() => undefined);
    await pollUntil(() => auth.matchmaker.settingUpOf(a.id), 'the match to wait for a host', 10_000, 20);
    const lobbyId = await readyLobby(a, c, MODE);
    expect(await startRefused(a, lobbyId)).toMatchObject({
      code: 'lobby.member_in_session',
      message: expect.stringContaining(`is still in match ${auth.matchmaker.settingUpOf(a.id)}, whose game session is still being set up`),
    });
    // no host serves its mode: the match gives up, and a is free
    await expect(match).rejects.toMatchObject({ code: 'no_host_available' });
    await a.lobbies.start(lobbyId);
    const [t1, t2] = await Promise.all([a.waitForHandoff({ lobbyId, timeoutMs: 20_000 }), c.waitForHandoff({ lobbyId, timeoutMs: 20_000 })]);
    const games = await Promise.all([a.joinHost(t1), c.joinHost(t2)]);
    await Promise.all(games.map((g) => g.ready()));
    await Promise.all(games.map((g) => g.result));
    await Promise.all(games.map((g) => g.close().catch(() => undefined)));
  }, 90_000);

  it("a member queueing alone while its lobby's start is being set up is held; the start that falls through opens the lobby again", async () => {
    const { auth } = live;
    const [a, c, d] = await Promise.all([live.player(), live.player(), live.player()]);
    const lobbyId = await readyLobby(a, c, FAR);
    const reopened = a.next('lobby', { filter: (l) => l.lobbyId === lobbyId && l.state === 'open', timeoutMs: 20_000 });
    await a.lobbies.start(lobbyId);
    const handoff = a.waitForHandoff({ lobbyId, timeoutMs: 20_000 });
    handoff.catch(() => undefined);
    await pollUntil(() => auth.handoffs.waitingForHost === 1, 'the start to wait for a host', 10_000, 20);
    const found: string[] = [];
    d.on('matchFound', (f) => found.push(f.matchId));
    await a.queue(MODE);
    await d.queue(MODE);
    for (let i = 0; i < 3; i++) await auth.tick();
    // before: a and d were proposed while a's lobby session was being set up
    expect(auth.matchmaker.ticketOf(a.id)?.heldBy).toEqual([lobbyId]);
    expect(found).toEqual([]);

    // before: the lobby stayed "in game" for good
    await expect(handoff).rejects.toMatchObject({ code: 'no_host_available' });
    expect(await reopened).toMatchObject({ state: 'open' });
    expect(auth.lobbies.get(lobbyId)?.state).toBe('open');
    await pollUntil(() => found.length === 1, 'a and d to be matched once the start fell through', 10_000, 20);
  }, 90_000);

  it("is refused while a member has a ticket of its own in the queue, naming it; it starts once that member left the queue (the lobby's own party ticket is no hold-up)", async () => {
    const { auth } = live;
    const [a, c] = await Promise.all([live.player(), live.player('Cy')]);
    const lobbyId = await readyLobby(a, c, MODE);
    // c queued alone (a mode nobody else plays here: it stays queued)
    const { ticketId } = await c.queue(FAR);
    // before: started; c's own ticket stayed queued beside the lobby's game, to be matched into another
    expect(await startRefused(a, lobbyId)).toMatchObject({
      code: 'lobby.member_in_session',
      message: expect.stringContaining(`Cy (${c.id}) is still in the matchmaking queue (ticket ${ticketId}`),
    });
    expect(auth.lobbies.get(lobbyId)?.state).toBe('open');
    await c.cancelQueue(ticketId);
    // the lobby queued as a party is no hold-up: the start takes the party's ticket out of the queue
    const party = await a.queue(FAR, undefined, undefined, { lobbyId });
    expect(auth.matchmaker.ticketOf(c.id)?.id).toBe(party.ticketId);
    await a.lobbies.start(lobbyId);
    expect(auth.matchmaker.ticketOf(c.id)).toBeUndefined();
    await playLobbyGame(a, c, lobbyId);
  }, 90_000);

  it('a lobby whose session failed before its game began (a seat never claimed) is open again, and starts again', async () => {
    const { auth } = live;
    const [a, c] = await Promise.all([live.player(), live.player()]);
    const lobbyId = await readyLobby(a, c, MODE);
    const reopened = [a, c].map((p) => p.next('lobby', { filter: (l) => l.lobbyId === lobbyId && l.state === 'open', timeoutMs: 20_000 }));
    await a.lobbies.start(lobbyId);
    // only a claims its seat: the session fails once c's claim is overdue
    await expect(a.waitForHandoff({ lobbyId, timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'session_failed' });
    // before: the lobby stayed "in game" for good
    expect(await Promise.all(reopened)).toMatchObject([{ state: 'open' }, { state: 'open' }]);
    expect(auth.lobbies.get(lobbyId)?.state).toBe('open');
    // c never waited: the failed start's offer went with its cancellation, which is old news once
    // the lobby is started again (c waits once it sees that, as a member's screen would)
    expect(c.pendingSessions).toEqual([]);
    const started = c.next('lobby', { filter: (l) => l.lobbyId === lobbyId && l.state === 'in_game', timeoutMs: 20_000 });
    await a.lobbies.start(lobbyId);
    await started;
    await playLobbyGame(a, c, lobbyId);
  }, 90_000);
});
