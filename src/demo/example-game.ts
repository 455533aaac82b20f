import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GameEnd, GameSession } from '../client/index.js';
import { demoError } from './errors.js';

/** The package root (this file is dist/demo/example-game.js once built). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The example games the demo can play, each built by `npm run build` into examples/<name>/build. */
export const DEMO_GAMES = ['tictactoe', 'chess'] as const;
export type DemoGameName = (typeof DEMO_GAMES)[number];

export function exampleDir(name: DemoGameName): string {
  return path.join(PACKAGE_ROOT, 'examples', name, 'build', 'examples', name);
}

/** One move as the demo tells it. */
export interface DemoMove {
  by: string;
  /** "X on cell 4", "Nf3" */
  text: string;
  /** the position after it, on one line */
  board: string;
  /** what the JSON report keeps: `{ cell, by }` (tic-tac-toe) or `{ san, by }` (chess) */
  record: { cell: number; by: string } | { san: string; by: string };
}

/** How a finished game is reported. */
export interface DemoFinal {
  /** seat -> side: "X"/"O" or "w"/"b" */
  sides: Record<string, string>;
  /** the final position, drawn over several lines */
  block: string;
  /** tic-tac-toe: the nine cells; chess: the final FEN */
  board: (string | null)[] | string;
}

/**
 * What the demo uses of an example game: the same modules a player's game and the Host server
 * load, so the demo plays the real example rather than a copy of it. Typed here by hand because
 * the examples are compiled after (and against) the library.
 */
export interface DemoGame {
  name: DemoGameName;
  hostGameFile: string;
  playFile: string;
  GAME_VERSION: string;
  MODE: string;
  extSchema: import('zod').ZodType<unknown>;
  /** "X moves first" and the like, from the seat order at begin */
  begins(order: readonly string[]): string;
  /** plays one bot's game to the end; `onMove` (one player's) tells each move */
  play(game: GameSession<unknown>, onMove?: (m: DemoMove) => void): Promise<GameEnd<unknown>>;
  final(end: GameEnd<unknown>): DemoFinal | undefined;
}

type Loaded = Record<string, unknown>;
type Fn = (...args: never[]) => unknown;

/** Checks that the example is built (`files` and the host game and the terminal client), then imports `files`. */
async function loadModules(name: DemoGameName, files: readonly string[]): Promise<Record<string, Loaded>> {
  const dir = exampleDir(name);
  const file = (n: string) => path.join(dir, `${n}.js`);
  // host-game runs in the Host server, play is a program (it would run on import): checked, not loaded
  const missing = [...files, 'host-game', 'play'].filter((n) => !existsSync(file(n)));
  if (missing.length > 0) {
    throw demoError('example_not_built', `the ${name} example the demo plays is not built (no ${path.relative(process.cwd(), file(missing[0]!))})`, {
      hint: `run \`npm run build\` in the iyesmp folder (it compiles the library, then examples/${name})`,
    });
  }
  const mods = await Promise.all(files.map(async (n) => [n, (await import(pathToFileURL(file(n)).href)) as Loaded] as const));
  return Object.fromEntries(mods);
}

export async function loadDemoGame(name: DemoGameName): Promise<DemoGame> {
  return name === 'chess' ? loadChess() : loadTicTacToe();
}

interface TttState {
  t: 'state';
  board: (string | null)[];
  marks: Record<string, string>;
  last?: { cell: number; by: string };
}

async function loadTicTacToe(): Promise<DemoGame> {
  const m = await loadModules('tictactoe', ['player', 'bot', 'messages', 'rules']);
  const dir = exampleDir('tictactoe');
  const chooseMove = m.bot!.chooseMove as (state: unknown, mark: string) => number | undefined;
  const renderBoard = m.rules!.renderBoard as (board: readonly (string | null)[]) => string;
  const playTicTacToe = m.player!.playTicTacToe as (
    game: GameSession<unknown>,
    decide: (state: unknown, mark: string) => number,
    hooks: { onState?: (state: unknown, msg: TttState) => void; ready?: boolean },
  ) => Promise<GameEnd<unknown>>;
  let lastState: TttState | undefined;
  return {
    name: 'tictactoe',
    hostGameFile: path.join(dir, 'host-game.js'),
    playFile: path.join(dir, 'play.js'),
    GAME_VERSION: m.messages!.GAME_VERSION as string,
    MODE: m.messages!.MODE as string,
    extSchema: m.messages!.TicTacToeExt as DemoGame['extSchema'],
    begins: (order) => `${order[0]} plays X and moves first, ${order[1]} plays O`,
    play: (game, onMove) =>
      playTicTacToe(game, (state, mark) => chooseMove(state, mark)!, {
        ready: false,
        onState: (_state, msg) => {
          if (!onMove) return;
          lastState = msg;
          if (!msg.last) return;
          const mark = msg.marks[msg.last.by] ?? '?';
          onMove({ by: msg.last.by, text: `${mark} on cell ${msg.last.cell}`, board: compactBoard(msg.board), record: { ...msg.last } });
        },
      }),
    final: (end) => {
      const ext = end.ext as TttState | undefined;
      const final = ext?.t === 'state' ? ext : lastState;
      return final ? { sides: { ...final.marks }, block: renderBoard(final.board), board: final.board.slice() } : undefined;
    },
  };
}

interface ChessState {
  t: 'state';
  moves: string[];
  fen: string;
  colors: Record<string, string>;
  last?: { san: string; by: string };
}

async function loadChess(): Promise<DemoGame> {
  const m = await loadModules('chess', ['player', 'bot', 'messages', 'rules', 'view']);
  const dir = exampleDir('chess');
  const scriptedBot = m.bot!.scriptedBot as (script: readonly string[]) => Fn;
  const foolsMate = m.bot!.FOOLS_MATE as readonly string[];
  const replay = m.rules!.replay as (moves: readonly string[]) => unknown;
  const boardLines = m.view!.boardLines as (chess: unknown) => string[];
  const playChess = m.player!.playChess as (
    game: GameSession<unknown>,
    decide: Fn,
    hooks: { onState?: (chess: unknown, msg: ChessState) => void; ready?: boolean },
  ) => Promise<GameEnd<unknown>>;
  let lastState: ChessState | undefined;
  return {
    name: 'chess',
    hostGameFile: path.join(dir, 'host-game.js'),
    playFile: path.join(dir, 'play.js'),
    GAME_VERSION: m.messages!.GAME_VERSION as string,
    MODE: m.messages!.MODE as string,
    extSchema: m.messages!.ChessExt as DemoGame['extSchema'],
    begins: (order) => `${order[0]} plays White and moves first, ${order[1]} plays Black`,
    // the bots play fool's mate: the shortest game that ends in checkmate
    play: (game, onMove) =>
      playChess(game, scriptedBot(foolsMate), {
        ready: false,
        onState: (_chess, msg) => {
          if (!onMove) return;
          lastState = msg;
          if (!msg.last) return;
          onMove({ by: msg.last.by, text: msg.last.san, board: msg.fen.split(' ')[0]!, record: { ...msg.last } });
        },
      }),
    final: (end) => {
      const ext = end.ext as ChessState | undefined;
      const final = ext?.t === 'state' ? ext : lastState;
      return final ? { sides: { ...final.colors }, block: boardLines(replay(final.moves)).join('\n'), board: final.fen } : undefined;
    },
  };
}

/** The board on one line, rows apart: `X . O | . X . | . . O` */
function compactBoard(board: readonly (string | null)[]): string {
  const rows = [0, 3, 6].map((i) =>
    board
      .slice(i, i + 3)
      .map((c) => c ?? '.')
      .join(' '),
  );
  return rows.join(' | ');
}
