/**
 * Tic-tac-toe on a Host server: the authoritative game. The host calls `begin` when both players
 * are ready; moves arrive as `game.action` requests, are judged by the rules (turn order, free
 * cell) and every accepted move is broadcast as the new state. The game ends with results (win,
 * loss, draw; a player who leaves forfeits).
 */
import type { GameResults, GameSession, HostGame } from 'iyesmp/host';
import { IyesmpError } from 'iyesmp/protocol';
import { TicTacToeMatch, type MatchEnd } from './match.js';
import { z } from 'zod';
import type { TicTacToeExt } from './messages.js';

/**
 * The report to the host: outcomes per player; the final state as `playerExt`, which the players
 * get in `game.end`'s ext (so it is a `TicTacToeExt`); and a summary as `gameData` for the Auth
 * server's records.
 */
export function toResults(end: MatchEnd): GameResults {
  const outcomes: GameResults['outcomes'] = {};
  for (const r of end.results) outcomes[r.playerId] = { result: r.outcome, placement: r.rank, score: r.score };
  const finalState: TicTacToeExt = end.final;
  return { outcomes, playerExt: finalState, gameData: { board: end.final.board, message: end.message, reason: end.reason } };
}

/**
 * What this game uses of the host's `GameSession`, by shape rather than by class: the Host server
 * may load this module next to another copy of iyesmp (a global `iyesmp serve host --game`, or
 * tests running the sources), whose GameSession is a different class with the same members.
 */
export type TicTacToeHostSession = Pick<GameSession<TicTacToeExt>, 'players' | 'broadcast' | 'onAction' | 'end'> & {
  on(event: 'player', listener: (e: { playerId: string; status: string }) => void): unknown;
};

const MoveShape = z.object({ t: z.literal('move'), cell: z.number() });

export const ticTacToeHostGame = {
  begin(s: TicTacToeHostSession): void {
    // Seat order as the host gives it: the first player is X and moves first.
    const match = new TicTacToeMatch(s.players.map((p) => p.playerId));
    const finish = (end: MatchEnd): void => {
      // End after the current reply went out: ending closes the players' connections, and the
      // player who made the last move should get its answer before the game.end.
      setImmediate(() => s.end(toResults(end)));
    };
    s.broadcast({ ext: match.snapshot() });
    s.onAction((playerId, ext: unknown) => {
      // the host may run without this game's extSchema: whatever arrives (null, a string...) is
      // checked here; which cells are legal is for the rules to say
      const move = MoveShape.safeParse(ext);
      if (!move.success) throw new IyesmpError('refused', 'bad_move', 'send a move: { t: "move", cell: 0..8 }');
      const verdict = match.move(playerId, move.data.cell);
      if (!verdict.ok) throw new IyesmpError('refused', verdict.error, verdict.message);
      s.broadcast({ ext: verdict.state });
      if (verdict.end) finish(verdict.end);
      return { t: 'ok' };
    });
    s.on('player', ({ playerId, status }) => {
      if (status !== 'left') return;
      const end = match.forfeit(playerId);
      if (end) finish(end);
    });
  },
} satisfies HostGame<TicTacToeExt>;

/** `iyesmp serve host --game <this module>` loads the default export. */
export default ticTacToeHostGame;
