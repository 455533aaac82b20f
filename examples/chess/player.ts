/**
 * The client side of one chess game, whoever decides the moves (a person at the terminal or the
 * bot): follows the host's state messages, rebuilds the position by replaying the move list,
 * asks `decide` for an action on this player's turn, and asks again when the host refuses it.
 * Resolves with the game's end.
 */
import type { Chess } from 'chess.js';
import type { GameEnd, GameMessage, IyesmpError } from 'iyesmp/client';
import { type ChessAction, type ChessExt, type Color, StateMsg } from './messages.js';
import { replay } from './rules.js';

/** What this code uses of a client `GameSession`, by shape (any copy of the library fits). */
export interface ChessSession {
  readonly playerId: string;
  readonly closed: boolean;
  readonly result: Promise<GameEnd<ChessExt>>;
  on(event: 'message', listener: (msg: GameMessage<ChessExt>) => void): unknown;
  action(ext: ChessExt): Promise<unknown>;
  ready(): Promise<void>;
}

/** A move in SAN/UCI, or a whole action (resign, draw); undefined passes (nothing is sent). */
export type Decide = (chess: Chess, color: Color, state: StateMsg) => string | ChessAction | undefined | Promise<string | ChessAction | undefined>;

export interface PlayHooks {
  /** every state the host sends, with the position rebuilt from its move list */
  onState?: (chess: Chess, msg: StateMsg, mine: Color | undefined) => void;
  /** the host refused an action (the decider is asked again) */
  onRefused?: (err: IyesmpError) => void;
  /** send `ready` once listening (default true) */
  ready?: boolean;
}

function asIyesmpError(err: unknown): IyesmpError | undefined {
  const e = err as Partial<IyesmpError> | undefined;
  return err instanceof Error && typeof e?.kind === 'string' && typeof e.code === 'string' ? (err as IyesmpError) : undefined;
}

/** The position a state message describes, replayed from its moves; undefined if they do not replay. */
export function positionOf(msg: StateMsg): Chess | undefined {
  try {
    return replay(msg.moves);
  } catch {
    return undefined;
  }
}

export async function playChess(game: ChessSession, decide: Decide, hooks: PlayHooks = {}): Promise<GameEnd<ChessExt>> {
  let latest = -1;
  let busy = false;
  let pending: StateMsg | undefined;

  const takeTurn = async (msg: StateMsg): Promise<void> => {
    const mine = msg.colors[game.playerId];
    if (mine === undefined || msg.result !== undefined || msg.turn !== mine) return;
    for (let attempt = 0; attempt < 20 && !game.closed; attempt++) {
      const chess = positionOf(msg);
      if (!chess) return;
      const choice = await decide(chess, mine, msg);
      if (choice === undefined) return;
      try {
        await game.action(typeof choice === 'string' ? { t: 'move', move: choice } : choice);
        return;
      } catch (caught) {
        const err = asIyesmpError(caught);
        if (!err || game.closed) return;
        hooks.onRefused?.(err);
        if (err.kind !== 'refused') return;
      }
    }
  };

  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      while (pending) {
        const msg = pending;
        pending = undefined;
        await takeTurn(msg);
      }
    } finally {
      busy = false;
    }
  };

  game.on('message', ({ ext: raw }) => {
    const parsed = StateMsg.safeParse(raw);
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.moves.length < latest) return; // stale
    latest = msg.moves.length;
    const chess = positionOf(msg);
    if (!chess) return; // a move list that does not replay is not a position
    hooks.onState?.(chess, msg, msg.colors[game.playerId]);
    pending = msg;
    void pump();
  });
  if (hooks.ready !== false) await game.ready();
  return game.result;
}
