/**
 * The audit log: one entry per administrative action (kick, ban, drain, ...), naming the admin by
 * the certificate it connected with. The in-memory store here serves tests and single-node
 * deployments; the persistence issue puts it in SQL behind the same interface, which is why every
 * method is async.
 */

/** Who did it: the admin certificate's name (its CN) and the SHA-256 fingerprint of that certificate. */
export interface AuditActor {
  name: string;
  fingerprint: string;
}

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  /** Assigned by the store, increasing: the order entries were appended in. */
  id: number;
  /** ms since epoch. */
  at: number;
  actor: AuditActor;
  /** A short verb, e.g. `kick`, `ban`, `unban`, `drain`. */
  action: string;
  /** What it acted on (a player id, a host name, a session id), or null for server-wide actions. */
  target: string | null;
  /** Action-specific parameters (a ban's reason and expiry, a drain deadline); JSON-serialisable. */
  details: Record<string, unknown>;
  outcome: AuditOutcome;
  /** Why the action was refused or failed (an error code or message); absent when it succeeded. */
  error?: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditFilter {
  /** Only entries at or after this time (ms since epoch). */
  since?: number;
  /** Only entries strictly before this time (ms since epoch). */
  until?: number;
  action?: string;
  target?: string;
  /** Matches the actor's certificate fingerprint or its name. */
  actor?: string;
  outcome?: AuditOutcome;
  /** At most this many entries, the newest ones; default and cap: AUDIT_LIST_MAX. */
  limit?: number;
}

/** The most entries one list() returns, so one admin request cannot make the server copy the whole log. */
export const AUDIT_LIST_MAX = 1000;

/** Async so the persistence issue can put the log in SQL without changing callers. */
export interface AuditStore {
  /** Stores the entry; resolves it with the id the store gave it. */
  append(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Entries matching the filter, oldest first (the newest `limit` of them). */
  list(filter?: AuditFilter): Promise<AuditEntry[]>;
}

/** The name the task brief uses; the same interface. */
export type AuditLog = AuditStore;

export function matchesAuditFilter(e: AuditEntry, f: AuditFilter): boolean {
  if (f.since !== undefined && e.at < f.since) return false;
  if (f.until !== undefined && e.at >= f.until) return false;
  if (f.action !== undefined && e.action !== f.action) return false;
  if (f.target !== undefined && e.target !== f.target) return false;
  if (f.actor !== undefined && e.actor.fingerprint !== f.actor && e.actor.name !== f.actor) return false;
  if (f.outcome !== undefined && e.outcome !== f.outcome) return false;
  return true;
}

export function auditLimit(f: AuditFilter | undefined): number {
  const l = f?.limit;
  if (l === undefined || !Number.isFinite(l) || l <= 0) return AUDIT_LIST_MAX;
  return Math.min(Math.floor(l), AUDIT_LIST_MAX);
}

const copy = (e: AuditEntry): AuditEntry => ({ ...e, actor: { ...e.actor }, details: structuredClone(e.details) });

export interface MemoryAuditStoreOptions {
  /** Oldest entries are dropped beyond this many, so a long-running node does not grow without bound. */
  maxEntries?: number;
}

export class MemoryAuditStore implements AuditStore {
  readonly #entries: AuditEntry[] = [];
  readonly #max: number;
  #nextId = 1;

  constructor(opts: MemoryAuditStoreOptions = {}) {
    this.#max = Math.max(1, opts.maxEntries ?? 10_000);
  }

  async append(entry: NewAuditEntry): Promise<AuditEntry> {
    const stored = copy({ ...entry, id: this.#nextId++ });
    this.#entries.push(stored);
    if (this.#entries.length > this.#max) this.#entries.splice(0, this.#entries.length - this.#max);
    return copy(stored);
  }

  async list(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const hits = this.#entries.filter((e) => matchesAuditFilter(e, filter));
    return hits.slice(Math.max(0, hits.length - auditLimit(filter))).map(copy);
  }
}
