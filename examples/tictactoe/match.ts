/**
 * The authoritative side of one tic-tac-toe game, as the host runs it. Pure: it takes the players'
 * moves and departures and says what to send and when the game is over; the host adapter
 * (host-game.ts) moves those words over the network. The first player in the begin order plays X.
 */
import { applyMove, MOVE_ERROR_TEXT, newGame, type GameState, type Mark, type MoveError } from './rules.js';
import type { StateMsg } from './messages.js';

export type Outcome = 'win' | 'loss' | 'draw' | 'abandoned';

export interface MatchEnd {
  reason: 'completed' | 'aborted';
  message: string;
  results: { playerId: string; outcome: Outcome; rank: number; score: number }[];
  final: StateMsg;
}

export type MoveVerdict = { ok: true; state: StateMsg; end?: MatchEnd } | { ok: false; error: MoveError | 'not_a_player'; message: string };

export class TicTacToeMatch {
  private state: GameState = newGame();
  private last: { cell: number; by: string } | undefined;
  private ended: MatchEnd | undefined;
  readonly marks: Readonly<Record<string, Mark>>;
  private readonly byMark: Record<Mark, string>;

  constructor(order: readonly string[]) {
    const [x, o] = order;
    if (x === undefined || o === undefined || x === o) {
      throw new Error('tic-tac-toe needs two different players');
    }
    this.marks = { [x]: 'X', [o]: 'O' };
    this.byMark = { X: x, O: o };
  }

  get over(): boolean {
    return this.ended !== undefined;
  }

  get current(): GameState {
    return this.state;
  }

  /** What every player is told: the board, whose turn, who is who. */
  snapshot(): StateMsg {
    const msg: StateMsg = { t: 'state', board: this.state.board.slice(), turn: this.state.turn, marks: { ...this.marks } };
    if (this.last) msg.last = { ...this.last };
    if (this.state.result) msg.result = this.state.result;
    return msg;
  }

  /** Judges a move by `playerId`. Illegal moves change nothing. */
  move(playerId: string, cell: number): MoveVerdict {
    const mark = this.marks[playerId];
    if (mark === undefined) return { ok: false, error: 'not_a_player', message: 'you are not playing in this game' };
    if (this.ended) return { ok: false, error: 'game_over', message: MOVE_ERROR_TEXT.game_over };
    const r = applyMove(this.state, mark, cell);
    if (!r.ok) return { ok: false, error: r.error, message: MOVE_ERROR_TEXT[r.error] };
    this.state = r.state;
    this.last = { cell, by: playerId };
    const state = this.snapshot();
    if (r.state.result === undefined) return { ok: true, state };
    const end = this.finish(r.state.result);
    return { ok: true, state, end };
  }

  /** A player left before the end: the other one wins by forfeit. */
  forfeit(playerId: string): MatchEnd | undefined {
    const mark = this.marks[playerId];
    if (mark === undefined || this.ended) return undefined;
    const winner = this.byMark[mark === 'X' ? 'O' : 'X'];
    this.ended = {
      reason: 'aborted',
      message: 'a player left the game',
      results: [
        { playerId: winner, outcome: 'win', rank: 1, score: 1 },
        { playerId, outcome: 'abandoned', rank: 2, score: 0 },
      ],
      final: this.snapshot(),
    };
    return this.ended;
  }

  private finish(result: Mark | 'draw'): MatchEnd {
    const x = this.byMark.X;
    const o = this.byMark.O;
    if (result === 'draw') {
      this.ended = {
        reason: 'completed',
        message: 'draw',
        results: [
          { playerId: x, outcome: 'draw', rank: 1, score: 0.5 },
          { playerId: o, outcome: 'draw', rank: 1, score: 0.5 },
        ],
        final: this.snapshot(),
      };
    } else {
      const winner = this.byMark[result];
      const loser = result === 'X' ? o : x;
      this.ended = {
        reason: 'completed',
        message: `${result} wins`,
        results: [
          { playerId: winner, outcome: 'win', rank: 1, score: 1 },
          { playerId: loser, outcome: 'loss', rank: 2, score: 0 },
        ],
        final: this.snapshot(),
      };
    }
    return this.ended;
  }
}
