import { randomBytes } from 'node:crypto';
import type { VerifiedPeer } from '../pki/types.js';
import { HOST_TRANSPORT_KINDS, isHostTransportKind } from '../protocol/transports.js';
import { canonicalAddress, canonicalIp } from './address.js';
import { AllowList } from './allow-list.js';
import { EventQueue } from '../events/queue.js';
import type { HostSessionEvent } from './events.js';
import { normalizeFingerprint, Session, type SessionHooks, type SessionView } from './session.js';
import type { ActionResult, AdmissionResult, CreateResult, ExpectedPlayer, GameResults, SeatClaim, SessionSpec, SourceAddress } from './types.js';

export interface HostCapacity {
  maxSessions: number;
  /** counted over players not departed, across live sessions */
  maxPlayers: number;
}

export interface SessionTableOptions extends HostCapacity {
  /** default time players have to arrive, when the session spec gives none; default 30 s */
  joinTimeoutMs?: number;
  /** how long a player whose connection dropped keeps the slot; 0 = leave at once; default 15 s */
  reconnectGraceMs?: number;
  /** how many ended session ids to remember, to refuse late joiners with `session_ended`; default 1024 */
  endedMemory?: number;
  /** makes each seat's reconnect secret; default 32 random bytes in base64url (tests pass their own) */
  newReconnectSecret?: () => string;
}

export interface AdmissionRequest {
  source: SourceAddress;
  peer: VerifiedPeer | SeatClaim;
  connectionId: string;
  reconnectSecret?: string;
}

export interface ConnectionBinding {
  sessionId: string;
  playerId: string;
}

export interface HostLoad {
  sessions: number;
  players: number;
  maxSessions: number;
  maxPlayers: number;
}

const TRANSPORT_LIST = `${HOST_TRANSPORT_KINDS.slice(0, -1).join(', ')} or ${HOST_TRANSPORT_KINDS.at(-1)}`;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The sessions the Auth server told this host to run, with capacity accounting, the address
 * allow-list, player admission and each session's readying/game/end life. Sans-IO: its driver
 * (HostSessions, sessions.ts) feeds it connections and messages plus `tick(now)`, and after each
 * input takes the events it queued (`takeEvents`, and `allowList.takeEvents` for the packet filter).
 */
export class SessionTable {
  readonly allowList = new AllowList();
  readonly #sessions = new Map<string, Session>();
  readonly #connections = new Map<string, ConnectionBinding>();
  readonly #ended = new Set<string>();
  readonly #opts: Required<SessionTableOptions>;
  readonly #events = new EventQueue<HostSessionEvent>();

  constructor(opts: SessionTableOptions) {
    this.#opts = { joinTimeoutMs: 30_000, reconnectGraceMs: 15_000, endedMemory: 1024, newReconnectSecret: randomSecret, ...opts };
    for (const k of ['maxSessions', 'maxPlayers'] as const)
      if (!Number.isInteger(this.#opts[k]) || this.#opts[k] < 0) throw new RangeError(`${k} must be a non-negative integer`);
  }

  // ---- creation and capacity ----

  create(spec: SessionSpec, now: number): CreateResult {
    if (this.#sessions.has(spec.sessionId) || this.#ended.has(spec.sessionId))
      return { ok: false, reason: 'session_exists', message: `session ${spec.sessionId} already exists on this host` };
    const checked = validateSpec(spec);
    if (typeof checked === 'string') return { ok: false, reason: 'invalid_spec', message: checked };
    const load = this.load();
    if (load.sessions + 1 > this.#opts.maxSessions)
      return { ok: false, reason: 'capacity_sessions', message: `host is full: ${load.sessions} of ${this.#opts.maxSessions} sessions in use` };
    if (load.players + checked.players.length > this.#opts.maxPlayers)
      return {
        ok: false,
        reason: 'capacity_players',
        message: `host is full: ${checked.players.length} more players would exceed ${this.#opts.maxPlayers} (${load.players} in use)`,
      };
    const joinDeadline = now + (checked.joinTimeoutMs ?? this.#opts.joinTimeoutMs);
    const session = new Session(checked, now, { joinDeadline, reconnectGraceMs: this.#opts.reconnectGraceMs }, this.#hooks(checked.sessionId));
    this.#sessions.set(checked.sessionId, session);
    this.#events.push({ type: 'session_created', sessionId: checked.sessionId, at: now, joinDeadline });
    return { ok: true, sessionId: checked.sessionId, joinDeadline };
  }

  /** More players for a session still readying (the protocol's "expect players"). */
  addPlayers(sessionId: string, players: readonly ExpectedPlayer[], now: number): CreateResult {
    const s = this.#sessions.get(sessionId);
    if (!s) return { ok: false, reason: 'unknown_session', message: `no session ${sessionId} on this host` };
    if (s.phase !== 'readying') return { ok: false, reason: 'not_readying', message: `session ${sessionId} has already begun` };
    const checked = validatePlayers(players, (id) => s.hasPlayer(id));
    if (typeof checked === 'string') return { ok: false, reason: 'invalid_spec', message: checked };
    const load = this.load();
    if (load.players + checked.length > this.#opts.maxPlayers)
      return {
        ok: false,
        reason: 'capacity_players',
        message: `host is full: ${checked.length} more players would exceed ${this.#opts.maxPlayers} (${load.players} in use)`,
      };
    s.addPlayers(checked, now, s.spec.joinTimeoutMs ?? this.#opts.joinTimeoutMs);
    return { ok: true, sessionId, joinDeadline: s.view().joinDeadline };
  }

  load(): HostLoad {
    let players = 0;
    for (const s of this.#sessions.values()) players += s.activePlayers;
    return { sessions: this.#sessions.size, players, maxSessions: this.#opts.maxSessions, maxPlayers: this.#opts.maxPlayers };
  }

  // ---- admission ----

  /**
   * A peer completed its transport's handshake from `source`. Decide and, when admitted, bind
   * `connectionId` (the transport's handle) to the player. `peer` is a certificate peer as pki
   * verified it (its session identity already parsed there) or the claim of a transport whose
   * credential is no certificate. `reconnectSecret` is what the peer presented (the hello), if
   * anything: needed only to take over a seat whose connection is still open.
   */
  admit(req: AdmissionRequest, now: number): AdmissionResult {
    const { source, peer, connectionId } = req;
    const refuse = (reason: 'not_session_cert' | 'unknown_session' | 'session_ended', message: string): AdmissionResult => {
      this.#events.push({
        type: 'admission_refused',
        reason,
        message,
        source,
        ...(peer.sessionId !== undefined ? { sessionId: peer.sessionId } : {}),
        ...(peer.playerId !== undefined ? { playerId: peer.playerId } : {}),
        at: now,
      });
      return { ok: false, reason, message };
    };
    const claim = 'credential' in peer ? peer : certClaim(peer);
    if (!claim)
      return refuse(
        'not_session_cert',
        `a ${(peer as VerifiedPeer).role} certificate cannot join a session; a session certificate naming a session and player is needed`,
      );
    const s = this.#sessions.get(claim.sessionId);
    if (!s) {
      if (this.#ended.has(claim.sessionId)) return refuse('session_ended', `session ${claim.sessionId} has ended`);
      return refuse('unknown_session', `no session ${claim.sessionId} on this host`);
    }
    const bound = this.#connections.get(connectionId);
    if (bound && (bound.sessionId !== claim.sessionId || bound.playerId !== claim.playerId))
      throw new RangeError(`connection id ${connectionId} is already bound to ${bound.sessionId}/${bound.playerId}`);
    return s.admit(source, claim, connectionId, now, req.reconnectSecret);
  }

  connection(connectionId: string): ConnectionBinding | undefined {
    const b = this.#connections.get(connectionId);
    return b && { ...b };
  }

  // ---- readying and leaving (keyed by connection: a message can only speak for its own player) ----

  ready(connectionId: string, now: number): ActionResult {
    return this.#onConnection(connectionId, (s, playerId) => s.ready(playerId, now));
  }

  unready(connectionId: string, now: number): ActionResult {
    return this.#onConnection(connectionId, (s, playerId) => s.unready(playerId, now));
  }

  /** The player said it is leaving for good. */
  leave(connectionId: string, now: number): ActionResult {
    return this.#onConnection(connectionId, (s, playerId) => s.depart(playerId, 'left', now));
  }

  /** The transport lost the connection (timeout, reset): the player may come back within the grace. */
  connectionClosed(connectionId: string, now: number): ActionResult {
    return this.#onConnection(connectionId, (s, playerId) => {
      s.connectionLost(playerId, connectionId, now);
      return { ok: true };
    });
  }

  /** The Auth server (kick) or the game removes a player. */
  removePlayer(sessionId: string, playerId: string, now: number): ActionResult {
    return this.#onSession(sessionId, (s) => s.depart(playerId, 'removed', now));
  }

  // ---- end ----

  /** The game is over: results and telemetry go out in the `session_ended` event. */
  end(sessionId: string, results: GameResults, now: number): ActionResult {
    return this.#onSession(sessionId, (s) => s.end(results, now));
  }

  /** Stop a session in any phase without results (Auth server cancel, operator, shutdown). */
  cancel(sessionId: string, now: number, detail?: string): ActionResult {
    return this.#onSession(sessionId, (s) => {
      s.abort('cancelled', now, detail);
      return { ok: true };
    });
  }

  // ---- time ----

  tick(now: number): void {
    for (const s of [...this.#sessions.values()]) s.tick(now);
  }

  /** When the adapter should call `tick` next (earliest pending deadline), or undefined. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const s of this.#sessions.values()) {
      const t = s.nextDeadline();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** The events since the last take, oldest first. */
  takeEvents(): HostSessionEvent[] {
    return this.#events.take();
  }

  // ---- views ----

  session(sessionId: string): SessionView | undefined {
    return this.#sessions.get(sessionId)?.view();
  }

  sessions(): SessionView[] {
    return [...this.#sessions.values()].map((s) => s.view());
  }

  // ---- internals ----

  #hooks(sessionId: string): SessionHooks {
    return {
      allow: (a) => this.allowList.add(a),
      release: (a) => this.allowList.release(a),
      bind: (connectionId, sid, playerId) => void this.#connections.set(connectionId, { sessionId: sid, playerId }),
      unbind: (connectionId) => void this.#connections.delete(connectionId),
      newSecret: () => this.#opts.newReconnectSecret(),
      emit: (e) => {
        this.#events.push(e);
        if (e.type === 'session_ended') this.#retire(sessionId);
      },
    };
  }

  #retire(sessionId: string): void {
    this.#sessions.delete(sessionId);
    this.#ended.add(sessionId);
    // Set iterates in insertion order: drop the oldest ids beyond the memory bound
    for (const id of this.#ended) {
      if (this.#ended.size <= this.#opts.endedMemory) break;
      this.#ended.delete(id);
    }
  }

  #onConnection(connectionId: string, fn: (s: Session, playerId: string) => ActionResult): ActionResult {
    const b = this.#connections.get(connectionId);
    const s = b && this.#sessions.get(b.sessionId);
    if (!b || !s) return { ok: false, reason: 'unknown_connection', message: `connection ${connectionId} belongs to no player` };
    return fn(s, b.playerId);
  }

  #onSession(sessionId: string, fn: (s: Session) => ActionResult): ActionResult {
    const s = this.#sessions.get(sessionId);
    if (!s) return { ok: false, reason: 'unknown_session', message: `no session ${sessionId} on this host` };
    return fn(s);
  }
}

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Validate and canonicalise a spec; returns a message naming the first problem. */
function validateSpec(spec: SessionSpec): SessionSpec | string {
  if (typeof spec.sessionId !== 'string' || spec.sessionId.length === 0 || spec.sessionId.length > 128)
    return 'session id must be a non-empty string of at most 128 characters';
  if (!isHostTransportKind(spec.transport)) return `unknown transport ${JSON.stringify(spec.transport)}; expected ${TRANSPORT_LIST}`;
  if (!Array.isArray(spec.players) || spec.players.length === 0) return `session ${spec.sessionId} expects no players`;
  const players = validatePlayers(spec.players, () => false);
  if (typeof players === 'string') return players;
  if (spec.minPlayers !== undefined && (!Number.isInteger(spec.minPlayers) || spec.minPlayers < 1 || spec.minPlayers > players.length))
    return `minPlayers ${spec.minPlayers} must be an integer from 1 to the ${players.length} expected players`;
  for (const k of ['joinTimeoutMs', 'readyTimeoutMs'] as const) {
    const v = spec[k];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) return `${k} must be a positive number of milliseconds`;
  }
  return { ...spec, players };
}

function validatePlayers(players: readonly ExpectedPlayer[], exists: (id: string) => boolean): ExpectedPlayer[] | string {
  const seen = new Set<string>();
  const out: ExpectedPlayer[] = [];
  for (const p of players) {
    if (typeof p.playerId !== 'string' || p.playerId.length === 0) return 'every expected player needs a non-empty player id';
    if (seen.has(p.playerId) || exists(p.playerId)) return `player ${p.playerId} is listed twice`;
    seen.add(p.playerId);
    const proof = seatProof(p);
    if (typeof proof === 'string') return proof;
    let address;
    try {
      canonicalIp(p.address.ip);
      address = canonicalAddress(p.address);
    } catch (err) {
      return `player ${p.playerId}: bad expected address (${(err as Error).message})`;
    }
    out.push({ ...p, ...proof, address, displayName: typeof p.displayName === 'string' ? p.displayName : p.playerId });
  }
  return out;
}

/** The seat's proof in canonical form: a SHA-256 fingerprint or a u64 netcode client id, exactly one. */
function seatProof(p: ExpectedPlayer): { fingerprint: string } | { netcodeClientId: bigint } | string {
  if (p.netcodeClientId !== undefined) {
    if (p.fingerprint !== undefined) return `player ${p.playerId}: a seat is proven by a fingerprint or a netcode client id, not both`;
    if (typeof p.netcodeClientId !== 'bigint' || p.netcodeClientId < 0n || p.netcodeClientId > 0xffff_ffff_ffff_ffffn)
      return `player ${p.playerId}: netcode client id must be a u64`;
    return { netcodeClientId: p.netcodeClientId };
  }
  const fingerprint = typeof p.fingerprint === 'string' ? normalizeFingerprint(p.fingerprint) : '';
  if (!SHA256_HEX.test(fingerprint)) return `player ${p.playerId}: fingerprint must be a SHA-256 in hex`;
  return { fingerprint };
}

/** A verified session certificate as a claim; undefined when it is no session cert naming a seat. */
function certClaim(peer: VerifiedPeer): SeatClaim | undefined {
  if (peer.role !== 'session' || !peer.sessionId || !peer.playerId) return undefined;
  return { sessionId: peer.sessionId, playerId: peer.playerId, credential: { kind: 'cert', fingerprint: peer.fingerprint } };
}
