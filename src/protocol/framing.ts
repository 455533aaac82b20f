import { ErrorCodes, type ProtocolFailure } from './error-codes.js';

/**
 * Length-prefixed framing: each frame is a 4-byte big-endian unsigned length followed by that many
 * payload bytes. Hand-written because it is a dozen lines and must enforce our limit on the prefix
 * itself, before any buffer for the payload exists.
 */
export const FRAME_PREFIX_BYTES = 4;

/** Prepends the length prefix. Throws a RangeError when the payload is above `maxFrameBytes`. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes: number): Uint8Array {
  if (payload.byteLength > maxFrameBytes) {
    throw new RangeError(`frame of ${payload.byteLength} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
  const out = new Uint8Array(FRAME_PREFIX_BYTES + payload.byteLength);
  new DataView(out.buffer).setUint32(0, payload.byteLength, false);
  out.set(payload, FRAME_PREFIX_BYTES);
  return out;
}

/** A reusable encoder bound to one limit. */
export class Framer {
  constructor(readonly maxFrameBytes: number) {}
  encode(payload: Uint8Array): Uint8Array {
    return encodeFrame(payload, this.maxFrameBytes);
  }
}

export interface DeframeResult {
  /** Complete frame payloads, in order. Each is a fresh copy, safe to keep. */
  frames: Uint8Array[];
  /** Set once the stream is unusable (oversize prefix); later pushes return it again and no frames. */
  error?: ProtocolFailure;
}

/**
 * Incremental decoder: push arbitrary chunks (split or coalesced anywhere), get whole frames.
 * Memory held is at most one partial frame plus its prefix, and never more than the limit allows:
 * a prefix above the limit fails the stream before the payload is buffered.
 */
export class Deframer {
  // A queue with a moving head: `shift()` on a long array of tiny chunks would be quadratic.
  private chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private expected: number | undefined;
  private failure: ProtocolFailure | undefined;

  constructor(readonly maxFrameBytes: number) {}

  /** Bytes currently held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  get failed(): ProtocolFailure | undefined {
    return this.failure;
  }

  push(chunk: Uint8Array): DeframeResult {
    if (this.failure) return { frames: [], error: this.failure };
    const frames: Uint8Array[] = [];
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < FRAME_PREFIX_BYTES) break;
        const length = this.takePrefix();
        if (length > this.maxFrameBytes) {
          this.failure = {
            code: ErrorCodes.frameTooLarge,
            message: `frame declares ${length} bytes, above the limit of ${this.maxFrameBytes} bytes`,
          };
          this.chunks = [];
          this.head = 0;
          this.buffered = 0;
          return { frames, error: this.failure };
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = undefined;
    }
    return { frames };
  }

  /**
   * Removes the 4-byte big-endian length prefix (4 <= buffered) and returns it, read in place: no
   * array (each costs a backing store) for the prefix of every message.
   */
  private takePrefix(): number {
    let length = 0;
    for (let i = 0; i < FRAME_PREFIX_BYTES; ) {
      const head = this.chunks[this.head]!;
      const n = Math.min(head.byteLength, FRAME_PREFIX_BYTES - i);
      for (let j = 0; j < n; j++) length = length * 256 + head[j]!;
      i += n;
      if (n === head.byteLength) this.head++;
      else this.chunks[this.head] = head.subarray(n);
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    }
    this.buffered -= FRAME_PREFIX_BYTES;
    return length;
  }

  /** Removes exactly `n` buffered bytes (n <= buffered) into a new array. */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[this.head]!;
      const want = n - filled;
      if (head.byteLength <= want) {
        out.set(head, filled);
        filled += head.byteLength;
        this.head++;
      } else {
        out.set(head.subarray(0, want), filled);
        this.chunks[this.head] = head.subarray(want);
        filled += want;
      }
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    this.buffered -= n;
    return out;
  }
}
