import { REPLAY_PROTECTION_BUFFER_SIZE, U64_MAX } from './constants.js';

/**
 * Sliding-window replay protection for keep-alive, payload and disconnect packets (256 entries).
 * `alreadyReceived` is checked before decryption and `advance` only after a successful one.
 * The 1.02 rules serve 1.00 too: the 1.00 reference lets sequences with bit 63 set through unrecorded,
 * but no 1.00 peer sends such a sequence on these types, so the stricter rule costs no interop.
 */
const SIZE = BigInt(REPLAY_PROTECTION_BUFFER_SIZE);
/** the buffer size is a power of two: an AND finds the entry (cheaper than BigInt modulo per packet) */
const MASK = SIZE - 1n;

export class ReplayProtection {
  mostRecent = 0n;
  private readonly received = new Array<bigint>(REPLAY_PROTECTION_BUFFER_SIZE).fill(U64_MAX);

  reset(): void {
    this.mostRecent = 0n;
    this.received.fill(U64_MAX);
  }

  alreadyReceived(sequence: bigint): boolean {
    // written as a subtraction guarded by the comparison so it cannot underflow (as the reference)
    if (this.mostRecent >= SIZE && sequence <= this.mostRecent - SIZE) return true;
    const entry = this.received[Number(sequence & MASK)]!;
    if (entry === U64_MAX) return false;
    return entry >= sequence;
  }

  advance(sequence: bigint): void {
    if (sequence > this.mostRecent) this.mostRecent = sequence;
    this.received[Number(sequence & MASK)] = sequence;
  }
}
