/**
 * The re-queue race at hand-off: a player whose game just ended queues again as soon as the host
 * gives it the result, and may reach the Auth before the host's report that the session ended. Its
 * ticket is held out of matching while the Auth still sees it in a live session, and matched once
 * that session is over; before, it was matched at once, the new session could not be created
 * (`session.player_busy`) and the whole match was cancelled.
 */
import { describe, expect, it } from 'vitest';
import type { Match, MatchmakingEvent } from '../../src/auth/matchmaking.js';
import { MemorySessionStore, type HandOff } from '../../src/auth/sessions.js';
import { domain } from './helpers.js';

const S = 1000;
const playersOf = (m: Match) => [...m.players].sort();
const handOff = (sessionId: string, p: string): HandOff => ({ sessionId, host: { name: 'h1', address: '127.0.0.1:1' }, transport: 'quic', credentials: p });

/** A session for `players` on host h1, handed off: live until the host reports its end. */
async function liveSession(d: ReturnType<typeof domain>, players: string[], now: number) {
  const r = await d.sessions.create({ hostName: 'h1', transport: 'quic', players, origin: { kind: 'match', id: `m-${players.join('')}` } }, now);
  await d.sessions.hostAcked(r.id, Object.fromEntries(players.map((p) => [p, handOff(r.id, p)])), now);
  return r.id;
}

/** Queues a solo ticket the way the server does: the player's live session looked up first. */
async function queue(d: ReturnType<typeof domain>, player: string, now: number) {
  const st = await d.sessions.statusOf(player);
  return d.matchmaker.enqueue({ players: [player], mode: 'duel', matchSize: 2, ...(st.state !== 'none' ? { heldBy: [st.sessionId] } : {}) }, now);
}

describe('re-queue right after a game (sans-IO)', () => {
  it('a player still in its session is held until the session ends, then matched, and the new session is created', async () => {
    let n = 0;
    const d = domain({ sessions: { newId: () => `S${++n}` } });
    const s1 = await liveSession(d, ['a', 'b'], 0);
    // the host told a its result; a queues before the host's report reaches the Auth
    const ta = await queue(d, 'a', 10);
    await queue(d, 'c', 11);
    // before: a and c were matched here, and the hand-off's create failed (a: session.player_busy)
    expect(d.matchmaker.tick(20)).toEqual([]);
    expect(ta.heldBy).toEqual([s1]);
    expect(d.matchmaker.stats).toEqual({ queuedTickets: 2, queuedPlayers: 2, pendingMatches: 0 });
    expect(d.matchmaker.queues()).toEqual([{ mode: 'duel', matchSize: 2, tickets: 2, players: 2 }]);

    // the report arrives: the session ends and a's ticket may be matched
    await d.sessions.hostEnded('h1', s1, () => ({ outcomes: {} }), 30);
    expect(d.matchmaker.ticketOf('a')?.heldBy).toBeUndefined();
    const [m] = d.matchmaker.tick(40);
    expect(playersOf(m!)).toEqual(['a', 'c']);
    const confirmed: MatchmakingEvent[] = [];
    d.on('match', (e) => e.type === 'confirmed' && confirmed.push(e));
    d.matchmaker.accept(m!.id, 'a', 41);
    d.matchmaker.accept(m!.id, 'c', 42);
    expect(confirmed).toHaveLength(1);
    // what the hand-off does next: the new session's record is created, no longer refused as busy
    const s2 = await d.sessions.create({ hostName: 'h1', transport: 'quic', players: ['a', 'c'], origin: { kind: 'match', id: m!.id } }, 43);
    expect(s2.state).toBe('created');
  });

  it('a held ticket keeps its place in line: released, it goes before a ticket queued after it', async () => {
    let n = 0;
    const d = domain({ sessions: { newId: () => `S${++n}` } });
    const s1 = await liveSession(d, ['a', 'x'], 0);
    await queue(d, 'a', 10); // held
    await queue(d, 'b', 11);
    expect(d.matchmaker.tick(12)).toEqual([]); // b alone may be matched: nobody to play
    await queue(d, 'c', 13);
    await d.sessions.fail(s1, 'host-ack-timeout', 14); // failed, lost or ended: over all the same
    await queue(d, 'e', 15);
    const ms = d.matchmaker.tick(20);
    // the line is a, b, c, e: a (first in line) anchors the first match
    expect(ms.map(playersOf)).toEqual([
      ['a', 'b'],
      ['c', 'e'],
    ]);
  });

  it('a party is held until every session holding it is over; a lost session releases it too', async () => {
    let n = 0;
    const d = domain({ sessions: { newId: () => `S${++n}` } });
    const s1 = await liveSession(d, ['p', 'x'], 0);
    const s2 = await liveSession(d, ['q', 'y'], 0);
    const heldBy = await d.sessions.liveSessionsOf(['p', 'q']);
    expect(heldBy.sort()).toEqual([s1, s2]);
    d.matchmaker.enqueue({ players: ['p', 'q'], mode: 'duo', matchSize: 2, heldBy }, 1);
    await d.sessions.hostEnded('h1', s1, () => ({}), 2);
    expect(d.matchmaker.tick(3)).toEqual([]);
    expect(d.matchmaker.ticketOf('p')?.heldBy).toEqual([s2]);
    await d.sessions.hostLost('h1', 4);
    expect(d.matchmaker.tick(5).map(playersOf)).toEqual([['p', 'q']]);
  });

  it('a hold is bounded: after maxHoldMs the ticket leaves the queue (in_session), not into a match', async () => {
    let n = 0;
    const d = domain({ sessions: { newId: () => `S${++n}` }, matchmaker: { maxHoldMs: 5 * S } });
    const s1 = await liveSession(d, ['a', 'x'], 0);
    const removed: MatchmakingEvent[] = [];
    d.on('match', (e) => e.type === 'removed' && removed.push(e));
    await queue(d, 'a', 0);
    await queue(d, 'b', 0);
    expect(d.matchmaker.tick(5 * S - 1)).toEqual([]);
    expect(removed).toEqual([]);
    expect(d.matchmaker.tick(5 * S)).toEqual([]);
    expect(removed).toEqual([{ type: 'removed', reason: 'in_session', ticket: expect.objectContaining({ players: ['a'], heldBy: [s1] }) }]);
    expect(d.matchmaker.ticketOf('a')).toBeUndefined();
    expect(d.matchmaker.heldSessions()).toEqual([]);
    // the player may queue again (held again while the session is live)
    expect((await queue(d, 'a', 5 * S)).heldBy).toEqual([s1]);
  });

  it('a held ticket can be cancelled; bad hold lists are refused; an unknown session is ignored', () => {
    const d = domain();
    const t = d.matchmaker.enqueue({ players: ['a'], mode: 'duel', matchSize: 2, heldBy: ['S9'] }, 0);
    expect(d.matchmaker.heldSessions()).toEqual(['S9']);
    d.matchmaker.sessionOver('S404', 1);
    d.matchmaker.cancel(t.id, 2);
    expect(d.matchmaker.ticketOf('a')).toBeUndefined();
    expect(d.matchmaker.heldSessions()).toEqual([]);
    expect(d.matchmaker.stats).toEqual({ queuedTickets: 0, queuedPlayers: 0, pendingMatches: 0 });
    d.matchmaker.sessionOver('S9', 3); // its ticket is gone: nothing to release
    expect(() => d.matchmaker.enqueue({ players: ['b'], mode: 'duel', matchSize: 2, heldBy: [''] }, 4)).toThrow(
      expect.objectContaining({ code: 'mm.bad_request' }),
    );
    expect(() => domain({ matchmaker: { maxHoldMs: -1 } })).toThrow(expect.objectContaining({ code: 'mm.bad_request' }));
  });

  it('a session that ended through another Auth node (shared records, no event here) releases the hold on the next pass', async () => {
    // two nodes sharing the session records: the leader (matchmaker) and the node the host reported to
    const store = new MemorySessionStore();
    const leader = domain({ sessions: { store, newId: () => 'S1' } });
    const other = domain({ sessions: { store } });
    const s1 = await liveSession(leader, ['a', 'b'], 0);
    await queue(leader, 'a', 1);
    await queue(leader, 'c', 1);
    await other.sessions.hostEnded('h1', s1, () => ({}), 2);
    expect(leader.matchmaker.tick(3)).toEqual([]); // the leader heard nothing yet
    await leader.releaseHolds(4);
    expect(leader.matchmaker.tick(5).map(playersOf)).toEqual([['a', 'c']]);
  });

  it('a session that ends between the look-up and the enqueue does not hold the ticket past the next pass', async () => {
    let n = 0;
    const d = domain({ sessions: { newId: () => `S${++n}` } });
    const s1 = await liveSession(d, ['a', 'b'], 0);
    const heldBy = await d.sessions.liveSessionsOf(['a']);
    await d.sessions.hostEnded('h1', s1, () => ({}), 1); // its event releases nothing yet
    d.matchmaker.enqueue({ players: ['a'], mode: 'duel', matchSize: 2, heldBy }, 2);
    await queue(d, 'c', 2);
    expect(d.matchmaker.tick(3)).toEqual([]);
    await d.releaseHolds(4);
    expect(d.matchmaker.tick(5).map(playersOf)).toEqual([['a', 'c']]);
  });
});
