import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GameEnd, GameSession } from '../client/index.js';
import { demoError } from './errors.js';

/** The package root (this file is dist/demo/example-game.js once built). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where `npm run build` puts the tic-tac-toe example (examples/tictactoe/tsconfig.json). */
export const EXAMPLE_DIR = path.join(PACKAGE_ROOT, 'examples', 'tictactoe', 'build', 'examples', 'tictactoe');

type Mark = 'X' | 'O';
interface StateMsg {
  t: 'state';
  board: (Mark | null)[];
  turn: Mark;
  marks: Record<string, Mark>;
  last?: { cell: number; by: string };
  result?: Mark | 'draw';
}
interface GameState {
  board: readonly (Mark | null)[];
  turn: Mark;
  result?: Mark | 'draw';
}
type Ext = { t: 'move'; cell: number } | { t: 'ok' } | StateMsg;

/**
 * What the demo uses of the tic-tac-toe example: the same modules a player's game and the Host
 * server load, so the demo plays the real example rather than a copy of it. Typed here by hand
 * because the example is compiled after (and against) the library.
 */
export interface TicTacToe {
  hostGameFile: string;
  playFile: string;
  GAME_VERSION: string;
  MODE: string;
  TicTacToeExt: import('zod').ZodType<Ext>;
  chooseMove(state: GameState, mark: Mark): number | undefined;
  renderBoard(board: readonly (Mark | null)[]): string;
  playTicTacToe(
    game: GameSession<Ext>,
    decide: (state: GameState, mark: Mark) => number,
    hooks: { onState?: (state: GameState, msg: StateMsg, mine: Mark | undefined) => void; ready?: boolean },
  ): Promise<GameEnd<Ext>>;
}
export type { Ext as TicTacToeExt, StateMsg as TicTacToeState };

export async function loadTicTacToe(): Promise<TicTacToe> {
  const file = (name: string) => path.join(EXAMPLE_DIR, `${name}.js`);
  const missing = ['host-game', 'player', 'bot', 'messages', 'rules', 'play'].filter((n) => !existsSync(file(n)));
  if (missing.length > 0) {
    throw demoError('example_not_built', `the tic-tac-toe example the demo plays is not built (no ${path.relative(process.cwd(), file(missing[0]!))})`, {
      hint: 'run `npm run build` in the iyesmp folder (it compiles the library, then examples/tictactoe)',
    });
  }
  const load = async (name: string) => (await import(pathToFileURL(file(name)).href)) as Record<string, unknown>;
  const [player, bot, messages, rules] = await Promise.all([load('player'), load('bot'), load('messages'), load('rules')]);
  return {
    hostGameFile: file('host-game'),
    playFile: file('play'),
    GAME_VERSION: messages.GAME_VERSION as string,
    MODE: messages.MODE as string,
    TicTacToeExt: messages.TicTacToeExt as TicTacToe['TicTacToeExt'],
    chooseMove: bot.chooseMove as TicTacToe['chooseMove'],
    renderBoard: rules.renderBoard as TicTacToe['renderBoard'],
    playTicTacToe: player.playTicTacToe as TicTacToe['playTicTacToe'],
  };
}
