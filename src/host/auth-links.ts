import { EventQueue } from '../events/queue.js';
import { Backoff, type BackoffOptions } from './backoff.js';

export type AuthLinkState = 'down' | 'dialing' | 'up';

export type AuthLinkEvent =
  /** the adapter should dial this Auth server now and report `connected` or `dialFailed` */
  | { type: 'dial'; serverId: string; attempt: number; at: number }
  | { type: 'link_up'; serverId: string; at: number }
  | { type: 'link_down'; serverId: string; at: number; retryAt: number };

interface Link {
  state: AuthLinkState;
  retryAt: number;
  backoff: Backoff;
}

/**
 * When to (re-)dial each Auth server the host registers with. One backoff per server, so one dead
 * Auth node does not slow reconnection to the others. Sans-IO: `tick(now)` queues `dial` events,
 * and the driver (HostDomain) takes them with `takeEvents`.
 */
export class AuthLinks {
  readonly #events = new EventQueue<AuthLinkEvent>();
  readonly #links = new Map<string, Link>();
  readonly #backoff: BackoffOptions;

  constructor(opts: { backoff?: BackoffOptions } = {}) {
    this.#backoff = opts.backoff ?? {};
  }

  /** Register an Auth server; it is dialled at the next tick. */
  add(serverId: string, now: number): void {
    if (this.#links.has(serverId)) return;
    this.#links.set(serverId, { state: 'down', retryAt: now, backoff: new Backoff(this.#backoff) });
  }

  remove(serverId: string): void {
    this.#links.delete(serverId);
  }

  state(serverId: string): AuthLinkState | undefined {
    return this.#links.get(serverId)?.state;
  }

  upServers(): string[] {
    return [...this.#links].filter(([, l]) => l.state === 'up').map(([id]) => id);
  }

  tick(now: number): void {
    for (const [serverId, l] of this.#links) {
      l.backoff.tick(now);
      if (l.state === 'down' && l.retryAt <= now) {
        l.state = 'dialing';
        this.#events.push({ type: 'dial', serverId, attempt: l.backoff.attempts + 1, at: now });
      }
    }
  }

  dialFailed(serverId: string, now: number): void {
    const l = this.#links.get(serverId);
    if (!l || l.state === 'up') return;
    l.state = 'down';
    l.retryAt = now + l.backoff.next();
  }

  connected(serverId: string, now: number): void {
    const l = this.#links.get(serverId);
    if (!l) return;
    l.state = 'up';
    l.backoff.connected(now);
    this.#events.push({ type: 'link_up', serverId, at: now });
  }

  disconnected(serverId: string, now: number): void {
    const l = this.#links.get(serverId);
    if (!l || l.state !== 'up') return;
    l.backoff.disconnected(now);
    l.state = 'down';
    l.retryAt = now + l.backoff.next();
    this.#events.push({ type: 'link_down', serverId, at: now, retryAt: l.retryAt });
  }

  /** The events since the last take, oldest first. */
  takeEvents(): AuthLinkEvent[] {
    return this.#events.take();
  }

  /** Earliest time a `tick` would dial something. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const l of this.#links.values()) if (l.state === 'down' && (next === undefined || l.retryAt < next)) next = l.retryAt;
    return next;
  }
}
