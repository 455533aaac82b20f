import type { AuditStore } from './audit.js';
import type { AccountStore } from './accounts/store.js';
import type { BanStore } from './accounts/bans.js';
import type { LobbySnapshot } from './lobbies.js';
import type { Ticket } from './matchmaking.js';
import type { SessionStore } from './sessions.js';

/**
 * The Auth server's durable state beyond accounts, bans and sessions: ratings, lobbies, queued
 * tickets, the host registry as each node sees it, results (once per session), the audit log and
 * the log of session certificates. Every method is async so src/store can put them in SQL; the
 * memory versions here keep a single process's state for tests and embedders.
 */

/** A player's rating in one game mode. */
export interface RatingStore {
  get(playerId: string, mode: string): Promise<number | undefined>;
  set(playerId: string, mode: string, rating: number, now: number): Promise<void>;
}

/** Lobbies with their join codes, as snapshots saved after every change. */
export interface LobbyStore {
  save(lobby: LobbySnapshot, node: string, now: number): Promise<void>;
  remove(lobbyId: string): Promise<void>;
  get(lobbyId: string): Promise<LobbySnapshot | undefined>;
  byCode(code: string): Promise<LobbySnapshot | undefined>;
  /** every saved lobby (of one node, with `node`), oldest first */
  list(filter?: { node?: string }): Promise<LobbySnapshot[]>;
  /** the node a lobby lives on (its owner's node runs it), by id or by join code */
  nodeOf(key: { lobbyId: string } | { code: string }): Promise<string | undefined>;
}

/** A queued matchmaking ticket and the Auth node its players are connected to. */
export interface StoredTicket {
  ticket: Ticket;
  node: string;
  createdAt: number;
}

export interface TicketStore {
  put(t: StoredTicket): Promise<void>;
  remove(ticketId: string): Promise<void>;
  list(filter?: { node?: string; mode?: string }): Promise<StoredTicket[]>;
  /** Drops every ticket of a node (it restarted or died: its players' connections are gone); returns how many. */
  removeByNode(node: string): Promise<number>;
}

/** A host as one Auth node last saw it. */
export interface HostRecord {
  name: string;
  /** the Auth node the host's control link is connected to */
  node: string;
  state: string;
  address?: string;
  region?: string;
  transports: string[];
  capacity: number;
  active: number;
  lastHeartbeat: number;
}

export interface HostDirectory {
  upsert(h: HostRecord): Promise<void>;
  list(filter?: { node?: string }): Promise<HostRecord[]>;
  remove(name: string, node: string): Promise<void>;
}

/** A session's results as its host reported them, kept once per session id. */
export interface StoredResult {
  sessionId: string;
  host: string;
  recordedAt: number;
  results: unknown;
}

export interface ResultStore {
  /** Stores the results unless the session has some already: true when this call stored them. */
  record(r: StoredResult): Promise<boolean>;
  get(sessionId: string): Promise<StoredResult | undefined>;
  count(): Promise<number>;
}

/** One session certificate the Auth server minted. */
export interface IssuedCert {
  serial: string;
  fingerprint: string;
  /** the player id (account) it was minted for */
  playerId: string;
  /** the seat id inside the certificate (the player id made certificate-safe, handoff/seat.ts) */
  seat: string;
  sessionId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface CertLog {
  record(c: IssuedCert): Promise<void>;
  list(filter?: { sessionId?: string; playerId?: string; fingerprint?: string; limit?: number }): Promise<IssuedCert[]>;
}

/** Everything an Auth server keeps, from one place (a memory set, or src/store's SQL engines). */
export interface AuthStores {
  accounts: AccountStore;
  bans: BanStore;
  sessions: SessionStore;
  ratings: RatingStore;
  lobbies: LobbyStore;
  tickets: TicketStore;
  hosts: HostDirectory;
  results: ResultStore;
  audit: AuditStore;
  certs: CertLog;
  /** true when the state outlives the process (an unknown session is then never one of ours) */
  readonly durable: boolean;
  close(): Promise<void>;
}

export class MemoryRatingStore implements RatingStore {
  readonly #r = new Map<string, number>();
  async get(playerId: string, mode: string): Promise<number | undefined> {
    return this.#r.get(`${playerId}\n${mode}`);
  }
  async set(playerId: string, mode: string, rating: number): Promise<void> {
    this.#r.set(`${playerId}\n${mode}`, rating);
  }
}

export class MemoryLobbyStore implements LobbyStore {
  readonly #l = new Map<string, LobbySnapshot>();
  readonly #node = new Map<string, string>();
  async save(lobby: LobbySnapshot, node: string): Promise<void> {
    this.#l.set(lobby.id, structuredClone(lobby));
    this.#node.set(lobby.id, node);
  }
  async nodeOf(key: { lobbyId: string } | { code: string }): Promise<string | undefined> {
    const id = 'lobbyId' in key ? key.lobbyId : [...this.#l.values()].find((l) => l.code === key.code)?.id;
    return id === undefined ? undefined : this.#node.get(id);
  }
  async remove(lobbyId: string): Promise<void> {
    this.#l.delete(lobbyId);
  }
  async get(lobbyId: string): Promise<LobbySnapshot | undefined> {
    const l = this.#l.get(lobbyId);
    return l && structuredClone(l);
  }
  async byCode(code: string): Promise<LobbySnapshot | undefined> {
    for (const l of this.#l.values()) if (l.code === code) return structuredClone(l);
    return undefined;
  }
  async list(f: { node?: string } = {}): Promise<LobbySnapshot[]> {
    return [...this.#l.values()].filter((l) => f.node === undefined || this.#node.get(l.id) === f.node).map((l) => structuredClone(l));
  }
}

export class MemoryTicketStore implements TicketStore {
  readonly #t = new Map<string, StoredTicket>();
  async put(t: StoredTicket): Promise<void> {
    this.#t.set(t.ticket.id, structuredClone(t));
  }
  async remove(ticketId: string): Promise<void> {
    this.#t.delete(ticketId);
  }
  async list(f: { node?: string; mode?: string } = {}): Promise<StoredTicket[]> {
    return [...this.#t.values()].filter((t) => (f.node === undefined || t.node === f.node) && (f.mode === undefined || t.ticket.mode === f.mode));
  }
  async removeByNode(node: string): Promise<number> {
    let n = 0;
    for (const [id, t] of this.#t) if (t.node === node && this.#t.delete(id)) n++;
    return n;
  }
}

export class MemoryHostDirectory implements HostDirectory {
  readonly #h = new Map<string, HostRecord>();
  async upsert(h: HostRecord): Promise<void> {
    this.#h.set(`${h.name}\n${h.node}`, { ...h, transports: [...h.transports] });
  }
  async list(f: { node?: string } = {}): Promise<HostRecord[]> {
    return [...this.#h.values()].filter((h) => f.node === undefined || h.node === f.node).map((h) => ({ ...h }));
  }
  async remove(name: string, node: string): Promise<void> {
    this.#h.delete(`${name}\n${node}`);
  }
}

export class MemoryResultStore implements ResultStore {
  readonly #r = new Map<string, StoredResult>();
  async record(r: StoredResult): Promise<boolean> {
    if (this.#r.has(r.sessionId)) return false;
    this.#r.set(r.sessionId, structuredClone(r));
    return true;
  }
  async get(sessionId: string): Promise<StoredResult | undefined> {
    const r = this.#r.get(sessionId);
    return r && structuredClone(r);
  }
  async count(): Promise<number> {
    return this.#r.size;
  }
}

export class MemoryCertLog implements CertLog {
  readonly #c: IssuedCert[] = [];
  readonly #max: number;
  constructor(opts: { maxEntries?: number } = {}) {
    this.#max = opts.maxEntries ?? 10_000;
  }
  async record(c: IssuedCert): Promise<void> {
    this.#c.push({ ...c });
    if (this.#c.length > this.#max) this.#c.splice(0, this.#c.length - this.#max);
  }
  async list(f: { sessionId?: string; playerId?: string; fingerprint?: string; limit?: number } = {}): Promise<IssuedCert[]> {
    const hits = this.#c.filter(
      (c) =>
        (f.sessionId === undefined || c.sessionId === f.sessionId) &&
        (f.playerId === undefined || c.playerId === f.playerId) &&
        (f.fingerprint === undefined || c.fingerprint === f.fingerprint),
    );
    return hits.slice(Math.max(0, hits.length - (f.limit ?? 1000))).map((c) => ({ ...c }));
  }
}

/** The in-memory set: one process's state, gone when it stops. */
export function memoryAuthStores(extra: { accounts: AccountStore; bans: BanStore; sessions: SessionStore; audit: AuditStore }): AuthStores {
  return {
    ...extra,
    ratings: new MemoryRatingStore(),
    lobbies: new MemoryLobbyStore(),
    tickets: new MemoryTicketStore(),
    hosts: new MemoryHostDirectory(),
    results: new MemoryResultStore(),
    certs: new MemoryCertLog(),
    durable: false,
    close: async () => undefined,
  };
}
