/** Every refusal has its own code, reaches the sender's sync topic, and changes nothing in the log. */
import { describe, expect, it } from 'vitest';
import { encodeSigned, moveFields, type MoveFields } from '../../src/turns/wire.js';
import { signingKeysFromSeed, type SigningKeys, TurnsPlayer, type HostEvent } from '../../src/turns/index.js';
import { act, type Loop, room, ROOM, seededRandom } from './sim.js';

/** The signing keys a player of the sim derives from its seeded random source (its first 32 bytes). */
const keysOf = (id: string): SigningKeys => signingKeysFromSeed(seededRandom(id)(32));

type Room = Awaited<ReturnType<typeof room>>;

/** A move signed with `keys`, for the host's current round and head unless overridden. */
function craft(r: Room, keys: SigningKeys, over: Partial<MoveFields> & { playerId: string; seq: number }): { topic: string; payload: Uint8Array } {
  const topic = over.topic ?? r.host.chain.roundTopic!;
  const m: MoveFields = {
    action: 'move',
    data: { t: 'move', cell: 8 },
    nonce: new Uint8Array(16).fill(7),
    timestamp: r.loop.now,
    prevHash: r.host.chain.headHash,
    round: r.host.chain.round,
    topic,
    ...over,
  };
  return { topic, payload: encodeSigned('move', ROOM, moveFields(m), keys).frame };
}

/** Delivers one message straight to the host (as a broker operator could), then runs the loop. */
async function inject(loop: Loop, msg: { topic: string; payload: Uint8Array }): Promise<void> {
  loop.queue.push({ from: 'x', to: 'host', topic: msg.topic, payload: msg.payload, retained: false });
  await loop.run();
}

const hostRejections = (loop: Loop) => loop.hostEvents().filter((e): e is Extract<HostEvent, { type: 'rejected' }> => e.type === 'rejected');
/**
 * What a player was told: `rejected` for what it sent itself, an `alert` with the same code for what
 * someone sent in its name (the crafted messages below do not come from the player's machine).
 */
const playerRejections = (loop: Loop, id: string) =>
  loop.playerEvents(id).flatMap((e) => (e.type === 'rejected' ? [e.rejection.code] : e.type === 'alert' && e.code !== 'turns_bad_chain' ? [e.code] : []));
const playerRejectedOwn = (loop: Loop, id: string) => loop.playerEvents(id).flatMap((e) => (e.type === 'rejected' ? [e.rejection.code] : []));

async function expectRejected(r: Room, run: () => Promise<void>, code: string, sender: string): Promise<void> {
  const head = r.host.chain.head;
  const hash = Buffer.from(r.host.chain.headHash);
  const before = hostRejections(r.loop).length;
  const told = playerRejections(r.loop, sender).length;
  await run();
  expect(
    hostRejections(r.loop)
      .slice(before)
      .map((e) => e.rejection.code),
  ).toEqual([code]);
  expect(playerRejections(r.loop, sender).slice(told)).toEqual([code]);
  expect(r.host.chain.head).toBe(head);
  expect(Buffer.from(r.host.chain.headHash)).toEqual(hash);
}

describe('turns: rejections, each with its own reason', () => {
  it("a forged signature: a move in bob's name signed with another key", async () => {
    const r = await room();
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    await expectRejected(r, () => inject(r.loop, craft(r, keysOf('mallory'), { playerId: 'bob', seq: 1 })), 'turns_bad_signature', 'bob');
    expect(r.loop.hostEvents().some((e) => e.type === 'alert' && e.code === 'turns_bad_signature' && e.playerId === 'bob')).toBe(true);
    // bob learns of it as an alert: nothing he sent was refused (a pending move of his stays pending)
    expect(playerRejectedOwn(r.loop, 'bob')).toEqual([]);
    expect(r.loop.playerEvents('bob').some((e) => e.type === 'alert' && e.code === 'turns_bad_signature')).toBe(true);
  });

  it('a replayed move: an accepted move delivered again', async () => {
    const r = await room();
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    const sent = r.loop.published.find((p) => p.from === 'alice' && p.topic.includes('/round/'))!;
    // the player's machine knows the duplicate and keeps quiet; the host still reports it
    const head = r.host.chain.head;
    await inject(r.loop, sent);
    expect(hostRejections(r.loop).map((e) => e.rejection.code)).toEqual(['turns_replay']);
    expect(r.host.chain.head).toBe(head);
    // an older move replayed on the current topic is refused the same way
    await act(r.loop, 'bob', r.players.get('bob')!.move('move', { t: 'move', cell: 0 }, r.loop.now));
    await inject(r.loop, { topic: r.host.chain.roundTopic!, payload: sent.payload });
    expect(hostRejections(r.loop).map((e) => e.rejection.code)).toEqual(['turns_replay', 'turns_replay']);
  });

  it('a stale round topic: a move that arrives after its round was replaced', async () => {
    const r = await room();
    const alice = r.players.get('alice')!;
    await r.loop.perform('alice', alice.move('move', { t: 'move', cell: 4 }, r.loop.now)); // queued, not yet delivered
    await r.loop.perform('host', r.host.nextRound(r.loop.now)); // the host moves on first
    await expectRejected(r, () => r.loop.run(), 'turns_stale_round', 'alice');
  });

  it('a move on a topic that is not the round it claims', async () => {
    const r = await room();
    const m = craft(r, keysOf('alice'), { playerId: 'alice', seq: 1, topic: 'iyesmp/tictactoe/r1/round/00000000000000000000000000000000' });
    await expectRejected(r, () => inject(r.loop, { topic: r.host.chain.roundTopic!, payload: m.payload }), 'turns_wrong_topic', 'alice');
  });

  it('out of turn: the game refuses bob moving first with its own code', async () => {
    const r = await room();
    await expectRejected(r, () => act(r.loop, 'bob', r.players.get('bob')!.move('move', { t: 'move', cell: 4 }, r.loop.now)), 'not_your_turn', 'bob');
    expect(playerRejectedOwn(r.loop, 'bob')).toEqual(['not_your_turn']);
  });

  it("illegal per the game's rules: a taken cell", async () => {
    const r = await room();
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    await expectRejected(r, () => act(r.loop, 'bob', r.players.get('bob')!.move('move', { t: 'move', cell: 4 }, r.loop.now)), 'cell_taken', 'bob');
    // a refused move does not use up the sequence: the next one plays
    await act(r.loop, 'bob', r.players.get('bob')!.move('move', { t: 'move', cell: 0 }, r.loop.now));
    expect(r.host.chain.player('bob')!.lastSeq).toBe(1);
  });

  it('a game code that is not wire-safe becomes turns_illegal_move', async () => {
    const r = await room({ validator: () => ({ ok: false, code: 'Not Allowed!' }) });
    await expectRejected(r, () => act(r.loop, 'alice', r.players.get('alice')!.move('move', {}, r.loop.now)), 'turns_illegal_move', 'alice');
  });

  it('a conflicting registration: alerted and ignored while the first is live', async () => {
    const r = await room();
    const live = r.host.chain.player('bob')!.live!;
    const impostor = new TurnsPlayer({ ...ROOM, playerId: 'bob', hostKey: r.host.publicKey, random: seededRandom('bob-2'), now: r.loop.now });
    r.loop.add('bob2', impostor);
    const head = r.host.chain.head;
    await act(
      r.loop,
      'bob2',
      impostor.start(r.loop.now).filter((a) => a.type === 'publish'),
    );
    expect(hostRejections(r.loop).map((e) => e.rejection.code)).toEqual(['turns_registration_conflict']);
    expect(r.loop.hostEvents().some((e) => e.type === 'alert' && e.code === 'turns_registration_conflict')).toBe(true);
    expect(r.host.chain.player('bob')!.live!.signKey).toEqual(live.signKey);
    expect(r.host.chain.head).toBe(head);
  });

  it('sequence gaps, clock skew, equivocation, a stale head, another session and oversize messages', async () => {
    const r = await room();
    const alice = keysOf('alice');
    await expectRejected(r, () => inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 2 })), 'turns_sequence_gap', 'alice');
    await expectRejected(r, () => inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 1, timestamp: r.loop.now + 31_000 })), 'turns_clock_skew', 'alice');
    await expectRejected(r, () => inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 1, prevHash: new Uint8Array(32) })), 'turns_stale_head', 'alice');
    const other = encodeSigned(
      'move',
      { ...ROOM, sessionId: 'sess-2' },
      moveFields({
        playerId: 'alice',
        action: 'move',
        data: null,
        nonce: new Uint8Array(16),
        seq: 1,
        timestamp: r.loop.now,
        prevHash: r.host.chain.headHash,
        round: 1,
        topic: r.host.chain.roundTopic!,
      }),
      alice,
    );
    await inject(r.loop, { topic: r.host.chain.roundTopic!, payload: other.frame });
    expect(hostRejections(r.loop).at(-1)!.rejection.code).toBe('turns_wrong_session');
    await inject(r.loop, { topic: r.host.chain.roundTopic!, payload: new Uint8Array(70_000) });
    expect(hostRejections(r.loop).at(-1)!.rejection.code).toBe('turns_message_too_large');
    // accepted seq 1, then a different move signed with the same sequence
    await inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 1, data: { t: 'move', cell: 4 } }));
    expect(r.host.chain.player('alice')!.lastSeq).toBe(1);
    await expectRejected(r, () => inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 1, data: { t: 'move', cell: 5 } })), 'turns_equivocation', 'alice');
    expect(r.loop.hostEvents().some((e) => e.type === 'alert' && e.code === 'turns_equivocation')).toBe(true);
  });

  it('rate-limits each player and tells it once per window', async () => {
    const r = await room({ host: { limits: { ratePerWindow: 3, rateWindowMs: 1000 } } });
    const alice = keysOf('alice');
    for (let i = 0; i < 6; i++) await inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 5 + i }));
    const codes = hostRejections(r.loop).map((e) => e.rejection.code);
    expect(codes.filter((c) => c === 'turns_rate_limited')).toHaveLength(1);
    expect(playerRejections(r.loop, 'alice').filter((c) => c === 'turns_rate_limited')).toHaveLength(1);
    r.loop.now += 1000;
    await inject(r.loop, craft(r, alice, { playerId: 'alice', seq: 9 }));
    expect(hostRejections(r.loop).at(-1)!.rejection.code).toBe('turns_sequence_gap');
  });
});

describe("turns: forgeries cannot use up a player's budget", () => {
  it("moves forged in alice's name do not rate-limit alice", async () => {
    const r = await room({ host: { limits: { ratePerWindow: 3, rateWindowMs: 1000 } } });
    for (let i = 0; i < 10; i++) await inject(r.loop, craft(r, keysOf('mallory'), { playerId: 'alice', seq: 1 }));
    // only the first few forgeries are reported to alice; the rest are dropped silently
    expect(playerRejections(r.loop, 'alice')).toEqual(['turns_bad_signature', 'turns_bad_signature', 'turns_bad_signature']);
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    expect(r.host.chain.player('alice')!.lastSeq).toBe(1);
  });
});

describe('turns: size bounds', () => {
  it('refuses a move too large to fit a block, and logs an accepted move without an oversize reply', async () => {
    const r = await room({ validator: () => ({ ok: true, reply: 'y'.repeat(5000) }) });
    await expectRejected(
      r,
      () => act(r.loop, 'alice', r.players.get('alice')!.move('move', { blob: new Uint8Array(64_500) }, r.loop.now)),
      'turns_message_too_large',
      'alice',
    );
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    expect(r.host.chain.player('alice')!.lastSeq).toBe(1);
    expect(r.loop.hostEvents().some((e) => e.type === 'alert' && e.code === 'turns_too_large')).toBe(true);
    const last = r.loop
      .playerEvents('bob')
      .filter((e) => e.type === 'block')
      .at(-1);
    expect(last?.type === 'block' && last.block.entries[0]).toMatchObject({ kind: 'move', reply: null });
  });
});

describe('turns: time', () => {
  it("refuses moves made after the mover's registration expired", async () => {
    const r = await room();
    // alice's registration lives 6 hours by default: move her clock past it
    r.loop.now += 6 * 3600_000 + 1;
    await expectRejected(
      r,
      () => act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now)),
      'turns_registration_expired',
      'alice',
    );
  });

  it('a host clock stepped back keeps block times in order', async () => {
    const r = await room();
    await act(r.loop, 'alice', r.players.get('alice')!.move('move', { t: 'move', cell: 4 }, r.loop.now));
    r.loop.now -= 20_000;
    await act(r.loop, 'bob', r.players.get('bob')!.move('move', { t: 'move', cell: 0 }, r.loop.now));
    expect(r.host.chain.player('bob')!.lastSeq).toBe(1);
    expect(r.players.get('alice')!.chain.head).toBe(r.host.chain.head);
  });
});
