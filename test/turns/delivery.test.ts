/**
 * QoS 1 delivers at least once: any message may arrive twice, the copy later than the original.
 * Whatever gets duplicated, a game plays out the same, every chain agrees, and no player is told
 * that a move of its own was refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { act, room } from './sim.js';

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
