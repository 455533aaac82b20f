/**
 * A small chess bot: mates in one when it can, otherwise takes the most valuable piece it can
 * capture, otherwise plays a random legal move. Randomness is injected for reproducible tests.
 * `scriptedBot` plays a fixed list of moves (fool's mate in the tests and the demo).
 */
import type { Chess } from 'chess.js';

export type Random = () => number;

const VALUE: Record<string, number> = { p: 1, n: 3, b: 3, r: 5, q: 9, k: 0 };

/** A legal move (SAN) for the side to move, or undefined when the game is over. */
export function chooseChessMove(chess: Chess, random: Random = Math.random): string | undefined {
  const moves = chess.moves({ verbose: true });
  if (moves.length === 0) return undefined;
  for (const m of moves) if (m.san.endsWith('#')) return m.san;
  let best: string | undefined;
  let bestValue = 0;
  for (const m of moves) {
    const v = m.captured ? (VALUE[m.captured] ?? 0) : 0;
    if (v > bestValue) {
      best = m.san;
      bestValue = v;
    }
  }
  return best ?? moves[Math.min(moves.length - 1, Math.floor(random() * moves.length))]!.san;
}

/** Plays `script` in order (by ply number), then falls back to `chooseChessMove`. */
export function scriptedBot(script: readonly string[], random: Random = Math.random): (chess: Chess) => string | undefined {
  return (chess) => script[chess.history().length] ?? chooseChessMove(chess, random);
}

/** Fool's mate: the shortest checkmate, Black mates on move 2. */
export const FOOLS_MATE = ['f3', 'e5', 'g4', 'Qh4#'] as const;
