/** Two players finish tic-tac-toe through the host and player machines wired by an in-memory loop. */
import { describe, expect, it } from 'vitest';
import { type PlayerEvent, TurnsPlayer } from '../../src/turns/index.js';
import { act, ROOM, room, seededRandom } from './sim.js';

describe('turns: a whole game', () => {
  it('registers both players, starts round 1 and plays tic-tac-toe to a win with the example HostGame', async () => {
    const { loop, host, players, ttt } = await room();
    const alice = players.get('alice')!;
    const bob = players.get('bob')!;
    expect(alice.ready).toBe(true);
    expect(bob.ready).toBe(true);
    expect(host.chain.round).toBe(1);
    expect(loop.refusals).toEqual([]);

    const cells: [string, number][] = [
      ['alice', 0],
      ['bob', 3],
      ['alice', 1],
      ['bob', 4],
      ['alice', 2],
    ];
    const topics = new Set<string>();
    for (const [who, cell] of cells) {
      const p = players.get(who)!;
      topics.add(p.chain.roundTopic!);
      await act(loop, who, p.move('move', { t: 'move', cell }, loop.now));
      loop.now += 1000;
    }
    // a new round topic for every move, never reused
    expect(topics.size).toBe(5);
    // both players hold the same verified chain as the host
    expect(Buffer.from(alice.chain.headHash)).toEqual(Buffer.from(host.chain.headHash));
    expect(Buffer.from(bob.chain.headHash)).toEqual(Buffer.from(host.chain.headHash));
    const moves = loop.playerEvents('bob').flatMap((e) => (e.type === 'block' ? e.block.entries.filter((x) => x.kind === 'move') : []));
    expect(moves.map((m) => (m.kind === 'move' ? [m.move.playerId, (m.move.data as { cell: number }).cell] : []))).toEqual(cells);
    // the example's onAction replied { t: 'ok' } and broadcast the state as host messages
    expect(moves.every((m) => m.kind === 'move' && (m.reply as { t: string }).t === 'ok')).toBe(true);
    const states = loop.playerEvents('alice').filter((e): e is Extract<PlayerEvent, { type: 'message' }> => e.type === 'message');
    expect(states.at(-1)!.data).toMatchObject({ t: 'state', result: 'X' });
    await new Promise((r) => setImmediate(r)); // the example ends after its reply went out
    expect(ttt.ended()).toMatchObject({ outcomes: { alice: { result: 'win' }, bob: { result: 'loss' } } });

    // session end: an end block, then nothing retained of the session
    await act(loop, 'host', host.end(ttt.ended(), loop.now));
    expect(alice.ended).toBe(true);
    expect(loop.playerEvents('bob').some((e) => e.type === 'ended')).toBe(true);
    expect([...loop.retained.keys()].filter((t) => t.startsWith('iyesmp/tictactoe/r1/'))).toEqual([]);
    expect(loop.published.filter((p) => p.topic.includes('/round/')).every((p) => !p.retain)).toBe(true);
    expect(loop.refusals).toEqual([]);
  });

  it('announces each round only once the ACL already grants its topic (granted a round ahead), then retires the old one', async () => {
    const { loop, host, players } = await room();
    const alice = players.get('alice')!;
    const oldTopic = host.chain.roundTopic!;
    // before the move: the current round and the next one are granted, to both seats and the host
    const next = loop.acl!.nextRoundTopic!;
    expect(next).toBeDefined();
    expect(next).not.toBe(oldTopic);
    for (const g of [loop.acl!.host, loop.acl!.players.alice!, loop.acl!.players.bob!]) expect(g.subscribe).toEqual(expect.arrayContaining([oldTopic, next]));
    expect(loop.subs.get('host')!.has(next)).toBe(true);
    const seen: string[] = [];
    const origPerform = loop.perform.bind(loop);
    loop.perform = async (who, actions) => {
      for (const a of actions)
        if (who === 'host' && a.type === 'publish' && a.topic.endsWith('/ctl') && a.qos === 2) {
          // the round-opening block: its topic is granted and subscribed already
          expect(loop.acl!.players.bob!.publish).toContain(next);
          expect(loop.subs.get('host')!.has(next)).toBe(true);
          seen.push('round block');
        }
      return origPerform(who, actions);
    };
    await act(loop, 'alice', alice.move('move', { t: 'move', cell: 4 }, loop.now));
    expect(seen).toEqual(['round block']);
    expect(host.chain.roundTopic).toBe(next);
    // afterwards: the old topic is retired, the one after is granted, still only literal topics
    expect(loop.acl!.roundTopic).toBe(next);
    for (const g of [loop.acl!.host, loop.acl!.players.alice!, loop.acl!.players.bob!]) {
      expect(g.subscribe).not.toContain(oldTopic);
      expect([...g.subscribe, ...g.publish].every((t) => !t.includes('+') && !t.includes('#'))).toBe(true);
    }
    expect(loop.acl!.nextRoundTopic).not.toBe(next);
    expect(loop.subs.get('host')!.has(oldTopic)).toBe(false);
    expect(loop.refusals).toEqual([]);
  });

  it('works the same with sealed payloads, and nothing on ctl, round or sync topics is readable without keys', async () => {
    const { loop, host, players } = await room({ encrypt: true });
    const alice = players.get('alice')!;
    const bob = players.get('bob')!;
    expect(alice.ready && bob.ready).toBe(true);
    await act(loop, 'alice', alice.move('move', { t: 'move', cell: 4 }, loop.now));
    await act(loop, 'bob', bob.move('move', { t: 'move', cell: 0 }, loop.now));
    expect(bob.chain.head).toBe(host.chain.head);
    const secret = Buffer.from('cell');
    const leaks = loop.published.filter((p) => !p.topic.includes('/register/') && Buffer.from(p.payload).includes(secret));
    // only the plaintext genesis (no game data) is readable; every move travelled sealed
    expect(leaks).toEqual([]);
    // the same check finds the moves in a plain room
    const plain = await room();
    await act(plain.loop, 'alice', plain.players.get('alice')!.move('move', { t: 'move', cell: 4 }, plain.loop.now));
    expect(plain.loop.published.filter((p) => Buffer.from(p.payload).includes(secret)).length).toBeGreaterThan(0);
  });
});

describe('turns: while the game judges a move', () => {
  it('a leave, a forced round and the end wait for the verdict, so the move is logged on the head it was built on', async () => {
    let hooks: (() => void) | undefined;
    const r = await room({
      validator: () => {
        hooks?.();
        return { ok: true, reply: 'fine' };
      },
    });
    const inside: unknown[] = [];
    hooks = () => {
      inside.push(r.host.receive({ topic: 'iyesmp/tictactoe/r1/register/bob', payload: new Uint8Array(0) }, r.loop.now));
      inside.push(r.host.nextRound(r.loop.now));
      inside.push(r.host.end({ winner: 'alice' }, r.loop.now));
    };
    const head = r.host.chain.head;
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    expect(inside).toEqual([[], [], []]);
    const kinds = r.loop.hostEvents().flatMap((e) => (e.type === 'block' && e.block.number > head ? [e.block.entries.map((x) => x.kind).join('+')] : []));
    expect(kinds).toEqual(['move+round', 'leave', 'round', 'end']);
    expect(r.host.ended).toBe(true);
    expect(r.players.get('alice')!.ended).toBe(true);
  });
});

describe('turns: the ready event', () => {
  it('tells each player once when it may move, and again after a resync', async () => {
    const { loop, players } = await room({ encrypt: true });
    expect(loop.playerEvents('alice').filter((e) => e.type === 'ready')).toHaveLength(1);
    expect(loop.playerEvents('bob').filter((e) => e.type === 'ready')).toHaveLength(1);
    await act(loop, 'bob', players.get('bob')!.resync(loop.now));
    expect(loop.playerEvents('bob').filter((e) => e.type === 'ready')).toHaveLength(2);
  });
});

describe('turns: usage errors', () => {
  it('says what is wrong with a move the library cannot send, and with a player seated nowhere', async () => {
    const { loop, host, players } = await room();
    expect(() => players.get('alice')!.move('move', { when: 10n }, loop.now)).toThrow(expect.objectContaining({ code: 'turns_bad_option' }));
    expect(() => players.get('alice')!.move('', {}, loop.now)).toThrow(expect.objectContaining({ code: 'turns_bad_option' }));
    const carol = new TurnsPlayer({ ...ROOM, playerId: 'carol', hostKey: host.publicKey, random: seededRandom('carol'), now: loop.now });
    const out = carol.receive({ topic: host.topics.ctl, payload: host.chain.frames[0]! }, loop.now);
    expect(out).toContainEqual({ type: 'event', event: expect.objectContaining({ type: 'alert', code: 'turns_unknown_player' }) });
    expect(() => new TurnsPlayer({ ...ROOM, playerId: 'Carol', hostKey: host.publicKey, random: seededRandom('c'), now: 0 })).toThrow(
      expect.objectContaining({ code: 'turns_bad_id' }),
    );
    expect(() => new TurnsPlayer({ ...ROOM, playerId: 'carol', hostKey: new Uint8Array(5), random: seededRandom('c'), now: 0 })).toThrow(
      expect.objectContaining({ code: 'turns_bad_option' }),
    );
  });
});

describe('turns: host messages and hand-off proofs', () => {
  it('sends a host-signed message to one player, sealed for that player only', async () => {
    const { loop, host } = await room({ encrypt: true });
    await act(loop, 'host', host.send('bob', { hint: 'secret-for-bob' }, loop.now));
    expect(loop.playerEvents('bob').filter((e) => e.type === 'message')).toEqual([{ type: 'message', data: { hint: 'secret-for-bob' } }]);
    expect(loop.playerEvents('alice').filter((e) => e.type === 'message')).toEqual([]);
    const sent = loop.published.at(-1)!;
    expect(sent.topic).toBe('iyesmp/tictactoe/r1/sync/bob');
    expect(Buffer.from(sent.payload).includes(Buffer.from('secret-for-bob'))).toBe(false);
  });

  it('refuses a registration whose hand-off proof the host does not accept', async () => {
    const { loop, host } = await room({
      players: ['alice', 'bob'],
      host: { checkProof: (r) => Buffer.from(r.proof).toString() === `ok:${r.playerId}` },
    });
    // the sim's players carry no proof: neither is registered, each was told why
    expect(host.chain.player('alice')!.live).toBeUndefined();
    expect(
      loop
        .playerEvents('alice')
        .filter((e) => e.type === 'rejected')
        .map((e) => (e.type === 'rejected' ? e.rejection.code : '')),
    ).toEqual(['turns_bad_proof']);
    const carol = new TurnsPlayer({
      ...ROOM,
      playerId: 'alice',
      hostKey: host.publicKey,
      random: seededRandom('alice-proof'),
      now: loop.now,
      proof: Buffer.from('ok:alice'),
    });
    loop.add('alice2', carol);
    loop.acl!.players.alice2 = loop.acl!.players.alice!;
    await act(loop, 'alice2', carol.start(loop.now));
    expect(carol.registered).toBe(true);
  });
});
