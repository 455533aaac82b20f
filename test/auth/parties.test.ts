import { describe, expect, it } from 'vitest';
import type { Lobbies } from '../../src/auth/lobbies.js';
import { domain, onEvent } from './helpers.js';

/** Lobbies queued as one matchmaking ticket, with time injected. */
function setup() {
  let now = 1_000;
  const d = domain({ now: () => now });
  const { lobbies, matchmaker: mm, parties } = d;
  const lobby = lobbies.create({ owner: { playerId: 'a', displayName: 'A' }, maxPlayers: 3 }, now);
  lobbies.join({ lobbyId: lobby.id }, { playerId: 'b', displayName: 'B' }, now);
  const queue = () => parties.enqueue(lobby.id, { players: parties.members(lobby.id, 'a'), mode: 'squad', matchSize: 4 });
  return { d, lobbies, mm, parties, lobby, queue, tick: (ms = 100) => mm.tick((now += ms)) };
}

describe('PartyQueue', () => {
  it('queues the members as one ticket that is matched whole', () => {
    const { mm, parties, queue, tick } = setup();
    mm.enqueue({ players: ['s1'], mode: 'squad', matchSize: 4 }, 0);
    const t = queue();
    expect(t.players).toEqual(['a', 'b']);
    expect(parties.lobbyOfTicket(t.id)).toBeDefined();
    mm.enqueue({ players: ['s2'], mode: 'squad', matchSize: 4 }, 0);
    const [m] = tick();
    expect(m!.players).toHaveLength(4);
    expect(m!.tickets.find((x) => x.id === t.id)!.players).toEqual(['a', 'b']);
  });

  it('refuses anyone but the owner of an open lobby, and a second queueing', () => {
    const { lobbies, parties, lobby, queue } = setup();
    expect(() => parties.members(lobby.id, 'b')).toThrow(expect.objectContaining({ code: 'lobby.not_owner' }));
    expect(() => parties.members(lobby.id, 'z')).toThrow(expect.objectContaining({ code: 'lobby.not_member' }));
    expect(() => parties.members('nope', 'a')).toThrow(expect.objectContaining({ code: 'lobby.not_found' }));
    queue();
    expect(() => parties.members(lobby.id, 'a')).toThrow(expect.objectContaining({ code: 'mm.already_queued' }));
    const other = lobbies.create({ owner: { playerId: 'c', displayName: 'C' }, maxPlayers: 2 }, 0);
    lobbies.start(other.id, 'c', 0);
    expect(() => parties.members(other.id, 'c')).toThrow(expect.objectContaining({ code: 'lobby.started' }));
  });

  it.each([
    ['a member leaves', (l: Lobbies, id: string) => l.leave(id, 'b', 0)],
    ['someone joins', (l: Lobbies, id: string) => l.join({ lobbyId: id }, { playerId: 'c', displayName: 'C' }, 0)],
    ['the lobby closes', (l: Lobbies, id: string) => l.close(id)],
  ])('takes the ticket out of the queue when %s', (_what, change) => {
    const { d, lobbies, mm, parties, lobby, queue } = setup();
    const t = queue();
    const removed: string[] = [];
    onEvent(d, 'match', 'removed', (e) => removed.push(e.ticket.id));
    change(lobbies, lobby.id);
    expect(removed).toEqual([t.id]);
    expect(mm.ticketOf('a')).toBeUndefined();
    expect(parties.lobbyOfTicket(t.id)).toBeUndefined();
  });

  it('a lobby change during a proposed match fails it; the other tickets go back to the queue', () => {
    const { d, lobbies, mm, lobby, queue, tick } = setup();
    mm.enqueue({ players: ['s1', 's2'], mode: 'squad', matchSize: 4 }, 0);
    queue();
    const [m] = tick();
    const failed: string[] = [];
    onEvent(d, 'match', 'failed', (e) => failed.push(e.match.id));
    lobbies.leave(lobby.id, 'b', 0);
    expect(failed).toEqual([m!.id]);
    expect(mm.ticketOf('s1')).toBeDefined();
    expect(mm.ticketOf('a')).toBeUndefined();
  });

  it('after the match is confirmed the lobby can queue again', () => {
    const { mm, lobby, parties, queue, tick } = setup();
    mm.enqueue({ players: ['s1', 's2'], mode: 'squad', matchSize: 4 }, 0);
    queue();
    const [m] = tick();
    for (const p of m!.players) mm.accept(m!.id, p, 0);
    expect(parties.members(lobby.id, 'a')).toEqual(['a', 'b']);
  });
});
