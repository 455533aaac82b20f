import { randomUUID } from 'node:crypto';
import { sessionError } from './errors.js';
import { EventQueue } from '../events/queue.js';

/**
 * The auth server's record of game sessions, from creation to result:
 *
 *   created -> awaiting-host-ack -> handed-off -> ended
 *        \            \                 \
 *         +-> failed   +-> failed        +-> lost (host died) -> ended (late results still accepted)
 *
 * Sans-IO: time is an argument; records live behind SessionStore (in memory here, SQL later).
 * Operations are serialised so a check-then-write (e.g. "is this player already in a session?")
 * cannot interleave with another, whatever the store's latency.
 *
 * What hosts report is bounded: only the host a session runs on may report its results and
 * telemetry (anything else is refused: `session.unknown`, `session.wrong_host`), telemetry is
 * capped per session, and finished sessions are evicted after a retention window. The one
 * exception: results a registered host kept for a session we do not know (we restarted without a
 * persistent store) are adopted, at most `adoptPerHost` per host per retention window.
 */

export type SessionState = 'created' | 'awaiting-host-ack' | 'handed-off' | 'ended' | 'failed' | 'lost';
const LIVE: ReadonlySet<SessionState> = new Set(['created', 'awaiting-host-ack', 'handed-off']);
export const isLive = (s: SessionState): boolean => LIVE.has(s);

/** What one player is told to connect to the host (built by the server; opaque credentials). */
export interface HandOff {
  sessionId: string;
  host: { name: string; address: string; tlsName?: string };
  transport: string;
  /** Session cert, netcode connect token, or broker URL + room: whatever the transport needs. */
  credentials: unknown;
  /** When the credentials stop working (ms), if they expire. */
  expiresAt?: number;
}

export interface SessionRecord {
  id: string;
  state: SessionState;
  hostName: string;
  transport: string;
  players: string[];
  mode?: string;
  /** Where the session came from (a lobby or a match id). */
  origin?: { kind: 'lobby' | 'match'; id: string };
  /** Game data for the host, opaque to us. */
  ext?: unknown;
  createdAt: number;
  updatedAt: number;
  /** Per player; present once the host acknowledged. */
  handOffs?: Record<string, HandOff>;
  endedAt?: number;
  results?: unknown;
  telemetry?: unknown;
  /** Why it failed or was lost. */
  reason?: string;
  /** When it was last (re)assigned to a host; the ack deadline counts from here (else createdAt). */
  hostSince?: number;
}

/** One telemetry report of a host, as stored in `SessionRecord.telemetry` (a list of these). */
export interface TelemetryItem {
  host: string;
  entries: unknown[];
  ext?: unknown;
  /** the host's outbox id (hostctl 1.1): a resend is stored once */
  id?: string;
}

/**
 * Storage for session records; async so the persistence issue can put it in SQL unchanged.
 * Records handed out are copies of the top level (and `players`); nested values (hand-offs,
 * results, telemetry) are shared and read-only: change them by replacing the field.
 */
export interface SessionStore {
  put(record: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** The live session (created/awaiting/handed-off) a player is in, if any. */
  liveByPlayer(playerId: string): Promise<SessionRecord | undefined>;
  liveByHost(hostName: string): Promise<SessionRecord[]>;
  /** Live sessions not yet handed off, for ack timeouts. */
  unacknowledged(): Promise<SessionRecord[]>;
  /** Adds one item to a session's telemetry list without rewriting the record. */
  appendTelemetry(id: string, item: TelemetryItem): Promise<void>;
  /** Forgets finished sessions (ended, failed, lost) last written before `before`; returns how many. */
  evictFinished(before: number): Promise<number>;
}

export interface MemorySessionStoreOptions {
  /**
   * Finished sessions kept at most; beyond it the oldest finished one is forgotten at once, before
   * its retention window ends (default 10,000: about 60 MB). Live sessions are never evicted.
   */
  maxFinished?: number;
}

export class MemorySessionStore implements SessionStore {
  readonly #maxFinished: number;
  readonly #all = new Map<string, SessionRecord>();
  readonly #liveByPlayer = new Map<string, string>();
  /** live session ids per host, so a host's death does not scan the history */
  readonly #liveByHost = new Map<string, Set<string>>();
  /** ids of sessions not yet handed off: tick asks for them every few hundred ms, and #all keeps ended ones too */
  readonly #unacked = new Set<string>();
  /** finished session ids, oldest write first (a rewrite moves one to the end), for eviction */
  readonly #finished = new Map<string, number>();

  constructor(opts: MemorySessionStoreOptions = {}) {
    this.#maxFinished = opts.maxFinished ?? 10_000;
  }

  async put(r: SessionRecord): Promise<void> {
    const old = this.#all.get(r.id);
    if (old) this.#unindexHost(old);
    this.#all.set(r.id, copy(r));
    if (isLive(r.state)) {
      const ids = this.#liveByHost.get(r.hostName) ?? this.#liveByHost.set(r.hostName, new Set()).get(r.hostName)!;
      ids.add(r.id);
      this.#finished.delete(r.id);
    } else {
      this.#finished.delete(r.id);
      this.#finished.set(r.id, r.updatedAt);
      if (this.#finished.size > this.#maxFinished) this.#forget(this.#finished.keys().next().value as string);
    }
    if (r.state === 'created' || r.state === 'awaiting-host-ack') this.#unacked.add(r.id);
    else this.#unacked.delete(r.id);
    for (const p of r.players) {
      if (isLive(r.state)) this.#liveByPlayer.set(p, r.id);
      else if (this.#liveByPlayer.get(p) === r.id) this.#liveByPlayer.delete(p);
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const r = this.#all.get(id);
    return r && copy(r);
  }

  async liveByPlayer(playerId: string): Promise<SessionRecord | undefined> {
    const id = this.#liveByPlayer.get(playerId);
    return id === undefined ? undefined : this.get(id);
  }

  async liveByHost(hostName: string): Promise<SessionRecord[]> {
    return [...(this.#liveByHost.get(hostName) ?? [])].map((id) => copy(this.#all.get(id)!));
  }

  async unacknowledged(): Promise<SessionRecord[]> {
    return [...this.#unacked].map((id) => copy(this.#all.get(id)!));
  }

  async appendTelemetry(id: string, item: TelemetryItem): Promise<void> {
    const r = this.#all.get(id);
    if (!r) return;
    if (Array.isArray(r.telemetry)) r.telemetry.push(item);
    else r.telemetry = [item];
  }

  async evictFinished(before: number): Promise<number> {
    let n = 0;
    for (const [id, at] of this.#finished) {
      if (at >= before) break;
      this.#forget(id);
      n++;
    }
    return n;
  }

  /** Drops a finished session (the caller knows it is finished). */
  #forget(id: string): void {
    this.#finished.delete(id);
    const r = this.#all.get(id);
    this.#all.delete(id);
    if (r) for (const p of r.players) if (this.#liveByPlayer.get(p) === id) this.#liveByPlayer.delete(p);
  }

  /** Sessions held (live and finished), for tests and operators. */
  get size(): number {
    return this.#all.size;
  }

  #unindexHost(r: SessionRecord): void {
    const ids = this.#liveByHost.get(r.hostName);
    if (!ids?.delete(r.id) || ids.size > 0) return;
    this.#liveByHost.delete(r.hostName);
  }
}

/** A record's own top level: callers may set fields on it without touching the stored one. */
function copy(r: SessionRecord): SessionRecord {
  return { ...r, players: [...r.players] };
}

export interface SessionEvents {
  created: { session: SessionRecord };
  'awaiting-host-ack': { session: SessionRecord };
  /** Send each player its hand-off. */
  'handed-off': { session: SessionRecord; handOffs: Record<string, HandOff> };
  ended: { session: SessionRecord };
  failed: { session: SessionRecord; reason: string };
  /** The host died: tell `players` their game is gone. */
  lost: { session: SessionRecord; players: string[] };
}
/** What the Sessions core queues: one of its events, named by `type`. */
export type AuthSessionEvent = { [K in keyof SessionEvents]: { type: K } & SessionEvents[K] }[keyof SessionEvents];

export type NewSession = Pick<SessionRecord, 'hostName' | 'transport' | 'players' | 'mode' | 'origin' | 'ext'> & { id?: string };

/** What a (re)connecting player should be told. */
export type PlayerSessionStatus = { state: 'none' } | { state: 'starting'; sessionId: string } | { state: 'handed-off'; sessionId: string; handOff: HandOff };

export interface SessionOptions {
  store?: SessionStore;
  /** A session the host has not acknowledged by then fails (default 15 s). */
  hostAckTimeoutMs?: number;
  newId?: () => string;
  /** Telemetry entries kept per session; a host's excess is dropped (default 1,000). */
  telemetryPerSession?: number;
  /** Finished sessions (ended, failed, lost) are forgotten this long after their last change (default 10 min). */
  retentionMs?: number;
  /**
   * Results for unknown sessions adopted per host within a retention window (default 256; 0 with a
   * persistent store, where an unknown session is never one of ours).
   */
  adoptPerHost?: number;
}

/** What became of a host's telemetry report for one session. */
export interface TelemetryOutcome {
  /** entries stored now */
  stored: number;
  /** entries dropped: the session's telemetry was full */
  dropped: number;
  /** a resend of an item stored before (same id): nothing stored */
  duplicate: boolean;
}

export class Sessions {
  readonly #events = new EventQueue<AuthSessionEvent>();
  readonly store: SessionStore;
  readonly #ackTimeoutMs: number;
  readonly #newId: () => string;
  readonly #telemetryCap: number;
  readonly #retentionMs: number;
  readonly #adoptPerHost: number;
  /** per host: when each adopted session was recorded (within the retention window) */
  readonly #adopted = new Map<string, number[]>();
  #chain: Promise<unknown> = Promise.resolve();

  constructor(opts: SessionOptions = {}) {
    this.store = opts.store ?? new MemorySessionStore();
    this.#ackTimeoutMs = opts.hostAckTimeoutMs ?? 15_000;
    this.#newId = opts.newId ?? randomUUID;
    this.#telemetryCap = opts.telemetryPerSession ?? 1_000;
    this.#retentionMs = opts.retentionMs ?? 600_000;
    this.#adoptPerHost = opts.adoptPerHost ?? 256;
  }

  /** Everything queued since the last take, oldest first (the driver delivers it after each input). */
  takeEvents(): AuthSessionEvent[] {
    return this.#events.take();
  }

  create(req: NewSession, now: number): Promise<SessionRecord> {
    return this.#serial(async () => {
      if (!Array.isArray(req.players) || req.players.length === 0 || new Set(req.players).size !== req.players.length) {
        throw sessionError.as('input', 'session.bad_request', 'a session needs a list of distinct players');
      }
      for (const p of req.players) {
        const live = await this.store.liveByPlayer(p);
        if (live) {
          throw sessionError('session.player_busy', `player ${p} is already in live session ${live.id}`, {
            details: { playerId: p, sessionId: live.id },
          });
        }
      }
      const r: SessionRecord = {
        id: req.id ?? this.#newId(),
        state: 'created',
        hostName: req.hostName,
        transport: req.transport,
        players: [...req.players],
        createdAt: now,
        updatedAt: now,
      };
      if (req.mode !== undefined) r.mode = req.mode;
      if (req.origin !== undefined) r.origin = { ...req.origin };
      if (req.ext !== undefined) r.ext = req.ext;
      if (await this.store.get(r.id)) throw sessionError.as('conflict', 'session.bad_request', `session ${r.id} already exists`);
      await this.store.put(r);
      this.#events.push({ type: 'created', session: r });
      return r;
    });
  }

  /** The create request went to the host. */
  sentToHost(id: string, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['created'], now, (r) => {
      r.state = 'awaiting-host-ack';
      return () => this.#events.push({ type: 'awaiting-host-ack', session: r });
    });
  }

  /** The host accepted; `handOffs` must cover every player. */
  hostAcked(id: string, handOffs: Record<string, HandOff>, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['created', 'awaiting-host-ack'], now, (r) => {
      const missing = r.players.filter((p) => !Object.hasOwn(handOffs, p));
      if (missing.length) {
        throw sessionError.as('input', 'session.bad_request', `hand-off missing for ${missing.length} player(s): ${missing.join(', ')}`);
      }
      r.state = 'handed-off';
      r.handOffs = Object.fromEntries(r.players.map((p) => [p, handOffs[p]!]));
      const h = r.handOffs;
      return () => this.#events.push({ type: 'handed-off', session: r, handOffs: h });
    });
  }

  /**
   * The host refused the session or did not acknowledge it: it goes to another host (`hostName`),
   * or waits for one (`hostName` empty, so no host's death touches it). Back to `created`, and the
   * ack deadline starts again.
   */
  rehost(id: string, hostName: string, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['created', 'awaiting-host-ack'], now, (r) => {
      r.state = 'created';
      r.hostName = hostName;
      r.hostSince = now;
      return () => undefined;
    });
  }

  /** Host refused, ack timed out, or the server gave up. */
  fail(id: string, reason: string, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['created', 'awaiting-host-ack', 'handed-off'], now, (r) => {
      r.state = 'failed';
      r.reason = reason;
      return () => this.#events.push({ type: 'failed', session: r, reason });
    });
  }

  /**
   * Results arrived. Accepted for lost sessions too: a host we thought dead (a network split) or
   * one that queued results while we were down delivers them late, and they still count.
   */
  ended(id: string, report: { results?: unknown; telemetry?: unknown }, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['handed-off', 'lost'], now, (r) => {
      r.state = 'ended';
      r.endedAt = now;
      if (report.results !== undefined) r.results = report.results;
      if (report.telemetry !== undefined) r.telemetry = report.telemetry;
      return () => this.#events.push({ type: 'ended', session: r });
    });
  }

  /**
   * Results reported by host `hostName`: refused unless the session exists and runs on that host.
   * Accepted in any state but ended (lost: a host we thought dead delivers late; failed: it ran
   * although we gave up on it); a resend for an ended session changes nothing (`duplicate`).
   * `results` builds what is stored from the record (results name seats; the caller maps them).
   * With `adopt` (a registered host), an unknown session is recorded as reported with `adopt.players`
   * (`adopted`), within the per-host bound; beyond it, refused as unknown.
   */
  hostEnded(
    hostName: string,
    id: string,
    results: (r: SessionRecord) => unknown,
    now: number,
    adopt?: { players: string[] },
  ): Promise<{ session: SessionRecord; duplicate: boolean; adopted: boolean }> {
    return this.#serial(async () => {
      const known = await this.store.get(id);
      if (!known && adopt && this.#mayAdopt(hostName, now)) {
        const r: SessionRecord = {
          id,
          state: 'ended',
          hostName,
          transport: 'unknown',
          players: [...new Set(adopt.players)],
          createdAt: now,
          updatedAt: now,
          endedAt: now,
        };
        r.results = results(r);
        r.reason = 'adopted: results for a session this server did not create';
        await this.store.put(r);
        this.#events.push({ type: 'ended', session: r });
        return { session: r, duplicate: false, adopted: true };
      }
      const r = await this.#reported(hostName, id, known);
      if (r.state === 'ended') return { session: r, duplicate: true, adopted: false };
      r.state = 'ended';
      r.endedAt = now;
      r.updatedAt = now;
      r.results = results(r);
      await this.store.put(r);
      this.#events.push({ type: 'ended', session: r });
      return { session: r, duplicate: false, adopted: false };
    });
  }

  /**
   * Telemetry reported by host `hostName` for one session: refused like results; stored at most
   * `telemetryPerSession` entries per session (the excess is dropped and counted), once per id.
   */
  hostTelemetry(hostName: string, id: string, item: TelemetryItem): Promise<TelemetryOutcome> {
    return this.#serial(async () => {
      const r = await this.#reported(hostName, id);
      const stored = Array.isArray(r.telemetry) ? (r.telemetry as TelemetryItem[]) : [];
      if (item.id !== undefined && stored.some((x) => x.id === item.id)) return { stored: 0, dropped: 0, duplicate: true };
      const room = Math.max(0, this.#telemetryCap - stored.reduce((n, x) => n + (Array.isArray(x.entries) ? x.entries.length : 0), 0));
      const entries = item.entries.length > room ? item.entries.slice(0, room) : item.entries;
      // an item with no room left is still kept (without entries) so its resend counts as a duplicate
      await this.store.appendTelemetry(id, { ...item, entries });
      return { stored: entries.length, dropped: item.entries.length - entries.length, duplicate: false };
    });
  }

  /** What to tell a player who (re)connects: the very same hand-off while its session is live. */
  statusOf(playerId: string): Promise<PlayerSessionStatus> {
    return this.#serial(async () => {
      const r = await this.store.liveByPlayer(playerId);
      if (!r) return { state: 'none' };
      if (r.state === 'handed-off') return { state: 'handed-off', sessionId: r.id, handOff: r.handOffs![playerId]! };
      return { state: 'starting', sessionId: r.id };
    });
  }

  /**
   * The live sessions these players are in (each id once), for the matchmaker to hold their new
   * ticket until those end. A read: not queued behind the operations in flight.
   */
  async liveSessionsOf(players: readonly string[]): Promise<string[]> {
    return [...new Set((await this.liveSessionByPlayer(players)).values())];
  }

  /** Of these players, those in a live session, with its id (a lobby's start names them). A read, as above. */
  async liveSessionByPlayer(players: readonly string[]): Promise<Map<string, string>> {
    const found = await Promise.all(players.map((p) => this.store.liveByPlayer(p)));
    return new Map(players.flatMap((p, i) => (found[i] ? [[p, found[i].id] as const] : [])));
  }

  /** Of these session ids, those no longer live (ended, failed, lost, or no longer known). */
  async overOf(ids: readonly string[]): Promise<string[]> {
    const found = await Promise.all(ids.map((id) => this.store.get(id)));
    return ids.filter((_, i) => {
      const r = found[i];
      return !r || !isLive(r.state);
    });
  }

  /** A host died: every live session on it is lost. Returns them and who to notify. */
  hostLost(hostName: string, now: number): Promise<{ sessions: SessionRecord[]; players: string[] }> {
    return this.#serial(async () => {
      const sessions = await this.store.liveByHost(hostName);
      for (const r of sessions) {
        r.state = 'lost';
        r.reason = `host ${hostName} stopped responding`;
        r.updatedAt = now;
        await this.store.put(r);
      }
      for (const r of sessions) this.#events.push({ type: 'lost', session: r, players: [...r.players] });
      return { sessions, players: sessions.flatMap((r) => r.players) };
    });
  }

  /** Fails sessions whose host did not acknowledge within the timeout (returns them); forgets old finished ones. */
  tick(now: number): Promise<SessionRecord[]> {
    return this.#serial(async () => {
      await this.store.evictFinished(now - this.#retentionMs);
      const late = (await this.store.unacknowledged()).filter((r) => now - (r.hostSince ?? r.createdAt) >= this.#ackTimeoutMs);
      for (const r of late) {
        r.state = 'failed';
        r.reason = 'host-ack-timeout';
        r.updatedAt = now;
        await this.store.put(r);
      }
      for (const r of late) this.#events.push({ type: 'failed', session: r, reason: 'host-ack-timeout' });
      return late;
    });
  }

  /** Whether one more unknown session of this host may be adopted now (and counts it if so). */
  #mayAdopt(hostName: string, now: number): boolean {
    const recent = (this.#adopted.get(hostName) ?? []).filter((at) => now - at < this.#retentionMs);
    if (recent.length >= this.#adoptPerHost) {
      this.#adopted.set(hostName, recent);
      return false;
    }
    recent.push(now);
    this.#adopted.set(hostName, recent);
    return true;
  }

  /** The record a host reports on, if that host may: it must exist and run there. */
  async #reported(hostName: string, id: string, known?: SessionRecord): Promise<SessionRecord> {
    const r = known ?? (await this.store.get(id));
    if (!r) throw sessionError.as('refused', 'session.unknown', `no session ${id}`, { details: { sessionId: id, reportedBy: hostName } });
    if (r.hostName !== hostName) {
      throw sessionError('session.wrong_host', `session ${id} does not run on host ${hostName}`, {
        details: { sessionId: id, host: r.hostName, reportedBy: hostName },
      });
    }
    return r;
  }

  #transition(id: string, from: SessionState[], now: number, apply: (r: SessionRecord) => () => void): Promise<SessionRecord> {
    return this.#serial(async () => {
      const r = await this.store.get(id);
      if (!r) throw sessionError.as('conflict', 'session.unknown', `no session ${id}`);
      if (!from.includes(r.state)) {
        throw sessionError('session.wrong_state', `session ${id} is ${r.state}; expected ${from.join(' or ')}`);
      }
      const queue = apply(r);
      r.updatedAt = now;
      await this.store.put(r);
      queue();
      return r;
    });
  }

  /** Run operations one at a time, in call order; a failed one does not block the next. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}
