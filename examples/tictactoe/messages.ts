/**
 * The game's own data, carried in the `ext` slot of iyesmp messages. One zod schema checks every
 * `ext` both ways (the client library and the host pass it as `extSchema`), so a malformed move
 * never reaches the rules, and the TypeScript type follows from the schema.
 *
 * - client -> host `game.action`: `{ t: 'move', cell }`, answered `{ t: 'ok' }` or refused
 * - host -> clients `game.msg`: `{ t: 'state', ... }` after the start and after every move
 * - host -> clients `game.end`: results, with the final `{ t: 'state' }` in its ext
 */
import { z } from 'zod';

const MarkSchema = z.enum(['X', 'O']);

export const MoveMsg = z.object({ t: z.literal('move'), cell: z.int().min(0).max(8) });
export const OkMsg = z.object({ t: z.literal('ok') });
export const StateMsg = z.object({
  t: z.literal('state'),
  board: z.array(MarkSchema.nullable()).length(9),
  turn: MarkSchema,
  /** playerId -> mark */
  marks: z.record(z.string().min(1).max(128), MarkSchema),
  last: z.object({ cell: z.int().min(0).max(8), by: z.string().max(128) }).optional(),
  result: z.union([MarkSchema, z.literal('draw')]).optional(),
});

export const TicTacToeExt = z.discriminatedUnion('t', [MoveMsg, OkMsg, StateMsg]);
export type TicTacToeExt = z.output<typeof TicTacToeExt>;
export type StateMsg = z.output<typeof StateMsg>;
export type MoveMsg = z.output<typeof MoveMsg>;

/** Game version of this example; the host accepts builds of the same major. */
export const GAME_VERSION = '1.0.0';
export const MODE = 'tictactoe';
