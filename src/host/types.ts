/**
 * Types shared by the Host server's domain modules. Everything here is plain data so the transport
 * adapter and the host↔auth protocol can carry it without conversion. Times are milliseconds on a
 * clock the caller chooses (monotonic in production, a counter in tests); nothing here reads a clock.
 */

import type { HostTransportKind } from '../protocol/transports.js';

/** How a player reaches the host: the protocol's list (src/protocol/transports.ts). */
export type TransportKind = HostTransportKind;

/** Where a player is expected to connect from. Without a port, any port of that IP is accepted (NAT rebinding). */
export interface ExpectedAddress {
  ip: string;
  port?: number;
}

/** A concrete datagram source as the transport sees it. */
export interface SourceAddress {
  ip: string;
  port: number;
}

/**
 * One player the Auth server told this host to expect. Exactly one of `fingerprint` and
 * `netcodeClientId` says what will prove the seat (the forms hostctl announces them in).
 */
export interface ExpectedPlayer {
  playerId: string;
  address: ExpectedAddress;
  /** SHA-256 of the player's session certificate (hex; case and colons ignored): QUIC and MQTT seats. */
  fingerprint?: string;
  /** the u64 client id sealed into the player's netcode connect token: netcode seats */
  netcodeClientId?: bigint;
  displayName: string;
  /** opaque per-player data for the game (team, loadout, rating...) */
  extras?: unknown;
}

/**
 * What a joining peer presents as proof of its seat, as its transport verified it. The session
 * table admits a peer whose credential matches the seat's announced proof:
 * - `cert`: the session certificate of a QUIC handshake (pki verified the chain);
 * - `netcode`: the client id of a connect token whose seal the netcode server checked;
 * - `mqtt`: the session certificate the broker authenticated, tied to the broker client id by a
 *   registration signed with that certificate's key (checked by the MQTT transport).
 */
export type SeatCredential =
  | { kind: 'cert'; fingerprint: string }
  | { kind: 'netcode'; clientId: bigint }
  | { kind: 'mqtt'; fingerprint: string; brokerClientId: string };

/** A seat a transport's peer claims: ids from its credential (cert SAN, token user data, registration). */
export interface SeatClaim {
  sessionId: string;
  playerId: string;
  credential: SeatCredential;
}

/** What the Auth server asks for when it creates a session here. Durations are relative: host and auth clocks differ. */
export interface SessionSpec {
  sessionId: string;
  transport: TransportKind;
  players: readonly ExpectedPlayer[];
  /** opaque game settings, handed to the game at begin */
  settings?: unknown;
  /** how long players have to arrive, from creation (default: host config `joinTimeoutMs`) */
  joinTimeoutMs?: number;
  /** fewest players the game may begin (or go on) with; default: every expected player */
  minPlayers?: number;
  /**
   * Hold the start until every expected player has arrived or timed out. Default false: the game
   * begins as soon as everyone who arrived is ready and they are at least `minPlayers`.
   */
  waitForAll?: boolean;
  /** a connected player must confirm ready within this long of first arriving, or is dropped; default: no limit */
  readyTimeoutMs?: number;
}

export type PlayerStatus = 'expected' | 'connected' | 'ready' | 'left';

/** Why a player left. `no_show` and `ready_timeout` are timeouts; `connection_lost` means the reconnect grace ran out. */
export type DepartureReason = 'left' | 'removed' | 'no_show' | 'ready_timeout' | 'connection_lost' | 'session_ended';

export type SessionPhase = 'readying' | 'in_game' | 'ended';

/** One player as others may see it (what the players' status broadcast carries). */
export interface PlayerView {
  playerId: string;
  displayName: string;
  status: PlayerStatus;
  departure?: DepartureReason;
  extras?: unknown;
}

/** Why a connecting peer was refused. Stable identifiers: they travel in protocol errors. */
export type AdmissionRefusal =
  | 'not_session_cert' // the verified cert is not a session cert or names no session/player
  | 'unknown_session' // no live session with that id on this host
  | 'session_ended' // the session existed here but is over
  | 'not_expected' // the session does not expect this player
  | 'wrong_fingerprint' // a session cert for this player, but not the one the Auth server announced
  | 'wrong_client_id' // a netcode token for this player, but not with the client id the Auth server announced
  | 'wrong_address' // right cert, wrong source address: a stolen cert or an unannounced network change
  | 'already_started' // the game began without this player
  | 'player_left' // the player left or timed out and may not come back
  | 'seat_taken'; // the seat's connection is still open and the newcomer did not present its reconnect secret

export type AdmissionResult =
  | {
      ok: true;
      sessionId: string;
      playerId: string;
      connectionId: string;
      reconnect: boolean;
      replaced?: string;
      /** the seat's fresh reconnect secret, for the player alone (the welcome); never logged */
      reconnectSecret: string;
    }
  | { ok: false; reason: AdmissionRefusal; message: string };

export type CreateRefusal = 'session_exists' | 'unknown_session' | 'invalid_spec' | 'capacity_sessions' | 'capacity_players' | 'not_readying';

export type CreateResult = { ok: true; sessionId: string; joinDeadline: number } | { ok: false; reason: CreateRefusal; message: string };

export type ActionRefusal = 'unknown_connection' | 'unknown_session' | 'unknown_player' | 'wrong_phase' | 'invalid_results';

export type ActionResult = { ok: true } | { ok: false; reason: ActionRefusal; message: string };

export type AbortReason = 'not_enough_players' | 'abandoned' | 'cancelled';

/** Per-player outcome reported by the game; all fields optional and game-defined. */
export interface PlayerOutcome {
  /** e.g. 'win' | 'loss' | 'draw'; free text so any game fits */
  result?: string;
  placement?: number;
  score?: number;
  ext?: unknown;
}

/** What the game hands over when it ends a session. */
export interface GameResults {
  /** opaque game data (replay id, final board...) */
  gameData?: unknown;
  outcomes: Record<string, PlayerOutcome>;
  /** opaque game telemetry merged into the host's own */
  telemetry?: unknown;
  /**
   * sent to every player in `game.end` as its `ext` (for example the final board); it must fit the
   * game's ext schema. Kept apart from `gameData`, which is for the Auth server's records.
   */
  playerExt?: unknown;
}

export interface SessionReport {
  sessionId: string;
  transport: TransportKind;
  end: 'completed' | 'aborted';
  abortReason?: AbortReason;
  /** free text supplied with a cancel */
  detail?: string;
  createdAt: number;
  beganAt?: number;
  endedAt: number;
  players: Array<{ playerId: string; status: PlayerStatus; departure?: DepartureReason; admitted: boolean }>;
  gameData?: unknown;
  outcomes: Record<string, PlayerOutcome>;
}

export interface SessionTelemetry {
  sessionId: string;
  transport: TransportKind;
  /** creation to begin (or to the end when it never began) */
  readyingMs: number;
  inGameMs: number;
  expectedPlayers: number;
  admittedPlayers: number;
  noShows: number;
  reconnects: number;
  /** refused connection attempts naming this session, by reason */
  refusals: Partial<Record<AdmissionRefusal, number>>;
  game?: unknown;
}
