import { REPLAY_PROTECTION_BUFFER_SIZE, U64_MAX } from './constants.js';

/**
 * Sliding-window replay protection for keep-alive, payload and disconnect packets (256 entries).
 * `alreadyReceived` is checked before decryption and `advance` only after a successful one.
 * The 1.02 rules serve 1.00 too: the 1.00 reference lets sequences with bit 63 set through unrecorded,
 * but no 1.00 peer sends such a sequence on these types, so the stricter rule costs no interop.
 *
 * Sequences are u64. While every sequence seen fits a double exactly (below 2^53: a peer sending a
 * million packets a second takes 285 years to get there) the window is kept in numbers, which costs
 * no BigInt allocation per packet; the first larger sequence moves it to BigInts for good. Both
 * forms give the reference's answers (test/netcode/hot-path.test.ts compares them).
 */
const SIZE = REPLAY_PROTECTION_BUFFER_SIZE;
const SIZE_BIG = BigInt(SIZE);
/** the buffer size is a power of two: an AND finds the entry */
const MASK = SIZE - 1;
const MASK_BIG = SIZE_BIG - 1n;
const MAX_SMALL = BigInt(Number.MAX_SAFE_INTEGER);
/** an empty entry in the number form (the reference marks it with U64_MAX) */
const EMPTY = -1;

interface BigWindow {
  recent: bigint;
  entries: bigint[];
}

export class ReplayProtection {
  #recent = 0;
  #entries = new Float64Array(SIZE).fill(EMPTY);
  #big: BigWindow | undefined;

  get mostRecent(): bigint {
    return this.#big ? this.#big.recent : BigInt(this.#recent);
  }

  reset(): void {
    this.#big = undefined;
    this.#recent = 0;
    this.#entries.fill(EMPTY);
  }

  /** `sequence` as a number must be a non-negative safe integer (the packet reader gives one below 2^48). */
  alreadyReceived(sequence: bigint | number): boolean {
    if (!this.#big) {
      if (typeof sequence === 'number') return this.#seenSmall(sequence);
      // every recorded sequence is smaller, so the window cannot hold it (and checking must not
      // widen: this runs before decryption, for forged datagrams too)
      return sequence <= MAX_SMALL ? this.#seenSmall(Number(sequence)) : false;
    }
    // written as a subtraction guarded by the comparison so it cannot underflow (as the reference)
    const s = BigInt(sequence);
    const w = this.#big;
    if (w.recent >= SIZE_BIG && s <= w.recent - SIZE_BIG) return true;
    const entry = w.entries[Number(s & MASK_BIG)]!;
    if (entry === U64_MAX) return false;
    return entry >= s;
  }

  advance(sequence: bigint | number): void {
    if (!this.#big) {
      if (typeof sequence === 'number') return this.#advanceSmall(sequence);
      if (sequence <= MAX_SMALL) return this.#advanceSmall(Number(sequence));
      this.#big = this.#widened();
    }
    const s = BigInt(sequence);
    const w = this.#big;
    if (s > w.recent) w.recent = s;
    w.entries[Number(s & MASK_BIG)] = s;
  }

  #seenSmall(seq: number): boolean {
    if (this.#recent >= SIZE && seq <= this.#recent - SIZE) return true;
    // `>>> 0` keeps the low 32 bits exactly for any safe integer; the mask then the low 8
    const entry = this.#entries[(seq >>> 0) & MASK]!;
    return entry !== EMPTY && entry >= seq;
  }

  #advanceSmall(seq: number): void {
    if (seq > this.#recent) this.#recent = seq;
    this.#entries[(seq >>> 0) & MASK] = seq;
  }

  /** The number form as BigInts, once the first sequence over 2^53 is recorded. */
  #widened(): BigWindow {
    return { recent: BigInt(this.#recent), entries: Array.from(this.#entries, (e) => (e === EMPTY ? U64_MAX : BigInt(e))) };
  }
}
