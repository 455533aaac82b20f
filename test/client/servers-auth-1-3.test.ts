/**
 * iyesmp-auth/1.3 against the real Auth and Host servers on loopback, with the tic-tac-toe host
 * game: a 1.3 client's seat is claimed with its match confirmation and its hand-off pushed (no
 * `session.ready`, no `session.claim`); a client held to 1.2 in the same match gets `session.ready`
 * and claims; both join the host and play the game to a recorded result. A key the minter refuses
 * is told to that player alone, who claims its seat the 1.2 way with a fresh key. A player whose
 * client restarts between its confirmation and the pushed hand-off takes the seat offered again
 * after its next login with the key its FileKeyStore kept; a cancelled match's key is dropped.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountService, GuestProvider, MemoryAccountStore, PasswordProvider } from '../../src/auth/accounts/index.js';
import {
  CONFIRMED_KEYS_ID,
  FileKeyStore,
  type AuthClient,
  type HostTicket,
  type ConnectOptions,
  type SessionHandoff,
  type SessionKeyRefused,
  type SessionReady,
} from '../../src/client/index.js';
import { seatIdOf } from '../../src/auth/handoff/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

const T = 60_000;

let live: LiveServers<TicTacToeExt>;
let passwords: PasswordProvider;
let keyDir: string;
/** seats whose next mint the minter refuses (as it refuses a key it cannot use) */
const refuseOnce = new Set<string>();
/** seats whose next mint waits for the promise (a slow minter: the hand-off comes later) */
const holdMint = new Map<string, Promise<void>>();

beforeAll(async () => {
  keyDir = await mkdtemp(path.join(tmpdir(), 'iyesmp-auth13-keys-'));
  passwords = new PasswordProvider({ store: new MemoryAccountStore(), scrypt: { ln: 10, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } });
  live = await startLiveServers<TicTacToeExt>({
    prefix: 'iyesmp-client-auth13-',
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    options: async ({ pki }) => {
      const real = await pki.sessionMinter();
      const minter = {
        mint: (req: Parameters<typeof real.mint>[0]) => {
          if (refuseOnce.delete(req.playerId)) return Promise.reject(new Error('the key is not one this minter takes'));
          const hold = holdMint.get(req.playerId);
          holdMint.delete(req.playerId);
          if (hold) return hold.then(() => real.mint(req));
          return real.mint(req);
        },
        mintWithNewKey: (req: Parameters<typeof real.mintWithNewKey>[0]) => real.mintWithNewKey(req),
      };
      return { auth: { accounts: new AccountService({ providers: [new GuestProvider(), passwords] }), minter: minter as typeof real } };
    },
    game: ticTacToeHostGame,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
  await rm(keyDir, { recursive: true, force: true });
}, 30_000);

const until = <T>(fn: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> => pollUntil(fn, what, timeoutMs, 50);
/** The match ids whose confirmed keys the store holds. */
async function confirmedKeys(store: FileKeyStore): Promise<string[]> {
  const raw = await store.get(CONFIRMED_KEYS_ID);
  return raw === undefined ? [] : (JSON.parse(raw) as { matchId: string }[]).map((e) => e.matchId);
}

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

async function player(name: string, over: Partial<ConnectOptions<TicTacToeExt>> = {}, password?: string) {
  const c = await live.connect(over);
  await c.login(password === undefined ? { method: 'guest', displayName: name } : { method: 'password', username: name, password });
  const seen = { ready: [] as SessionReady[], pushed: [] as SessionHandoff[], refused: [] as SessionKeyRefused[], phases: [] as string[] };
  c.on('sessionReady', (r) => seen.ready.push(r));
  c.on('sessionHandoff', (h) => seen.pushed.push(h));
  c.on('sessionKeyRefused', (r) => seen.refused.push(r));
  return { c, seen };
}

/** Both matchmake, join the host and play to the end; returns the tickets once the result is recorded. */
async function playMatch(a: Awaited<ReturnType<typeof player>>, b: Awaited<ReturnType<typeof player>>) {
  const [ta, tb] = await Promise.all([a, b].map((p) => p.c.matchmake({ mode: MODE, timeoutMs: 30_000, onStatus: (s) => p.seen.phases.push(s.phase) })));
  expect(ta!.sessionId).toBe(tb!.sessionId);
  const [ga, gb] = await Promise.all([a.c.joinHost(ta!), b.c.joinHost(tb!)]);
  const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
  for (const e of ends) expect(e.reason).toBe('completed');
  expect(ends[0]!.results.map((r) => r.playerId).sort()).toEqual([ta!.playerId, tb!.playerId].sort());
  const record = await until(() => live.ended.find((r) => r.id === ta!.sessionId), 'the auth server to record the results');
  expect(record.state).toBe('ended');
  return [ta!, tb!] as const;
}

describe('iyesmp-auth/1.3 against real servers', () => {
  it(
    'two 1.3 players: the seats are claimed with the confirmations, the hand-offs pushed, and they play',
    async () => {
      const a = await player('ada');
      const b = await player('bob');
      expect(a.c.protocolVersion).toEqual({ major: 1, minor: 4 }); // 1.4 keeps what 1.3 does here
      const [ta] = await playMatch(a, b);
      for (const p of [a, b]) {
        expect(p.seen.ready).toEqual([]);
        expect(p.seen.pushed.map((h) => h.sessionId)).toEqual([ta.sessionId]);
        expect(p.seen.phases).toEqual(['queued', 'found', 'confirmed', 'claiming']);
      }
      expect(ta.serverMadeKey).toBe(false);
    },
    T,
  );

  it(
    'a 1.3 player and a player held to 1.2 in one match: one is pushed its hand-off, the other claims; both play',
    async () => {
      const a = await player('cy');
      const old = await player('dee', { maxProtocolMinor: 2 });
      expect(old.c.protocolVersion).toEqual({ major: 1, minor: 2 });
      const [ta, tb] = await playMatch(a, old);
      expect(a.seen.ready).toEqual([]);
      expect(a.seen.pushed.map((h) => h.sessionId)).toEqual([ta.sessionId]);
      expect(old.seen.pushed).toEqual([]);
      expect(old.seen.ready.map((r) => [r.sessionId, r.needsPublicKey])).toEqual([[tb.sessionId, true]]);
      expect(old.seen.phases).toEqual(['queued', 'found', 'confirmed', 'claiming']);
      // the host got a certificate for each player's own key
      expect(ta.credentials!.certPem).not.toBe(tb.credentials!.certPem);
    },
    T,
  );

  it(
    'a refused key is told to that player alone, who claims its seat with a fresh key; the other keeps its pushed hand-off',
    async () => {
      const a = await player('eve');
      const b = await player('fay');
      refuseOnce.add(seatIdOf(a.c.account!.accountId));
      const [ta, tb] = await playMatch(a, b);
      expect(a.seen.refused).toMatchObject([{ sessionId: ta.sessionId, code: 'bad_request', reason: expect.stringMatching(/^the public key was refused: /) }]);
      expect(a.seen.ready.map((r) => r.sessionId)).toEqual([ta.sessionId]);
      expect(a.seen.pushed).toEqual([]);
      expect(b.seen.refused).toEqual([]);
      expect(b.seen.ready).toEqual([]);
      expect(b.seen.pushed.map((h) => h.sessionId)).toEqual([tb.sessionId]);
      expect(refuseOnce.size).toBe(0);
    },
    T,
  );

  /**
   * `name` (a password account with a FileKeyStore) and a rival matchmake; `name` confirms last
   * (its confirmation starts the match), `beforeClose` runs, and its client is closed.
   */
  async function confirmThenClose(name: string, o: { holdMint?: Promise<void>; beforeClose?: (a: Awaited<ReturnType<typeof player>>) => Promise<void> } = {}) {
    await passwords.register({ username: name, password: 'correct horse' }, { now: Date.now() });
    const keys = new FileKeyStore(path.join(keyDir, name));
    const a = await player(name, { keyStore: keys }, 'correct horse');
    if (o.holdMint) holdMint.set(seatIdOf(a.c.account!.accountId), o.holdMint);
    const b = await player(`${name}-rival`);
    const tb = b.c.matchmake({ mode: MODE, timeoutMs: 30_000, onStatus: (s) => b.seen.phases.push(s.phase) });
    tb.catch(() => undefined); // awaited by the test; not reported twice when an earlier step fails
    const found = a.c.next('matchFound', { timeoutMs: 15_000 });
    await until(() => b.seen.phases.includes('queued'), 'the rival to queue');
    await a.c.queue(MODE);
    const f = await found;
    await until(() => b.seen.phases.includes('confirmed'), 'the rival to confirm');
    await a.c.confirmMatch(f.matchId);
    // the key is on disk before the hand-off comes, named by the match (the session id is not known yet)
    expect(await confirmedKeys(keys)).toEqual([f.matchId]);
    await o.beforeClose?.(a);
    await a.c.close();
    return { keys, a, b, tb, relogin: () => player(name, { keyStore: keys }, 'correct horse') };
  }

  /** Both play the match to its recorded end; then the session key is gone from the store. */
  async function playAfterRestart(
    keys: FileKeyStore,
    a2: AuthClient<TicTacToeExt>,
    ta: HostTicket<TicTacToeExt>,
    b: AuthClient<TicTacToeExt>,
    tb: HostTicket<TicTacToeExt>,
  ) {
    expect(ta.sessionId).toBe(tb.sessionId);
    expect(ta.serverMadeKey).toBe(false);
    // the key moved to the session's own entry, in 0600 files
    expect(await confirmedKeys(keys)).toEqual([]);
    expect(await keys.get(ta.sessionId)).toBe(ta.credentials!.keyPem);
    for (const file of await readdir(keys.dir)) expect((await stat(path.join(keys.dir, file))).mode & 0o777).toBe(0o600);
    const [ga, gb] = await Promise.all([a2.joinHost(ta), b.joinHost(tb)]);
    const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
    for (const e of ends) expect(e.reason).toBe('completed');
    const record = await until(() => live.ended.find((r) => r.id === ta.sessionId), 'the auth server to record the results');
    expect(record.state).toBe('ended');
    // the game is over: its key goes too
    await until(async () => ((await keys.get(ta.sessionId)) === undefined ? true : undefined), 'the session key to be deleted');
  }

  it(
    'a client restarted after confirming, before its hand-off was made, takes the seat offered again at its next login with the key its FileKeyStore kept, and plays',
    async () => {
      let release!: () => void;
      const held = new Promise<void>((res) => (release = res));
      const r = await confirmThenClose('gil', { holdMint: held });
      expect(r.a.seen.pushed).toEqual([]);
      // now the seat's certificate is made for the confirmed key and the host takes the session
      release();
      const tb = await r.tb;
      // the game restarts and logs in again with the same store: the seat is offered again
      // (`session.ready` without the match, no public key asked) and claimed with the stored key
      const a2 = await r.relogin();
      await until(() => a2.c.pendingSessions.length > 0, 'the seat to be offered again');
      expect(a2.c.pendingSessions.map((s) => [s.sessionId, s.needsPublicKey])).toEqual([[tb.sessionId, false]]);
      const ta = await a2.c.waitForHandoff({ timeoutMs: 15_000 });
      await playAfterRestart(r.keys, a2.c, ta, r.b.c, tb);
    },
    T,
  );

  it(
    'a client restarted after its hand-off was pushed, before the game took it, gets the same seat at its next login, and plays',
    async () => {
      const r = await confirmThenClose('hana', { beforeClose: (a) => until(() => a.seen.pushed.length > 0, 'the pushed hand-off').then(() => undefined) });
      const tb = await r.tb;
      const a2 = await r.relogin();
      const ta = await a2.c.waitForHandoff({ timeoutMs: 15_000 });
      await playAfterRestart(r.keys, a2.c, ta, r.b.c, tb);
    },
    T,
  );

  it(
    "a cancelled match's confirmed key is dropped from the key store, and expired ones go at the next login",
    async () => {
      const keys = new FileKeyStore(path.join(keyDir, 'ivy'));
      // left by an earlier run of the game: one whose time is up, one still live
      await keys.set(
        CONFIRMED_KEYS_ID,
        JSON.stringify([
          { matchId: 'old-match', keyPem: 'PEM', until: Date.now() - 1 },
          { matchId: 'live-match', keyPem: 'PEM', until: Date.now() + 3_600_000 },
        ]),
      );
      const a = await player('ivy', { keyStore: keys });
      expect(await confirmedKeys(keys)).toEqual(['live-match']);
      const b = await player('jo');
      const cancelled = a.c.next('matchCancelled', { timeoutMs: 15_000 });
      const foundA = a.c.next('matchFound', { timeoutMs: 15_000 });
      const foundB = b.c.next('matchFound', { timeoutMs: 15_000 });
      const qa = await a.c.queue(MODE);
      await b.c.queue(MODE);
      const [f] = await Promise.all([foundA, foundB]);
      await a.c.confirmMatch(f.matchId);
      expect(await confirmedKeys(keys)).toEqual(['live-match', f.matchId]);
      await b.c.declineMatch(f.matchId);
      expect((await cancelled).matchId).toBe(f.matchId);
      await until(async () => ((await confirmedKeys(keys)).includes(f.matchId) ? undefined : true), 'the cancelled match key to be dropped');
      expect(await confirmedKeys(keys)).toEqual(['live-match']);
      await a.c.cancelQueue(qa.ticketId).catch(() => undefined);
    },
    T,
  );
});
