/**
 * Rule 7 at hand-off, against the real Auth and Host servers on loopback: a player queues again
 * while its just-confirmed match is still being set up (here: waiting for a free host, so no
 * session record exists yet). Its ticket is held on that match, not matched (before: matched with
 * the next player at once, and that match's hand-off failed with `session.player_busy`); once a
 * host comes and the match's session record is written, the hold moves to that session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOLD_MODE as MODE, idleGame, startHoldServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

let live: LiveServers<unknown>;

beforeAll(async () => {
  // no host yet: a confirmed match waits for one
  live = await startHoldServers('iyesmp-client-setup-hold-', idleGame, {}, true);
}, 120_000);

afterAll(() => live?.close(), 30_000);

describe('queueing again while the confirmed match is still being set up (real servers)', () => {
  it('the ticket is held on the match, then on the session it became; nobody is matched with it meanwhile', async () => {
    const { auth } = live;
    const [a, b, c] = await Promise.all([live.player(), live.player(), live.player()]);
    const first = Promise.all([a.matchmake({ mode: MODE, timeoutMs: 60_000 }), b.matchmake({ mode: MODE, timeoutMs: 60_000 })]);
    first.catch(() => undefined);
    // confirmed, and waiting for a free host: no session record yet
    await pollUntil(() => auth.handoffs.waitingForHost === 1, 'the match to wait for a host', 20_000, 20);
    const found: string[] = [];
    c.on('matchFound', (f) => found.push(f.matchId));
    const again = await a.queue(MODE);
    await c.queue(MODE);
    for (let i = 0; i < 3; i++) await auth.tick();
    // before: a and c were proposed here, and that match's hand-off failed (a: session.player_busy)
    expect(auth.matchmaker.stats).toEqual({ queuedTickets: 2, queuedPlayers: 2, pendingMatches: 0 });
    expect(auth.matchmaker.ticketOf(a.id)?.id).toBe(again.ticketId);
    expect(auth.matchmaker.ticketOf(a.id)?.heldBy).toHaveLength(1);
    expect(auth.matchmaker.heldSessions()).toEqual([]);
    expect(found).toEqual([]);
    expect(auth.matchmaker.settingUp).toBe(1);

    // a host comes: the waiting match gets its session record, which now holds a's new ticket
    await live.startHost();
    await pollUntil(() => auth.matchmaker.settingUp === 0, "the match's session record", 20_000, 20);
    const inSession = await auth.sessions.liveSessionsOf([a.id]);
    expect(inSession).toHaveLength(1);
    expect(auth.matchmaker.ticketOf(a.id)?.heldBy).toEqual(inSession);
    expect(auth.matchmaker.heldSessions()).toEqual(inSession);
    for (let i = 0; i < 2; i++) await auth.tick();
    expect(auth.matchmaker.stats.pendingMatches).toBe(0);
    expect(found).toEqual([]);
    await first.catch(() => undefined);
  }, 90_000);
});
