import { describe, expect, it } from 'vitest';
import { JOIN_CODE_ALPHABET, Lobbies, type LobbyEvents, type LobbyOptions } from '../../src/auth/lobbies.js';
import { domain, domainOf } from './helpers.js';

const P = (id: string) => ({ playerId: id, displayName: id.toUpperCase() });

function recorder(l: Lobbies) {
  const log: Array<[keyof LobbyEvents, any]> = [];
  domainOf(l).on('lobby', ({ type, ...payload }) => log.push([type, payload]));
  return log;
}

/** Lobbies through their driver, so `recorder` hears their events. */
const newLobbies = (opts?: LobbyOptions): Lobbies => domain(opts ? { lobbies: opts } : {}).lobbies;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

describe('lobbies', () => {
  it('creates, lists public lobbies with filters, and hides private ones', () => {
    const l = newLobbies();
    const a = l.create({ owner: P('a'), maxPlayers: 2, mode: 'ctf', settings: { map: 'dune' } }, 1);
    l.create({ owner: P('b'), maxPlayers: 4, mode: 'ffa', settings: { map: 'ice' } }, 2);
    const priv = l.create({ owner: P('c'), maxPlayers: 4, mode: 'ctf', private: true }, 3);
    expect(priv.code).toMatch(new RegExp(`^[${JOIN_CODE_ALPHABET}]{6}$`));
    expect(a.code).toBeUndefined();
    expect(l.list().map((x) => x.ownerId)).toEqual(['a', 'b']);
    expect(l.list({ mode: 'ctf' }).map((x) => x.id)).toEqual([a.id]);
    expect(l.list({ where: (s: any) => s?.map === 'ice' }).map((x) => x.ownerId)).toEqual(['b']);
    l.join({ lobbyId: a.id }, P('d'), 4);
    expect(l.list({ mode: 'ctf' })).toEqual([]); // full
    expect(l.list({ mode: 'ctf', hasSpace: false })).toHaveLength(1);
  });

  it('joins private lobbies by code only (case and dashes forgiven)', () => {
    const l = newLobbies();
    const priv = l.create({ owner: P('a'), maxPlayers: 4, private: true }, 0);
    expect(codeOf(() => l.join({ lobbyId: priv.id }, P('b'), 1))).toBe('lobby.not_found');
    const code = priv.code!;
    const typed = `${code.slice(0, 3).toLowerCase()}-${code.slice(3)}`;
    expect(l.join({ code: typed }, P('b'), 1).members.map((m) => m.playerId)).toEqual(['a', 'b']);
    expect(codeOf(() => l.join({ code: 'ZZZZZZ' === code ? 'YYYYYY' : 'ZZZZZZ' }, P('c'), 1))).toBe('lobby.not_found');
  });

  it('gives distinct codes even when the random source repeats', () => {
    const seq = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    let i = 0;
    const l = newLobbies({ randomInt: () => seq[i++ % seq.length]!, newId: () => `id${i}` });
    const c1 = l.create({ owner: P('a'), maxPlayers: 2, private: true }, 0).code;
    const c2 = l.create({ owner: P('b'), maxPlayers: 2, private: true }, 0).code;
    expect(c1).toBe('AAAAAA');
    expect(c2).not.toBe(c1);
  });

  it('refuses full, started, banned, and players already in a lobby', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 2 }, 0);
    l.join({ lobbyId: x.id }, P('b'), 1);
    expect(codeOf(() => l.join({ lobbyId: x.id }, P('c'), 2))).toBe('lobby.full');
    expect(codeOf(() => l.create({ owner: P('b'), maxPlayers: 2 }, 2))).toBe('lobby.already_in_lobby');
    l.kick(x.id, 'a', 'b', 3);
    expect(codeOf(() => l.join({ lobbyId: x.id }, P('b'), 4))).toBe('lobby.banned');
    l.join({ lobbyId: x.id }, P('c'), 4);
    l.setReady(x.id, 'c', true, 5);
    l.start(x.id, 'a', 6);
    l.leave(x.id, 'c', 7);
    expect(codeOf(() => l.join({ lobbyId: x.id }, P('d'), 8))).toBe('lobby.started');
    expect(codeOf(() => l.create({ owner: P('e'), maxPlayers: 0 }, 8))).toBe('lobby.bad_request');
  });

  it('kick without ban lets the player back; only the owner kicks', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 3 }, 0);
    l.join({ lobbyId: x.id }, P('b'), 1);
    l.join({ lobbyId: x.id }, P('c'), 1);
    expect(codeOf(() => l.kick(x.id, 'b', 'c', 2))).toBe('lobby.not_owner');
    expect(codeOf(() => l.kick(x.id, 'a', 'a', 2))).toBe('lobby.bad_request');
    expect(codeOf(() => l.kick(x.id, 'a', 'zz', 2))).toBe('lobby.not_member');
    const log = recorder(l);
    l.kick(x.id, 'a', 'c', 2, { ban: false });
    expect(log).toEqual([['left', expect.objectContaining({ playerId: 'c', reason: 'kicked', by: 'a' })]]);
    expect(l.lobbyOf('c')).toBeUndefined();
    l.join({ lobbyId: x.id }, P('c'), 3);
  });

  it('migrates ownership to the longest-present member and closes when empty', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 4 }, 0);
    l.join({ lobbyId: x.id }, P('b'), 10);
    l.join({ lobbyId: x.id }, P('c'), 20);
    l.leave(x.id, 'b', 30);
    l.join({ lobbyId: x.id }, P('b'), 40); // b rejoined: now younger than c
    const log = recorder(l);
    l.leave(x.id, 'a', 50);
    expect(l.get(x.id)!.ownerId).toBe('c');
    expect(log.map(([n]) => n)).toEqual(['left', 'owner-changed']);
    expect(log[1]![1]).toMatchObject({ previousOwnerId: 'a', ownerId: 'c' });
    l.leave(x.id, 'b', 60); // not the owner: no migration
    expect(l.get(x.id)!.ownerId).toBe('c');
    l.leave(x.id, 'c', 70);
    expect(l.get(x.id)).toBeUndefined();
    expect(log.at(-1)![0]).toBe('closed');
    expect(l.size).toBe(0);
  });

  it('lets the owner hand ownership to a member; anyone else is refused', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 4 }, 0);
    l.join({ lobbyId: x.id }, P('b'), 1);
    l.join({ lobbyId: x.id }, P('c'), 2);
    const log = recorder(l);
    expect(codeOf(() => l.setOwner(x.id, 'b', 'c', 3))).toBe('lobby.not_owner');
    expect(codeOf(() => l.setOwner(x.id, 'a', 'zed', 3))).toBe('lobby.not_member');
    expect(codeOf(() => l.setOwner(x.id, 'zed', 'b', 3))).toBe('lobby.not_member');
    expect(log).toEqual([]);
    l.setOwner(x.id, 'a', 'a', 4); // to oneself: nothing happens
    expect(log).toEqual([]);
    expect(l.setOwner(x.id, 'a', 'c', 5).ownerId).toBe('c');
    expect(log).toEqual([['owner-changed', expect.objectContaining({ previousOwnerId: 'a', ownerId: 'c', reason: 'handed' })]]);
    // the old owner is an ordinary member now: it cannot kick or start
    expect(codeOf(() => l.kick(x.id, 'a', 'b', 6))).toBe('lobby.not_owner');
    expect(codeOf(() => l.setOwner(x.id, 'a', 'a', 6))).toBe('lobby.not_owner');
    l.setReady(x.id, 'a', true, 7);
    l.setReady(x.id, 'b', true, 7);
    l.start(x.id, 'c', 8);
    expect(codeOf(() => l.setOwner(x.id, 'c', 'a', 9))).toBe('lobby.started');
  });

  it('refuses a start while a member is still in a game (after its own checks), naming the first such member; reopens a start that fell through', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 3, settings: {} }, 0);
    l.join({ lobbyId: x.id }, P('b'), 1);
    l.join({ lobbyId: x.id }, P('c'), 1);
    l.setReady(x.id, 'c', true, 2);
    const busy = new Map([
      ['c', 'game session S1'],
      ['b', 'match M1, whose game session is still being set up'],
    ]);
    // not ready goes first: the owner has that to fix anyway
    expect(codeOf(() => l.start(x.id, 'a', 3, busy))).toBe('lobby.not_ready');
    l.setReady(x.id, 'b', true, 3);
    const log = recorder(l);
    // join order: b before c
    expect(() => l.start(x.id, 'a', 4, busy)).toThrow(
      expect.objectContaining({
        code: 'lobby.member_in_session',
        message: 'B (b) is still in match M1, whose game session is still being set up; start again once it is over',
        details: { playerId: 'b', in: 'match M1, whose game session is still being set up' },
      }),
    );
    expect(l.get(x.id)!.state).toBe('open');
    expect(log).toEqual([]);
    expect(l.start(x.id, 'a', 5, new Map())).toHaveLength(3);
    l.reopen(x.id, 'no host available', 6);
    expect(l.get(x.id)).toMatchObject({ state: 'open', members: [{ ready: false }, { ready: true }, { ready: true }] });
    expect(log.map(([t]) => t)).toEqual(['started', 'reopened']);
    expect(log[1]![1]).toMatchObject({ reason: 'no host available', lobby: { state: 'open' } });
    // an open lobby (or one gone) is left alone
    l.reopen(x.id, 'again', 7);
    l.reopen('lby_gone', 'again', 7);
    expect(log).toHaveLength(2);
    expect(l.start(x.id, 'a', 8)).toHaveLength(3);
  });

  it('starts only when every other member is ready, by the owner, with enough players', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 3, minPlayers: 2, settings: { map: 'm1' } }, 0);
    expect(codeOf(() => l.start(x.id, 'a', 1))).toBe('lobby.too_few_players');
    l.join({ lobbyId: x.id }, P('b'), 1);
    l.join({ lobbyId: x.id }, P('c'), 1);
    l.setReady(x.id, 'b', true, 2);
    expect(codeOf(() => l.start(x.id, 'a', 3))).toBe('lobby.not_ready');
    l.setReady(x.id, 'c', true, 3);
    expect(codeOf(() => l.start(x.id, 'b', 3))).toBe('lobby.not_owner');
    // Changing settings resets everyone's ready flag.
    l.updateSettings(x.id, 'a', { settings: { map: 'm2' } }, 4);
    expect(l.get(x.id)!.members.every((m) => !m.ready)).toBe(true);
    expect(codeOf(() => l.start(x.id, 'a', 5))).toBe('lobby.not_ready');
    l.setReady(x.id, 'b', true, 5);
    l.setReady(x.id, 'c', true, 5);
    const log = recorder(l);
    const members = l.start(x.id, 'a', 6);
    expect(members.map((m) => m.playerId)).toEqual(['a', 'b', 'c']);
    expect(log).toEqual([['started', expect.objectContaining({ members })]]);
    expect(log[0]![1].lobby).toMatchObject({ state: 'started', settings: { map: 'm2' } });
    expect(codeOf(() => l.start(x.id, 'a', 7))).toBe('lobby.started');
    expect(codeOf(() => l.setReady(x.id, 'b', false, 7))).toBe('lobby.started');
  });

  it('emits an event for every change with a snapshot after it', () => {
    const l = newLobbies({ newId: () => 'L1' });
    const log = recorder(l);
    l.create({ owner: P('a'), maxPlayers: 3 }, 0);
    l.join({ lobbyId: 'L1' }, P('b'), 1);
    l.join({ lobbyId: 'L1' }, P('b'), 1); // idempotent: no event
    l.setReady('L1', 'b', true, 2);
    l.setReady('L1', 'b', true, 2); // unchanged: no event
    l.updateSettings('L1', 'a', { maxPlayers: 2 }, 3);
    expect(codeOf(() => l.updateSettings('L1', 'a', { maxPlayers: 1 }, 3))).toBe('lobby.bad_request');
    l.close('L1');
    expect(log.map(([n]) => n)).toEqual(['created', 'joined', 'ready-changed', 'settings-changed', 'closed']);
    expect(log[2]![1].lobby.members[1]).toMatchObject({ playerId: 'b', ready: true });
    expect(log[3]![1].lobby.maxPlayers).toBe(2);
    expect(l.lobbyOf('a')).toBeUndefined();
    // snapshots are copies
    log[1]![1].lobby.members.length = 0;
  });

  it('refuses actions by non-members and on unknown lobbies', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 3 }, 0);
    expect(codeOf(() => l.leave(x.id, 'b', 1))).toBe('lobby.not_member');
    expect(codeOf(() => l.setReady('nope', 'a', true, 1))).toBe('lobby.not_found');
  });
});

describe('lobby passwords (issue 9, item 6)', () => {
  it('a lobby created with a password says so and lets in only those who give it', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 4, password: 'hunter2' }, 0);
    expect(x.hasPassword).toBe(true);
    expect(l.list()[0]!.hasPassword).toBe(true);
    expect(codeOf(() => l.join({ lobbyId: x.id }, P('b'), 1))).toBe('lobby.bad_password');
    expect(codeOf(() => l.join({ lobbyId: x.id, password: 'hunter3' }, P('b'), 1))).toBe('lobby.bad_password');
    expect(l.get(x.id)!.members).toHaveLength(1);
    // the right password is not read as a join code (it used to give lobby.not_found)
    expect(l.join({ lobbyId: x.id, password: 'hunter2' }, P('b'), 2).members.map((m) => m.playerId)).toEqual(['a', 'b']);
    expect(l.create({ owner: P('c'), maxPlayers: 2 }, 3).hasPassword).toBe(false);
  });

  it('a private lobby with a password needs the code and the password', () => {
    const l = newLobbies();
    const x = l.create({ owner: P('a'), maxPlayers: 4, private: true, password: 'pw' }, 0);
    expect(codeOf(() => l.join({ code: x.code! }, P('b'), 1))).toBe('lobby.bad_password');
    expect(codeOf(() => l.join({ lobbyId: x.id, password: 'pw' }, P('b'), 1))).toBe('lobby.not_found');
    // a 1.0 client's code-as-password is no way past a password
    expect(codeOf(() => l.join({ lobbyId: x.code!, password: x.code! }, P('b'), 1))).toBe('lobby.bad_password');
    expect(l.join({ code: x.code!, password: 'pw' }, P('b'), 2).members).toHaveLength(2);
  });

  it('still reads a 1.0 code sent as the password, and ignores a password a lobby does not have', () => {
    const l = newLobbies();
    const priv = l.create({ owner: P('a'), maxPlayers: 4, private: true }, 0);
    expect(priv.hasPassword).toBe(false);
    expect(l.join({ lobbyId: priv.code!, password: priv.code! }, P('b'), 1).id).toBe(priv.id);
    expect(l.join({ code: priv.code!, password: priv.code! }, P('c'), 1).id).toBe(priv.id);
    const pub = l.create({ owner: P('d'), maxPlayers: 4 }, 2);
    expect(l.join({ lobbyId: pub.id, password: 'anything' }, P('e'), 3).id).toBe(pub.id);
  });

  it('refuses an empty password at creation', () => {
    expect(codeOf(() => newLobbies().create({ owner: P('a'), maxPlayers: 2, password: '' }, 0))).toBe('lobby.bad_request');
  });
});
