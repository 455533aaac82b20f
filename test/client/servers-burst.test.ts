/**
 * Issue 14 against the real Auth and Host servers on loopback: the Auth counts its hand-offs being
 * set up against the matchmaker's cap on matches in flight, so queued players are offered a match
 * only when the Auth can hand it off; the `match.queue` reply carries the wait estimate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient } from '../../src/client/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';
import { rejection } from '../support/assert.js';

let live: LiveServers<TicTacToeExt>;

beforeAll(async () => {
  live = await startLiveServers<TicTacToeExt>({
    prefix: 'iyesmp-client-burst-',
    now: new Date(Date.now() - 86_400_000),
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    options: () => ({ auth: { matchmaker: { maxMatchesInFlight: 1 } } }),
    game: ticTacToeHostGame,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

async function players(n: number): Promise<Array<{ c: AuthClient<TicTacToeExt>; found: string[] }>> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const pki = live.dev.pki;
      const c = await connectToAuth<TicTacToeExt>({
        address: { host: '127.0.0.1', port: live.auth.clientPort },
        identity: { cert: pki.path(pki.get('client-clientauth-1-1').certFile), key: pki.path(pki.get('client-clientauth-1-1').keyFile!) },
        trust: { trustDir: pki.dir },
        gameVersion: GAME_VERSION,
        extSchema: TicTacToeExt,
        // 1.2 clients claim after session.ready, so a test can hold a hand-off open by not claiming
        // (a 1.3 confirm carries the key and the hand-off completes without a claim)
        maxProtocolMinor: 2,
      });
      live.open.push(c);
      await c.login({ method: 'guest' });
      const found: string[] = [];
      c.on('matchFound', (f) => found.push(f.matchId));
      return { c, found };
    }),
  );
}

const until = <T>(fn: () => T, what: string) => pollUntil(fn, what, 20_000, 20);

describe('a burst against real servers (issue 14)', () => {
  it('a hand-off being set up holds the only slot: the next pair is offered a match once the host acknowledged it', async () => {
    const [a, b, c, d, e, f] = await players(6);
    await a!.c.queue(MODE);
    await b!.c.queue(MODE);
    await until(() => a!.found.length === 1 && b!.found.length === 1, 'a and b to be matched');
    await c!.c.queue(MODE);
    await d!.c.queue(MODE);
    // a and b confirm but do not claim yet: their session waits for the claims, its hand-off in progress
    await Promise.all([a!.c.confirmMatch(a!.found[0]!), b!.c.confirmMatch(b!.found[0]!)]);
    await until(() => live.auth.handoffs.pendingCount === 1, 'the hand-off to start');
    // several ticks of the Auth's own (each runs the matchmaker with the hand-off counted)
    for (let i = 0; i < 3; i++) {
      await live.auth.tick();
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(live.auth.matchmaker.stats).toMatchObject({ queuedTickets: 2, pendingMatches: 0 });
    expect([c!.found, d!.found]).toEqual([[], []]);

    // the claims complete the hand-off: the slot is free and c and d are offered their match
    const tickets = await Promise.all([a!.c.waitForHandoff(), b!.c.waitForHandoff()]);
    expect(tickets[0]!.sessionId).toBe(tickets[1]!.sessionId);
    await until(() => c!.found.length === 1 && d!.found.length === 1, 'c and d to be matched');
    await Promise.all([c!.c.confirmMatch(c!.found[0]!), d!.c.confirmMatch(d!.found[0]!)]);
    await Promise.all([c!.c.waitForHandoff(), d!.c.waitForHandoff()]);

    // two matches confirmed lately: a player whose match can be made hears a rough wait
    const first = await e!.c.queue(MODE);
    expect(first.estimatedWaitMs).toBeUndefined(); // alone in the queue: it waits for someone else
    const second = await f!.c.queue(MODE);
    expect(second.estimatedWaitMs).toEqual(expect.any(Number));
    expect(second.estimatedWaitMs!).toBeGreaterThan(0);
  }, 90_000);

  it('queueing again the same way (a client that gave up waiting for the answer) gets the same ticket; queueing differently is still refused', async () => {
    const [g] = await players(1);
    const first = await g!.c.queue(MODE);
    const again = await g!.c.queue(MODE);
    expect(again.ticketId).toBe(first.ticketId);
    expect((await rejection(g!.c.queue(MODE, ['eu']))).code).toBe('mm.already_queued');
    expect((await rejection(g!.c.queue('another-mode'))).code).toBe('mm.already_queued');
    await g!.c.cancelQueue(first.ticketId);
    // one ticket, gone with the cancel: queueing now makes a new one
    const later = await g!.c.queue(MODE);
    expect(later.ticketId).not.toBe(first.ticketId);
    await g!.c.cancelQueue(later.ticketId);
  }, 60_000);
});
