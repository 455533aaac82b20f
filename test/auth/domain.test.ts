import { describe, expect, it } from 'vitest';
import { AuthDomain } from '../../src/auth/domain.js';
import { Lobbies } from '../../src/auth/lobbies.js';

const P = (id: string) => ({ playerId: id, displayName: id.toUpperCase() });

describe('auth cores queue their events', () => {
  it('a core hands over what its inputs caused, in order, once', () => {
    const l = new Lobbies();
    const lobby = l.create({ owner: P('a'), maxPlayers: 3 }, 0);
    l.join({ lobbyId: lobby.id }, P('b'), 1);
    expect(l.takeEvents().map((e) => e.type)).toEqual(['created', 'joined']);
    expect(l.takeEvents()).toEqual([]);
  });
});

describe('AuthDomain', () => {
  it("delivers each call's events before the call returns; a listener's own call follows the event being delivered", () => {
    const d = new AuthDomain();
    const heard: string[] = [];
    d.on('lobby', (e) => {
      heard.push(`first:${e.type}`);
      if (e.type === 'joined') d.lobbies.setReady(e.lobby.id, e.member.playerId, true, 2);
    });
    d.on('lobby', (e) => heard.push(`second:${e.type}`));
    const lobby = d.lobbies.create({ owner: P('a'), maxPlayers: 3 }, 0);
    expect(heard).toEqual(['first:created', 'second:created']);
    d.lobbies.join({ lobbyId: lobby.id }, P('b'), 1);
    expect(heard.slice(2)).toEqual(['first:joined', 'second:joined', 'first:ready-changed', 'second:ready-changed']);
  });

  it('tells the party queue of a lobby change before the listeners, then delivers the cancelled ticket', () => {
    const d = new AuthDomain({ now: () => 5 });
    const lobby = d.lobbies.create({ owner: P('a'), maxPlayers: 3 }, 0);
    d.lobbies.join({ lobbyId: lobby.id }, P('b'), 0);
    const ticket = d.parties.enqueue(lobby.id, { players: d.parties.members(lobby.id, 'a'), mode: 'squad', matchSize: 4 });
    const heard: unknown[] = [];
    d.on('lobby', (e) => heard.push([e.type, d.matchmaker.ticketOf('a')?.id ?? 'no ticket']));
    d.on('match', (e) => heard.push([e.type, e.type === 'removed' ? e.ticket.id : '']));
    d.lobbies.leave(lobby.id, 'b', 6);
    expect(heard).toEqual([
      ['left', 'no ticket'],
      ['removed', ticket.id],
    ]);
    expect(d.parties.lobbyOfTicket(ticket.id)).toBeUndefined();
  });

  it("delivers the session records' events before their promise settles", async () => {
    const d = new AuthDomain({ sessions: { newId: () => 'S1' } });
    const heard: string[] = [];
    d.on('session', (e) => heard.push(`${e.type}:${e.session.id}`));
    await d.sessions.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0);
    expect(heard).toEqual(['created:S1']);
  });

  it('reports a listener that throws and delivers to the others', () => {
    const failures: unknown[] = [];
    const d = new AuthDomain({ onListenerError: (err) => failures.push(err) });
    const heard: string[] = [];
    d.on('host', () => {
      throw new Error('listener bug');
    });
    d.on('host', (e) => heard.push(e.type));
    d.registry.register({ name: 'h1', region: 'eu', address: 'h1.example:4433', transports: ['quic'], capacity: 2, version: '1' }, 0);
    expect(heard).toEqual(['registered']);
    expect(failures).toEqual([new Error('listener bug')]);
  });
});
