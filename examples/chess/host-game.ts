/**
 * Chess on a Host server: the authoritative game. Moves, resignation and draw offers arrive as
 * `game.action` requests and are judged by the rules (rules.ts on chess.js); every change is
 * broadcast as the new state with the whole move list. Each move has a time limit, kept here with
 * the host's clock: the side to move that lets it run out loses on time.
 */
import type { GameResults, GameSession, HostGame } from 'iyesmp/host';
import { IyesmpError } from 'iyesmp/protocol';
import { z } from 'zod';
import type { ChessExt } from './messages.js';
import { ChessMatch, type MatchEnd, type Verdict } from './rules.js';

/** Per-move time limit when the session settings give none. */
export const DEFAULT_MOVE_TIME_MS = 120_000;

export function toResults(end: MatchEnd): GameResults {
  const outcomes: GameResults['outcomes'] = {};
  for (const r of end.results) outcomes[r.playerId] = { result: r.outcome, placement: r.rank, score: r.score };
  const finalState: ChessExt = end.final;
  return { outcomes, playerExt: finalState, gameData: { moves: end.final.moves, fen: end.final.fen, result: end.final.result, message: end.message } };
}

/** What this game uses of the host's `GameSession`, by shape (the host may hold another copy of iyesmp). */
export type ChessHostSession = Pick<GameSession<ChessExt>, 'players' | 'broadcast' | 'onAction' | 'end'> & {
  readonly settings?: unknown;
  on(event: 'player', listener: (e: { playerId: string; status: string }) => void): unknown;
  on(event: 'ended', listener: () => void): unknown;
};

const ActionShape = z.discriminatedUnion('t', [
  z.object({ t: z.literal('move'), move: z.string().min(2).max(10) }),
  z.object({ t: z.literal('resign') }),
  z.object({ t: z.literal('draw'), op: z.enum(['offer', 'accept', 'decline']) }),
]);
const Settings = z.object({ moveTimeMs: z.int().min(1_000).max(86_400_000).optional() }).loose();

export interface ChessHostOptions {
  /** default per-move limit (session settings `{ moveTimeMs }` override it) */
  moveTimeMs?: number;
}

/** The game object the Host server runs (a `HostGame<ChessExt>`, typed by the part of the session it uses). */
export interface ChessHostGame {
  begin(s: ChessHostSession): void;
}

export function chessHostGame(opts: ChessHostOptions = {}): ChessHostGame {
  const game = {
    begin(s: ChessHostSession): void {
      const settings = Settings.safeParse(s.settings ?? {});
      const moveTimeMs = (settings.success ? settings.data.moveTimeMs : undefined) ?? opts.moveTimeMs ?? DEFAULT_MOVE_TIME_MS;
      // seat order as the host gives it: the first player plays White
      const match = new ChessMatch(s.players.map((p) => p.playerId));
      let timer: NodeJS.Timeout | undefined;
      const stopClock = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
      };
      const finish = (end: MatchEnd): void => {
        stopClock();
        // end after the current reply went out: ending closes the players' connections
        setImmediate(() => s.end(toResults(end)));
      };
      const startClock = (): void => {
        stopClock();
        timer = setTimeout(() => {
          const v = match.timeout();
          if (v.ok) {
            s.broadcast({ ext: v.state });
            if (v.end) finish(v.end);
          }
        }, moveTimeMs);
        timer.unref?.();
      };
      const apply = (v: Verdict, restartClock: boolean): ChessExt => {
        if (!v.ok) throw new IyesmpError('refused', v.error, v.message);
        if (v.end) {
          s.broadcast({ ext: v.state });
          finish(v.end);
        } else {
          if (restartClock) startClock();
          s.broadcast({ ext: { ...v.state, moveTimeMs } });
        }
        return { t: 'ok' };
      };

      s.broadcast({ ext: match.snapshot(moveTimeMs) });
      startClock();
      s.onAction((playerId, ext: unknown) => {
        // checked here too: the host may run without this game's extSchema
        const a = ActionShape.safeParse(ext);
        if (!a.success)
          throw new IyesmpError('refused', 'bad_action', 'send { t: "move", move: "e4" }, { t: "resign" } or { t: "draw", op: "offer"|"accept"|"decline" }');
        switch (a.data.t) {
          case 'move':
            return apply(match.move(playerId, a.data.move), true);
          case 'resign':
            return apply(match.resign(playerId), false);
          case 'draw':
            return apply(match.draw(playerId, a.data.op), false);
        }
      });
      s.on('player', ({ playerId, status }) => {
        if (status !== 'left') return;
        const end = match.forfeit(playerId);
        if (end) finish(end);
      });
      s.on('ended', stopClock);
    },
  } satisfies HostGame<ChessExt>;
  return game;
}

/** `iyesmp serve host --game <this module>` loads the default export. */
export default chessHostGame();
