import { createHash, timingSafeEqual } from 'node:crypto';
import { formatHostPort } from '../net/address.js';
import { addressMatches } from './address.js';
import type { HostSessionEvent } from './events.js';
import type {
  AbortReason,
  ActionResult,
  AdmissionRefusal,
  AdmissionResult,
  DepartureReason,
  ExpectedAddress,
  ExpectedPlayer,
  GameResults,
  PlayerStatus,
  PlayerView,
  SeatClaim,
  SeatCredential,
  SessionPhase,
  SessionReport,
  SessionSpec,
  SessionTelemetry,
  SourceAddress,
} from './types.js';

/** What a session needs from the table that owns it: the shared allow-list and connection index. */
export interface SessionHooks {
  allow(address: ExpectedAddress): void;
  release(address: ExpectedAddress): void;
  bind(connectionId: string, sessionId: string, playerId: string): void;
  unbind(connectionId: string): void;
  emit(event: HostSessionEvent): void;
  /** a fresh random reconnect secret */
  newSecret(): string;
}

export interface SessionTimings {
  joinDeadline: number;
  reconnectGraceMs: number;
}

interface PlayerState {
  spec: ExpectedPlayer;
  status: PlayerStatus;
  departure?: DepartureReason;
  connectionId?: string;
  /** ever admitted: decides reconnect vs. `already_started` */
  admitted: boolean;
  /** while `expected`: when the player is timed out (join deadline, or reconnect grace) */
  deadline?: number;
  /** set at first admission when the session has a ready timeout */
  readyDeadline?: number;
  /** SHA-256 of the reconnect secret issued at the last admission; only its holder may replace a live connection */
  secretHash?: Buffer;
}

/** Read-only snapshot of a session. */
export interface SessionView {
  sessionId: string;
  transport: SessionSpec['transport'];
  phase: SessionPhase;
  createdAt: number;
  joinDeadline: number;
  beganAt?: number;
  minPlayers: number;
  settings: unknown;
  players: Array<PlayerView & Pick<ExpectedPlayer, 'fingerprint' | 'netcodeClientId'> & { address: ExpectedAddress; connectionId?: string; admitted: boolean }>;
}

/** Constant time whatever the presented secret's length: both sides are hashed to 32 bytes first. */
function secretMatches(expected: Buffer | undefined, presented: string | undefined): boolean {
  if (expected === undefined || presented === undefined) return false;
  return timingSafeEqual(expected, hashSecret(presented));
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[:\s]/g, '').toLowerCase();
}

/** Does `c` prove the seat? A certificate (QUIC, or MQTT's broker-checked one) by its fingerprint, netcode by its client id. */
function proves(seat: ExpectedPlayer, c: SeatCredential): boolean {
  switch (c.kind) {
    case 'cert':
    case 'mqtt':
      return seat.fingerprint !== undefined && normalizeFingerprint(c.fingerprint) === seat.fingerprint;
    case 'netcode':
      return seat.netcodeClientId === c.clientId;
  }
}

/**
 * One session's life on the host: admission, the readying stage, the game, the end. Owned by the
 * SessionTable, which supplies the shared allow-list and connection index through `hooks`.
 * Invariant kept by every method: a player's address is held in the allow-list exactly while the
 * player's status is not `left` and the session is not over.
 */
export class Session {
  readonly spec: SessionSpec;
  readonly createdAt: number;
  #phase: SessionPhase = 'readying';
  #beganAt: number | undefined;
  #joinDeadline: number;
  readonly #grace: number;
  readonly #players = new Map<string, PlayerState>();
  readonly #hooks: SessionHooks;
  readonly #refusals: Partial<Record<AdmissionRefusal, number>> = {};
  #reconnects = 0;
  #noShows = 0;

  /** `spec` must already be validated and canonical (the table does it). */
  constructor(spec: SessionSpec, now: number, timings: SessionTimings, hooks: SessionHooks) {
    this.spec = spec;
    this.createdAt = now;
    this.#joinDeadline = timings.joinDeadline;
    this.#grace = timings.reconnectGraceMs;
    this.#hooks = hooks;
    this.#addPlayers(spec.players, this.#joinDeadline);
  }

  get sessionId(): string {
    return this.spec.sessionId;
  }
  get phase(): SessionPhase {
    return this.#phase;
  }
  get minPlayers(): number {
    return this.spec.minPlayers ?? this.#players.size;
  }
  /** players not departed: the slots this session occupies */
  get activePlayers(): number {
    let n = 0;
    for (const p of this.#players.values()) if (p.status !== 'left') n++;
    return n;
  }

  hasPlayer(playerId: string): boolean {
    return this.#players.has(playerId);
  }

  /** Players announced after creation (the protocol's "expect players"); only while readying. */
  addPlayers(players: readonly ExpectedPlayer[], now: number, joinTimeoutMs: number): void {
    const deadline = Math.max(this.#joinDeadline, now + joinTimeoutMs);
    this.#joinDeadline = deadline;
    this.#addPlayers(players, deadline);
    this.#hooks.emit({ type: 'players_added', sessionId: this.sessionId, at: now, playerIds: players.map((p) => p.playerId) });
  }

  #addPlayers(players: readonly ExpectedPlayer[], deadline: number): void {
    for (const spec of players) {
      this.#players.set(spec.playerId, { spec, status: 'expected', admitted: false, deadline });
      this.#hooks.allow(spec.address);
    }
  }

  /**
   * Decide whether a peer from `source` proving `claim` may join, and if so bind `connectionId` to
   * its player. A seat whose connection is still open moves only to a peer presenting the
   * `reconnectSecret` issued at the last admission: a copy of the credential alone cannot take it.
   */
  admit(source: SourceAddress, claim: SeatClaim, connectionId: string, now: number, reconnectSecret?: string): AdmissionResult {
    const playerId = claim.playerId;
    const refuse = (reason: AdmissionRefusal, message: string): AdmissionResult => {
      this.#refusals[reason] = (this.#refusals[reason] ?? 0) + 1;
      this.#hooks.emit({ type: 'admission_refused', reason, message, source, sessionId: this.sessionId, playerId, at: now });
      return { ok: false, reason, message };
    };
    const p = this.#players.get(playerId);
    if (!p) return refuse('not_expected', `session ${this.sessionId} does not expect player ${playerId}`);
    const c = claim.credential;
    if (!proves(p.spec, c))
      return c.kind === 'netcode'
        ? refuse('wrong_client_id', `client id ${c.clientId} is not the one announced for this seat`)
        : refuse('wrong_fingerprint', `player ${playerId} presented a session certificate other than the one announced for session ${this.sessionId}`);
    if (!addressMatches(p.spec.address, source))
      return refuse(
        'wrong_address',
        `player ${playerId}'s session certificate was used from ${formatHostPort(source.ip, source.port)}, not from the announced address`,
      );
    if (this.#phase !== 'readying' && !p.admitted) return refuse('already_started', `session ${this.sessionId} began without player ${playerId}`);
    if (p.status === 'left') return refuse('player_left', `player ${playerId} already left session ${this.sessionId} (${p.departure ?? 'left'})`);
    if (p.connectionId !== undefined && !secretMatches(p.secretHash, reconnectSecret))
      return refuse('seat_taken', `player ${playerId} is still connected to session ${this.sessionId}; a second connection needs the seat's reconnect secret`);

    const reconnect = p.admitted;
    const replaced = p.connectionId;
    if (replaced !== undefined) {
      this.#hooks.unbind(replaced);
      this.#hooks.emit({ type: 'close_connection', connectionId: replaced, sessionId: this.sessionId, playerId, reason: 'replaced', at: now });
    }
    if (reconnect) this.#reconnects++;
    if (!p.admitted && this.spec.readyTimeoutMs !== undefined) p.readyDeadline = now + this.spec.readyTimeoutMs;
    p.admitted = true;
    p.connectionId = connectionId;
    const secret = this.#hooks.newSecret();
    p.secretHash = hashSecret(secret);
    delete p.deadline;
    this.#hooks.bind(connectionId, this.sessionId, playerId);
    this.#hooks.emit({
      type: 'player_admitted',
      sessionId: this.sessionId,
      playerId,
      connectionId,
      reconnect,
      ...(replaced !== undefined ? { replaced } : {}),
      at: now,
    });
    if (p.status === 'expected') this.#setStatus(p, 'connected', now);
    this.#settle(now);
    return {
      ok: true,
      sessionId: this.sessionId,
      playerId,
      connectionId,
      reconnect,
      ...(replaced !== undefined ? { replaced } : {}),
      reconnectSecret: secret,
    };
  }

  ready(playerId: string, now: number): ActionResult {
    const p = this.#players.get(playerId);
    if (!p) return { ok: false, reason: 'unknown_player', message: `no player ${playerId} in session ${this.sessionId}` };
    if (this.#phase !== 'readying') return wrongPhase(this.sessionId, this.#phase, 'ready');
    if (p.status === 'ready') return { ok: true }; // idempotent: a client may resend
    if (p.status !== 'connected') return { ok: false, reason: 'wrong_phase', message: `player ${playerId} is ${p.status}, not connected` };
    this.#setStatus(p, 'ready', now);
    this.#settle(now);
    return { ok: true };
  }

  unready(playerId: string, now: number): ActionResult {
    const p = this.#players.get(playerId);
    if (!p) return { ok: false, reason: 'unknown_player', message: `no player ${playerId} in session ${this.sessionId}` };
    if (this.#phase !== 'readying') return wrongPhase(this.sessionId, this.#phase, 'un-ready');
    if (p.status === 'connected') return { ok: true };
    if (p.status !== 'ready') return { ok: false, reason: 'wrong_phase', message: `player ${playerId} is ${p.status}, not ready` };
    this.#setStatus(p, 'connected', now);
    return { ok: true };
  }

  /** The transport lost this player's connection: keep the slot for the reconnect grace. */
  connectionLost(playerId: string, connectionId: string, now: number): void {
    const p = this.#players.get(playerId);
    if (!p || p.connectionId !== connectionId) return;
    this.#hooks.unbind(connectionId);
    delete p.connectionId;
    if (this.#grace <= 0) {
      this.#depart(p, 'connection_lost', now, false);
    } else {
      // while readying, a player keeps at least the join deadline to come back
      p.deadline = this.#phase === 'readying' ? Math.max(this.#joinDeadline, now + this.#grace) : now + this.#grace;
      this.#setStatus(p, 'expected', now);
    }
    this.#settle(now);
  }

  /** The player said goodbye (`left`) or the Auth server / game removed them (`removed`). */
  depart(playerId: string, reason: 'left' | 'removed', now: number): ActionResult {
    const p = this.#players.get(playerId);
    if (!p) return { ok: false, reason: 'unknown_player', message: `no player ${playerId} in session ${this.sessionId}` };
    if (p.status === 'left') return { ok: true };
    this.#depart(p, reason, now, true);
    this.#settle(now);
    return { ok: true };
  }

  /** Apply every deadline that has passed by `now`. */
  tick(now: number): void {
    if (this.#phase === 'ended') return;
    for (const p of this.#players.values()) {
      if (p.status === 'expected' && p.deadline !== undefined && p.deadline <= now) {
        const reason = p.admitted ? 'connection_lost' : 'no_show';
        if (reason === 'no_show') this.#noShows++;
        this.#hooks.emit({ type: 'player_timed_out', sessionId: this.sessionId, playerId: p.spec.playerId, reason, at: now });
        this.#depart(p, reason, now, false);
      } else if (this.#phase === 'readying' && p.status === 'connected' && p.readyDeadline !== undefined && p.readyDeadline <= now) {
        this.#hooks.emit({ type: 'player_timed_out', sessionId: this.sessionId, playerId: p.spec.playerId, reason: 'ready_timeout', at: now });
        this.#depart(p, 'ready_timeout', now, true);
      }
    }
    this.#settle(now);
  }

  /** Earliest time at which `tick` would change something, if any. */
  nextDeadline(): number | undefined {
    if (this.#phase === 'ended') return undefined;
    let next: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    for (const p of this.#players.values()) {
      if (p.status === 'expected') consider(p.deadline);
      if (this.#phase === 'readying' && p.status === 'connected') consider(p.readyDeadline);
    }
    return next;
  }

  /** The game ends the session with its results. */
  end(results: GameResults, now: number): ActionResult {
    if (this.#phase !== 'in_game') return wrongPhase(this.sessionId, this.#phase, 'end with results');
    const unknown = Object.keys(results.outcomes).filter((id) => !this.#players.has(id));
    if (unknown.length > 0)
      return { ok: false, reason: 'invalid_results', message: `outcomes name players not in session ${this.sessionId}: ${unknown.join(', ')}` };
    this.#finish(now, 'completed', undefined, undefined, results);
    return { ok: true };
  }

  /** End without results (the Auth server or operator cancels, or rules say the game cannot go on). */
  abort(reason: AbortReason, now: number, detail?: string): void {
    if (this.#phase === 'ended') return;
    this.#finish(now, 'aborted', reason, detail, undefined);
  }

  view(): SessionView {
    return {
      sessionId: this.sessionId,
      transport: this.spec.transport,
      phase: this.#phase,
      createdAt: this.createdAt,
      joinDeadline: this.#joinDeadline,
      ...(this.#beganAt !== undefined ? { beganAt: this.#beganAt } : {}),
      minPlayers: this.minPlayers,
      settings: this.spec.settings,
      players: [...this.#players.values()].map((p) => ({
        ...playerView(p),
        address: p.spec.address,
        ...(p.spec.fingerprint !== undefined ? { fingerprint: p.spec.fingerprint } : {}),
        ...(p.spec.netcodeClientId !== undefined ? { netcodeClientId: p.spec.netcodeClientId } : {}),
        ...(p.connectionId !== undefined ? { connectionId: p.connectionId } : {}),
        admitted: p.admitted,
      })),
    };
  }

  roster(): PlayerView[] {
    return [...this.#players.values()].map(playerView);
  }

  #setStatus(p: PlayerState, status: PlayerStatus, now: number): void {
    const previous = p.status;
    if (previous === status) return;
    p.status = status;
    this.#hooks.emit({
      type: 'player_status',
      sessionId: this.sessionId,
      playerId: p.spec.playerId,
      status,
      previous,
      ...(p.departure !== undefined ? { departure: p.departure } : {}),
      at: now,
      roster: this.roster(),
    });
  }

  #depart(p: PlayerState, reason: DepartureReason, now: number, closeConnection: boolean): void {
    if (p.connectionId !== undefined) {
      const id = p.connectionId;
      this.#hooks.unbind(id);
      delete p.connectionId;
      if (closeConnection)
        this.#hooks.emit({ type: 'close_connection', connectionId: id, sessionId: this.sessionId, playerId: p.spec.playerId, reason: 'departed', at: now });
    }
    delete p.deadline;
    p.departure = reason;
    this.#hooks.release(p.spec.address);
    this.#setStatus(p, 'left', now);
  }

  /**
   * After any change: abort when too few players remain; begin when every player who has arrived
   * (including one inside its reconnect grace) is ready and there are at least `minPlayers` of them.
   * Players who never arrived do not hold the start back (unless `waitForAll`); they are dropped as
   * no-shows when the game begins.
   */
  #settle(now: number): void {
    if (this.#phase === 'readying') {
      const players = [...this.#players.values()];
      const active = players.filter((p) => p.status !== 'left');
      if (active.length < this.minPlayers || active.length === 0) {
        this.abort('not_enough_players', now);
        return;
      }
      const arrived = active.filter((p) => p.admitted);
      const waiting = active.filter((p) => !p.admitted);
      const allReady = arrived.every((p) => p.status === 'ready');
      if (!allReady || arrived.length < this.minPlayers || arrived.length === 0) return;
      if (this.spec.waitForAll && waiting.length > 0) return;
      this.#phase = 'in_game';
      this.#beganAt = now;
      for (const p of waiting) {
        this.#noShows++;
        this.#depart(p, 'no_show', now, false);
      }
      this.#hooks.emit({ type: 'game_begin', sessionId: this.sessionId, at: now, roster: this.roster(), settings: this.spec.settings });
    } else if (this.#phase === 'in_game') {
      if (this.activePlayers === 0) this.abort('abandoned', now);
    }
  }

  #finish(now: number, end: 'completed' | 'aborted', abortReason: AbortReason | undefined, detail: string | undefined, results: GameResults | undefined): void {
    const report: SessionReport = {
      sessionId: this.sessionId,
      transport: this.spec.transport,
      end,
      ...(abortReason !== undefined ? { abortReason } : {}),
      ...(detail !== undefined ? { detail } : {}),
      createdAt: this.createdAt,
      ...(this.#beganAt !== undefined ? { beganAt: this.#beganAt } : {}),
      endedAt: now,
      players: [...this.#players.values()].map((p) => ({
        playerId: p.spec.playerId,
        status: p.status,
        ...(p.departure !== undefined ? { departure: p.departure } : {}),
        admitted: p.admitted,
      })),
      ...(results?.gameData !== undefined ? { gameData: results.gameData } : {}),
      outcomes: results?.outcomes ?? {},
    };
    const telemetry: SessionTelemetry = {
      sessionId: this.sessionId,
      transport: this.spec.transport,
      readyingMs: (this.#beganAt ?? now) - this.createdAt,
      inGameMs: this.#beganAt === undefined ? 0 : now - this.#beganAt,
      expectedPlayers: this.#players.size,
      admittedPlayers: [...this.#players.values()].filter((p) => p.admitted).length,
      noShows: this.#noShows,
      reconnects: this.#reconnects,
      refusals: { ...this.#refusals },
      ...(results?.telemetry !== undefined ? { game: results.telemetry } : {}),
    };
    this.#phase = 'ended';
    // players still here leave with the session: no per-player status events, `session_ended` says it all
    for (const p of this.#players.values()) {
      if (p.status === 'left') continue;
      if (p.connectionId !== undefined) {
        this.#hooks.unbind(p.connectionId);
        this.#hooks.emit({
          type: 'close_connection',
          connectionId: p.connectionId,
          sessionId: this.sessionId,
          playerId: p.spec.playerId,
          reason: 'session_ended',
          at: now,
        });
        delete p.connectionId;
      }
      p.status = 'left';
      p.departure = 'session_ended';
      this.#hooks.release(p.spec.address);
    }
    this.#hooks.emit({ type: 'session_ended', sessionId: this.sessionId, at: now, report, telemetry });
  }
}

function playerView(p: PlayerState): PlayerView {
  return {
    playerId: p.spec.playerId,
    displayName: p.spec.displayName,
    status: p.status,
    ...(p.departure !== undefined ? { departure: p.departure } : {}),
    ...(p.spec.extras !== undefined ? { extras: p.spec.extras } : {}),
  };
}

function wrongPhase(sessionId: string, phase: SessionPhase, what: string): ActionResult {
  return { ok: false, reason: 'wrong_phase', message: `cannot ${what}: session ${sessionId} is ${phase.replace('_', ' ')}` };
}
