import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';

/**
 * The game-level messages iyesmp carries on the reliable channel (reliable.ts) of a netcode
 * session, so a game written against the common session API (structured `ext` messages,
 * host-judged actions, results at the end) runs on netcode unchanged. One MsgPack array each:
 *
 *   [0, ext, channel | null, seq | null]          game.msg, either way
 *   [1, id, ext]                                  game.action, client -> host
 *   [2, id, 1, ext] | [2, id, 0, kind, code, msg] the action's answer, host -> client
 *   [3, reason, message, results, ext]            game.end with results, host -> client
 */
export type ReliableGameMessage =
  | { type: 'msg'; ext: unknown; channel?: string; seq?: number }
  | { type: 'act'; id: number; ext: unknown }
  | { type: 'res'; id: number; ok: true; ext: unknown }
  | { type: 'res'; id: number; ok: false; kind: string; code: string; message: string }
  | { type: 'end'; reason: 'completed' | 'aborted' | 'cancelled'; message: string; results: EndResult[]; ext?: unknown };

export interface EndResult {
  playerId: string;
  rank?: number;
  score?: number;
  outcome?: 'win' | 'loss' | 'draw' | 'abandoned';
}

const LIMIT = 64 * 1024;
const DECODE_LIMITS = { maxStrLength: LIMIT, maxBinLength: LIMIT, maxArrayLength: 4096, maxMapLength: 4096, maxExtLength: 0 };
const Id = z.int().min(0).max(0xffffffff);
const Short = z.string().max(128);
const Result = z.object({
  playerId: z.string().min(1).max(128),
  rank: z.number().optional(),
  score: z.number().optional(),
  outcome: z.enum(['win', 'loss', 'draw', 'abandoned']).optional(),
});
const Wire = z.union([
  z.tuple([z.literal(0), z.unknown(), Short.nullable(), z.int().min(0).nullable()]),
  z.tuple([z.literal(1), Id, z.unknown()]),
  z.tuple([z.literal(2), Id, z.literal(1), z.unknown()]),
  z.tuple([z.literal(2), Id, z.literal(0), Short, Short, z.string().max(1024)]),
  z.tuple([z.literal(3), z.enum(['completed', 'aborted', 'cancelled']), z.string().max(1024), z.array(Result).max(1024), z.unknown()]),
]);

export function encodeGameMessage(m: ReliableGameMessage): Uint8Array {
  switch (m.type) {
    case 'msg':
      return encode([0, m.ext ?? null, m.channel ?? null, m.seq ?? null]);
    case 'act':
      return encode([1, m.id, m.ext ?? null]);
    case 'res':
      return encode(m.ok ? [2, m.id, 1, m.ext ?? null] : [2, m.id, 0, m.kind, m.code, m.message]);
    case 'end':
      return encode([3, m.reason, m.message, m.results, m.ext ?? null]);
  }
}

/** A message from the peer, or null when it is not one (undecodable, wrong shape, too large). */
export function decodeGameMessage(bytes: Uint8Array): ReliableGameMessage | null {
  let raw: unknown;
  try {
    raw = decode(bytes, DECODE_LIMITS);
  } catch {
    return null;
  }
  const r = Wire.safeParse(raw);
  if (!r.success) return null;
  const w = r.data;
  switch (w[0]) {
    case 0:
      return { type: 'msg', ext: w[1] ?? undefined, ...(w[2] !== null ? { channel: w[2] } : {}), ...(w[3] !== null ? { seq: w[3] } : {}) };
    case 1:
      return { type: 'act', id: w[1], ext: w[2] ?? undefined };
    case 2:
      return w[2] === 1
        ? { type: 'res', id: w[1], ok: true, ext: w[3] ?? undefined }
        : { type: 'res', id: w[1], ok: false, kind: w[3], code: w[4], message: w[5] };
    case 3:
      return { type: 'end', reason: w[1], message: w[2], results: w[3], ...(w[4] !== null && w[4] !== undefined ? { ext: w[4] } : {}) };
  }
}
