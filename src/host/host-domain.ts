import { TypedEmitter } from '../events/emitter.js';
import { AuthLinks, type AuthLinkEvent } from './auth-links.js';
import type { BackoffOptions } from './backoff.js';
import { ResultsOutbox, type OutboxEvent, type OutboxKind, type OutboxOptions } from './outbox.js';
import { HostSessions, type HostSessionsOptions } from './sessions.js';
import type { SessionReport, SessionTelemetry } from './types.js';

export type OutboxBody = { kind: 'result'; report: SessionReport } | { kind: 'telemetry'; telemetry: SessionTelemetry };

export interface HostDomainOptions {
  sessions: HostSessionsOptions;
  outbox?: OutboxOptions;
  redial?: BackoffOptions;
  /** the Auth servers this host registers with */
  authServers: readonly string[];
}

export interface HostDomainEvents {
  /** dial an Auth server now (then report `linkUp` or `dialFailed`), or a link came up or went down */
  link: AuthLinkEvent;
  /** an item came into the results outbox, was delivered or was dropped (the log, the disk store) */
  outbox: OutboxEvent<OutboxBody>;
}

/** What a driver's user may read of the Auth links; the domain's inputs change them. */
export type AuthLinksView = Pick<AuthLinks, 'state' | 'upServers' | 'nextDeadline'>;

/**
 * What the network adapter uses of the results outbox: what to write, and `markSent`, which only
 * times resends and queues no event. Items come in and go out through the domain's inputs
 * (`enqueue`, `outboxAcked`, ended sessions), so their events are delivered.
 */
export type OutboxView = Pick<
  ResultsOutbox<OutboxBody>,
  'capacity' | 'delivery' | 'size' | 'dropped' | 'servers' | 'pending' | 'markSent' | 'nextDue' | 'ids' | 'has'
>;

/**
 * The Host server's domain in one object: the session table (through its driver), the results
 * outbox and the Auth links, wired so an ended session's report and telemetry are queued for the
 * Auth servers and a link going up or down is reflected in the outbox. It drives the links and
 * outbox cores: the network adapter reports dial results and acks here and hears `link` and
 * `outbox` events; it listens to `sessions` (HostSessions) for the rest.
 */
export class HostDomain extends TypedEmitter<HostDomainEvents> {
  readonly sessions: HostSessions;
  readonly #outbox: ResultsOutbox<OutboxBody>;
  readonly #links: AuthLinks;

  constructor(opts: HostDomainOptions, now: number) {
    super();
    this.sessions = new HostSessions(opts.sessions);
    this.#outbox = new ResultsOutbox<OutboxBody>(opts.outbox);
    this.#links = new AuthLinks(opts.redial ? { backoff: opts.redial } : {});
    for (const id of opts.authServers) {
      this.#outbox.addServer(id);
      this.#links.add(id, now);
    }
    this.sessions.on('session', (e) => {
      if (e.type !== 'session_ended') return;
      // ids are the idempotency keys the Auth server dedupes on
      this.#outbox.enqueue({ id: `result:${e.sessionId}`, kind: 'result', body: { kind: 'result', report: e.report } }, e.at);
      this.#outbox.enqueue({ id: `telemetry:${e.sessionId}`, kind: 'telemetry', body: { kind: 'telemetry', telemetry: e.telemetry } }, e.at);
      this.#deliverOutbox();
    });
  }

  get links(): AuthLinksView {
    return this.#links;
  }

  get outbox(): OutboxView {
    return this.#outbox;
  }

  tick(now: number): void {
    this.sessions.tick(now);
    this.#links.tick(now);
    this.#deliverLinks();
  }

  /** The link to an Auth server is up (registered). */
  linkUp(serverId: string, now: number): void {
    this.#links.connected(serverId, now);
    this.#deliverLinks();
  }

  /** The link to an Auth server went down; it is re-dialled after a backoff. */
  linkDown(serverId: string, now: number): void {
    this.#links.disconnected(serverId, now);
    this.#deliverLinks();
  }

  /** A dial the `link` event asked for failed; the next one waits a backoff. */
  dialFailed(serverId: string, now: number): void {
    this.#links.dialFailed(serverId, now);
    this.#deliverLinks();
  }

  /** An Auth server confirmed it stored outbox item `id`. True when the item is now settled and gone. */
  outboxAcked(serverId: string, id: string, now: number): boolean {
    const settled = this.#outbox.ack(serverId, id, now);
    this.#deliverOutbox();
    return settled;
  }

  /**
   * Queue an item for the Auth servers (ended sessions queue theirs themselves; the disk store's
   * items come back in here, keeping their own `enqueuedAt`). False if its id is already queued.
   */
  enqueue(item: { id: string; kind: OutboxKind; body: OutboxBody; enqueuedAt?: number }, now: number): boolean {
    const added = this.#outbox.enqueue(item, now);
    this.#deliverOutbox();
    return added;
  }

  /** When the adapter should call `tick` next. */
  nextDeadline(): number | undefined {
    const ts = [this.sessions.nextDeadline(), this.#links.nextDeadline(), this.#outbox.nextDue()].filter((t): t is number => t !== undefined);
    return ts.length ? Math.min(...ts) : undefined;
  }

  #deliverLinks(): void {
    for (const e of this.#links.takeEvents()) {
      if (e.type === 'link_up') this.#outbox.onConnected(e.serverId, e.at);
      else if (e.type === 'link_down') this.#outbox.onDisconnected(e.serverId, e.at);
      this.emit('link', e);
    }
  }

  #deliverOutbox(): void {
    for (const e of this.#outbox.takeEvents()) this.emit('outbox', e);
  }
}
