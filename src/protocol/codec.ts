import { Decoder, Encoder } from '@msgpack/msgpack';
import type { ProtocolLimits } from './limits.js';
import { scanMsgpack } from './msgpack-guard.js';

export type DecodeOutcome = { ok: true; value: unknown } | { ok: false; reason: string };

// Encoding and decoding are synchronous (and the encoder returns a copy), so one encoder and one
// decoder per set of limits serve every codec: an idle connection then holds no codec buffers
// (the encoder's alone is 2 KiB).
const sharedEncoder = new Encoder({ ignoreUndefined: true });
const decoders = new Map<string, Decoder>();

function decoderFor(limits: ProtocolLimits): Decoder {
  const key = `${limits.maxStringBytes}/${limits.maxBinBytes}/${limits.maxArrayLength}/${limits.maxMapEntries}`;
  let d = decoders.get(key);
  if (d === undefined) {
    d = new Decoder({
      maxStrLength: limits.maxStringBytes,
      maxBinLength: limits.maxBinBytes,
      maxArrayLength: limits.maxArrayLength,
      maxMapLength: limits.maxMapEntries,
      maxExtLength: 0,
    });
    decoders.set(key, d);
  }
  return d;
}

/**
 * MsgPack codec with limits. Uint8Array values encode as MsgPack bin (never arrays of ints);
 * `ignoreUndefined` keeps absent optional fields absent instead of nil.
 */
export class MsgpackCodec {
  private readonly encoder = sharedEncoder;
  private readonly decoder: Decoder;

  constructor(readonly limits: ProtocolLimits) {
    this.decoder = decoderFor(limits);
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
