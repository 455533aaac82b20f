/**
 * The client's own deadlines when its event loop stalls (CPU starvation, a long GC), against the
 * real Auth and Host servers on loopback. After a stall libuv runs the expired timers before it
 * polls the sockets: a deadline that passed during the stall would fail a wait whose answer came in
 * time and sits unread in the socket. `expireAfterInput` (src/events/timeout.ts) lets that input be
 * read first; here for the matchmake wait (`timeoutMs`), the hand-off wait of a 1.3 confirmation
 * (`claimTimeoutMs`) and the claim wait. Each test stalls this thread right after the Auth server
 * sent the answer (its datagrams are in the client's socket), until past the client's deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import type { AuthClient, HostTicket } from '../../src/client/index.js';
import { HOLD_MODE as MODE, idleGame, startHoldServers, type LiveServers } from '../support/live-servers.js';
import { stall } from '../support/stall.js';
import { pollUntil } from '../support/wait.js';

/** how long the loop stalls: well past the deadline, which passes ~STALL_MS/2 into it */
const STALL_MS = 2000;
/** a match's players confirm within this (the hand-off test waits for most of it) */
const CONFIRM_MS = 3000;

let live: LiveServers<unknown>;

beforeAll(async () => {
  // heartbeats far apart: the stall must not make the Auth server give the host up
  live = await startHoldServers('iyesmp-client-stalled-', idleGame, {
    heartbeatIntervalMs: 5000,
    // the seats of the claim test are claimed ~30 s after the offer
    claimTimeoutMs: 45_000,
    matchmaker: { defaults: { confirmTimeoutMs: CONFIRM_MS } },
  });
}, 120_000);

afterAll(() => live?.close(), 30_000);

const sleepUntil = (at: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/**
 * Stalls this thread for STALL_MS as soon as `method` of the Auth server returns for a call that
 * `pick` matches: what it sent has left (the datagrams wait in the client's socket) and nobody has
 * read it. Resolves once the stall is over.
 */
function stallAfter<K extends 'notifyPlayer' | 'noteHandoff'>(
  auth: AuthServer,
  method: K,
  pick: (...args: Parameters<AuthServer[K]>) => boolean,
): { stalled: Promise<number> } {
  const original = auth[method].bind(auth) as (...args: unknown[]) => void;
  let resolve!: (at: number) => void;
  const stalled = new Promise<number>((r) => (resolve = r));
  let done = false;
  auth[method] = ((...args: Parameters<AuthServer[K]>) => {
    original(...args);
    if (done || !pick(...args)) return;
    done = true;
    auth[method] = original as AuthServer[K];
    const at = Date.now();
    void stall(STALL_MS).then(() => resolve(at));
  }) as AuthServer[K];
  return { stalled };
}

/**
 * The stall began before `deadline` (the answer had left) and ended after it, and `a` (first) took
 * its answer all the same: both players have the same session.
 */
async function tookInTime(stalled: Promise<number>, deadline: number, tickets: [Promise<HostTicket>, Promise<HostTicket>]): Promise<void> {
  const at = await stalled;
  expect(at).toBeLessThan(deadline);
  expect(at + STALL_MS).toBeGreaterThan(deadline);
  const [ta, tb] = await Promise.all(tickets);
  expect(ta.sessionId).toBe(tb.sessionId);
}

/** Two guests; `a` speaks at most `minor` of iyesmp-auth/1 and waits `claimTimeoutMs` for its hand-off or claim. */
async function pair(minor: number, claimTimeoutMs?: number): Promise<[AuthClient & { id: string }, AuthClient & { id: string }]> {
  return Promise.all([
    live.player('a', { maxProtocolMinor: minor, ...(claimTimeoutMs === undefined ? {} : { claimTimeoutMs }) }),
    live.player('b', { maxProtocolMinor: minor }),
  ]);
}

/** `a` and `b` queue and are matched: the match (as `b` got it). */
async function matched(a: AuthClient, b: AuthClient) {
  const found = [a.next('matchFound', { timeoutMs: 10_000 }), b.next('matchFound', { timeoutMs: 10_000 })];
  await Promise.all([a.queue(MODE), b.queue(MODE)]);
  const [, fb] = await Promise.all(found);
  return fb!;
}

describe('a client deadline that passes while its event loop is stalled, the answer waiting in the socket', () => {
  it('matchmake (timeoutMs): the session offer that came in time is taken, and the seat claimed', async () => {
    const [a, b] = await pair(2);
    const TIMEOUT_MS = 3000;
    const startedAt = Date.now();
    const ticket = a.matchmake({ mode: MODE, timeoutMs: TIMEOUT_MS });
    ticket.catch(() => undefined);
    let stalledAt: Promise<number> | undefined;
    // b confirms shortly before a's deadline: the offers (1.2: session.ready) go out then
    const other = b.matchmake({
      mode: MODE,
      timeoutMs: 20_000,
      confirm: async () => {
        await sleepUntil(startedAt + TIMEOUT_MS - STALL_MS / 2);
        stalledAt = stallAfter(live.auth, 'notifyPlayer', (playerId, _minor, type) => playerId === a.id && type === 'session.ready').stalled;
        return true;
      },
    });
    // resolves once b confirmed and the stall is over
    await tookInTime(
      pollUntil(() => stalledAt, 'b to confirm', 10_000),
      startedAt + TIMEOUT_MS,
      [ticket, other],
    );
  }, 30_000);

  it('the hand-off of a 1.3 confirmation (claimTimeoutMs): the pushed hand-off that came in time is taken', async () => {
    const CLAIM_MS = 300;
    const [a, b] = await pair(3, CLAIM_MS);
    const found = await matched(a, b);
    // a's seat is claimed with its confirmation; its hand-off is due CLAIM_MS after the confirmation deadline
    await a.confirmMatch(found.matchId);
    const handoff = a.waitForHandoff();
    handoff.catch(() => undefined);
    const deadline = found.confirmBy + CLAIM_MS;
    // b confirms last, shortly before a's deadline: the session is set up and the hand-offs pushed then
    await sleepUntil(deadline - STALL_MS / 2);
    const { stalled } = stallAfter(live.auth, 'notifyPlayer', (playerId, _minor, type) => playerId === a.id && type === 'session.handoff');
    await b.confirmMatch(found.matchId);
    await tookInTime(stalled, deadline, [handoff, b.waitForHandoff()]);
  }, 30_000);

  // the shortest claim wait there is: 30 s (claimBy, or now, plus 30 s)
  it('claim: the answer that came in time is taken', async () => {
    const CLAIM_MS = 30_000;
    const [a, b] = await pair(2, CLAIM_MS);
    const found = await matched(a, b);
    const ready = [a.next('sessionReady', { timeoutMs: 10_000 }), b.next('sessionReady', { timeoutMs: 10_000 })];
    await Promise.all([a.confirmMatch(found.matchId), b.confirmMatch(found.matchId)]);
    const [ra, rb] = await Promise.all(ready);
    // without the server's claimBy (the Auth's is further off) the claim waits claimTimeoutMs
    const deadline = Date.now() + CLAIM_MS;
    const claimed = a.claim({ sessionId: ra!.sessionId, needsPublicKey: ra!.needsPublicKey });
    claimed.catch(() => undefined);
    // b claims last, shortly before a's deadline: the host takes the session and both claims are answered then
    await sleepUntil(deadline - STALL_MS / 2);
    const { stalled } = stallAfter(live.auth, 'noteHandoff', (_ms, ok) => ok);
    await tookInTime(stalled, deadline, [claimed, b.claim(rb!)]);
  }, 60_000);
});
