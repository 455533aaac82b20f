/**
 * Tic-tac-toe rules, pure and immutable: a board, whose turn it is, moves, win and draw. The host
 * runs these to judge moves; clients run them to show the board and to let a bot choose.
 * Cells are numbered 0..8, row by row:
 *
 *   0 | 1 | 2
 *   3 | 4 | 5
 *   6 | 7 | 8
 */

export type Mark = 'X' | 'O';
export type Cell = Mark | null;
/** Nine cells, row by row. */
export type Board = readonly Cell[];

export interface GameState {
  board: Board;
  /** whose move it is; X always starts */
  turn: Mark;
  /** set once the game is over: the winner's mark, or 'draw' */
  result?: Mark | 'draw';
  /** the winning line's cells, when someone won */
  line?: readonly [number, number, number];
  moves: number;
}

export const LINES: readonly (readonly [number, number, number])[] = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [0, 3, 6],
  [1, 4, 7],
  [2, 5, 8],
  [0, 4, 8],
  [2, 4, 6],
];

export function newGame(): GameState {
  return { board: Array<Cell>(9).fill(null), turn: 'X', moves: 0 };
}

export function other(mark: Mark): Mark {
  return mark === 'X' ? 'O' : 'X';
}

/** The winner on this board and its line, if any. */
export function winnerOf(board: Board): { mark: Mark; line: readonly [number, number, number] } | undefined {
  for (const line of LINES) {
    const [a, b, c] = line;
    const m = board[a];
    if (m != null && m === board[b] && m === board[c]) return { mark: m, line };
  }
  return undefined;
}

export function isOver(state: GameState): boolean {
  return state.result !== undefined;
}

/** Empty cells, or none once the game is over. */
export function legalMoves(state: GameState): number[] {
  if (isOver(state)) return [];
  const out: number[] = [];
  state.board.forEach((c, i) => {
    if (c === null) out.push(i);
  });
  return out;
}

export type MoveError = 'game_over' | 'not_your_turn' | 'bad_cell' | 'cell_taken';

export const MOVE_ERROR_TEXT: Record<MoveError, string> = {
  game_over: 'the game is over',
  not_your_turn: 'it is not your turn',
  bad_cell: 'cells are numbered 0 to 8',
  cell_taken: 'that cell is taken',
};

/** Plays `mark` at `cell`; refuses anything illegal with a reason instead of throwing. */
export function applyMove(state: GameState, mark: Mark, cell: number): { ok: true; state: GameState } | { ok: false; error: MoveError } {
  if (isOver(state)) return { ok: false, error: 'game_over' };
  if (mark !== state.turn) return { ok: false, error: 'not_your_turn' };
  if (!Number.isInteger(cell) || cell < 0 || cell > 8) return { ok: false, error: 'bad_cell' };
  if (state.board[cell] !== null) return { ok: false, error: 'cell_taken' };
  const board = state.board.slice();
  board[cell] = mark;
  const moves = state.moves + 1;
  const won = winnerOf(board);
  const next: GameState = { board, turn: other(mark), moves };
  if (won) {
    next.result = won.mark;
    next.line = won.line;
  } else if (moves === 9) {
    next.result = 'draw';
  }
  return { ok: true, state: next };
}

/** Rebuilds a state from a board sent by the host (clients trust the host, but check the shape). */
export function stateFromBoard(board: Board): GameState {
  const xs = board.filter((c) => c === 'X').length;
  const os = board.filter((c) => c === 'O').length;
  const won = winnerOf(board);
  const state: GameState = { board: board.slice(), turn: xs > os ? 'O' : 'X', moves: xs + os };
  if (won) {
    state.result = won.mark;
    state.line = won.line;
  } else if (xs + os === 9) {
    state.result = 'draw';
  }
  return state;
}

/** A board as three text lines; empty cells show their number so a player can type it. */
export function renderBoard(board: Board): string {
  const cell = (i: number): string => board[i] ?? String(i);
  const row = (r: number): string => ` ${cell(r * 3)} | ${cell(r * 3 + 1)} | ${cell(r * 3 + 2)}`;
  return [row(0), '---+---+---', row(1), '---+---+---', row(2)].join('\n');
}
