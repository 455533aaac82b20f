/**
 * iyesmp-auth/1.4 against the real Auth and Host servers on loopback, with the tic-tac-toe host
 * game: on one connection, a pushed hand-off after the first leaves out the issuer chain the
 * connection already carried (`sameChain`), and the player still presents it to the host and
 * plays; a client held to 1.3 is sent the whole chain every time and plays beside it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolConnection } from '../../src/protocol/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import type { ConnectOptions } from '../../src/client/index.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

const T = 60_000;

let live: LiveServers<TicTacToeExt>;

/** Each `session.handoff` the Auth server's links send, as sent (the connection, the seat, the chain's length, the flag). */
interface SentPush {
  conn: object;
  playerId: string;
  chain: number;
  sameChain: boolean;
}
const pushes: SentPush[] = [];
const notify = ProtocolConnection.prototype.notify;

beforeAll(async () => {
  // watch what goes on the wire: every session in this process sends through notify()
  ProtocolConnection.prototype.notify = function (this: ProtocolConnection<never, never>, type: string, body: unknown) {
    if (type === 'session.handoff') {
      const b = body as { sameChain?: true; handoff: { playerId: string; transport: { chain?: unknown[] } } };
      pushes.push({ conn: this, playerId: b.handoff.playerId, chain: b.handoff.transport.chain?.length ?? -1, sameChain: b.sameChain === true });
    }
    return (notify as (t: string, b: unknown) => void).call(this, type, body);
  } as typeof notify;
  live = await startLiveServers<TicTacToeExt>({
    prefix: 'iyesmp-client-auth14-',
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    game: ticTacToeHostGame,
  });
}, 120_000);

afterAll(async () => {
  ProtocolConnection.prototype.notify = notify;
  await live?.close();
}, 30_000);

afterEach(() => {
  pushes.length = 0;
});

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

async function player(name: string, over: Partial<ConnectOptions<TicTacToeExt>> = {}) {
  const c = await live.connect(over);
  await c.login({ method: 'guest', displayName: name });
  return c;
}

type Player = Awaited<ReturnType<typeof player>>;

/** Both matchmake, join the host (presenting the pushed certificate and chain) and play to a recorded result. */
async function playMatch(a: Player, b: Player) {
  const [ta, tb] = await Promise.all([a, b].map((c) => c.matchmake({ mode: MODE, timeoutMs: 30_000 })));
  expect(ta!.sessionId).toBe(tb!.sessionId);
  const [ga, gb] = await Promise.all([a.joinHost(ta!), b.joinHost(tb!)]);
  const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
  for (const e of ends) expect(e.reason).toBe('completed');
  const record = await pollUntil(() => live.ended.find((r) => r.id === ta!.sessionId), 'the auth server to record the results', 20_000, 50);
  expect(record.state).toBe('ended');
  return [ta!, tb!] as const;
}

const certCount = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
/** The pushes sent on the connection that sent the push for `seat`: chain length and flag, in order. */
const onLinkOf = (seat: string) => {
  const conn = pushes.find((p) => p.playerId === seat)?.conn;
  return pushes.filter((p) => p.conn === conn).map((p) => [p.chain, p.sameChain]);
};

describe('iyesmp-auth/1.4 against real servers', () => {
  it(
    'two 1.4 players, two games on one connection: the second push leaves the chain out, and they join and play with it',
    async () => {
      const a = await player('ada');
      const b = await player('bob');
      expect(a.protocolVersion).toEqual({ major: 1, minor: 4 });
      const [first] = await playMatch(a, b);
      const [second] = await playMatch(a, b);
      const conns = [...new Set(pushes.map((p) => p.conn))];
      expect(conns).toHaveLength(2);
      for (const conn of conns) {
        expect(pushes.filter((p) => p.conn === conn).map((p) => [p.chain, p.sameChain])).toEqual([
          [1, false],
          [0, true],
        ]);
      }
      // the ticket holds the leaf and the chain the first push carried
      expect(certCount(second.credentials!.certPem)).toBe(2);
      expect(second.credentials!.certPem.slice(second.credentials!.certPem.indexOf('-----END CERTIFICATE-----'))).toBe(
        first.credentials!.certPem.slice(first.credentials!.certPem.indexOf('-----END CERTIFICATE-----')),
      );
      await Promise.all([a.close(), b.close()]);
    },
    T,
  );

  it(
    'a player held to 1.3 beside a 1.4 one: the 1.3 player is sent the whole chain every time, and both play twice',
    async () => {
      const old = await player('cy', { maxProtocolMinor: 3 });
      const now = await player('dee');
      expect(old.protocolVersion).toEqual({ major: 1, minor: 3 });
      const [t1] = await playMatch(old, now);
      const [t2] = await playMatch(old, now);
      expect(onLinkOf(t1.playerId)).toEqual([
        [1, false],
        [1, false],
      ]);
      const other = pushes.find((p) => p.playerId !== t1.playerId)!;
      expect(onLinkOf(other.playerId)).toEqual([
        [1, false],
        [0, true],
      ]);
      expect(certCount(t2.credentials!.certPem)).toBe(2);
      await Promise.all([old.close(), now.close()]);
    },
    T,
  );
});
