/**
 * Rule 7's gap at hand-off: a player whose match was just confirmed queues again while that match is
 * still being set up (waiting for a free host, or its session record not written yet). No session
 * record exists, so the look-up of its live sessions finds none; before, its new ticket was matched
 * at once and that match's hand-off failed at session creation (`session.player_busy`). Now the
 * matchmaker holds it on the match being set up until the hand-off reports the set-up over: moved
 * to the session the match became, or released when it failed before one existed.
 */
import { describe, expect, it } from 'vitest';
import { HandoffCore, type HandoffAction } from '../../src/auth/handoff/index.js';
import { HostRegistry } from '../../src/auth/host-registry.js';
import { Matchmaker, type Match } from '../../src/auth/matchmaking.js';
import { domain } from './helpers.js';

const S = 1000;
const playersOf = (m: Match) => [...m.players].sort();
const solo = (player: string) => ({ players: [player], mode: 'duel', matchSize: 2 });

/** a and b matched and confirmed at `now`: their match is being set up. */
function confirmed(mm: Pick<Matchmaker, 'enqueue' | 'tick' | 'accept'>, now: number): Match {
  mm.enqueue(solo('a'), now);
  mm.enqueue(solo('b'), now);
  const [m] = mm.tick(now);
  mm.accept(m!.id, 'a', now);
  mm.accept(m!.id, 'b', now);
  return m!;
}

describe('a ticket of a player whose confirmed match is still being set up (sans-IO)', () => {
  it('is held on that match; once it became a session, held by the session until that is over', () => {
    const mm = new Matchmaker();
    const m = confirmed(mm, 0);
    expect(mm.settingUp).toBe(1);
    const ta = mm.enqueue(solo('a'), 10);
    mm.enqueue(solo('c'), 11);
    // before: a and c were matched here, and the hand-off of that match failed (a: session.player_busy)
    expect(mm.tick(20)).toEqual([]);
    expect(ta.heldBy).toEqual([m.id]);
    expect(mm.stats).toEqual({ queuedTickets: 2, queuedPlayers: 2, pendingMatches: 0 });
    // a match being set up has no session record: the records must not be asked whether it is over
    expect(mm.heldSessions()).toEqual([]);

    // the record is written: the hold moves to the session the match became
    mm.setUpOver(m.id, 'S1', 30);
    expect(mm.settingUp).toBe(0);
    expect(mm.ticketOf('a')?.heldBy).toEqual(['S1']);
    expect(mm.heldSessions()).toEqual(['S1']);
    expect(mm.tick(40)).toEqual([]);
    // a player who queues now is found in S1 by the caller's look-up, not by the matchmaker
    expect(mm.enqueue(solo('b'), 41).heldBy).toBeUndefined();
    mm.cancelFor('b', 42);

    mm.sessionOver('S1', 50);
    expect(mm.tick(60).map(playersOf)).toEqual([['a', 'c']]);
  });

  it("a start set up without the matchmaker (a lobby's) holds its players' new tickets the same way", () => {
    const mm = new Matchmaker();
    mm.setUpStarted('lby_1', ['a', 'b'], 0);
    expect(mm.settingUpOf('a')).toBe('lby_1');
    expect(mm.enqueue(solo('a'), 10).heldBy).toEqual(['lby_1']);
    mm.enqueue(solo('c'), 11);
    expect(mm.tick(20)).toEqual([]);
    expect(mm.heldSessions()).toEqual([]);
    // the lobby's start fell through before any session: released, and matched
    mm.setUpOver('lby_1', undefined, 30);
    expect(mm.settingUpOf('a')).toBeUndefined();
    expect(mm.tick(40).map(playersOf)).toEqual([['a', 'c']]);
  });

  it('a set-up that fails before any session record releases the ticket at once, in its place in line', () => {
    const mm = new Matchmaker();
    const m = confirmed(mm, 0);
    mm.enqueue(solo('b'), 10); // held
    mm.enqueue(solo('c'), 11);
    mm.enqueue(solo('d'), 12);
    expect(mm.tick(13).map(playersOf)).toEqual([['c', 'd']]);
    mm.enqueue(solo('e'), 14);
    mm.setUpOver(m.id, undefined, 15); // no host in time, or the record could not be written
    expect(mm.ticketOf('b')?.heldBy).toBeUndefined();
    expect(mm.tick(16).map(playersOf)).toEqual([['b', 'e']]);
  });

  it('a party is held while any member is in a match being set up; unknown and repeated reports are ignored', () => {
    const mm = new Matchmaker({ defaults: {} });
    const m = confirmed(mm, 0);
    const party = mm.enqueue({ players: ['x', 'a'], mode: 'duel4', matchSize: 4 }, 10);
    mm.enqueue({ players: ['y', 'z'], mode: 'duel4', matchSize: 4 }, 11);
    expect(party.heldBy).toEqual([m.id]);
    expect(mm.tick(12)).toEqual([]);
    mm.setUpOver('no-such-match', 'S9', 13);
    expect(mm.tick(14)).toEqual([]);
    mm.setUpOver(m.id, undefined, 15);
    mm.setUpOver(m.id, 'S1', 16); // a second report of the same set-up changes nothing
    expect(mm.heldSessions()).toEqual([]);
    expect(mm.tick(17).map(playersOf)).toEqual([['a', 'x', 'y', 'z']]);
  });

  it('a set-up never reported over stops holding after maxHoldMs (the ticket is released, not removed)', () => {
    const mm = new Matchmaker({ maxHoldMs: 10 * S });
    confirmed(mm, 0);
    mm.enqueue(solo('a'), 1 * S);
    mm.enqueue(solo('c'), 2 * S);
    expect(mm.tick(10 * S - 1)).toEqual([]);
    const ms = mm.tick(10 * S);
    expect(ms.map(playersOf)).toEqual([['a', 'c']]);
    expect(mm.settingUp).toBe(0);
    expect(mm.takeEvents().filter((e) => e.type === 'removed')).toEqual([]);
  });

  it("the domain's release of holds by the session records leaves a hold on a match being set up alone", async () => {
    const d = domain();
    const m = confirmed(d.matchmaker, 0);
    d.matchmaker.enqueue(solo('a'), 10);
    d.matchmaker.enqueue(solo('c'), 11);
    // the records know no session named like the match: asked, they would call it over
    await d.releaseHolds(20);
    expect(d.matchmaker.ticketOf('a')?.heldBy).toEqual([m.id]);
    expect(d.matchmaker.tick(20)).toEqual([]);
  });
});

describe('the hand-off core reports when a start stops being set up without a session record', () => {
  const players = [
    { playerId: 'a', displayName: 'A' },
    { playerId: 'b', displayName: 'B' },
  ];
  const start = { origin: { kind: 'match' as const, id: 'm1' }, players, mode: 'duel' };
  const overs = (actions: HandoffAction[]) => actions.filter((a) => a.type === 'set_up_over');
  const core = (withHost: boolean) => {
    const registry = new HostRegistry();
    if (withHost) registry.register({ name: 'h1', region: 'eu', address: 'h1:1', transports: ['quic'], capacity: 4, version: '1' }, 0);
    let n = 0;
    return new HandoffCore({
      hosts: registry,
      newSessionId: () => `s${++n}`,
      keyDelivery: 'client',
      claimTimeoutMs: 30 * S,
      hostAckTimeoutMs: 15 * S,
      joinTimeoutMs: 60 * S,
      noHostTimeoutMs: 60 * S,
    });
  };
  const createRef = (actions: HandoffAction[]) => {
    const r = actions.find((a) => a.type === 'session_record' && a.op === 'create');
    if (r?.type !== 'session_record' || r.ref === undefined) throw new Error('no create record');
    return r.ref;
  };

  it('its record written: over, naming the session', () => {
    const c = core(true);
    c.start(start, 0);
    const first = c.drain();
    expect(overs(first)).toEqual([]);
    c.recorded(createRef(first), 1);
    expect(overs(c.drain())).toEqual([{ type: 'set_up_over', origin: start.origin, sessionId: 's1' }]);
  });

  it('its record refused (a player busy): over, no session', () => {
    const c = core(true);
    c.start(start, 0);
    c.recordFailed(createRef(c.drain()), { code: 'session.player_busy', message: 'busy' }, 1);
    expect(overs(c.drain())).toEqual([{ type: 'set_up_over', origin: start.origin }]);
  });

  it('no free host in time: over, no session', () => {
    const c = core(false);
    c.start(start, 0);
    expect(overs(c.drain())).toEqual([]);
    c.tick(60 * S + 1);
    expect(overs(c.drain())).toEqual([{ type: 'set_up_over', origin: start.origin }]);
  });
});
