/**
 * A copy of a player's ticket (session cert and key) used from the player's own address, as behind
 * a shared NAT, over real QUIC against the real Auth and Host servers: the host refuses it with
 * `seat_taken` while the player's connection is open, and the player plays on. The player's own
 * client, reconnecting with the secret its host gave in the welcome, takes the seat over; the old
 * connection is closed as `replaced`, and the game goes on to its end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinHost, type GameSession } from '../../src/client/index.js';
import type { IyesmpError } from '../../src/errors.js';
import { gameVersionRange } from '../../src/protocol/index.js';
import { AccountService, GuestProvider } from '../../src/auth/accounts/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';
import { failureOf } from '../support/assert.js';

const T = 60_000;

let live: LiveServers<TicTacToeExt>;

beforeAll(async () => {
  live = await startLiveServers<TicTacToeExt>({
    prefix: 'iyesmp-seat-takeover-',
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    identity: async (pki) => {
      const rotated = await pki.rotateClientAuth();
      return { cert: rotated.client!.chainPem, key: rotated.client!.keyPath };
    },
    options: () => ({
      auth: {
        accounts: new AccountService({ providers: [new GuestProvider()] }),
        acceptGameVersion: gameVersionRange({ min: '1.0.0', below: '2.0.0' }),
      },
    }),
    game: ticTacToeHostGame,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

const connect = () => live.connect();

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

describe('a live seat and a copy of its ticket', () => {
  it(
    'refuses the copy from the same address (seat_taken) while the player plays on; the player reconnects with its secret',
    async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      await Promise.all([a.login({ method: 'guest' }), b.login({ method: 'guest' })]);
      const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      expect(ga.reconnectSecret).toMatch(/^[\w-]{43}$/);
      expect(gb.reconnectSecret).not.toBe(ga.reconnectSecret);

      // the copy: the very ticket (cert and key), dialled from the player's address (loopback), with no secret and with a guess
      const copy = (reconnectSecret?: string): Promise<GameSession<TicTacToeExt>> =>
        joinHost<TicTacToeExt>(ta, {
          trust: { caPem: live.dev.masterPem },
          gameVersion: GAME_VERSION,
          extSchema: TicTacToeExt,
          ...(reconnectSecret === undefined ? {} : { reconnectSecret }),
        });
      for (const secret of [undefined, 'A'.repeat(43)]) {
        const e = await failureOf(copy(secret), 'the copy to be refused');
        expect(e.code).toBe('seat_taken');
        expect(e.message).toMatch(/still connected/);
      }
      expect(ga.closed).toBe(false);
      expect(live.host!.domain.sessions.session(ta.sessionId)!.players.find((p) => p.playerId === ta.playerId)).toMatchObject({ status: 'connected' });
      await ga.ready();
      await pollUntil(
        () => live.host!.domain.sessions.session(ta.sessionId)!.players.find((p) => p.playerId === ta.playerId)?.status === 'ready' || undefined,
        'a to be ready',
        10_000,
        50,
      );

      // the player's own client joins again (a network change): its AuthClient presents the secret
      const closed = ga.next('close', { timeoutMs: 10_000 });
      // (a refused copy's connection counts against the seat's connection limit until it has closed)
      const ga2 = await pollUntil(
        () => a.joinHost(ta).catch((e: IyesmpError) => (e.code === 'too_many_for_account' ? undefined : Promise.reject(e))),
        'the reconnect',
        10_000,
        200,
      );
      expect((await closed).error?.message).toMatch(/replaced/);
      expect(ga2.reconnectSecret).toMatch(/^[\w-]{43}$/);
      expect(ga2.reconnectSecret).not.toBe(ga.reconnectSecret);
      // the old secret no longer moves the seat (once the closing connections no longer count against the seat's connection limit)
      const stale = await pollUntil(
        async () => {
          const e = await failureOf(copy(ga.reconnectSecret), 'the stale secret to be refused');
          return e.code === 'too_many_for_account' ? undefined : e;
        },
        'a refusal other than the connection limit',
        10_000,
        200,
      );
      expect(stale.code).toBe('seat_taken');

      const ends = await Promise.all([playTicTacToe(ga2, bot), playTicTacToe(gb, bot)]);
      for (const e of ends) expect(e.reason).toBe('completed');
    },
    T,
  );
});
