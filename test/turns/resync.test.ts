/** Reconnects, crashes, resync from genesis, tampered chains, challenges and key rotation. */
import { describe, expect, it } from 'vitest';
import { decodeOuter, HOST_ID, type PlayerEvent, signingKeysFromSeed, TurnsHost, TurnsPlayer } from '../../src/turns/index.js';
import { blockFields, encodeSigned, makeCodec, moveFields } from '../../src/turns/wire.js';
import { act, room, ROOM, seededRandom } from './sim.js';

const events = <T extends PlayerEvent['type']>(list: PlayerEvent[], type: T) => list.filter((e): e is Extract<PlayerEvent, { type: T }> => e.type === type);

describe('turns: reconnects and resync', () => {
  it('a player that missed blocks while offline catches up on reconnect before it plays', async () => {
    const { loop, host, players } = await room();
    const alice = players.get('alice')!;
    const bob = players.get('bob')!;
    loop.offline.add('bob');
    await act(loop, 'alice', alice.move('move', { t: 'move', cell: 4 }, loop.now));
    expect(bob.chain.head).toBeLessThan(host.chain.head);
    loop.offline.delete('bob');
    await act(loop, 'bob', bob.start(loop.now));
    expect(bob.chain.head).toBe(host.chain.head);
    expect(bob.ready).toBe(true);
    expect(events(loop.playerEvents('bob'), 'synced').length).toBeGreaterThan(0);
    await act(loop, 'bob', bob.move('move', { t: 'move', cell: 0 }, loop.now));
    expect(host.chain.player('bob')!.lastSeq).toBe(1);
  });

  it('a crashed player: its will clears the registration, a new process registers anew and verifies from genesis', async () => {
    const { loop, host, players } = await room();
    await act(loop, 'alice', players.get('alice')!.move('move', { t: 'move', cell: 4 }, loop.now));
    await act(loop, 'bob', players.get('bob')!.move('move', { t: 'move', cell: 0 }, loop.now));
    await act(loop, 'alice', players.get('alice')!.move('move', { t: 'move', cell: 1 }, loop.now));
    // bob's process dies: the broker publishes its will
    loop.offline.add('bob');
    const will = players.get('bob')!.will;
    await act(loop, 'bob', [{ type: 'publish', ...will }]);
    expect(host.chain.player('bob')!.live).toBeUndefined();
    expect(loop.hostEvents().some((e) => e.type === 'left' && e.playerId === 'bob')).toBe(true);

    const bob2 = new TurnsPlayer({ ...ROOM, playerId: 'bob', hostKey: host.publicKey, random: seededRandom('bob-new'), now: loop.now });
    loop.add('bob2', bob2);
    loop.acl!.players.bob2 = loop.acl!.players.bob!; // the same identity, a new connection
    await act(loop, 'bob2', bob2.start(loop.now));
    expect(host.chain.player('bob')!.epoch).toBe(2);
    expect(bob2.registered).toBe(true);
    expect(bob2.chain.head).toBe(host.chain.head);
    expect(Buffer.from(bob2.chain.headHash)).toEqual(Buffer.from(host.chain.headHash));
    expect(bob2.ready).toBe(true);
    // its sequence goes on from the log
    await act(loop, 'bob2', bob2.move('move', { t: 'move', cell: 8 }, loop.now));
    expect(host.chain.player('bob')!.lastSeq).toBe(2);

    // the dead process's registration replayed on bob's topic: its key belongs to an earlier epoch, refused, never kept
    const old = loop.published.find((p) => p.from === 'bob' && p.topic.endsWith('/register/bob') && p.payload.length > 0)!;
    loop.queue.push({ from: 'x', to: 'host', topic: old.topic, payload: old.payload, retained: false });
    await loop.run();
    expect(
      loop
        .hostEvents()
        .filter((e) => e.type === 'rejected')
        .at(-1),
    ).toMatchObject({ rejection: { code: 'turns_replay' } });
    // so when the new process's will fires, nothing stale comes back in its place
    loop.offline.add('bob2');
    await act(loop, 'bob2', [{ type: 'publish', ...bob2.will }]);
    expect(host.chain.player('bob')!.live).toBeUndefined();
  });

  it('a registration that raced the will is taken once the old one is cleared', async () => {
    const { loop, host, players } = await room();
    const bob2 = new TurnsPlayer({ ...ROOM, playerId: 'bob', hostKey: host.publicKey, random: seededRandom('bob-new'), now: loop.now });
    loop.add('bob2', bob2);
    loop.acl!.players.bob2 = loop.acl!.players.bob!;
    await act(loop, 'bob2', bob2.start(loop.now));
    expect(events(loop.playerEvents('bob2'), 'rejected').map((e) => e.rejection.code)).toEqual(['turns_registration_conflict']);
    expect(bob2.registered).toBe(false);
    loop.offline.add('bob');
    // the old connection's will (an empty retained publish) arrives after the new registration
    await act(loop, 'bob', [{ type: 'publish', ...players.get('bob')!.will }]);
    expect(bob2.registered).toBe(true);
    expect(bob2.ready).toBe(true);
    expect(loop.retained.get('iyesmp/tictactoe/r1/register/bob')).toBeDefined();
  });

  it('resync fetches the log again from genesis and refuses a tampered chain', async () => {
    const { loop, host, players } = await room();
    await act(loop, 'alice', players.get('alice')!.move('move', { t: 'move', cell: 4 }, loop.now));
    await act(loop, 'bob', players.get('bob')!.move('move', { t: 'move', cell: 0 }, loop.now));
    const bob = players.get('bob')!;
    await act(loop, 'bob', bob.resync(loop.now));
    expect(bob.chain.head).toBe(host.chain.head);
    expect(bob.ready).toBe(true);

    // the host's stored block 3 altered by one byte (a broken store, or a host rewriting history)
    const n = 3;
    const good = host.chain.frames[n]!;
    const bad = Uint8Array.from(good);
    bad[bad.length - 80]! ^= 1;
    host.chain.frames[n] = bad;
    await act(loop, 'bob', bob.resync(loop.now));
    expect(bob.chain.head).toBe(n - 1);
    expect(bob.ready).toBe(false);
    expect(events(loop.playerEvents('bob'), 'alert').at(-1)!.code).toBe('turns_bad_chain');
    expect(() => bob.move('move', { t: 'move', cell: 1 }, loop.now)).toThrow(expect.objectContaining({ code: 'turns_not_ready' }));

    // with the block restored, the same resync verifies
    host.chain.frames[n] = good;
    await act(loop, 'bob', bob.resync(loop.now));
    expect(bob.ready).toBe(true);
  });

  it('blocks not signed by the pinned host key are refused even with a valid shape', async () => {
    const { loop, host } = await room();
    const fake = new (await import('../../src/turns/index.js')).TurnsHost({ ...ROOM, players: ['alice', 'bob'], random: seededRandom('fake-host') });
    const actions = fake.start(loop.now);
    const genesis = actions.find((a) => a.type === 'publish')!;
    const p = new TurnsPlayer({ ...ROOM, playerId: 'alice', hostKey: host.publicKey, random: seededRandom('alice-3'), now: loop.now });
    if (genesis.type !== 'publish') throw new Error('no genesis');
    const out = p.receive({ topic: genesis.topic, payload: genesis.payload, retained: true }, loop.now);
    expect(out.some((a) => a.type === 'event' && a.event.type === 'alert')).toBe(true);
    expect(p.chain.head).toBe(-1);
  });
});

describe('turns: challenges', () => {
  it('players and the host prove they hold their registered keys', async () => {
    const { loop, host, players } = await room();
    await act(loop, 'alice', players.get('alice')!.challenge('bob', loop.now));
    await act(loop, 'alice', players.get('alice')!.challenge(HOST_ID, loop.now));
    await act(loop, 'host', host.challenge('bob', loop.now));
    expect(events(loop.playerEvents('alice'), 'challenge')).toEqual([
      { type: 'challenge', from: 'bob', verified: true },
      { type: 'challenge', from: HOST_ID, verified: true },
    ]);
    expect(loop.hostEvents().filter((e) => e.type === 'challenge')).toEqual([{ type: 'challenge', from: 'bob', verified: true }]);
    expect(loop.refusals).toEqual([]);
  });

  it('an answer that is not signed by the registered key does not verify', async () => {
    const { loop, players } = await room();
    // the broker (or anyone who can publish there) answers in bob's name with a bad signature
    loop.intercept = (d) => {
      if (d.to !== 'alice' || !d.topic.endsWith('/challenge/alice')) return d;
      const forged = Uint8Array.from(d.payload);
      forged[forged.length - 1]! ^= 1;
      return { ...d, payload: forged };
    };
    await act(loop, 'alice', players.get('alice')!.challenge('bob', loop.now));
    expect(events(loop.playerEvents('alice'), 'challenge')).toEqual([{ type: 'challenge', from: 'bob', verified: false }]);
  });
});

describe('turns: encryption with rotation', () => {
  const keyIdOf = (payload: Uint8Array): number | undefined => {
    const o = decodeOuter(makeCodec(1 << 20), payload);
    return o.ok && o.value.type === 'sealed' ? o.value.keyId : undefined;
  };

  it('rotates the room key mid-session; the old key is refused after the next rotation', async () => {
    const { loop, host, players } = await room({ encrypt: true });
    const alice = players.get('alice')!;
    const bob = players.get('bob')!;
    await act(loop, 'alice', alice.move('move', { t: 'move', cell: 4 }, loop.now));
    await act(loop, 'host', host.rotateKey(loop.now));
    const m = bob.move('move', { t: 'move', cell: 0 }, loop.now);
    const sent = m[0]!;
    if (sent.type !== 'publish') throw new Error('no move');
    expect(keyIdOf(sent.payload)).toBe(2);
    await act(loop, 'bob', m);
    expect(host.chain.player('bob')!.lastSeq).toBe(1);
    expect(alice.chain.head).toBe(host.chain.head);
    // a frame sealed with key 1 is still accepted right after rotation, then refused after the next
    await act(loop, 'host', host.rotateKey(loop.now));
    await act(loop, 'host', host.rotateKey(loop.now));
    const late = loop.published.find((p) => p.from === 'alice' && keyIdOf(p.payload) === 1)!;
    loop.queue.push({ from: 'x', to: 'host', topic: host.chain.roundTopic!, payload: late.payload, retained: false });
    await loop.run();
    const last = loop
      .hostEvents()
      .filter((e) => e.type === 'rejected')
      .at(-1);
    expect(last).toMatchObject({ rejection: { code: 'turns_unknown_key' } });
    await act(loop, 'alice', alice.move('move', { t: 'move', cell: 1 }, loop.now));
    expect(host.chain.player('alice')!.lastSeq).toBe(2);
  });

  it('a sealed frame moved to another topic does not open', async () => {
    const { loop, host, players } = await room({ encrypt: true });
    const m = players.get('alice')!.move('move', { t: 'move', cell: 4 }, loop.now)[0]!;
    if (m.type !== 'publish') throw new Error('no move');
    await loop.perform('host', host.nextRound(loop.now));
    await loop.run();
    loop.queue.push({ from: 'x', to: 'host', topic: host.chain.roundTopic!, payload: m.payload, retained: false });
    await loop.run();
    expect(
      loop
        .hostEvents()
        .filter((e) => e.type === 'rejected')
        .at(-1),
    ).toMatchObject({ rejection: { code: 'turns_decrypt_failed' } });
  });
});

describe('turns: forks', () => {
  it('a second block the host signed with a number already in the log raises a fork alert and changes nothing', async () => {
    const { loop, host, players } = await room();
    // the same host key (same random source) signing another genesis: what a forking host would send
    const twin = new TurnsHost({ ...ROOM, players: ['alice', 'bob'], random: seededRandom('host') });
    expect(Buffer.from(twin.publicKey)).toEqual(Buffer.from(host.publicKey));
    const genesis = twin.start(loop.now + 5).find((a) => a.type === 'publish');
    if (genesis?.type !== 'publish') throw new Error('no genesis');
    const alice = players.get('alice')!;
    const head = alice.chain.head;
    const out = alice.receive({ topic: genesis.topic, payload: genesis.payload }, loop.now);
    expect(out).toEqual([{ type: 'event', event: { type: 'alert', code: 'turns_fork', message: 'the host signed two different blocks numbered 0' } }]);
    expect(alice.chain.head).toBe(head);
    // the very same block again is no news
    expect(alice.receive({ topic: genesis.topic, payload: host.chain.frames[0]! }, loop.now)).toEqual([]);
  });
});

describe('turns: reconnect after the will fired', () => {
  it('start + resync on reconnect registers the same keys again and catches up from genesis', async () => {
    const { loop, host, players } = await room();
    const bob = players.get('bob')!;
    // the broker saw bob's connection drop and published his will; alice moved meanwhile
    loop.offline.add('bob');
    await act(loop, 'bob', [{ type: 'publish', ...bob.will }]);
    await act(loop, 'alice', players.get('alice')!.move('move', { t: 'move', cell: 4 }, loop.now));
    loop.offline.delete('bob');
    await act(loop, 'bob', [...bob.start(loop.now), ...bob.resync(loop.now)]);
    expect(host.chain.player('bob')!.epoch).toBe(2);
    expect(bob.registered).toBe(true);
    expect(bob.chain.head).toBe(host.chain.head);
    expect(bob.ready).toBe(true);
    await act(loop, 'bob', bob.move('move', { t: 'move', cell: 0 }, loop.now));
    expect(host.chain.player('bob')!.lastSeq).toBe(1);
  });
});

describe('turns: the host cannot forge a player', () => {
  it('a host-signed block with a move bob never signed is refused by every player', async () => {
    const { loop, host, players } = await room();
    await act(loop, 'alice', players.get('alice')!.move('move', { t: 'move', cell: 4 }, loop.now));
    const hostKeys = signingKeysFromSeed(seededRandom('host')(32)); // the sim host's key: its first random bytes
    const forgedMove = encodeSigned(
      'move',
      ROOM,
      moveFields({
        playerId: 'bob',
        action: 'move',
        data: { t: 'move', cell: 0 },
        nonce: new Uint8Array(16),
        seq: 1,
        timestamp: loop.now,
        prevHash: host.chain.headHash,
        round: host.chain.round,
        topic: host.chain.roundTopic!,
      }),
      signingKeysFromSeed(seededRandom('mallory')(32)),
    ).frame;
    const block = encodeSigned(
      'block',
      ROOM,
      blockFields({ number: host.chain.head + 1, timestamp: loop.now, prevHash: host.chain.headHash, entries: [['move', forgedMove, null]] }),
      hostKeys,
    ).frame;
    for (const id of ['alice', 'bob']) {
      const p = players.get(id)!;
      const head = p.chain.head;
      const out = p.receive({ topic: host.topics.ctl, payload: block }, loop.now);
      expect(out).toEqual([expect.objectContaining({ event: expect.objectContaining({ type: 'alert', code: 'turns_bad_chain' }) })]);
      expect(p.chain.head).toBe(head);
    }
  });
});

describe('turns: sync in batches, and again when an answer is lost', () => {
  it('fetches a long log in several answers, and tick asks again after a lost one', async () => {
    const { loop, host, players } = await room({ host: { limits: { syncBatch: 2 } } });
    for (const [who, cell] of [
      ['alice', 0],
      ['bob', 3],
      ['alice', 1],
      ['bob', 4],
    ] as const)
      await act(loop, who, players.get(who)!.move('move', { t: 'move', cell }, loop.now));
    const bob = players.get('bob')!;
    const asked = () => loop.published.filter((p) => p.from === 'bob' && p.topic.endsWith('/sync/bob')).length;
    const before = asked();
    await act(loop, 'bob', bob.resync(loop.now));
    expect(bob.chain.head).toBe(host.chain.head);
    expect(asked() - before).toBe(Math.ceil((host.chain.head + 1) / 2));
    expect(bob.ready).toBe(true);

    // the answer is lost on the way: not ready, and tick asks again once the retry time passed
    loop.intercept = (d) => (d.to === 'bob' && d.topic.endsWith('/sync/bob') ? false : d);
    await act(loop, 'bob', bob.resync(loop.now));
    expect(bob.ready).toBe(false);
    expect(bob.tick(loop.now + 1000)).toEqual([]);
    loop.intercept = undefined;
    loop.now += 3000;
    await act(loop, 'bob', bob.tick(loop.now));
    expect(bob.ready).toBe(true);
  });
});

describe('turns: replayed host frames', () => {
  it('a refusal replayed later is not taken for a refusal of the move now pending', async () => {
    const { loop, players } = await room();
    const bob = players.get('bob')!;
    await act(loop, 'bob', bob.move('move', { t: 'move', cell: 4 }, loop.now)); // out of turn: refused
    const refusal = loop.published.filter((p) => p.from === 'host' && p.topic.endsWith('/sync/bob')).at(-1)!;
    await act(loop, 'alice', players.get('alice')!.move('move', { t: 'move', cell: 4 }, loop.now));
    await loop.perform('bob', bob.move('move', { t: 'move', cell: 0 }, loop.now)); // pending
    const out = bob.receive({ topic: refusal.topic, payload: refusal.payload }, loop.now);
    expect(out.every((a) => !(a.type === 'event' && a.event.type === 'rejected'))).toBe(true);
    await loop.run();
    expect(bob.chain.player('bob')!.lastSeq).toBe(1);
  });

  it('a player answers challenges within its rate only', async () => {
    const { loop, players } = await room();
    const alice = players.get('alice')!;
    const bob = players.get('bob')!;
    let answers = 0;
    for (let i = 0; i < 30; i++) {
      const chal = alice.challenge('bob', loop.now)[0]!;
      if (chal.type !== 'publish') throw new Error('no challenge');
      answers += bob.receive({ topic: chal.topic, payload: chal.payload }, loop.now).filter((a) => a.type === 'publish').length;
    }
    expect(answers).toBe(20);
  });
});
