import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Match, Ticket } from '../../src/auth/matchmaking.js';
import { domain, onEvent } from './helpers.js';

/**
 * Random sequences of enqueue / cancel / tick / accept / decline / a session's end. A model fed
 * only by the events checks: no player is ever in two tickets or two matches, every ticket is
 * accounted for (queued, proposed, confirmed or removed, never silently gone), matches never mix
 * modes or sizes, and a ticket held by a live session is never matched, only removed once its hold
 * is over (`in_session`). A confirmed match's players are held while it is being set up: its set-up
 * is reported over now and then (became a session, or failed), or stops holding after maxHoldMs.
 */
const SESSIONS = ['S1', 'S2'];
const MAX_HOLD_MS = 40_000;
const POOL = Array.from({ length: 14 }, (_, i) => `p${i}`);

/** `holds`: some tickets are held by live sessions, which end now and then (else none is held). */
const commands = (holds: boolean) =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('enqueue' as const),
        size: fc.integer({ min: 1, max: 3 }),
        start: fc.nat(),
        mode: fc.constantFrom('casual', 'ranked'),
        matchSize: fc.constantFrom(2, 3, 4),
        regions: fc.subarray(['eu', 'us', 'asia'], { maxLength: 2 }),
        rating: fc.integer({ min: 800, max: 1400 }),
        // players still in a live session (the server looks them up): held until it is over
        heldBy: holds
          ? fc.oneof({ weight: 3, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.subarray(SESSIONS, { minLength: 1 }) })
          : fc.constant([] as string[]),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
    {
      weight: 3,
      // load: confirmed matches the caller says it is still handing off (they count against the cap)
      // over: a live session that held tickets ended just before this tick
      arbitrary: fc.record({
        op: fc.constant('tick' as const),
        advance: fc.integer({ min: 0, max: 20_000 }),
        load: fc.integer({ min: 0, max: 2 }),
        over: holds ? fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...SESSIONS) }) : fc.constant(null),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('accept' as const, 'decline' as const), pick: fc.nat(), who: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('acceptAll' as const), pick: fc.nat() }) },
    // a confirmed match's set-up is over: it became a live session (which holds its players' new tickets) or failed
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('setUp' as const), pick: fc.nat(), session: fc.oneof(fc.constant(null), fc.constantFrom(...SESSIONS)) }),
    },
  );

/** Runs the property; returns how often each path was reached. */
function check(holds: boolean, numRuns: number) {
  const seen = { proposed: 0, confirmed: 0, failed: 0, requeued: 0, released: 0, expired: 0, setUpHeld: 0 };
  fc.assert(
    fc.property(fc.constantFrom(Infinity, 1, 2, 3), fc.array(commands(holds), { minLength: 10, maxLength: 150 }), (cap, cmds) => {
      // the driver delivers events after each call and reports a listener's failed expectation here
      const failures: unknown[] = [];
      const d = domain({
        matchmaker: {
          maxMatchesInFlight: cap,
          maxHoldMs: MAX_HOLD_MS,
          modes: { ranked: { rating: { baseWindow: 50, widenPerSecond: 25, maxWindow: 600 }, regionFallbackMs: 30_000, confirmTimeoutMs: 10_000 } },
          defaults: { regionFallbackMs: 15_000, confirmTimeoutMs: 8_000 },
        },
        onListenerError: (err) => failures.push(err),
      });
      const mm = d.matchmaker;
      const state = new Map<string, 'queued' | 'pending'>(); // ticket id -> where the events say it is
      const tickets = new Map<string, Ticket>();
      const pending = new Map<string, Match>();
      const busy = new Map<string, string>(); // player -> ticket id
      const ever = new Set<string>();
      const ended = new Set<string>();
      const holds = new Map<string, Set<string>>(); // ticket id -> live sessions (or matches being set up) holding it
      const settingUp = new Map<string, number>(); // confirmed match id -> when, until its set-up is reported over

      onEvent(d, 'match', 'queued', ({ ticket }) => {
        if (ticket.heldBy) holds.set(ticket.id, new Set(ticket.heldBy));
        // a member of a match still being set up is held by that match
        const expected = new Set(ticket.players.flatMap((p) => [...settingUp.keys()].filter((m) => matchPlayers.get(m)!.includes(p))));
        for (const m of expected) expect(ticket.heldBy ?? []).toContain(m);
        if (expected.size > 0) seen.setUpHeld++;
      });
      onEvent(d, 'match', 'queued', ({ ticket }) => {
        expect(state.has(ticket.id)).toBe(false);
        for (const p of ticket.players) {
          expect(busy.has(p)).toBe(false);
          busy.set(p, ticket.id);
        }
        state.set(ticket.id, 'queued');
        tickets.set(ticket.id, ticket);
        ever.add(ticket.id);
      });
      onEvent(d, 'match', 'proposed', ({ match }) => {
        expect(pending.has(match.id)).toBe(false);
        expect(match.players).toHaveLength(match.matchSize);
        expect(new Set(match.players).size).toBe(match.players.length);
        for (const t of match.tickets) {
          expect(state.get(t.id)).toBe('queued');
          expect([...(holds.get(t.id) ?? [])]).toEqual([]);
          expect([t.mode, t.matchSize]).toEqual([match.mode, match.matchSize]);
          if (match.region !== undefined && t.regions.length > 0 && match.proposedAt - t.waitingSince < 15_000) {
            expect(t.regions).toContain(match.region);
          }
          state.set(t.id, 'pending');
        }
        for (const p of match.players) for (const other of pending.values()) expect(other.players).not.toContain(p);
        if (match.mode === 'ranked') {
          // The anchor comes first; everyone is within its window at proposal time.
          const anchor = match.tickets[0]!;
          const w = mm.ratingWindow('ranked', match.proposedAt - anchor.waitingSince);
          for (const t of match.tickets) expect(Math.abs(t.rating! - anchor.rating!)).toBeLessThanOrEqual(w);
        }
        pending.set(match.id, match);
        seen.proposed++;
      });
      const end = (t: Ticket) => {
        expect(state.has(t.id)).toBe(true);
        state.delete(t.id);
        ended.add(t.id);
        for (const p of t.players) busy.delete(p);
      };
      const matchPlayers = new Map<string, string[]>();
      onEvent(d, 'match', 'confirmed', ({ match }) => {
        seen.confirmed++;
        settingUp.set(match.id, now);
        matchPlayers.set(match.id, match.players);
        expect(pending.delete(match.id)).toBe(true);
        for (const t of match.tickets) {
          expect(state.get(t.id)).toBe('pending');
          end(t);
        }
      });
      onEvent(d, 'match', 'removed', ({ ticket, reason }) => {
        if (reason === 'in_session') {
          // only a ticket still held, and only once its hold has lasted maxHoldMs
          expect(holds.get(ticket.id)?.size ?? 0).toBeGreaterThan(0);
          expect(now - ticket.waitingSince).toBeGreaterThanOrEqual(MAX_HOLD_MS);
          seen.expired++;
        }
        end(ticket);
      });
      onEvent(d, 'match', 'failed', ({ match, removed, requeued }) => {
        seen.failed++;
        seen.requeued += requeued.length;
        expect(pending.delete(match.id)).toBe(true);
        expect(removed.length).toBeGreaterThan(0);
        expect(removed.length + requeued.length).toBe(match.tickets.length);
        for (const t of requeued) {
          expect(state.get(t.id)).toBe('pending');
          expect(t.waitingSince).toBe(tickets.get(t.id)!.waitingSince);
          state.set(t.id, 'queued');
        }
      });

      let now = 0;
      for (const c of cmds) {
        if (c.op === 'enqueue') {
          const free = POOL.filter((p) => !busy.has(p));
          const party = free.slice(c.start % (free.length || 1)).slice(0, Math.min(c.size, c.matchSize));
          if (party.length === 0) continue;
          mm.enqueue({ players: party, mode: c.mode, matchSize: c.matchSize, regions: c.regions, rating: c.rating, heldBy: c.heldBy }, now);
        } else if (c.op === 'cancel') {
          const live = [...state.keys()];
          if (live.length) mm.cancel(live[c.pick % live.length]!, now);
        } else if (c.op === 'tick') {
          now += c.advance;
          if (c.over !== null) {
            mm.sessionOver(c.over, now);
            for (const h of holds.values()) h.delete(c.over);
            seen.released++;
          }
          // a set-up never reported over stops holding after maxHoldMs
          for (const [m, at] of settingUp) {
            if (at + MAX_HOLD_MS > now) continue;
            settingUp.delete(m);
            for (const h of holds.values()) h.delete(m);
          }
          const before = seen.proposed;
          mm.tick(now, { handingOff: c.load });
          // matches in flight (proposed + handed off) stay within the cap whenever a tick proposes
          if (seen.proposed > before) expect(mm.stats.pendingMatches + c.load).toBeLessThanOrEqual(cap);
        } else if (c.op === 'setUp') {
          const ms = [...settingUp.keys()];
          if (!ms.length) continue;
          const m = ms[c.pick % ms.length]!;
          settingUp.delete(m);
          mm.setUpOver(m, c.session ?? undefined, now);
          for (const h of holds.values()) {
            if (!h.delete(m)) continue;
            // moved to the session it became; a session already over (c.session ended) is found over by the caller's next release
            if (c.session !== null) h.add(c.session);
          }
        } else {
          const ms = [...pending.values()];
          if (!ms.length) continue;
          const m = ms[c.pick % ms.length]!;
          if (c.op === 'acceptAll') for (const p of m.players) pending.has(m.id) && mm.accept(m.id, p, now);
          else if (c.op === 'accept') mm.accept(m.id, m.players[c.who % m.players.length]!, now);
          else mm.decline(m.id, m.players[c.who % m.players.length]!, now);
        }
        if (failures.length > 0) throw failures[0];
        // The matchmaker's own view agrees with what its events said.
        const queued = [...state.values()].filter((s) => s === 'queued').length;
        expect(mm.stats.queuedTickets).toBe(queued);
        expect(mm.stats.pendingMatches).toBe(pending.size);
        for (const p of POOL) expect(mm.ticketOf(p)?.id).toBe(busy.get(p));
      }
      // Every ticket ever made is either still live or ended exactly once.
      for (const id of ever) expect(state.has(id) !== ended.has(id)).toBe(true);
    }),
    { numRuns },
  );
  return seen;
}

// The generator must actually reach the interesting paths, or the property proves little.
describe('matchmaking properties', () => {
  it('never double-books a player, never loses a ticket, never mixes buckets, never proposes beyond the cap', () => {
    const seen = check(false, 300);
    expect(seen.proposed).toBeGreaterThan(100);
    expect(seen.confirmed).toBeGreaterThan(10);
    expect(seen.failed).toBeGreaterThan(10);
    expect(seen.requeued).toBeGreaterThan(10);
  });

  it('the same with tickets held by live sessions: a held ticket is never matched, and leaves only once its hold is over', () => {
    const seen = check(true, 150);
    expect(seen.proposed).toBeGreaterThan(50);
    expect(seen.released).toBeGreaterThan(10);
    expect(seen.expired).toBeGreaterThan(5);
    expect(seen.setUpHeld).toBeGreaterThan(5);
  });
});
