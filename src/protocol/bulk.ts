import { z } from 'zod';
import { MsgpackCodec } from './codec.js';
import { ErrorCodes, type ProtocolFailure } from './error-codes.js';
import { FamilyName } from './envelope.js';
import type { WithExt } from './family.js';
import { Deframer, encodeFrame } from './framing.js';
import { DEFAULT_BULK_LIMITS, DEFAULT_CONTROL_LIMITS, resolveLimits, type ProtocolLimits } from './limits.js';
import { Ext, Id, Name } from './schemas/common.js';
import { checkBody } from './validate.js';

/**
 * Bulk streams carry game data beside the control stream (one QUIC stream each). They use the same
 * length-prefixed framing. The first frame is a MsgPack header naming the stream; every later frame
 * is an opaque payload (the game picks its encoding), so bulk data is never re-validated here.
 */
export const BulkHeaderSchema = z.object({
  kind: z.literal('stream'),
  /** The family of the control stream this belongs to (e.g. `iyesmp-host/1`). */
  family: FamilyName,
  /** What the stream is for, e.g. `game.state`, `replay`, `voice`. */
  purpose: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]*$/)
    .max(64),
  sessionId: Id.optional(),
  /** Lets a game run several streams with one purpose (per player, per map chunk...). */
  channel: Name.optional(),
  ext: Ext,
});
export type BulkHeader<E = unknown> = WithExt<z.output<typeof BulkHeaderSchema>, E>;

/** Frames a bulk header. The header must fit the control-stream frame limit. */
export function encodeBulkHeader<E>(header: Omit<BulkHeader<E>, 'kind'>, extSchema?: z.ZodType<E>): Uint8Array {
  const checked = checkBody(BulkHeaderSchema, { ...header, kind: 'stream' }, extSchema);
  if (!checked.ok) throw new RangeError(`invalid bulk stream header: ${checked.message}`);
  const codec = new MsgpackCodec(DEFAULT_CONTROL_LIMITS);
  return encodeFrame(codec.encode(checked.value), DEFAULT_CONTROL_LIMITS.maxFrameBytes);
}

/** Frames one bulk payload. */
export function encodeBulkFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_BULK_LIMITS.maxFrameBytes): Uint8Array {
  return encodeFrame(payload, maxFrameBytes);
}

export interface BulkDecodeResult<E> {
  /** Set by the push that completed the header frame. */
  header?: BulkHeader<E>;
  frames: Uint8Array[];
  error?: ProtocolFailure;
}

/** Sans-IO reader for one bulk stream: header first, then payload frames. */
export class BulkStreamDecoder<E = unknown> {
  private readonly deframer: Deframer;
  private readonly headerLimits: ProtocolLimits;
  private readonly codec: MsgpackCodec;
  private headerValue: BulkHeader<E> | undefined;
  private failure: ProtocolFailure | undefined;

  constructor(private readonly opts: { limits?: Partial<ProtocolLimits>; extSchema?: z.ZodType<E>; family?: string } = {}) {
    const limits = resolveLimits(opts.limits, DEFAULT_BULK_LIMITS);
    this.deframer = new Deframer(limits.maxFrameBytes);
    this.headerLimits = resolveLimits({ maxFrameBytes: Math.min(limits.maxFrameBytes, DEFAULT_CONTROL_LIMITS.maxFrameBytes) });
    this.codec = new MsgpackCodec(this.headerLimits);
  }

  get header(): BulkHeader<E> | undefined {
    return this.headerValue;
  }
  get bufferedBytes(): number {
    return this.deframer.bufferedBytes;
  }

  /** Never throws. After an error the stream should be reset with the error's code. */
  push(chunk: Uint8Array): BulkDecodeResult<E> {
    if (this.failure) return { frames: [], error: this.failure };
    const { frames, error } = this.deframer.push(chunk);
    const result: BulkDecodeResult<E> = { frames: [] };
    for (const frame of frames) {
      if (this.headerValue !== undefined) {
        result.frames.push(frame);
        continue;
      }
      const header = this.parseHeader(frame);
      if (!header.ok) return this.fail(header.failure);
      this.headerValue = header.value;
      result.header = header.value;
    }
    if (error) return { ...this.fail(error), header: result.header, frames: result.frames };
    return result;
  }

  private parseHeader(frame: Uint8Array): { ok: true; value: BulkHeader<E> } | { ok: false; failure: ProtocolFailure } {
    if (frame.byteLength > this.headerLimits.maxFrameBytes) {
      return { ok: false, failure: { code: ErrorCodes.frameTooLarge, message: 'bulk stream header is too large' } };
    }
    const decoded = this.codec.decode(frame);
    if (!decoded.ok) return { ok: false, failure: { code: ErrorCodes.malformed, message: `undecodable bulk stream header: ${decoded.reason}` } };
    const checked = checkBody(BulkHeaderSchema, decoded.value, this.opts.extSchema);
    if (!checked.ok) return { ok: false, failure: { code: ErrorCodes.badRequest, message: `invalid bulk stream header: ${checked.message}` } };
    const value = checked.value as BulkHeader<E>;
    if (this.opts.family !== undefined && value.family !== this.opts.family) {
      return { ok: false, failure: { code: ErrorCodes.wrongFamily, message: `bulk stream is for ${value.family}, expected ${this.opts.family}` } };
    }
    return { ok: true, value };
  }

  private fail(failure: ProtocolFailure): BulkDecodeResult<E> {
    this.failure = failure;
    return { frames: [], error: failure };
  }
}
