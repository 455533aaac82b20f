import { describe, expect, it } from 'vitest';
import type { Match, Matchmaker, MatchmakerOptions, MatchmakingEvents } from '../../src/auth/matchmaking.js';
import { domain, domainOf } from './helpers.js';

const S = 1000; // one second in ms

function record(mm: Matchmaker) {
  const log: Array<[keyof MatchmakingEvents, any]> = [];
  domainOf(mm).on('match', ({ type, ...payload }) => log.push([type, payload]));
  return log;
}
/** The matchmaker through its driver, so `record` hears its events. */
const newMatchmaker = (opts?: MatchmakerOptions): Matchmaker => domain(opts ? { matchmaker: opts } : {}).matchmaker;
const playersOf = (m: Match) => [...m.players].sort();
const errCode = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
};

describe('matchmaking: grouping and parties', () => {
  it('groups by mode and match size and never mixes them', () => {
    const mm = newMatchmaker();
    mm.enqueue({ players: ['a'], mode: 'duel', matchSize: 2 }, 0);
    mm.enqueue({ players: ['b'], mode: 'ffa', matchSize: 2 }, 0);
    mm.enqueue({ players: ['c'], mode: 'duel', matchSize: 3 }, 0);
    expect(mm.tick(S)).toEqual([]);
    mm.enqueue({ players: ['d'], mode: 'duel', matchSize: 2 }, S);
    const [m] = mm.tick(2 * S);
    expect(m).toMatchObject({ mode: 'duel', matchSize: 2 });
    expect(playersOf(m!)).toEqual(['a', 'd']);
    expect(mm.stats).toEqual({ queuedTickets: 2, queuedPlayers: 2, pendingMatches: 1 });
  });

  it('keeps parties together and fills exactly (a 2 waits for a 2 when a 1 would not fit)', () => {
    const mm = newMatchmaker();
    mm.enqueue({ players: ['p1', 'p2'], mode: 'm', matchSize: 4 }, 0); // anchor: needs 2 more
    mm.enqueue({ players: ['s1'], mode: 'm', matchSize: 4 }, 1);
    mm.enqueue({ players: ['t1', 't2', 't3'], mode: 'm', matchSize: 4 }, 2);
    mm.enqueue({ players: ['q1', 'q2'], mode: 'm', matchSize: 4 }, 3);
    const ms = mm.tick(S);
    // p-party (2) + q-party (2) for the first; s (1) + t (3) for the second.
    expect(ms.map(playersOf)).toEqual([
      ['p1', 'p2', 'q1', 'q2'],
      ['s1', 't1', 't2', 't3'],
    ]);
  });

  it('a full party is a match on its own; bad requests are refused', () => {
    const mm = newMatchmaker();
    mm.enqueue({ players: ['a', 'b'], mode: 'coop', matchSize: 2 }, 0);
    expect(mm.tick(0).map(playersOf)).toEqual([['a', 'b']]);
    expect(errCode(() => mm.enqueue({ players: ['x', 'y', 'z'], mode: 'coop', matchSize: 2 }, 0))).toBe('mm.bad_request');
    expect(errCode(() => mm.enqueue({ players: ['x', 'x'], mode: 'coop', matchSize: 2 }, 0))).toBe('mm.bad_request');
    expect(errCode(() => mm.enqueue({ players: ['a'], mode: 'coop', matchSize: 2 }, 0))).toBe('mm.already_queued');
    expect(errCode(() => mm.enqueue({ players: ['x'], mode: 'coop', matchSize: 0 }, 0))).toBe('mm.bad_request');
  });
});

describe('matchmaking: regions', () => {
  it("matches only on a shared region and prefers the anchor's first choice", () => {
    const mm = newMatchmaker({ defaults: { regionFallbackMs: Infinity } });
    mm.enqueue({ players: ['a'], mode: 'm', matchSize: 2, regions: ['eu', 'us'] }, 0);
    mm.enqueue({ players: ['b'], mode: 'm', matchSize: 2, regions: ['asia'] }, 0);
    expect(mm.tick(S)).toEqual([]);
    mm.enqueue({ players: ['c'], mode: 'm', matchSize: 2, regions: ['us'] }, S);
    mm.enqueue({ players: ['d'], mode: 'm', matchSize: 2, regions: ['eu'] }, S);
    const [m] = mm.tick(2 * S);
    expect(m!.region).toBe('eu');
    expect(playersOf(m!)).toEqual(['a', 'd']);
    expect(mm.tick(3 * S)).toEqual([]); // b (asia) and c (us) never meet
  });

  it('a ticket with no preference, or waiting past the fallback, takes any region', () => {
    const mm = newMatchmaker({ defaults: { regionFallbackMs: 10 * S } });
    mm.enqueue({ players: ['a'], mode: 'm', matchSize: 2, regions: ['eu'] }, 0);
    mm.enqueue({ players: ['b'], mode: 'm', matchSize: 2, regions: ['us'] }, 0);
    expect(mm.tick(9 * S)).toEqual([]);
    const [m] = mm.tick(10 * S);
    expect(m!.region).toBe('eu'); // the anchor's own first choice
    mm.enqueue({ players: ['c'], mode: 'm', matchSize: 2 }, 11 * S);
    mm.enqueue({ players: ['d'], mode: 'm', matchSize: 2, regions: ['us'] }, 11 * S);
    const [m2] = mm.tick(11 * S);
    expect(m2!.region).toBe('us');
    mm.enqueue({ players: ['e'], mode: 'm', matchSize: 2 }, 12 * S);
    mm.enqueue({ players: ['f'], mode: 'm', matchSize: 2 }, 12 * S);
    expect(mm.tick(12 * S)[0]!.region).toBeUndefined();
  });
});

describe('matchmaking: rating window', () => {
  const rules = { rating: { baseWindow: 100, widenPerSecond: 10, maxWindow: 300 }, regionFallbackMs: Infinity };

  it('widens with waiting time, up to the maximum', () => {
    const mm = newMatchmaker({ modes: { ranked: rules } });
    expect(mm.ratingWindow('ranked', 0)).toBe(100);
    expect(mm.ratingWindow('ranked', 5 * S)).toBe(150);
    expect(mm.ratingWindow('ranked', 100 * S)).toBe(300);
    expect(mm.ratingWindow('casual', 100 * S)).toBe(Infinity);
  });

  it('matches distant ratings only once the window covers them, never beyond the cap', () => {
    const mm = newMatchmaker({ modes: { ranked: rules } });
    mm.enqueue({ players: ['a'], mode: 'ranked', matchSize: 2, rating: 1000 }, 0);
    mm.enqueue({ players: ['b'], mode: 'ranked', matchSize: 2, rating: 1180 }, 0);
    mm.enqueue({ players: ['far'], mode: 'ranked', matchSize: 2, rating: 2000 }, 0);
    expect(mm.tick(7 * S)).toEqual([]); // window 170 < 180
    const [m] = mm.tick(8 * S); // window 180
    expect(playersOf(m!)).toEqual(['a', 'b']);
    mm.enqueue({ players: ['c'], mode: 'ranked', matchSize: 2, rating: 1500 }, 8 * S);
    expect(mm.tick(1000 * S)).toEqual([]); // 500 apart: beyond maxWindow forever
  });

  it('prefers the nearest rating within the window', () => {
    const mm = newMatchmaker({ modes: { ranked: rules } });
    mm.enqueue({ players: ['a'], mode: 'ranked', matchSize: 2, rating: 1000 }, 0);
    mm.enqueue({ players: ['b'], mode: 'ranked', matchSize: 2, rating: 1090 }, 0);
    mm.enqueue({ players: ['c'], mode: 'ranked', matchSize: 2, rating: 1010 }, 0);
    mm.enqueue({ players: ['d'], mode: 'ranked', matchSize: 2, rating: 1095 }, 0);
    expect(mm.tick(0).map(playersOf)).toEqual([
      ['a', 'c'],
      ['b', 'd'],
    ]);
  });

  it('requires a rating in rated modes', () => {
    const mm = newMatchmaker({ modes: { ranked: rules } });
    expect(errCode(() => mm.enqueue({ players: ['a'], mode: 'ranked', matchSize: 2 }, 0))).toBe('mm.rating_required');
  });
});

describe('matchmaking: cancel and confirm', () => {
  it('cancel removes a queued ticket and frees its players', () => {
    const mm = newMatchmaker();
    const log = record(mm);
    const t = mm.enqueue({ players: ['a'], mode: 'm', matchSize: 2 }, 0);
    mm.cancel(t.id, 1);
    expect(mm.ticketOf('a')).toBeUndefined();
    expect(log.at(-1)).toEqual(['removed', { ticket: t, reason: 'cancelled' }]);
    mm.enqueue({ players: ['b'], mode: 'm', matchSize: 2 }, 2);
    expect(mm.tick(3)).toEqual([]);
    expect(errCode(() => mm.cancel(t.id, 4))).toBe('mm.unknown_ticket');
    mm.enqueue({ players: ['c', 'd'], mode: 'm', matchSize: 3 }, 5);
    expect(mm.cancelFor('d', 6)).toBe(true); // a party member cancels for the party
    expect(mm.ticketOf('c')).toBeUndefined();
    expect(mm.cancelFor('d', 7)).toBe(false);
  });

  it('confirms when everyone accepts; players may queue again', () => {
    const mm = newMatchmaker();
    const log = record(mm);
    mm.enqueue({ players: ['a', 'b'], mode: 'm', matchSize: 3 }, 0);
    mm.enqueue({ players: ['c'], mode: 'm', matchSize: 3 }, 0);
    const [m] = mm.tick(0);
    expect(errCode(() => mm.accept(m!.id, 'zz', 1))).toBe('mm.not_in_match');
    mm.accept(m!.id, 'a', 1);
    mm.accept(m!.id, 'a', 1);
    mm.accept(m!.id, 'c', 1);
    expect(log.filter(([n]) => n === 'confirmed')).toHaveLength(0);
    mm.accept(m!.id, 'b', 2);
    const confirmed = log.filter(([n]) => n === 'confirmed');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]![1].match.accepted.sort()).toEqual(['a', 'b', 'c']);
    expect(mm.stats).toEqual({ queuedTickets: 0, queuedPlayers: 0, pendingMatches: 0 });
    mm.enqueue({ players: ['a'], mode: 'm', matchSize: 3 }, 3);
    expect(errCode(() => mm.accept(m!.id, 'a', 3))).toBe('mm.unknown_match');
  });

  it("a decline removes the decliner's party and puts the others first in line with their wait", () => {
    const mm = newMatchmaker({ defaults: { rating: { baseWindow: 100, widenPerSecond: 10, maxWindow: 1000 } } });
    const log = record(mm);
    mm.enqueue({ players: ['a'], mode: 'm', matchSize: 2, rating: 1000 }, 0);
    mm.enqueue({ players: ['b'], mode: 'm', matchSize: 2, rating: 1000 }, 0);
    const [m] = mm.tick(S);
    // Newcomers arrive while the proposal is out.
    mm.enqueue({ players: ['x'], mode: 'm', matchSize: 2, rating: 1000 }, 2 * S);
    mm.accept(m!.id, 'a', 2 * S);
    mm.decline(m!.id, 'b', 3 * S);
    const failed = log.find(([n]) => n === 'failed')![1];
    expect(failed.reason).toBe('declined');
    expect(failed.removed.map((t: any) => t.players)).toEqual([['b']]);
    expect(failed.requeued.map((t: any) => t.players)).toEqual([['a']]);
    expect(mm.ticketOf('b')).toBeUndefined();
    expect(mm.ticketOf('a')!.waitingSince).toBe(0); // original wait time kept
    mm.enqueue({ players: ['y'], mode: 'm', matchSize: 2, rating: 1000 }, 3 * S);
    // 'a' is first in line: it anchors and takes the next in line ('x'), not 'y'.
    const [m2] = mm.tick(4 * S);
    expect(playersOf(m2!)).toEqual(['a', 'x']);
  });

  it('a timeout removes only non-responders; requeued go ahead of everyone queued before', () => {
    const mm = newMatchmaker({ defaults: { confirmTimeoutMs: 10 * S } });
    const log = record(mm);
    mm.enqueue({ players: ['a', 'a2'], mode: 'm', matchSize: 4 }, 0);
    mm.enqueue({ players: ['b'], mode: 'm', matchSize: 4 }, 0);
    mm.enqueue({ players: ['c'], mode: 'm', matchSize: 4 }, 0);
    const [m] = mm.tick(0);
    mm.accept(m!.id, 'a', S);
    mm.accept(m!.id, 'b', S);
    mm.accept(m!.id, 'c', S); // a2 never answers: the whole a-party goes
    mm.enqueue({ players: ['old1', 'old2'], mode: 'm', matchSize: 4 }, 2 * S);
    // Before the deadline b and c are still held by the proposal, so the old party cannot fill.
    expect(mm.tick(9 * S)).toEqual([]);
    mm.enqueue({ players: ['new'], mode: 'm', matchSize: 4 }, 9 * S);
    const proposed = mm.tick(10 * S);
    const failed = log.find(([n]) => n === 'failed')![1];
    expect(failed.reason).toBe('timeout');
    expect(failed.removed.map((t: any) => t.players)).toEqual([['a', 'a2']]);
    expect(log.filter(([n]) => n === 'removed').map(([, e]) => e.reason)).toEqual(['timeout']);
    // b and c are first in line, so they anchor the new match with the old party.
    expect(proposed.map(playersOf)).toEqual([['b', 'c', 'old1', 'old2']]);
    expect(mm.ticketOf('new')!.waitingSince).toBe(9 * S);
  });

  it('cancelling a ticket inside a proposal fails the proposal like a decline', () => {
    const mm = newMatchmaker();
    const log = record(mm);
    const a = mm.enqueue({ players: ['a'], mode: 'm', matchSize: 2 }, 0);
    mm.enqueue({ players: ['b'], mode: 'm', matchSize: 2 }, 0);
    mm.tick(0);
    mm.cancel(a.id, 1);
    expect(log.find(([n]) => n === 'failed')![1].reason).toBe('cancelled');
    expect(mm.stats).toEqual({ queuedTickets: 1, queuedPlayers: 1, pendingMatches: 0 });
  });
});

describe('matchmaking: the line kept in order as tickets come and go', () => {
  it('new tickets at the back, put-back ones at the front in their order, cancels out of the middle, a bucket emptied and started again', () => {
    // one match in flight at a time, so each tick shows who is first in line
    const mm = newMatchmaker({ maxMatchesInFlight: 1 });
    for (const p of ['a', 'b', 'c', 'd', 'e', 'f']) mm.enqueue({ players: [p], mode: 'duel', matchSize: 2 }, 0);
    const confirm = (m: Match) => {
      for (const p of m.players) mm.accept(m.id, p, S);
    };
    const [m1] = mm.tick(S);
    expect(playersOf(m1!)).toEqual(['a', 'b']);
    mm.cancelFor('d', S); // out of the middle
    mm.decline(m1!.id, 'a', S); // b goes back to the front
    mm.enqueue({ players: ['g'], mode: 'duel', matchSize: 2 }, S); // g to the back
    const [m2] = mm.tick(S);
    expect(playersOf(m2!)).toEqual(['b', 'c']);
    confirm(m2!);
    // a party of 2 cannot join e; it waits while e and f, then g and h are matched
    mm.enqueue({ players: ['x', 'y'], mode: 'duel', matchSize: 2 }, S);
    mm.enqueue({ players: ['h'], mode: 'duel', matchSize: 2 }, S);
    const [m3] = mm.tick(S);
    expect(playersOf(m3!)).toEqual(['e', 'f']);
    mm.decline(m3!.id, 'f', S); // e alone goes back to the front, ahead of g
    const [m4] = mm.tick(S);
    expect(playersOf(m4!)).toEqual(['e', 'g']);
    confirm(m4!);
    const [m5] = mm.tick(S);
    expect(playersOf(m5!)).toEqual(['x', 'y']);
    confirm(m5!);
    // h is alone; when h leaves the bucket is gone, and a new line starts from nothing
    mm.cancelFor('h', S);
    expect(mm.stats.queuedTickets).toBe(0);
    for (const p of ['i', 'j', 'k']) mm.enqueue({ players: [p], mode: 'duel', matchSize: 2 }, 2 * S);
    const [m6] = mm.tick(2 * S);
    expect(playersOf(m6!)).toEqual(['i', 'j']);
    // two put back together keep their order among themselves, ahead of k
    const mm2 = newMatchmaker({ maxMatchesInFlight: 1 });
    for (const p of ['p', 'q', 'r']) mm2.enqueue({ players: [p], mode: 'ffa', matchSize: 3 }, 0);
    mm2.enqueue({ players: ['s'], mode: 'ffa', matchSize: 3 }, 0);
    const [n1] = mm2.tick(S);
    expect(playersOf(n1!)).toEqual(['p', 'q', 'r']);
    mm2.decline(n1!.id, 'q', S);
    mm2.enqueue({ players: ['t'], mode: 'ffa', matchSize: 3 }, S);
    const [n2] = mm2.tick(S);
    expect(n2!.players).toEqual(['p', 'r', 's']);
  });
});

describe('matchmaking: determinism', () => {
  it('the same inputs give the same matches', () => {
    const run = () => {
      const mm = newMatchmaker({ modes: { r: { rating: { baseWindow: 20, widenPerSecond: 5, maxWindow: 200 } } } });
      const out: string[][] = [];
      for (let i = 0; i < 300; i++) {
        const size = (i % 3) + 1;
        mm.enqueue(
          {
            players: Array.from({ length: size }, (_, k) => `p${i}-${k}`),
            mode: 'r',
            matchSize: 6,
            regions: [['eu'], ['us'], ['eu', 'us'], []][i % 4]!,
            rating: (i * 7919) % 600,
          },
          i * 100,
        );
        if (i % 25 === 0) out.push(...mm.tick(i * 100).map((m) => m.players));
      }
      for (let t = 30_000; t < 90_000; t += 5000) out.push(...mm.tick(t).map((m) => m.players));
      return out;
    };
    const a = run();
    expect(a.length).toBeGreaterThan(20);
    expect(run()).toEqual(a);
  });
});

describe('matchmaking: mode names from clients (issue 9, item 8)', () => {
  it('modes named "constructor", "__proto__" and "toString" are ordinary unlisted modes', () => {
    const rated = { rating: { baseWindow: 10, widenPerSecond: 0, maxWindow: 10 } };
    const mm = newMatchmaker({ modes: { ranked: rated }, defaults: { confirmTimeoutMs: 5 * S } });
    for (const mode of ['constructor', '__proto__', 'toString']) {
      expect(mm.ratingWindow(mode, 0)).toBe(Infinity);
      mm.enqueue({ players: [`${mode}-a`], mode, matchSize: 2 }, 0);
      mm.enqueue({ players: [`${mode}-b`], mode, matchSize: 2 }, 0);
    }
    const ms = mm.tick(S);
    expect(ms.map((m) => [m.mode, m.deadline])).toEqual([
      ['constructor', 6 * S],
      ['__proto__', 6 * S],
      ['toString', 6 * S],
    ]);
    // a mode named like an own key of the table still gets its rules
    expect(mm.ratingWindow('ranked', 0)).toBe(10);
  });
});
