/**
 * The client library against the real Auth and Host servers on loopback, with the tic-tac-toe
 * host game: two bots log in, matchmake, take the hand-off, join the host, get ready and play a
 * full game to a result the Auth server records; lobbies do the same; a retired build and an old
 * build are refused with messages a player can act on; reconnecting to auth mid-session returns the
 * same hand-off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryKeyStore, type ConnectOptions, type GameEnd } from '../../src/client/index.js';
import { IyesmpError } from '../../src/errors.js';
import { gameVersionRange } from '../../src/protocol/index.js';
import { AccountService, GuestProvider, MemoryAccountStore, PasswordProvider } from '../../src/auth/accounts/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';
import { failureOf } from '../support/assert.js';

const T = 60_000;

let live: LiveServers<TicTacToeExt>;
let passwords: PasswordProvider;
let retired: { cert: string; key: string };

beforeAll(async () => {
  const past = new Date(Date.now() - 86_400_000);
  passwords = new PasswordProvider({ store: new MemoryAccountStore(), scrypt: { ln: 10, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } });
  live = await startLiveServers<TicTacToeExt>({
    prefix: 'iyesmp-client-servers-',
    now: past,
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    // the client of ClientAuth-2; ClientAuth-1's is retired (a retired game build)
    identity: async (pki) => {
      const rotated = await pki.rotateClientAuth({ now: past });
      await pki.retireClientAuth(1);
      retired = { cert: await pki.chainPem('client-clientauth-1-1'), key: pki.path(pki.get('client-clientauth-1-1').keyFile!) };
      return { cert: rotated.client!.chainPem, key: rotated.client!.keyPath };
    },
    options: () => ({
      auth: {
        accounts: new AccountService({ providers: [new GuestProvider(), passwords] }),
        acceptGameVersion: gameVersionRange({ min: '1.0.0', below: '2.0.0' }),
      },
    }),
    game: ticTacToeHostGame,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

const until = <T>(fn: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> => pollUntil(fn, what, timeoutMs, 50);

const connect = (over: Partial<ConnectOptions<TicTacToeExt>> = {}) => live.connect(over);

const refusal = (p: Promise<unknown>): Promise<IyesmpError> => failureOf(p, 'expected a refusal');

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

function checkResults(ends: GameEnd<TicTacToeExt>[], seats: string[]): void {
  for (const e of ends) {
    expect(e.reason).toBe('completed');
    expect(e.results.map((r) => r.playerId).sort()).toEqual([...seats].sort());
  }
  const outcomes = ends[0]!.results.map((r) => r.outcome).sort();
  expect([
    ['draw', 'draw'],
    ['loss', 'win'],
  ]).toContainEqual(outcomes);
}

describe('client library against real servers', () => {
  it(
    'two bots matchmake, take the hand-off, join the host and play a full game to a recorded result',
    async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      expect(a.welcome.serverGameVersion).toBe(GAME_VERSION);
      await Promise.all([a.login({ method: 'guest', displayName: 'ada' }), b.login({ method: 'guest', displayName: 'bob' })]);
      const phases: string[] = [];
      const [ta, tb] = await Promise.all([
        a.matchmake({ mode: MODE, onStatus: (s) => phases.push(s.phase), timeoutMs: 30_000 }),
        b.matchmake({ mode: MODE, timeoutMs: 30_000 }),
      ]);
      expect(ta.sessionId).toBe(tb.sessionId);
      expect(ta.host.port).toBe(live.host!.playerPort);
      expect(ta.serverMadeKey).toBe(false);
      expect(phases).toEqual(['queued', 'found', 'confirmed', 'claiming']);

      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      expect(ga.state).toBe('waiting');
      const begun = Promise.all([ga.waitForBegin({ timeoutMs: 30_000 }), gb.waitForBegin({ timeoutMs: 30_000 })]);
      const results = Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      const [ba] = await begun;
      expect([...ba.order].sort()).toEqual([ta.playerId, tb.playerId].sort());
      const ends = await results;
      checkResults(ends, [ta.playerId, tb.playerId]);
      expect(ends[0]!.results).toEqual(ends[1]!.results);
      // two of these bots always draw
      expect(ends[0]!.results.every((r) => r.outcome === 'draw')).toBe(true);
      // the host reports the results to auth (through its outbox), which records them
      const record = await until(() => live.ended.find((r) => r.id === ta.sessionId), 'the auth server to record the results');
      expect(record.state).toBe('ended');
      await until(() => ga.closed && gb.closed, 'the host to close the game connections');
    },
    T,
  );

  it(
    'lobby: create, join, ready, start, and both play',
    async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      await a.login({ method: 'guest', displayName: 'owner' });
      await b.login({ method: 'guest', displayName: 'guest' });
      const lobby = await a.lobbies.create({ name: 'ttt', visibility: 'public', maxPlayers: 2, mode: MODE });
      const listed = await b.lobbies.list({ mode: MODE });
      expect(listed.lobbies.map((l) => l.lobbyId)).toContain(lobby.lobbyId);
      const update = a.next('lobby', { filter: (l) => l.members.length === 2, timeoutMs: 10_000 });
      await b.lobbies.join(lobby.lobbyId);
      await update;
      await b.lobbies.ready(lobby.lobbyId);
      const tickets = Promise.all([
        a.waitForHandoff({ lobbyId: lobby.lobbyId, timeoutMs: 30_000 }),
        b.waitForHandoff({ lobbyId: lobby.lobbyId, timeoutMs: 30_000 }),
      ]);
      await a.lobbies.start(lobby.lobbyId);
      const [ta, tb] = await tickets;
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      checkResults(ends, [ta.playerId, tb.playerId]);
    },
    T,
  );

  it(
    'the host refuses an illegal move with its reason, and the game goes on',
    async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      await Promise.all([a.login({ method: 'guest' }), b.login({ method: 'guest' })]);
      const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      const firstState = Promise.all([ga, gb].map((g) => g.next('message', { filter: (m) => m.ext?.t === 'state', timeoutMs: 30_000 })));
      await Promise.all([ga.ready(), gb.ready()]);
      const [sa] = await firstState;
      const marks = sa?.ext?.t === 'state' ? sa.ext.marks : {};
      const [x, o] = marks[ga.playerId] === 'X' ? [ga, gb] : [gb, ga];
      const outOfTurn = await refusal(o.action({ t: 'move', cell: 0 }));
      expect(outOfTurn.code).toBe('not_your_turn');
      expect(outOfTurn.message).toBe('the action refused: it is not your turn');
      expect(await x.action({ t: 'move', cell: 4 })).toEqual({ t: 'ok' });
      const taken = await refusal(o.action({ t: 'move', cell: 4 }));
      expect(taken.code).toBe('cell_taken');
      // the schema keeps a bad cell from ever leaving the client
      const bad = await refusal(o.action({ t: 'move', cell: 12 } as never));
      expect(bad).toMatchObject({ kind: 'input', code: 'bad_request' });
      expect(bad.message).toMatch(/^the action was not sent: refusing to send invalid/);
      // finish the game by playing on
      const ends = await Promise.all([playTicTacToe(x, bot, { ready: false }), playTicTacToe(o, bot, { ready: false }), o.action({ t: 'move', cell: 0 })]);
      checkResults(ends.slice(0, 2) as GameEnd<TicTacToeExt>[], [ta.playerId, tb.playerId]);
    },
    T,
  );

  it(
    'a retired game build is told to update the game',
    async () => {
      const e = await refusal(connect({ identity: retired }));
      expect(e.code).toBe('retired_clientauth');
      expect(e.message).toBe("this game build's certificate was retired: update the game");
    },
    T,
  );

  it(
    'a game version below the server minimum is told to update',
    async () => {
      const e = await refusal(connect({ gameVersion: '0.9.0' }));
      expect(e.code).toBe('version_too_old');
      expect(e.message).toBe('this game build (0.9.0) is too old for the login server: update the game');
    },
    T,
  );

  it(
    'a refused login says why',
    async () => {
      const c = await connect();
      const e = await refusal(c.login({ method: 'password', username: 'nobody', password: 'wrong-password' }));
      expect(e.kind).toBe('refused');
      expect(e.message).toMatch(/^login refused: /);
    },
    T,
  );

  it(
    'reconnecting to auth during a live session returns the same hand-off',
    async () => {
      await passwords.register({ username: 'carol', password: 'correct horse' }, { now: Date.now() });
      await passwords.register({ username: 'dave', password: 'battery staple' }, { now: Date.now() });
      const keys = new MemoryKeyStore();
      const [a, b] = await Promise.all([connect({ keyStore: keys }), connect()]);
      await a.login({ method: 'password', username: 'carol', password: 'correct horse' });
      await b.login({ method: 'password', username: 'dave', password: 'battery staple' });
      const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
      await a.close();

      // the game restarts its connection to auth and logs in again
      const a2 = await connect({ keyStore: keys });
      await a2.login({ method: 'password', username: 'carol', password: 'correct horse' });
      const again = await a2.waitForHandoff({ timeoutMs: 15_000 });
      expect(again.sessionId).toBe(ta.sessionId);
      expect(again.credentials).toEqual(ta.credentials);

      const [ga, gb] = await Promise.all([a2.joinHost(again), b.joinHost(tb)]);
      const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      checkResults(ends, [ta.playerId, tb.playerId]);
    },
    T,
  );
});
