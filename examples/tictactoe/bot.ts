/**
 * A simple tic-tac-toe bot: wins when it can, blocks the opponent's win, else takes the centre, a
 * corner, then any cell. Randomness is injected so tests and replays are reproducible.
 */
import { LINES, legalMoves, other, type GameState, type Mark } from './rules.js';

export type Random = () => number;

/** The cell that completes a line of `mark`, if one exists. */
function completing(state: GameState, mark: Mark): number | undefined {
  for (const line of LINES) {
    const marks = line.map((i) => state.board[i]);
    if (marks.filter((m) => m === mark).length === 2) {
      const empty = line.find((i) => state.board[i] === null);
      if (empty !== undefined) return empty;
    }
  }
  return undefined;
}

/** A legal move for `mark` in `state`, or undefined when the game is over or it is not `mark`'s turn. */
export function chooseMove(state: GameState, mark: Mark, random: Random = Math.random): number | undefined {
  const legal = legalMoves(state);
  if (legal.length === 0 || state.turn !== mark) return undefined;
  const win = completing(state, mark);
  if (win !== undefined) return win;
  const block = completing(state, other(mark));
  if (block !== undefined) return block;
  if (state.board[4] === null) return 4;
  const corners = [0, 2, 6, 8].filter((i) => state.board[i] === null);
  const pool = corners.length > 0 ? corners : legal;
  return pool[Math.min(pool.length - 1, Math.floor(random() * pool.length))];
}
