/**
 * Chess rules for iyesmp, on chess.js: the authoritative match the host runs, and the replay a
 * client uses to rebuild a position. Pure (no clock, no network); the host adapter (host-game.ts)
 * owns the move timer and calls `timeout` when it fires.
 *
 * The log is the list of SAN moves from the standard start. A position is always rebuilt by
 * replaying that log, never loaded from a FEN: chess.js only sees threefold repetition in history
 * it played itself.
 */
import { Chess } from 'chess.js';
import type { Color, EndReason, StateMsg } from './messages.js';

export type Outcome = 'win' | 'loss' | 'draw' | 'abandoned';

export interface MatchEnd {
  reason: 'completed' | 'aborted';
  message: string;
  results: { playerId: string; outcome: Outcome; rank: number; score: number }[];
  final: StateMsg;
}

export type RefusalCode = 'not_a_player' | 'game_over' | 'not_your_turn' | 'illegal_move' | 'no_draw_offer' | 'own_draw_offer';

export type Verdict = { ok: true; state: StateMsg; end?: MatchEnd } | { ok: false; error: RefusalCode; message: string };

/** Rebuilds a game by replaying SAN (or UCI) moves from the start; throws on an illegal one. */
export function replay(moves: readonly string[]): Chess {
  const chess = new Chess();
  for (const m of moves) playMove(chess, m);
  return chess;
}

/** Plays `text` as SAN, or as UCI ("e2e4", "e7e8q"); returns the SAN played, or undefined if illegal. */
export function playMove(chess: Chess, text: string): string | undefined {
  const uci = /^([a-h][1-8])([a-h][1-8])([qrbn])?$/.exec(text);
  try {
    // chess.js throws on an illegal move
    const m = uci ? chess.move({ from: uci[1]!, to: uci[2]!, ...(uci[3] ? { promotion: uci[3] } : {}) }) : chess.move(text);
    return m.san;
  } catch {
    return undefined;
  }
}

/** Why a position is over, if it is (by the board alone; resignation and time are the match's). */
export function boardEnd(chess: Chess): { winner?: Color; reason: EndReason } | undefined {
  if (chess.isCheckmate()) return { winner: chess.turn() === 'w' ? 'b' : 'w', reason: 'checkmate' };
  if (chess.isStalemate()) return { reason: 'stalemate' };
  if (chess.isThreefoldRepetition()) return { reason: 'threefold_repetition' };
  if (chess.isInsufficientMaterial()) return { reason: 'insufficient_material' };
  if (chess.isDrawByFiftyMoves()) return { reason: 'fifty_moves' };
  return undefined;
}

const END_TEXT: Record<EndReason, string> = {
  checkmate: 'checkmate',
  stalemate: 'stalemate',
  threefold_repetition: 'draw by threefold repetition',
  fifty_moves: 'draw by the fifty-move rule',
  insufficient_material: 'draw by insufficient material',
  resigned: 'resigned',
  draw_agreed: 'draw agreed',
  timeout: 'lost on time',
  left: 'a player left the game',
};

export const COLOR_NAME: Record<Color, string> = { w: 'White', b: 'Black' };

/** A one-line description of a finished game, e.g. "Black wins: checkmate". */
export function describeResult(result: NonNullable<StateMsg['result']>): string {
  const text = END_TEXT[result.reason];
  return result.winner ? `${COLOR_NAME[result.winner]} wins: ${text}` : text;
}

export class ChessMatch {
  readonly #chess = new Chess();
  readonly #moves: string[] = [];
  readonly colors: Readonly<Record<string, Color>>;
  readonly #byColor: Record<Color, string>;
  #last: { san: string; by: string } | undefined;
  #drawOffer: string | undefined;
  #ended: MatchEnd | undefined;
  #result: StateMsg['result'];

  /** The first player plays White. */
  constructor(order: readonly string[]) {
    const [w, b] = order;
    if (w === undefined || b === undefined || w === b) throw new Error('chess needs two different players');
    this.colors = { [w]: 'w', [b]: 'b' };
    this.#byColor = { w, b };
  }

  get over(): boolean {
    return this.#ended !== undefined;
  }

  /** The SAN log of the game so far. */
  get moves(): readonly string[] {
    return this.#moves;
  }

  /** The player whose move it is. */
  get toMove(): string {
    return this.#byColor[this.#chess.turn()];
  }

  snapshot(moveTimeMs?: number): StateMsg {
    const msg: StateMsg = {
      t: 'state',
      moves: this.#moves.slice(),
      fen: this.#chess.fen(),
      turn: this.#chess.turn(),
      colors: { ...this.colors },
      check: this.#chess.inCheck(),
    };
    if (this.#last) msg.last = { ...this.#last };
    if (this.#drawOffer) msg.drawOffer = this.#drawOffer;
    if (moveTimeMs !== undefined && !this.#ended) msg.moveTimeMs = moveTimeMs;
    if (this.#result) msg.result = { ...this.#result };
    return msg;
  }

  move(playerId: string, text: string): Verdict {
    const refused = this.#check(playerId);
    if (refused) return refused;
    if (this.colors[playerId] !== this.#chess.turn()) return { ok: false, error: 'not_your_turn', message: `it is ${COLOR_NAME[this.#chess.turn()]}'s move` };
    const san = playMove(this.#chess, text);
    if (san === undefined) return { ok: false, error: 'illegal_move', message: `${text} is not a legal move here` };
    this.#moves.push(san);
    this.#last = { san, by: playerId };
    // a move answers any open draw offer with "no"
    this.#drawOffer = undefined;
    const end = boardEnd(this.#chess);
    if (!end) return { ok: true, state: this.snapshot() };
    return this.#finish(end.winner, end.reason);
  }

  resign(playerId: string): Verdict {
    const refused = this.#check(playerId);
    if (refused) return refused;
    return this.#finish(this.#other(playerId), 'resigned');
  }

  draw(playerId: string, op: 'offer' | 'accept' | 'decline'): Verdict {
    const refused = this.#check(playerId);
    if (refused) return refused;
    if (op === 'offer') {
      this.#drawOffer = playerId;
      return { ok: true, state: this.snapshot() };
    }
    if (this.#drawOffer === undefined) return { ok: false, error: 'no_draw_offer', message: 'there is no draw offer to answer' };
    if (this.#drawOffer === playerId) return { ok: false, error: 'own_draw_offer', message: 'you cannot answer your own draw offer' };
    if (op === 'decline') {
      this.#drawOffer = undefined;
      return { ok: true, state: this.snapshot() };
    }
    return this.#finish(undefined, 'draw_agreed');
  }

  /** The side to move ran out of time. */
  timeout(): Verdict {
    if (this.#ended) return { ok: false, error: 'game_over', message: 'the game is over' };
    return this.#finish(this.#chess.turn() === 'w' ? 'b' : 'w', 'timeout');
  }

  /** A player left before the end: the other one wins. */
  forfeit(playerId: string): MatchEnd | undefined {
    if (this.colors[playerId] === undefined || this.#ended) return undefined;
    const v = this.#finish(this.#other(playerId), 'left');
    return v.ok ? v.end : undefined;
  }

  #check(playerId: string): Extract<Verdict, { ok: false }> | undefined {
    if (this.colors[playerId] === undefined) return { ok: false, error: 'not_a_player', message: 'you are not playing in this game' };
    if (this.#ended) return { ok: false, error: 'game_over', message: 'the game is over' };
    return undefined;
  }

  #other(playerId: string): Color {
    return this.colors[playerId] === 'w' ? 'b' : 'w';
  }

  #finish(winner: Color | undefined, reason: EndReason): Verdict {
    this.#result = winner ? { winner, reason } : { reason };
    this.#drawOffer = undefined;
    const final = this.snapshot();
    const w = this.#byColor.w;
    const b = this.#byColor.b;
    const results: MatchEnd['results'] =
      winner === undefined
        ? [
            { playerId: w, outcome: 'draw', rank: 1, score: 0.5 },
            { playerId: b, outcome: 'draw', rank: 1, score: 0.5 },
          ]
        : [
            { playerId: this.#byColor[winner], outcome: 'win', rank: 1, score: 1 },
            { playerId: this.#byColor[winner === 'w' ? 'b' : 'w'], outcome: reason === 'left' ? 'abandoned' : 'loss', rank: 2, score: 0 },
          ];
    this.#ended = { reason: reason === 'left' ? 'aborted' : 'completed', message: describeResult(this.#result), results, final };
    return { ok: true, state: final, end: this.#ended };
  }
}
