import { z } from 'zod';
import { ERROR_CODE_PATTERN } from './error-codes.js';

/**
 * The outer shape of every control-stream frame. Bodies stay `unknown` here and are validated
 * against the family's per-type schema once the envelope is known to be sound.
 */
export const MAX_REQUEST_ID = 0xffff_ffff;

export const RequestId = z.int().min(1).max(MAX_REQUEST_ID);
export const MessageType = z
  .string()
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/)
  .max(64);
export const ErrorCode = z.string().regex(ERROR_CODE_PATTERN);
export const ProtocolVersion = z.object({
  major: z.int().min(0).max(0xffff),
  minor: z.int().min(0).max(0xffff),
});
export type ProtocolVersion = z.output<typeof ProtocolVersion>;

export const FamilyName = z.string().min(1).max(64);
export const GameVersion = z.string().min(1).max(64);
const Reason = z.string().max(1024);

export const HelloEnvelope = z.object({
  kind: z.literal('hello'),
  family: FamilyName,
  protocol: ProtocolVersion,
  game: GameVersion,
  body: z.unknown(),
});
export const WelcomeEnvelope = z.object({
  kind: z.literal('welcome'),
  family: FamilyName,
  /** The negotiated version: the listener's major and the lower of both minors. */
  protocol: ProtocolVersion,
  game: GameVersion,
  body: z.unknown(),
});
export const RequestEnvelope = z.object({ kind: z.literal('request'), id: RequestId, type: MessageType, body: z.unknown() });
export const ResponseEnvelope = z.object({ kind: z.literal('response'), id: RequestId, body: z.unknown() });
export const ErrorEnvelope = z.object({ kind: z.literal('error'), id: RequestId, code: ErrorCode, message: Reason });
export const EventEnvelope = z.object({ kind: z.literal('event'), type: MessageType, body: z.unknown() });
export const CloseEnvelope = z.object({ kind: z.literal('close'), code: ErrorCode, reason: Reason });

export const Envelope = z.discriminatedUnion('kind', [
  HelloEnvelope,
  WelcomeEnvelope,
  RequestEnvelope,
  ResponseEnvelope,
  ErrorEnvelope,
  EventEnvelope,
  CloseEnvelope,
]);
export type Envelope = z.output<typeof Envelope>;

/** When an envelope fails validation, the id of a request is still worth answering. */
export function readableRequestId(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v['kind'] !== 'request') return undefined;
  const parsed = RequestId.safeParse(v['id']);
  return parsed.success ? parsed.data : undefined;
}
