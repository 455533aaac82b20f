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

/** Requests a hello may carry (pipelined with it): a login and a first request or two, not a batch. */
export const MAX_EARLY_REQUESTS = 4;
/**
 * A request sent inside the hello. The listener takes it only when it accepts the hello, and then
 * as if it had arrived right after its welcome; `minor` is the lowest minor of the family the
 * request is valid in (absent: every minor), so a listener that negotiated a lower one refuses it
 * with `version_too_new` instead of misreading it.
 */
export const EarlyRequest = z.object({ id: RequestId, type: MessageType, body: z.unknown(), minor: z.int().min(0).max(0xffff).optional() });
export type EarlyRequest = z.output<typeof EarlyRequest>;

export const HelloEnvelope = z.object({
  kind: z.literal('hello'),
  family: FamilyName,
  protocol: ProtocolVersion,
  game: GameVersion,
  body: z.unknown(),
  /** Pipelined requests. Listeners that predate them drop the field (zod strips unknown keys) and say nothing. */
  early: z.array(EarlyRequest).min(1).max(MAX_EARLY_REQUESTS).optional(),
});
export const WelcomeEnvelope = z.object({
  kind: z.literal('welcome'),
  family: FamilyName,
  /** The negotiated version: the listener's major and the lower of both minors. */
  protocol: ProtocolVersion,
  game: GameVersion,
  body: z.unknown(),
  /**
   * The listener took the hello's early requests and answers them after this welcome. Absent in
   * answer to a hello with early requests: the listener predates them, and the dialer sends them
   * again as ordinary requests.
   */
  early: z.literal(true).optional(),
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

const MESSAGE_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const isRequestId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_REQUEST_ID;
const isMessageType = (v: unknown): v is string => typeof v === 'string' && v.length <= 64 && MESSAGE_TYPE.test(v);

/**
 * `Envelope.safeParse`, with the frames of an open connection (request, response, event) checked by
 * hand first: zod's object and union machinery was about 2% of the Auth's busy time in a hand-off
 * profile, for three fields. A frame the fast check does not accept goes to zod, so what is refused,
 * and the message that says why, are zod's; what it accepts is exactly what zod would return.
 */
export function parseEnvelope(value: unknown): { success: true; data: Envelope } | { success: false; error: z.ZodError } {
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype && Object.hasOwn(value, 'body')) {
    const v = value as Record<string, unknown>;
    switch (v['kind']) {
      case 'request':
        if (isRequestId(v['id']) && isMessageType(v['type']))
          return { success: true, data: { kind: 'request', id: v['id'], type: v['type'], body: v['body'] } };
        break;
      case 'response':
        if (isRequestId(v['id'])) return { success: true, data: { kind: 'response', id: v['id'], body: v['body'] } };
        break;
      case 'event':
        if (isMessageType(v['type'])) return { success: true, data: { kind: 'event', type: v['type'], body: v['body'] } };
        break;
    }
  }
  return Envelope.safeParse(value);
}
