/**
 * One game API on every transport: the tic-tac-toe example's HostGame (actions judged by the host,
 * state broadcast as structured messages, results at the end) and its client code run unchanged
 * on a netcode.io game mode, through the reliable channel next to netcode's datagrams, exactly as
 * they run on QUIC on the same servers.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IyesmpError } from '../../src/client/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, TicTacToeExt, type StateMsg } from '../../examples/tictactoe/messages.js';
import type { GameState, Mark } from '../../examples/tictactoe/rules.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil as until } from '../support/wait.js';

const T = 60_000;
const KEY = randomBytes(32);
const PROTOCOL = 0x4242n;

let live: LiveServers<TicTacToeExt>;

beforeAll(async () => {
  live = await startLiveServers<TicTacToeExt>({
    prefix: 'iyesmp-netcode-games-',
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    options: () => ({
      auth: {
        modeTransports: { 'ttt-netcode': 'netcode', 'ttt-quic': 'quic' },
        netcode: { privateKey: KEY, protocolId: PROTOCOL, expireSeconds: 30, timeoutSeconds: 10 },
        matchSize: 2,
      },
      host: { netcode: { privateKey: KEY, protocolId: PROTOCOL, bind: '127.0.0.1:0', maxClients: 16 } },
    }),
    game: ticTacToeHostGame,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

const player = (name: string) => live.player(name);

/** Plays one game of the example between two fresh players on `mode`; O first tries X's cell once. */
async function playOn(mode: string) {
  const [a, b] = await Promise.all([player('ada'), player('bob')]);
  const [ta, tb] = await Promise.all([a.matchmake({ mode, timeoutMs: 30_000 }), b.matchmake({ mode, timeoutMs: 30_000 })]);
  const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
  live.open.push(ga, gb);
  const refusals: string[] = [];
  let tried = false;
  const decide = (state: GameState, mark: Mark): number => {
    const taken = state.board.findIndex((c) => c !== null);
    if (mark === 'O' && !tried && taken >= 0) {
      tried = true;
      return taken;
    }
    return chooseMove(state, mark, () => 0.5)!;
  };
  const states: StateMsg[] = [];
  const hooks = { onRefused: (e: IyesmpError) => refusals.push(e.code) };
  const [ea, eb] = await Promise.all([playTicTacToe(ga, decide, { ...hooks, onState: (_s, m) => states.push(m) }), playTicTacToe(gb, decide, hooks)]);
  return { ta, tb, ga, ea, eb, refusals, states };
}

describe('the tic-tac-toe HostGame runs unchanged on netcode.io and QUIC', () => {
  it.each(['ttt-netcode', 'ttt-quic'])(
    '%s: the host judges actions (a taken cell is refused with its reason), state reaches both players, results end the game and are recorded',
    async (mode) => {
      const { ta, ga, ea, eb, refusals, states } = await playOn(mode);
      expect(ga.transport).toBe(mode === 'ttt-netcode' ? 'netcode' : 'quic');
      expect(refusals).toEqual(['cell_taken']);
      expect(ea.reason).toBe('completed');
      expect(ea.results).toEqual(eb.results);
      expect(ea.results).toHaveLength(2);
      // the final state travels with the results, as the game's ext
      expect(ea.ext).toMatchObject({ t: 'state' });
      const final = ea.ext as StateMsg;
      expect(final.result).toBeDefined();
      // every state in order, none lost: one per move plus the first
      const moves = final.board.filter((c) => c !== null).length;
      expect(states.map((s) => s.board.filter((c) => c !== null).length)).toEqual([...Array(moves + 1).keys()]);
      const record = await until(() => live.ended.find((r) => r.id === ta.sessionId), 'the auth server to record the result');
      expect(record.state).toBe('ended');
    },
    T,
  );
});
