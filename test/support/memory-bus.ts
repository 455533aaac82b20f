/** Auth nodes of one cluster (src/auth/cluster.ts) in one process: their bus, in memory. */
import type { ClusterBus, ClusterMessage } from '../../src/auth/cluster.js';

/** Every node's bus on one in-memory network; `leader` is the leader every node sees (`elect` tells them of a change). */
export class Network {
  readonly buses = new Map<string, MemoryBus>();
  leader: string | undefined;
  elect(node: string | undefined): void {
    this.leader = node;
    for (const b of this.buses.values()) b.leaderChanged(node);
  }
}

/** One node's bus; delivery is asynchronous, as NOTIFY's is. */
export class MemoryBus implements ClusterBus {
  readonly #listeners: Array<(from: string, msg: ClusterMessage) => void> = [];
  readonly #leaderListeners: Array<(l: string | undefined) => void> = [];
  constructor(
    readonly node: string,
    readonly net: Network,
  ) {
    net.buses.set(node, this);
  }
  async send(to: string, msg: ClusterMessage): Promise<void> {
    const copy = structuredClone(msg);
    setImmediate(() => {
      for (const [name, b] of this.net.buses) if (to === '*' || to === name) for (const l of b.#listeners) l(this.node, copy);
    });
  }
  onMessage(l: (from: string, msg: ClusterMessage) => void): void {
    this.#listeners.push(l);
  }
  leader(): string | undefined {
    return this.net.leader;
  }
  onLeaderChange(l: (leader: string | undefined) => void): void {
    this.#leaderListeners.push(l);
  }
  leaderChanged(l: string | undefined): void {
    for (const x of this.#leaderListeners) x(l);
  }
  async close(): Promise<void> {
    this.net.buses.delete(this.node);
  }
}
