/**
 * QoS 1 delivers at least once: any message may arrive twice, the copy later than the original.
 * Whatever gets duplicated, a game plays out the same, every chain agrees, and no player is told
 * that a move of its own was refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TurnsHost, TurnsPlayer } from '../../src/turns/index.js';
import { act, Loop, ROOM, room, seededRandom } from './sim.js';

const GAME: [string, number][] = [
  ['alice', 0],
  ['bob', 3],
  ['alice', 1],
  ['bob', 4],
  ['alice', 2],
];

describe('turns: duplicated deliveries', () => {
  it('de-duplicates by player and sequence, in plain and sealed rooms', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 400, maxLength: 400 }), fc.boolean(), async (dups, encrypt) => {
        const { loop, host, players } = await room({ encrypt });
        let i = 0;
        const later: (typeof loop.queue)[number][] = [];
        loop.intercept = (d) => {
          if (dups[i++ % dups.length]) later.push({ ...d });
          return d;
        };
        for (const [who, cell] of GAME) {
          const p = players.get(who)!;
          await act(loop, who, p.move('move', { t: 'move', cell }, loop.now));
          // the duplicates arrive after the originals (never duplicated again)
          loop.intercept = undefined;
          loop.queue.push(...later.splice(0));
          await loop.run();
          loop.intercept = (d) => {
            if (dups[i++ % dups.length]) later.push({ ...d });
            return d;
          };
          loop.now += 1000;
        }
        expect(host.chain.player('alice')!.lastSeq).toBe(3);
        expect(host.chain.player('bob')!.lastSeq).toBe(2);
        for (const p of players.values()) {
          expect(Buffer.from(p.chain.headHash)).toEqual(Buffer.from(host.chain.headHash));
          expect(loop.playerEvents(p.playerId).filter((e) => e.type === 'rejected')).toEqual([]);
        }
        expect(loop.hostEvents().filter((e) => e.type === 'alert')).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });
});

describe('turns: everything delivered twice', () => {
  it('the host sees the copies as replays and says nothing a player would take for a refusal', async () => {
    const { loop, host, players } = await room();
    for (const [who, cell] of GAME) {
      loop.intercept = (d) => {
        loop.intercept = undefined; // only the first hop of each move is doubled here: the move itself
        loop.queue.push({ ...d }, { ...d });
        return d;
      };
      await act(loop, who, players.get(who)!.move('move', { t: 'move', cell }, loop.now));
    }
    expect(loop.hostEvents().filter((e) => e.type === 'rejected' && e.rejection.code === 'turns_replay').length).toBeGreaterThanOrEqual(GAME.length);
    for (const p of players.values()) {
      expect(loop.playerEvents(p.playerId).filter((e) => e.type === 'rejected' || e.type === 'alert')).toEqual([]);
      expect(p.chain.head).toBe(host.chain.head);
    }
  });
});

/** Delivers in a random order that keeps each (recipient, topic) stream in order, as MQTT does. */
async function runShuffled(loop: Loop, picks: number[]): Promise<void> {
  let k = 0;
  for (let steps = 0; steps < 10_000 && loop.queue.length > 0; steps++) {
    const heads: number[] = [];
    const seen = new Set<string>();
    loop.queue.forEach((d, i) => {
      const key = `${d.to} ${d.topic}`;
      if (!seen.has(key)) heads.push(i);
      seen.add(key);
    });
    const i = heads[picks[k++ % picks.length]! % heads.length]!;
    const [d] = loop.queue.splice(i, 1);
    if (d === undefined || loop.offline.has(d.to)) continue;
    const m = loop.machines.get(d.to);
    if (m) await loop.perform(d.to, m.receive({ topic: d.topic, payload: d.payload, retained: d.retained }, loop.now));
  }
  expect(loop.queue).toEqual([]);
}

describe('turns: deliveries reordered across topics', () => {
  it('a sealed game from registration to the end agrees everywhere whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 50, maxLength: 50 }), async (picks) => {
        const loop = new Loop();
        const host = new TurnsHost({ ...ROOM, players: ['alice', 'bob'], random: seededRandom('host'), encrypt: true });
        loop.host = host;
        loop.add('host', host);
        loop.validator = () => ({ ok: true });
        await loop.perform('host', host.start(loop.now));
        const players = ['alice', 'bob'].map(
          (id) => new TurnsPlayer({ ...ROOM, playerId: id, hostKey: host.publicKey, random: seededRandom(id), now: loop.now }),
        );
        for (const p of players) {
          loop.add(p.playerId, p);
          await loop.perform(p.playerId, p.start(loop.now));
        }
        await runShuffled(loop, picks);
        // a sync answer lost to ordering is asked again by tick
        for (let t = 0; t < 5 && !players.every((p) => p.ready); t++) {
          loop.now += 3000;
          for (const p of players) await loop.perform(p.playerId, p.tick(loop.now));
          await runShuffled(loop, picks);
        }
        expect(players.map((p) => p.ready)).toEqual([true, true]);
        for (let n = 0; n < 4; n++) {
          const p = players[n % 2]!;
          await loop.perform(p.playerId, p.move('move', { n }, loop.now));
          await runShuffled(loop, picks);
          if (n === 1) await loop.perform('host', host.rotateKey(loop.now));
        }
        await loop.perform('host', host.end({ done: true }, loop.now));
        await runShuffled(loop, picks);
        for (const p of players) {
          expect(p.ended).toBe(true);
          expect(Buffer.from(p.chain.headHash)).toEqual(Buffer.from(host.chain.headHash));
        }
        expect(host.chain.player('alice')!.lastSeq + host.chain.player('bob')!.lastSeq).toBe(4);
      }),
      { numRuns: 30 },
    );
  });
});
