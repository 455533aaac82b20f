/** A seat the session removed (kicked): a leave in the log, no grant, its registrations refused; the first round stops waiting for it. */
import { describe, expect, it } from 'vitest';
import { TurnsPlayer, type HostEvent } from '../../src/turns/index.js';
import { act, room, ROOM, seededRandom } from './sim.js';

describe('turns: removing a seat', () => {
  it('ends its registration with a leave, clears its retained registration, drops it from the ACL and refuses it back', async () => {
    const r = await room();
    expect(r.host.chain.round).toBe(1);
    const register = r.host.topics.register('bob');
    expect(r.loop.retained.has(register)).toBe(true);
    await act(r.loop, 'host', r.host.remove('bob', r.loop.now));
    expect(r.host.removed('bob')).toBe(true);
    expect(r.host.chain.player('bob')?.live).toBeUndefined();
    expect(r.loop.hostEvents().some((e) => e.type === 'left' && e.playerId === 'bob')).toBe(true);
    expect(r.loop.retained.has(register)).toBe(false);
    expect(Object.keys(r.host.acl.players)).toEqual(['alice']);
    // alice's machine verified the leave block
    expect(r.loop.playerEvents('alice').some((e) => e.type === 'alert' && e.code === 'turns_bad_chain')).toBe(false);
    expect(r.players.get('alice')!.chain.player('bob')?.live).toBeUndefined();

    // bob again, with fresh keys: refused
    const again = new TurnsPlayer({ ...ROOM, playerId: 'bob', hostKey: r.host.publicKey, random: seededRandom('bob-again'), now: r.loop.now });
    r.loop.add('bob-again', again);
    await act(r.loop, 'bob-again', again.start(r.loop.now));
    const refused = r.loop.hostEvents().filter((e): e is Extract<HostEvent, { type: 'rejected' }> => e.type === 'rejected');
    expect(refused.map((e) => e.rejection.code)).toContain('turns_removed');
    expect(r.host.chain.player('bob')?.live).toBeUndefined();
    // a second removal changes nothing
    expect(r.host.remove('bob', r.loop.now)).toEqual([]);
  });

  it('the first round starts once every seat still in the room registered', async () => {
    // a room where carol never registers
    const r2 = await roomWithout('carol');
    expect(r2.host.chain.round).toBe(0);
    await act(r2.loop, 'host', r2.host.remove('carol', r2.loop.now));
    expect(r2.host.chain.round).toBe(1);
    expect(r2.loop.hostEvents().some((e) => e.type === 'ready')).toBe(true);
  });
});

/** A three-seat room where one seat never starts its player. */
async function roomWithout(absent: string) {
  const { Loop, ticTacToeValidator } = await import('./sim.js');
  const { TurnsHost } = await import('../../src/turns/index.js');
  const players = ['alice', 'bob', 'carol'];
  const loop = new Loop();
  const host = new TurnsHost({ ...ROOM, players, random: seededRandom('host') });
  loop.host = host;
  loop.add('host', host);
  loop.validator = ticTacToeValidator(loop, players).validate;
  await loop.perform('host', host.start(loop.now));
  for (const id of players.filter((p) => p !== absent)) {
    const p = new TurnsPlayer({ ...ROOM, playerId: id, hostKey: host.publicKey, random: seededRandom(id), now: loop.now });
    loop.add(id, p);
    await loop.perform(id, p.start(loop.now));
    await loop.run();
  }
  return { loop, host };
}
