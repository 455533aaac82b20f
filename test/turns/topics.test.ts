/** Topic layout, per-participant ACLs, and the unambiguous hash inputs behind rounds. */
import { describe, expect, it } from 'vitest';
import {
  dhKeysFromSeed,
  encodeParts,
  HOST_ID,
  isValidId,
  open,
  pairKey,
  roomAcl,
  roomTopics,
  roundCommitment,
  roundTopicHex,
  seal,
  x25519PublicKey,
} from '../../src/turns/index.js';

const REF = { game: 'chess', room: 'r-7' };

describe('turns topics', () => {
  it('restricts ids to one level of [a-z0-9_-]', () => {
    for (const bad of ['', 'A', 'a/b', 'a+', '#', 'a b', 'é', 'x'.repeat(65), '$SYS']) expect(isValidId(bad), bad).toBe(false);
    for (const good of ['a', 'alice_1', 'r-7', HOST_ID, 'x'.repeat(64)]) expect(isValidId(good), good).toBe(true);
    expect(() => roomTopics({ game: 'chess', room: 'r/1' })).toThrow(expect.objectContaining({ code: 'turns_bad_id' }));
    expect(() => roomTopics({ prefix: 'game/#', ...REF })).toThrow(expect.objectContaining({ code: 'turns_bad_id' }));
    expect(() => roomTopics(REF).register('+')).toThrow(expect.objectContaining({ code: 'turns_bad_id' }));
  });

  it('lays out a room and parses its topics back', () => {
    const t = roomTopics({ prefix: 'games', ...REF });
    expect(t.register('alice')).toBe('games/chess/r-7/register/alice');
    expect(t.ctl).toBe('games/chess/r-7/ctl');
    const hex = 'ab'.repeat(16);
    expect(t.parse(t.round(hex))).toEqual({ kind: 'round', hex });
    expect(t.parse(t.sync('bob'))).toEqual({ kind: 'sync', id: 'bob' });
    expect(t.parse(t.challenge(HOST_ID))).toEqual({ kind: 'challenge', id: HOST_ID });
    for (const other of ['games/chess/r-8/ctl', 'games/chess/r-7/round/XYZ', 'games/chess/r-7/register/a/b', 'games/chess/r-7/other/a', 'games/chess/r-7'])
      expect(t.parse(other), other).toBeUndefined();
  });

  it("grants each participant literal topics only, and a player nothing of another player's own topics", () => {
    const hex = '0123456789abcdef0123456789abcdef';
    const acl = roomAcl(REF, ['alice', 'bob'], hex);
    const all = [acl.host, ...Object.values(acl.players)].flatMap((g) => [...g.subscribe, ...g.publish, ...g.retain]);
    expect(all.every((t) => !t.includes('+') && !t.includes('#') && !t.startsWith('$'))).toBe(true);
    const a = acl.players.alice!;
    expect(a.subscribe).toContain('iyesmp/chess/r-7/round/0123456789abcdef0123456789abcdef');
    expect(a.publish).toContain('iyesmp/chess/r-7/round/0123456789abcdef0123456789abcdef');
    expect(a.publish).toContain('iyesmp/chess/r-7/register/alice');
    expect(a.publish).not.toContain('iyesmp/chess/r-7/register/bob');
    expect(a.publish).not.toContain('iyesmp/chess/r-7/sync/bob');
    expect(a.publish).not.toContain('iyesmp/chess/r-7/ctl');
    expect(a.subscribe).not.toContain('iyesmp/chess/r-7/sync/bob');
    expect(a.subscribe).not.toContain('iyesmp/chess/r-7/challenge/bob');
    expect(a.publish).toContain('iyesmp/chess/r-7/challenge/bob');
    expect(a.publish).toContain(`iyesmp/chess/r-7/challenge/${HOST_ID}`);
    expect(a.retain).toEqual(['iyesmp/chess/r-7/register/alice']);
    expect(acl.host.publish).toContain('iyesmp/chess/r-7/ctl');
    expect(acl.host.retain).toContain('iyesmp/chess/r-7/register/bob'); // to clear it at the end
    // before the first round there is no round topic at all
    expect(roomAcl(REF, ['alice'], undefined).players.alice!.subscribe.some((t) => t.includes('/round/'))).toBe(false);
    expect(() => roomAcl(REF, [HOST_ID], undefined)).toThrow(expect.objectContaining({ code: 'turns_bad_id' }));
  });
});

describe('turns round derivation', () => {
  const seed = new Uint8Array(32).fill(9);

  it('encodes hash inputs unambiguously', () => {
    expect(Buffer.from(encodeParts(['ab', 'c']))).not.toEqual(Buffer.from(encodeParts(['a', 'bc'])));
    expect(Buffer.from(encodeParts([1]))).toEqual(Buffer.from('0000000000000001', 'hex'));
    expect(roundCommitment('ab', 'c', 1, seed)).not.toEqual(roundCommitment('a', 'bc', 1, seed));
    expect(roundTopicHex('ab', 'c', 1, seed, 32)).not.toBe(roundTopicHex('a', 'bc', 1, seed, 32));
    // round 12 is not round 1 followed by a '2' of the seed, as a decimal string would allow
    expect(roundCommitment('g', 'r', 12, seed)).not.toEqual(roundCommitment('g', 'r', 1, seed));
  });

  it('derives a different topic per round, game and room, 32 hex digits', () => {
    const topics = new Set<string>();
    for (const [g, r, n] of [
      ['g', 'r', 1],
      ['g', 'r', 2],
      ['h', 'r', 1],
      ['g', 's', 1],
    ] as const)
      topics.add(roundTopicHex(g, r, n, seed, 32));
    expect(topics.size).toBe(4);
    for (const t of topics) expect(t).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('turns crypto', () => {
  it('both sides derive the same pair key, and sealed bytes open only with the same key and AAD', () => {
    const host = dhKeysFromSeed(new Uint8Array(32).fill(1));
    const player = dhKeysFromSeed(new Uint8Array(32).fill(2));
    const ctx = { sessionId: 's', game: 'g', room: 'r', playerId: 'p', hostDh: host.publicKey, playerDh: player.publicKey };
    const k1 = pairKey(host, x25519PublicKey(player.publicKey)!, ctx);
    const k2 = pairKey(player, x25519PublicKey(host.publicKey)!, ctx);
    expect(Buffer.from(k1)).toEqual(Buffer.from(k2));
    expect(Buffer.from(pairKey(host, x25519PublicKey(player.publicKey)!, { ...ctx, playerId: 'q' }))).not.toEqual(Buffer.from(k1));
    const nonce = new Uint8Array(12).fill(3);
    const aad = new Uint8Array([1, 2]);
    const sealed = seal(k1, nonce, Buffer.from('hello'), aad);
    expect(Buffer.from(open(k2, nonce, sealed, aad)!).toString()).toBe('hello');
    expect(open(k2, nonce, sealed, new Uint8Array([1, 3]))).toBeUndefined();
    const flipped = Uint8Array.from(sealed);
    flipped[0]! ^= 1;
    expect(open(k2, nonce, flipped, aad)).toBeUndefined();
  });
});
