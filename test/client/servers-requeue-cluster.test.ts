/**
 * The re-queue race in a cluster (src/auth/cluster.ts), against real Auth nodes and a Host on
 * loopback: two Auth nodes share the session records and talk over an in-memory bus; node A leads
 * (runs the matchmaker). Players connected to node B queue again the moment their game's result
 * arrives, before the host's report of the session's end reached either node: B forwards the
 * tickets to A, which finds the players still in their session in the shared records and holds the
 * tickets until the report arrives (at whichever node the host sends it), then matches them.
 * The same for a player whose confirmed match is still being set up (its session record not written
 * yet): the leader, which runs the hand-offs too, holds its forwarded ticket on that match.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthClient } from '../../src/client/index.js';
import type { AuthServer } from '../../src/auth/server.js';
import { MemorySessionStore } from '../../src/auth/sessions.js';
import type { HostServer } from '../../src/host/server.js';
import {
  HOLD_MODE as MODE,
  closeLive,
  devPki,
  gateReports,
  heldUntilReported,
  guestAt,
  instantGame,
  playOneGame,
  queueAgainFails,
  startTwoNodes,
  type DevPki,
  type ReportGate,
} from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

/** the longest a ticket is held (short, so the last test sees the bound; long enough for the others' games) */
const HOLD_MS = 8_000;

let dev: DevPki;
let leader: AuthServer;
let follower: AuthServer;
let host: HostServer;
const open: AuthClient[] = [];
/** the host's reports of ended sessions, at either node */
let reports: ReportGate;
/** new session records wait for this while set (the hand-off's set-up is then under way) */
let holdCreates: Promise<void> | undefined;

beforeAll(async () => {
  dev = await devPki('iyesmp-client-requeue-cluster-', new Date(Date.now() - 86_400_000));
  const sessionStore = new MemorySessionStore();
  const put = sessionStore.put.bind(sessionStore);
  sessionStore.put = async (r) => {
    if (r.state === 'created') await holdCreates;
    return put(r);
  };
  // node A leads (runs the matchmaker)
  ({
    a: leader,
    b: follower,
    host,
  } = await startTwoNodes(dev, { leader: 'auth-a', reportsTo: 'auth-a', game: instantGame, auth: { matchmaker: { maxHoldMs: HOLD_MS }, sessionStore } }));
  reports = gateReports(leader, follower);
}, 120_000);

afterAll(async () => {
  await closeLive(open, [host, follower, leader], dev);
}, 30_000);

const player = (on: AuthServer, over: { maxProtocolMinor?: number } = {}) => guestAt(on, dev, open, over);

describe('queueing again the moment a game ends, in a cluster (real servers)', () => {
  it('the leader holds the forwarded tickets of players still in their session and matches them once it ends', async () => {
    const [a, b] = await Promise.all([player(follower), player(follower)]);
    reports.hold();
    const { ta, games } = await playOneGame(a, b);
    await games[1]!.result;
    // both have their result; the host's report is held back: they queue again at once (through B
    // to A), and the leader holds both tickets until the report arrives
    await heldUntilReported(leader, reports, ta.sessionId, a, b);
    await Promise.all(games.map((g) => g.close().catch(() => undefined)));
  }, 90_000);

  it('the leader holds the forwarded ticket of a player whose confirmed match is still being set up, and matches it after that session', async () => {
    const [a, b, c] = await Promise.all([player(follower), player(follower), player(follower)]);
    let letCreatesThrough!: () => void;
    holdCreates = new Promise<void>((r) => (letCreatesThrough = r));
    try {
      const first = Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
      first.catch(() => undefined);
      await pollUntil(() => leader.handoffs.pendingCount === 1, "the match's hand-off to write its record", 10_000, 20);
      const found: string[] = [];
      for (const p of [a, c]) p.on('matchFound', (f) => found.push(f.matchId));
      // a queues again (through B to A) while its match's session record is still being written
      await a.queue(MODE);
      await c.queue(MODE);
      await pollUntil(() => leader.matchmaker.stats.queuedTickets === 2, 'both tickets to reach the leader', 10_000, 20);
      // the server's tick waits behind the held record write (the records' operations run in turn):
      // the matchmaker's own tick, the part that proposes, runs here as a tick of a faster store would
      for (let i = 0; i < 3; i++) leader.matchmaker.tick(Date.now());
      // before: a and c were proposed here; that match's session could not be created (a: busy)
      expect(leader.matchmaker.stats).toEqual({ queuedTickets: 2, queuedPlayers: 2, pendingMatches: 0 });
      expect(found).toEqual([]);
      expect(leader.matchmaker.settingUp).toBe(1);
      expect(leader.matchmaker.heldSessions()).toEqual([]);

      letCreatesThrough();
      holdCreates = undefined;
      const [ta, tb] = await first;
      // the record is written: a's ticket is held by that session now, until the game ends
      expect(leader.matchmaker.settingUp).toBe(0);
      const games = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      await Promise.all(games.map((g) => g.ready()));
      await Promise.all(games.map((g) => g.result));
      await pollUntil(() => found.length === 2, 'a and c to be proposed once the first session ended', 10_000, 20);
      expect(new Set(found).size).toBe(1);
      expect((await leader.sessions.store.get(ta.sessionId))?.state).toBe('ended');
      await Promise.all(games.map((g) => g.close().catch(() => undefined)));
    } finally {
      letCreatesThrough();
      holdCreates = undefined;
    }
  }, 90_000);

  it('a 1.1 player on the other node whose held ticket expires is told with match.cancelled, as on the leader', async () => {
    const [a, b] = await Promise.all([player(follower, { maxProtocolMinor: 1 }), player(follower)]);
    expect(a.protocolVersion.minor).toBe(1);
    reports.hold();
    try {
      const { ta, games } = await playOneGame(a, b);
      const told = a.next('matchCancelled', { timeoutMs: 60_000 });
      // before: the leader relayed match.dequeued for 1.2+ only; a heard nothing and waited out its own timeout
      const { err, waitedMs } = await queueAgainFails(a);
      expect(waitedMs).toBeGreaterThanOrEqual(HOLD_MS - 100);
      expect(waitedMs).toBeLessThan(HOLD_MS + 8_000);
      expect(err).toMatchObject({ code: 'match_cancelled', message: expect.stringContaining(`in_session: still in game session ${ta.sessionId}`) });
      expect(await told).toMatchObject({ requeued: false });
      expect(leader.matchmaker.stats.queuedTickets).toBe(0);
      // it knows the event, so it is still connected
      expect(Array.isArray((await a.lobbies.list()).lobbies)).toBe(true);
      await Promise.all(games.map((g) => g.close().catch(() => undefined)));
    } finally {
      reports.release();
    }
  }, 90_000);
});
