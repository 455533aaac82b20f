import { describe, expect, it } from 'vitest';
import { MAX_MATCHES_IN_FLIGHT, Matchmaker, type Match, type MatchmakerOptions, type MatchmakingEvent } from '../../src/auth/matchmaking.js';

/**
 * Issue 14: a burst of matchmakes is absorbed. The matchmaker keeps at most `maxMatchesInFlight`
 * matches proposed or being handed off, proposes more only as earlier ones finish, oldest tickets
 * first, and still cancels a match whose player never answers.
 */

const S = 1000;
const solo = (p: string, mode = 'duel') => ({ players: [p], mode, matchSize: 2 });
const events = (mm: Matchmaker) => mm.takeEvents();
const ofType = <T extends MatchmakingEvent['type']>(es: MatchmakingEvent[], type: T) =>
  es.filter((e): e is Extract<MatchmakingEvent, { type: T }> => e.type === type);
const acceptAll = (mm: Matchmaker, m: Match, now: number) => {
  for (const p of m.players) mm.accept(m.id, p, now);
};

describe('matchmaking: matches in flight are capped', () => {
  it('a burst proposes only up to the cap, oldest first; more as proposals are answered and hand-offs finish', () => {
    const mm = new Matchmaker({ maxMatchesInFlight: 4 });
    for (let i = 0; i < 40; i++) mm.enqueue(solo(`p${i}`), i);
    const first = mm.tick(S);
    expect(first.map((m) => m.players)).toEqual([
      ['p0', 'p1'],
      ['p2', 'p3'],
      ['p4', 'p5'],
      ['p6', 'p7'],
    ]);
    // the rest are still queued (nobody beyond the cap was offered a match)
    expect(mm.stats).toMatchObject({ queuedTickets: 32, pendingMatches: 4 });
    expect(mm.ticketOf('p8')).toBeDefined();
    expect(mm.tick(2 * S)).toEqual([]);

    // two answered: confirmed, but the caller is still handing them off, so they still count
    acceptAll(mm, first[0]!, 2 * S);
    acceptAll(mm, first[1]!, 2 * S);
    expect(ofType(events(mm), 'confirmed')).toHaveLength(2);
    expect(mm.tick(3 * S, { handingOff: 2 })).toEqual([]);
    // one hand-off done: one more, the next in line
    expect(mm.tick(4 * S, { handingOff: 1 }).map((m) => m.players)).toEqual([['p8', 'p9']]);
    // all done: the room fills again, and the tickets passed over earlier were not left marked
    expect(mm.tick(5 * S, { handingOff: 0 }).map((m) => m.players)).toEqual([['p10', 'p11']]);
    acceptAll(mm, first[2]!, 5 * S);
    acceptAll(mm, first[3]!, 5 * S);
    expect(mm.tick(6 * S).map((m) => m.players)).toEqual([
      ['p12', 'p13'],
      ['p14', 'p15'],
    ]);
  });

  it('the room goes to the earliest tickets in line across modes, requeued tickets first', () => {
    const mm = new Matchmaker({ maxMatchesInFlight: 2 });
    // duel players queue first, then ffa, then more duel
    for (const p of ['d0', 'd1']) mm.enqueue(solo(p, 'duel'), 0);
    for (const p of ['f0', 'f1', 'f2', 'f3']) mm.enqueue(solo(p, 'ffa'), 0);
    for (const p of ['d2', 'd3']) mm.enqueue(solo(p, 'duel'), 0);
    const [a, b] = mm.tick(S);
    expect([a!.players, b!.players]).toEqual([
      ['d0', 'd1'],
      ['f0', 'f1'],
    ]);
    // d1 declines: d0 goes back to the front of the line, ahead of f2 and d2 who queued earlier than
    // the decline
    mm.decline(a!.id, 'd1', 2 * S);
    mm.enqueue(solo('d4', 'duel'), 2 * S);
    const next = mm.tick(3 * S);
    expect(next.map((m) => m.players)).toEqual([['d0', 'd2']]);
    acceptAll(mm, b!, 3 * S);
    expect(mm.tick(4 * S).map((m) => m.players)).toEqual([['f2', 'f3']]);
  });

  it('a player who never confirms still has the match cancelled at its deadline; the other goes first next', () => {
    const mm = new Matchmaker({ maxMatchesInFlight: 1, defaults: { confirmTimeoutMs: 15 * S } });
    for (const p of ['a', 'b', 'c', 'd']) mm.enqueue(solo(p), 0);
    const [m] = mm.tick(S);
    mm.accept(m!.id, 'a', 2 * S); // b stays silent
    events(mm);
    // while the proposal waits, no other match is proposed
    expect(mm.tick(10 * S)).toEqual([]);
    const next = mm.tick(16 * S);
    const es = events(mm);
    const [failed] = ofType(es, 'failed');
    expect(failed).toMatchObject({ reason: 'timeout' });
    expect(failed!.removed.map((t) => t.players)).toEqual([['b']]);
    expect(failed!.requeued.map((t) => t.players)).toEqual([['a']]);
    expect(mm.ticketOf('b')).toBeUndefined();
    // the freed room goes to the requeued player first
    expect(next.map((x) => x.players)).toEqual([['a', 'c']]);
  });

  it('the default cap is MAX_MATCHES_IN_FLIGHT; Infinity proposes everything at once; nonsense is refused', () => {
    expect(new Matchmaker().maxMatchesInFlight).toBe(MAX_MATCHES_IN_FLIGHT);
    const all = new Matchmaker({ maxMatchesInFlight: Infinity });
    for (let i = 0; i < 400; i++) all.enqueue(solo(`p${i}`), 0);
    expect(all.tick(S)).toHaveLength(200);
    const capped = new Matchmaker();
    for (let i = 0; i < 400; i++) capped.enqueue(solo(`p${i}`), 0);
    expect(capped.tick(S)).toHaveLength(MAX_MATCHES_IN_FLIGHT);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new Matchmaker({ maxMatchesInFlight: bad })).toThrow(expect.objectContaining({ code: 'mm.bad_request' }));
    }
  });
});

describe('matchmaking: estimated wait', () => {
  it('is the matches ahead in line over the recent confirmation rate, absent without a rate or with too few players', () => {
    const mm = new Matchmaker({ maxMatchesInFlight: 2 });
    // nothing confirmed yet: no rate, no estimate
    expect(mm.enqueue(solo('p0'), 0).estimatedWaitMs).toBeUndefined();
    expect(mm.enqueue(solo('p1'), 0).estimatedWaitMs).toBeUndefined();
    for (let i = 2; i < 8; i++) mm.enqueue(solo(`p${i}`), 0);
    const [a, b] = mm.tick(0);
    acceptAll(mm, a!, 1 * S);
    acceptAll(mm, b!, 2 * S);
    // 2 confirmations between 1 s and now (5 s): 0.5 per second. 4 players queued ahead + this one
    // fill 3 matches (the last needs one more arrival): 6 s.
    const t = mm.enqueue(solo('p8'), 5 * S);
    expect(t.estimatedWaitMs).toBe(6 * S);
    // the snapshot in the event and in later lookups carries no estimate
    expect(mm.ticketOf('p8')).not.toHaveProperty('estimatedWaitMs');
    // another mode with nobody else queued: its match needs a player who is not here yet
    expect(mm.enqueue(solo('x0', 'ffa'), 5 * S).estimatedWaitMs).toBeUndefined();
    // a minute without confirmations: the old rate is forgotten
    expect(mm.enqueue(solo('p9'), 70 * S).estimatedWaitMs).toBeUndefined();
  });
});

/**
 * A burst on a simulated single-core Auth, in virtual time. Costs (ms of the Auth's one core):
 * each tick, each `match.found` sent, each confirmation received, and each confirmed match's
 * hand-off (minting, session record, host create). The hand-off work runs ahead of player messages
 * still waiting to be read (as promise continuations and timers do in the real event loop), so a
 * backlog of hand-offs delays the confirmations behind it. Players answer after 5-100 ms; every
 * `silentEvery`th player never answers.
 */
function simulateBurst(o: { players: number; mm: MatchmakerOptions; silentEvery: number }) {
  const TICK_EVERY = 250;
  const COST = { tick: 1, found: 0.5, confirm: 1, handoff: 25 };
  const mm = new Matchmaker(o.mm);
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const silent = new Set<string>();
  for (let i = 0; i < o.players; i++) {
    const p = `p${i}`;
    if (i % o.silentEvery === o.silentEvery - 1) silent.add(p);
    mm.enqueue(solo(p), 0);
  }
  const inbox: Array<{ at: number; matchId: string; player: string }> = [];
  const handoffs: string[] = [];
  let handingOff = 0;
  let now = 0;
  let nextTick = 0;
  let maxInFlight = 0;
  const confirmed = new Set<string>();
  const out = { expiredAnswered: 0, timeouts: 0, removed: [] as string[], proposals: 0, confirmedPlayers: 0 };
  const take = () => {
    for (const e of mm.takeEvents()) {
      if (e.type === 'confirmed') {
        handoffs.push(e.match.id);
        handingOff++;
        for (const p of e.match.players) confirmed.add(p);
      }
      if (e.type === 'failed') {
        out.timeouts++;
        // a proposal whose players all answered, yet it expired: the Auth's own backlog
        if (e.match.players.every((p) => !silent.has(p))) out.expiredAnswered++;
        for (const t of e.removed) out.removed.push(...t.players);
      }
    }
  };
  const living = o.players - silent.size;
  while (confirmed.size < living && now < 600 * S) {
    if (handoffs.length > 0) {
      handoffs.shift();
      now += COST.handoff;
      handingOff--;
    } else if (nextTick <= now) {
      const proposed = mm.tick(now, { handingOff });
      take();
      out.proposals += proposed.length;
      maxInFlight = Math.max(maxInFlight, mm.stats.pendingMatches + handingOff);
      now += COST.tick;
      for (const m of proposed) {
        for (const p of m.players) {
          now += COST.found;
          if (!silent.has(p)) inbox.push({ at: now + 5 + rand() * 95, matchId: m.id, player: p });
        }
      }
      inbox.sort((x, y) => x.at - y.at);
      nextTick = Math.max(nextTick + TICK_EVERY, now);
    } else if (inbox.length > 0 && inbox[0]!.at <= now) {
      const msg = inbox.shift()!;
      now += COST.confirm;
      try {
        mm.accept(msg.matchId, msg.player, now);
      } catch (e) {
        // the proposal expired before its answer was read
        expect((e as { code?: string }).code).toBe('mm.unknown_match');
      }
      take();
    } else {
      now = Math.min(nextTick, inbox[0]?.at ?? Infinity);
    }
  }
  out.confirmedPlayers = confirmed.size;
  return { ...out, silent, maxInFlight, endedAt: now };
}

describe('matchmaking: a burst on a busy Auth (simulated)', () => {
  it('2,000 players at once: no proposal expires because of the Auth backlog; the silent ones still time out', () => {
    const r = simulateBurst({ players: 2000, mm: {}, silentEvery: 97 });
    expect(r.confirmedPlayers).toBe(2000 - r.silent.size);
    expect(r.expiredAnswered).toBe(0);
    // each silent player's match timed out once and only the silent player left the queue
    expect(r.timeouts).toBe(r.silent.size);
    expect(new Set(r.removed)).toEqual(r.silent);
    expect(r.maxInFlight).toBeLessThanOrEqual(MAX_MATCHES_IN_FLIGHT);
    // about the hand-off work itself (1,000 x 25 ms), plus the silent players' 15 s
    expect(r.endedAt).toBeLessThan(60 * S);
  });

  it('without a cap the same burst expires proposals whose players all answered (the behaviour before issue 14)', () => {
    const r = simulateBurst({ players: 2000, mm: { maxMatchesInFlight: Infinity }, silentEvery: 97 });
    expect(r.expiredAnswered).toBeGreaterThan(100);
  });
});
