/**
 * The client side of one game, independent of who decides the moves (a person at a terminal or
 * the bot): follows the host's state messages, asks `decide` for a move on this player's turn,
 * sends it as an action, and asks again if the host refuses it. Resolves with the game's end.
 */
import type { GameEnd, GameMessage, IyesmpError } from 'iyesmp/client';
import { stateFromBoard, type GameState, type Mark } from './rules.js';
import { StateMsg, type TicTacToeExt } from './messages.js';

export interface PlayHooks {
  /** every state the host sends (to draw the board) */
  onState?: (state: GameState, msg: StateMsg, mine: Mark | undefined) => void;
  /** the host refused a move (the decider is asked again) */
  onRefused?: (err: IyesmpError) => void;
  /** send `ready` once listening (default true) */
  ready?: boolean;
}

export type Decide = (state: GameState, mark: Mark) => number | Promise<number>;

/**
 * What this code uses of a client `GameSession`, by shape rather than by class, so a session from
 * any copy of the library fits (a test running the sources next to this built example has two).
 */
export interface TicTacToeSession {
  readonly playerId: string;
  readonly closed: boolean;
  readonly result: Promise<GameEnd<TicTacToeExt>>;
  on(event: 'message', listener: (msg: GameMessage<TicTacToeExt>) => void): unknown;
  action(ext: TicTacToeExt): Promise<unknown>;
  ready(): Promise<void>;
}

/**
 * An IyesmpError, recognised by its shape rather than `instanceof`: a program may hold two copies of
 * the library (a test running the sources beside this built example), each with its own class.
 */
function asIyesmpError(err: unknown): IyesmpError | undefined {
  const e = err as Partial<IyesmpError> | undefined;
  return err instanceof Error && typeof e?.kind === 'string' && typeof e.code === 'string' ? (err as IyesmpError) : undefined;
}

export async function playTicTacToe(game: TicTacToeSession, decide: Decide, hooks: PlayHooks = {}): Promise<GameEnd<TicTacToeExt>> {
  let latest = -1;
  let busy = false;
  let pending: StateMsg | undefined;

  const takeTurn = async (msg: StateMsg): Promise<void> => {
    const state = stateFromBoard(msg.board);
    const mine = msg.marks[game.playerId];
    if (mine === undefined || state.result !== undefined || state.turn !== mine) return;
    for (let attempt = 0; attempt < 20 && !game.closed; attempt++) {
      const cell = await decide(state, mine);
      try {
        await game.action({ t: 'move', cell });
        return;
      } catch (caught) {
        const err = asIyesmpError(caught);
        if (!err || game.closed) return;
        hooks.onRefused?.(err);
        if (err.kind !== 'refused') return;
      }
    }
  };

  // One turn at a time; a state that arrives meanwhile is handled after (only the newest counts).
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
    // checked here too: a client may run without this game's extSchema
    const parsed = StateMsg.safeParse(raw);
    if (!parsed.success) return;
    const ext = parsed.data;
    const moves = ext.board.filter((c) => c !== null).length;
    if (moves < latest) return; // stale
    latest = moves;
    hooks.onState?.(stateFromBoard(ext.board), ext, ext.marks[game.playerId]);
    pending = ext;
    void pump();
  });
  // Ready only now that the listener is in place: the host sends the first state right at begin.
  if (hooks.ready !== false) await game.ready();
  return game.result;
}
