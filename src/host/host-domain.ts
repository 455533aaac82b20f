import { AuthLinks } from './auth-links.js';
import type { BackoffOptions } from './backoff.js';
import { ResultsOutbox, type OutboxOptions } from './outbox.js';
import { SessionTable, type SessionTableOptions } from './session-table.js';
import type { SessionReport, SessionTelemetry } from './types.js';

export type OutboxBody = { kind: 'result'; report: SessionReport } | { kind: 'telemetry'; telemetry: SessionTelemetry };

export interface HostDomainOptions {
  sessions: SessionTableOptions;
  outbox?: OutboxOptions;
  redial?: BackoffOptions;
  /** the Auth servers this host registers with */
  authServers: readonly string[];
}

/**
 * The Host server's domain in one object: the session table, the results outbox and the Auth
 * links, wired so an ended session's report and telemetry are queued for the Auth servers and a
 * link going up or down is reflected in the outbox. The network adapter drives it and listens to
 * `sessions.events`, `sessions.allowList.events`, `links.events` and `outbox.events`.
 */
export class HostDomain {
  readonly sessions: SessionTable;
  readonly outbox: ResultsOutbox<OutboxBody>;
  readonly links: AuthLinks;

  constructor(opts: HostDomainOptions, now: number) {
    this.sessions = new SessionTable(opts.sessions);
    this.outbox = new ResultsOutbox<OutboxBody>(opts.outbox);
    this.links = new AuthLinks(opts.redial ? { backoff: opts.redial } : {});
    for (const id of opts.authServers) {
      this.outbox.addServer(id);
      this.links.add(id, now);
    }
    this.sessions.events.on((e) => {
      if (e.type !== 'session_ended') return;
      // ids are the idempotency keys the Auth server dedupes on
      this.outbox.enqueue({ id: `result:${e.sessionId}`, kind: 'result', body: { kind: 'result', report: e.report } }, e.at);
      this.outbox.enqueue({ id: `telemetry:${e.sessionId}`, kind: 'telemetry', body: { kind: 'telemetry', telemetry: e.telemetry } }, e.at);
    });
    this.links.events.on((e) => {
      if (e.type === 'link_up') this.outbox.onConnected(e.serverId, e.at);
      else if (e.type === 'link_down') this.outbox.onDisconnected(e.serverId, e.at);
    });
  }

  tick(now: number): void {
    this.sessions.tick(now);
    this.links.tick(now);
  }

  /** When the adapter should call `tick` next. */
  nextDeadline(): number | undefined {
    const ts = [this.sessions.nextDeadline(), this.links.nextDeadline(), this.outbox.nextDue()].filter((t): t is number => t !== undefined);
    return ts.length ? Math.min(...ts) : undefined;
  }
}
