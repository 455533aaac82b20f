import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { IyesmpError } from '../errors.js';

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

/** Storage for session records; async so the persistence issue can put it in SQL unchanged. */
export interface SessionStore {
  put(record: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** The live session (created/awaiting/handed-off) a player is in, if any. */
  liveByPlayer(playerId: string): Promise<SessionRecord | undefined>;
  liveByHost(hostName: string): Promise<SessionRecord[]>;
  /** Live sessions not yet handed off, for ack timeouts. */
  unacknowledged(): Promise<SessionRecord[]>;
}

export class MemorySessionStore implements SessionStore {
  readonly #all = new Map<string, SessionRecord>();
  readonly #liveByPlayer = new Map<string, string>();
  /** ids of sessions not yet handed off: tick asks for them every few hundred ms, and #all keeps ended ones too */
  readonly #unacked = new Set<string>();

  async put(r: SessionRecord): Promise<void> {
    const copy = structuredClone(r);
    this.#all.set(r.id, copy);
    if (r.state === 'created' || r.state === 'awaiting-host-ack') this.#unacked.add(r.id);
    else this.#unacked.delete(r.id);
    for (const p of r.players) {
      if (isLive(r.state)) this.#liveByPlayer.set(p, r.id);
      else if (this.#liveByPlayer.get(p) === r.id) this.#liveByPlayer.delete(p);
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const r = this.#all.get(id);
    return r && structuredClone(r);
  }

  async liveByPlayer(playerId: string): Promise<SessionRecord | undefined> {
    const id = this.#liveByPlayer.get(playerId);
    return id === undefined ? undefined : this.get(id);
  }

  async liveByHost(hostName: string): Promise<SessionRecord[]> {
    return [...this.#all.values()].filter((r) => r.hostName === hostName && isLive(r.state)).map((r) => structuredClone(r));
  }

  async unacknowledged(): Promise<SessionRecord[]> {
    return [...this.#unacked].map((id) => structuredClone(this.#all.get(id)!));
  }
}

export interface SessionEvents {
  created: [{ session: SessionRecord }];
  'awaiting-host-ack': [{ session: SessionRecord }];
  /** Send each player its hand-off. */
  'handed-off': [{ session: SessionRecord; handOffs: Record<string, HandOff> }];
  ended: [{ session: SessionRecord }];
  failed: [{ session: SessionRecord; reason: string }];
  /** The host died: tell `players` their game is gone. */
  lost: [{ session: SessionRecord; players: string[] }];
}

export const SESSION_ERRORS = {
  badRequest: 'session.bad_request',
  unknown: 'session.unknown',
  wrongState: 'session.wrong_state',
  playerBusy: 'session.player_busy',
} as const;

export type NewSession = Pick<SessionRecord, 'hostName' | 'transport' | 'players' | 'mode' | 'origin' | 'ext'> & { id?: string };

/** What a (re)connecting player should be told. */
export type PlayerSessionStatus =
  | { state: 'none' }
  | { state: 'starting'; sessionId: string }
  | { state: 'handed-off'; sessionId: string; handOff: HandOff };

export interface SessionOptions {
  store?: SessionStore;
  /** A session the host has not acknowledged by then fails (default 15 s). */
  hostAckTimeoutMs?: number;
  newId?: () => string;
}

export class Sessions extends EventEmitter<SessionEvents> {
  readonly store: SessionStore;
  readonly #ackTimeoutMs: number;
  readonly #newId: () => string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(opts: SessionOptions = {}) {
    super();
    this.store = opts.store ?? new MemorySessionStore();
    this.#ackTimeoutMs = opts.hostAckTimeoutMs ?? 15_000;
    this.#newId = opts.newId ?? randomUUID;
  }

  create(req: NewSession, now: number): Promise<SessionRecord> {
    return this.#serial(async () => {
      if (!Array.isArray(req.players) || req.players.length === 0 || new Set(req.players).size !== req.players.length) {
        throw new IyesmpError('input', SESSION_ERRORS.badRequest, 'a session needs a list of distinct players');
      }
      for (const p of req.players) {
        const live = await this.store.liveByPlayer(p);
        if (live) {
          throw new IyesmpError('conflict', SESSION_ERRORS.playerBusy, `player ${p} is already in live session ${live.id}`, {
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
      if (await this.store.get(r.id)) throw new IyesmpError('conflict', SESSION_ERRORS.badRequest, `session ${r.id} already exists`);
      await this.store.put(r);
      this.emit('created', { session: r });
      return r;
    });
  }

  /** The create request went to the host. */
  sentToHost(id: string, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['created'], now, (r) => {
      r.state = 'awaiting-host-ack';
      return () => this.emit('awaiting-host-ack', { session: r });
    });
  }

  /** The host accepted; `handOffs` must cover every player. */
  hostAcked(id: string, handOffs: Record<string, HandOff>, now: number): Promise<SessionRecord> {
    return this.#transition(id, ['created', 'awaiting-host-ack'], now, (r) => {
      const missing = r.players.filter((p) => !Object.hasOwn(handOffs, p));
      if (missing.length) {
        throw new IyesmpError('input', SESSION_ERRORS.badRequest, `hand-off missing for ${missing.length} player(s): ${missing.join(', ')}`);
      }
      r.state = 'handed-off';
      r.handOffs = Object.fromEntries(r.players.map((p) => [p, handOffs[p]!]));
      const h = r.handOffs;
      return () => this.emit('handed-off', { session: r, handOffs: h });
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
      return () => this.emit('failed', { session: r, reason });
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
      return () => this.emit('ended', { session: r });
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
      for (const r of sessions) this.emit('lost', { session: r, players: [...r.players] });
      return { sessions, players: sessions.flatMap((r) => r.players) };
    });
  }

  /** Fails sessions whose host did not acknowledge within the timeout. Returns them. */
  tick(now: number): Promise<SessionRecord[]> {
    return this.#serial(async () => {
      const late = (await this.store.unacknowledged()).filter((r) => now - (r.hostSince ?? r.createdAt) >= this.#ackTimeoutMs);
      for (const r of late) {
        r.state = 'failed';
        r.reason = 'host-ack-timeout';
        r.updatedAt = now;
        await this.store.put(r);
      }
      for (const r of late) this.emit('failed', { session: r, reason: 'host-ack-timeout' });
      return late;
    });
  }

  #transition(id: string, from: SessionState[], now: number, apply: (r: SessionRecord) => () => void): Promise<SessionRecord> {
    return this.#serial(async () => {
      const r = await this.store.get(id);
      if (!r) throw new IyesmpError('conflict', SESSION_ERRORS.unknown, `no session ${id}`);
      if (!from.includes(r.state)) {
        throw new IyesmpError('conflict', SESSION_ERRORS.wrongState, `session ${id} is ${r.state}; expected ${from.join(' or ')}`);
      }
      const emit = apply(r);
      r.updatedAt = now;
      await this.store.put(r);
      emit();
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
