import { canonicalIp } from '../net/address.js';
import { addressKey, canonicalAddress } from './address.js';
import { EventQueue } from '../events/queue.js';
import type { ExpectedAddress, SourceAddress } from './types.js';

export type AllowListEvent = { type: 'allow'; key: string; address: ExpectedAddress } | { type: 'revoke'; key: string; address: ExpectedAddress };

/**
 * The set of source addresses the transport lets through its raw-datagram filter, derived from the
 * expected players of live sessions. Reference-counted: several players behind one NAT share an
 * address, and it must stay allowed until the last of them departs. Events fire only on the first
 * add (`allow`) and the last release (`revoke`), which is what a packet filter needs. Sans-IO: the
 * events queue until the driver takes them (`takeEvents`, events/queue.ts says why).
 */
export class AllowList {
  readonly #events = new EventQueue<AllowListEvent>();
  readonly #counts = new Map<string, { address: ExpectedAddress; count: number }>();

  add(address: ExpectedAddress): void {
    const key = addressKey(address);
    const entry = this.#counts.get(key);
    if (entry) {
      entry.count++;
      return;
    }
    const canonical = canonicalAddress(address);
    this.#counts.set(key, { address: canonical, count: 1 });
    this.#events.push({ type: 'allow', key, address: canonical });
  }

  release(address: ExpectedAddress): void {
    const key = addressKey(address);
    const entry = this.#counts.get(key);
    if (!entry) return;
    if (--entry.count > 0) return;
    this.#counts.delete(key);
    this.#events.push({ type: 'revoke', key, address: entry.address });
  }

  /** The allow and revoke events since the last take, oldest first. */
  takeEvents(): AllowListEvent[] {
    return this.#events.take();
  }

  /** Would a datagram from this source pass the filter? (exact ip:port, or the bare IP entry) */
  allows(source: SourceAddress): boolean {
    const ip = canonicalIp(source.ip);
    if (ip === undefined) return false;
    return this.#counts.has(addressKey({ ip, port: source.port })) || this.#counts.has(ip);
  }

  has(address: ExpectedAddress): boolean {
    return this.#counts.has(addressKey(address));
  }

  /** Current entries' keys (a snapshot, for a filter that rebuilds from scratch). */
  keys(): Set<string> {
    return new Set(this.#counts.keys());
  }

  /** How many live expectations hold this address (0 when absent). */
  refCount(address: ExpectedAddress): number {
    return this.#counts.get(addressKey(address))?.count ?? 0;
  }

  get size(): number {
    return this.#counts.size;
  }
}
