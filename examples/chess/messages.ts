/**
 * The chess game's own data, carried in the `ext` slot of iyesmp messages; one zod schema checks
 * every `ext` both ways (client library and host pass it as `extSchema`).
 *
 * - client -> host `game.action`: `{ t: 'move', move }` (SAN like "Nf3" or UCI like "g1f3"),
 *   `{ t: 'resign' }`, `{ t: 'draw', op: 'offer' | 'accept' | 'decline' }`; answered `{ t: 'ok' }`
 *   or refused with a reason (illegal move, not your turn, ...)
 * - host -> clients `game.msg`: `{ t: 'state', ... }` at the start and after every change; it
 *   carries the whole move list, so a client rebuilds the position by replaying it (which is what
 *   makes threefold repetition visible) rather than trusting a FEN
 * - host -> clients `game.end`: results, with the final `{ t: 'state' }` in its ext
 */
import { z } from 'zod';

export const ColorSchema = z.enum(['w', 'b']);
export type Color = z.output<typeof ColorSchema>;

export const END_REASONS = [
  'checkmate',
  'stalemate',
  'threefold_repetition',
  'fifty_moves',
  'insufficient_material',
  'resigned',
  'draw_agreed',
  'timeout',
  'left',
] as const;
export type EndReason = (typeof END_REASONS)[number];

export const MoveMsg = z.object({ t: z.literal('move'), move: z.string().min(2).max(10) });
export const ResignMsg = z.object({ t: z.literal('resign') });
export const DrawMsg = z.object({ t: z.literal('draw'), op: z.enum(['offer', 'accept', 'decline']) });
export const OkMsg = z.object({ t: z.literal('ok') });
export const StateMsg = z.object({
  t: z.literal('state'),
  /** every move so far, in SAN, from the standard start position */
  moves: z.array(z.string().min(2).max(10)).max(2000),
  /** the position after `moves` (for display; clients may recompute it) */
  fen: z.string().max(100),
  turn: ColorSchema,
  /** playerId -> colour */
  colors: z.record(z.string().min(1).max(128), ColorSchema),
  check: z.boolean(),
  last: z.object({ san: z.string().max(10), by: z.string().max(128) }).optional(),
  /** the player who offered a draw that is still open */
  drawOffer: z.string().max(128).optional(),
  /** milliseconds the side to move has for this move (the host's clock decides) */
  moveTimeMs: z.int().min(0).optional(),
  result: z.object({ winner: ColorSchema.optional(), reason: z.enum(END_REASONS) }).optional(),
});

export const ChessExt = z.discriminatedUnion('t', [MoveMsg, ResignMsg, DrawMsg, OkMsg, StateMsg]);
export type ChessExt = z.output<typeof ChessExt>;
export type StateMsg = z.output<typeof StateMsg>;
export type ChessAction = z.output<typeof MoveMsg> | z.output<typeof ResignMsg> | z.output<typeof DrawMsg>;

/** Game version of this example; the host accepts builds of the same major. */
export const GAME_VERSION = '1.0.0';
export const MODE = 'chess';
