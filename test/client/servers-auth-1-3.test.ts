/**
 * iyesmp-auth/1.3 against the real Auth and Host servers on loopback, with the tic-tac-toe host
 * game: a 1.3 client's seat is claimed with its match confirmation and its hand-off pushed (no
 * `session.ready`, no `session.claim`); a client held to 1.2 in the same match gets `session.ready`
 * and claims; both join the host and play the game to a recorded result. A key the minter refuses
 * is told to that player alone, who claims its seat the 1.2 way with a fresh key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions, type SessionHandoff, type SessionKeyRefused, type SessionReady } from '../../src/client/index.js';
import type { Pki } from '../../src/pki/index.js';
import { AuthServer } from '../../src/auth/server.js';
import { seatIdOf } from '../../src/auth/handoff/index.js';
import { HostServer } from '../../src/host/server.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import {
  authAddress,
  authOptions,
  clientIdentity,
  closeLive,
  devPki,
  hostOptions,
  quickAuth,
  quickHost,
  silent,
  type DevPki,
} from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

const T = 60_000;

let dev: DevPki;
let pki: Pki;
let auth: AuthServer;
let host: HostServer<TicTacToeExt>;
let masterPem: string;
let identity: { cert: string; key: string };
const ended: SessionRecord[] = [];
const open: AuthClient<TicTacToeExt>[] = [];
/** seats whose next mint the minter refuses (as it refuses a key it cannot use) */
const refuseOnce = new Set<string>();

beforeAll(async () => {
  dev = await devPki('iyesmp-client-auth13-');
  ({ pki, masterPem } = dev);
  identity = await clientIdentity(pki);
  const verifier = await pki.verifier();
  const real = await pki.sessionMinter();
  const minter = {
    mint: (req: Parameters<typeof real.mint>[0]) => {
      if (refuseOnce.delete(req.playerId)) return Promise.reject(new Error('the key is not one this minter takes'));
      return real.mint(req);
    },
    mintWithNewKey: (req: Parameters<typeof real.mintWithNewKey>[0]) => real.mintWithNewKey(req),
  };
  auth = await AuthServer.start(await authOptions(pki, { verifier, gameVersion: GAME_VERSION, ...quickAuth, logger: silent, minter: minter as typeof real }));
  auth.on('session-ended', (r) => ended.push(r));
  host = await HostServer.start<TicTacToeExt>(
    await hostOptions(pki, auth.hostPort, { verifier, ...quickHost, version: GAME_VERSION, logger: silent }),
    ticTacToeHostGame,
  );
  await until(() => auth.connectedHosts().includes('host-1'), 'the host to register');
}, 120_000);

afterAll(async () => {
  await closeLive(open, [host, auth], dev);
}, 30_000);

const until = <T>(fn: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> => pollUntil(fn, what, timeoutMs, 50);
const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

async function player(name: string, over: Partial<ConnectOptions<TicTacToeExt>> = {}) {
  const c = await connectToAuth<TicTacToeExt>({
    ...authAddress(auth.clientPort, identity, masterPem),
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    ...over,
  });
  open.push(c);
  await c.login({ method: 'guest', displayName: name });
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
  const record = await until(() => ended.find((r) => r.id === ta!.sessionId), 'the auth server to record the results');
  expect(record.state).toBe('ended');
  return [ta!, tb!] as const;
}

describe('iyesmp-auth/1.3 against real servers', () => {
  it(
    'two 1.3 players: the seats are claimed with the confirmations, the hand-offs pushed, and they play',
    async () => {
      const a = await player('ada');
      const b = await player('bob');
      expect(a.c.protocolVersion).toEqual({ major: 1, minor: 3 });
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
});
