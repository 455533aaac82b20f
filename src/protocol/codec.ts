import { Decoder, Encoder } from '@msgpack/msgpack';
import type { ProtocolLimits } from './limits.js';
import { scanMsgpack } from './msgpack-guard.js';

export type DecodeOutcome = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * MsgPack codec with limits. Uint8Array values encode as MsgPack bin (never arrays of ints);
 * `ignoreUndefined` keeps absent optional fields absent instead of nil.
 */
export class MsgpackCodec {
  private readonly encoder = new Encoder({ ignoreUndefined: true });
  private readonly decoder: Decoder;

  constructor(readonly limits: ProtocolLimits) {
    this.decoder = new Decoder({
      maxStrLength: limits.maxStringBytes,
      maxBinLength: limits.maxBinBytes,
      maxArrayLength: limits.maxArrayLength,
      maxMapLength: limits.maxMapEntries,
      maxExtLength: 0,
    });
  }

  encode(value: unknown): Uint8Array {
    // encode() (unlike encodeSharedRef) returns a fresh copy, safe to queue.
    return this.encoder.encode(value);
  }

  /** Never throws: limit breaches and malformed bytes come back as a reason. */
  decode(bytes: Uint8Array): DecodeOutcome {
    const problem = scanMsgpack(bytes, this.limits);
    if (problem !== undefined) return { ok: false, reason: problem };
    try {
      return { ok: true, value: this.decoder.decode(bytes) };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : 'undecodable MsgPack' };
    }
  }
}
