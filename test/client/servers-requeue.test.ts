/**
 * The re-queue race against the real Auth and Host servers on loopback: a player queues again the
 * moment its game's result arrives from the host, before the host's report of the session's end
 * reached the Auth (held back here, as load does it in bench/handoff.bench.js). Its ticket waits
 * while the Auth still sees it in its session and is matched once the report arrives; before, it
 * was matched at once and the new match was cancelled ("already in live session").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthClient, GameSession, HostTicket } from '../../src/client/index.js';
import {
  gateReports,
  heldUntilReported,
  instantGame,
  playOneGame,
  queueAgainFails,
  startHoldServers,
  type LiveServers,
  type ReportGate,
} from '../support/live-servers.js';

/** the longest a ticket is held (short here, so the later tests see the bound) */
const HOLD_MS = 4_000;

let live: LiveServers<unknown>;
let reports: ReportGate;

beforeAll(async () => {
  live = await startHoldServers('iyesmp-client-requeue-', instantGame, { matchmaker: { maxHoldMs: HOLD_MS } });
  reports = gateReports(live.auth);
}, 120_000);

afterAll(() => live?.close(), 30_000);

/**
 * The prelude of the hold-expiry tests: the host's reports are held back, `a` and `b` play one game,
 * and `a`, which has its result while the Auth still sees it in that session, queues again at once.
 */
async function requeueWhileReportHeld(a: AuthClient, b: AuthClient): Promise<{ ta: HostTicket; games: GameSession[]; err: unknown; waitedMs: number }> {
  reports.hold();
  const { ta, games } = await playOneGame(a, b);
  return { ta, games, ...(await queueAgainFails(a)) };
}

describe('queueing again the moment a game ends (real servers)', () => {
  it("the player is matched again once the host's report arrives, instead of the match being cancelled", async () => {
    const { auth } = live;
    const [a, b, c] = await Promise.all([live.player(), live.player(), live.player()]);
    reports.hold();

    const { ta, games } = await playOneGame(a, b);
    // a has its result (the host's report to the Auth is held back): it queues again at once, and c
    // with it. a's ticket waits for its session (live as the Auth sees it) instead of being matched
    // into one that cannot start (before: matched here, then cancelled, "already in live session")
    const [ta2, tc] = await heldUntilReported(auth, reports, ta.sessionId, a, c);
    expect((await auth.sessions.store.get(ta.sessionId))?.state).toBe('ended');
    const second = await Promise.all([a.joinHost(ta2), c.joinHost(tc)]);
    await Promise.all(second.map((g) => g.ready()));
    await Promise.all(second.map((g) => g.result));
    await Promise.all([...games, ...second].map((g) => g.close().catch(() => undefined)));
  }, 90_000);

  it('a session whose end never reaches the Auth holds the ticket only until maxHoldMs: then the player is told why', async () => {
    const [a, b] = await Promise.all([live.player(), live.player()]);
    try {
      const { ta, games, err, waitedMs } = await requeueWhileReportHeld(a, b);
      expect(waitedMs).toBeGreaterThanOrEqual(HOLD_MS - 100);
      expect(err).toMatchObject({ code: 'party_dequeued', message: expect.stringContaining(`still in game session ${ta.sessionId}`) });
      expect(live.auth.matchmaker.stats.queuedTickets).toBe(0);
      await Promise.all(games.map((g) => g.close().catch(() => undefined)));
    } finally {
      reports.release();
    }
  }, 90_000);

  it('a 1.1 client (no match.dequeued) is told with match.cancelled naming its ticket, and stays connected', async () => {
    const [a, b] = await Promise.all([live.player(undefined, { maxProtocolMinor: 1 }), live.player()]);
    expect(a.protocolVersion.minor).toBe(1);
    try {
      const told = a.next('matchCancelled', { timeoutMs: 60_000 });
      // before: the ticket vanished without a word and matchmake waited out its own timeout
      const { ta, games, err, waitedMs } = await requeueWhileReportHeld(a, b);
      expect(waitedMs).toBeGreaterThanOrEqual(HOLD_MS - 100);
      expect(waitedMs).toBeLessThan(15_000);
      expect(err).toMatchObject({ code: 'match_cancelled', message: expect.stringContaining(`in_session: still in game session ${ta.sessionId}`) });
      expect(await told).toMatchObject({ requeued: false });
      expect(live.auth.matchmaker.stats.queuedTickets).toBe(0);
      // a 1.0/1.1 client closes on an event it does not know: this one it knows, so it is still connected
      expect(Array.isArray((await a.lobbies.list()).lobbies)).toBe(true);
      await Promise.all(games.map((g) => g.close().catch(() => undefined)));
    } finally {
      reports.release();
    }
  }, 90_000);
});
