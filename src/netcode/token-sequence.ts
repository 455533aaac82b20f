import { netcodeError } from './errors.js';

const COUNTER_BITS = 12n;
const ISSUER_BITS = 10n;
const COUNTER_MAX = (1 << Number(COUNTER_BITS)) - 1;
/** 2^42 ms reaches the year 2109. */
const MS_MAX = (1n << 42n) - 1n;
export const MAX_TOKEN_ISSUER_ID = (1 << Number(ISSUER_BITS)) - 1;

/**
 * Connect token sequences for netcode 1.00, where the sequence is the token's AEAD nonce: a repeat
 * under one key lets anyone holding both tokens forge private parts. Values are
 * `unix ms (42 bits) | issuer id (10) | counter (12)`, strictly increasing for one instance, and a
 * restarted process starts above everything it issued before as long as the wall clock did not step
 * back: seeding from the clock replaces a persisted counter. Issuers sharing a key need distinct ids.
 * Sans-IO: the caller passes the wall clock.
 */
export class ConnectTokenSequence {
  private lastMs = -1n;
  private counter = 0;

  constructor(readonly issuerId = 0) {
    if (!Number.isInteger(issuerId) || issuerId < 0 || issuerId > MAX_TOKEN_ISSUER_ID) {
      throw netcodeError('netcode_bad_issuer_id', `token issuer id must be 0..${MAX_TOKEN_ISSUER_ID}, got ${issuerId}`);
    }
  }

  /** The next sequence at wall-clock time `unixMs`; never equal to or below one returned before. */
  next(unixMs: number): bigint {
    let ms = BigInt(Math.max(0, Math.floor(unixMs)));
    if (ms <= this.lastMs) {
      // same millisecond, or the clock stepped back: count on; past 4096 in one ms, borrow the next ms
      ms = this.lastMs;
      if (this.counter === COUNTER_MAX) {
        ms++;
        this.counter = 0;
      } else {
        this.counter++;
      }
    } else {
      this.counter = 0;
    }
    if (ms > MS_MAX) throw netcodeError('netcode_token_sequence_exhausted', 'the connect token sequence ran past its 42-bit time field');
    this.lastMs = ms;
    return (ms << (ISSUER_BITS + COUNTER_BITS)) | (BigInt(this.issuerId) << COUNTER_BITS) | BigInt(this.counter);
  }
}
