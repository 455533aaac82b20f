import type { Logger } from 'pino';
import type { GameMessage, GameTransport } from '../game.js';
import type { HostSessions } from '../sessions.js';
import type { SeatClaim, SeatCredential, TransportKind } from '../types.js';

export type { SeatClaim, SeatCredential };

/** What `openStream` gives: the game's frames out, then close. */
export type BulkStreamWriter = Awaited<ReturnType<GameTransport<unknown>['openStream']>>;

/** One seat of a session: where a transport delivers a player's messages. */
export interface SeatRef {
  sessionId: string;
  playerId: string;
}

/** What the host registers with the Auth servers for a transport (hostctl `HostTransport`). */
export type TransportEndpoint =
  | { kind: 'quic'; address: { host: string; port: number }; tlsName: string }
  | { kind: 'netcode'; address: { host: string; port: number } }
  /** per session (`sessionEndpoint`) also the room, topic prefix, game level and the host's pinned key */
  | { kind: 'mqtt'; brokerUrl: string; room?: string; topicPrefix?: string; game?: string; hostKey?: Uint8Array<ArrayBuffer> };

/**
 * The few things of the Host server a transport uses, instead of the server itself. The session
 * table decides admission and owns every session's life; a transport turns its peers' handshakes
 * into `sessions.admit` (with the seat claim its credential proves) and their control messages into
 * `ready`/`unready`/`leave`/`connectionClosed`. The table's events tell it the rest: `allow`
 * events which sources to let through (a transport drops every other source before any handshake
 * work), `session` events what to tell players (roster, begin, closes).
 */
/** What `game.end` tells a player whose connection closes with its session. */
export interface GameEndNotice {
  reason: 'completed' | 'aborted' | 'cancelled';
  results: Array<{ playerId: string; rank?: number; score?: number; outcome?: 'win' | 'loss' | 'draw' | 'abandoned' }>;
  ext?: unknown;
}

export interface HostTransportContext {
  readonly sessions: HostSessions;
  /** the clock (ms) the host ticks the table with; a transport reads no other */
  now(): number;
  readonly logger: Logger;
}

/** What a transport reports to the host: its players' game traffic and comings and goings (the table already knows them; these are for the game and the log). */
export type HostTransportEvent =
  | { type: 'joined'; sessionId: string; playerId: string; connectionId: string; reconnect: boolean; remote: string }
  | { type: 'left'; sessionId: string; playerId: string; connectionId: string; reason: string }
  /** a peer turned away before admission (its credential, its session, the table's answer) */
  | { type: 'refused'; reason: string; message: string; remote?: string; sessionId?: string; playerId?: string }
  /** a game message from an admitted player */
  | { type: 'message'; sessionId: string; playerId: string; message: GameMessage }
  | { type: 'warning'; error: Error };

/** The events of a transport's TypedEmitter that the host listens to. */
export interface HostTransportEvents {
  event: HostTransportEvent;
}

/**
 * One way players reach this host (QUIC, netcode, MQTT). To add one: a folder beside quic/ and
 * netcode/ with a class implementing this interface, a `SeatCredential` kind when its proof is
 * new (MQTT: the broker checks the session cert, a registration signed with its key binds it to the
 * broker client id, and the table matches the cert fingerprint the Auth server announced), and a
 * line in `HostServer.start` that attaches it; Auth links then register its `endpoint()` and accept
 * sessions of its kind. Every implementation:
 * - admits a seat only through the context's session table, with the `SeatClaim` its credential
 *   proves (a session certificate, a netcode token's client id, an MQTT signed registration);
 * - drops sources the table does not expect, as early as its medium allows;
 * - tells its players what the table's events say (roster, begin, close with a reason);
 * - delivers the game's messages both ways, and closes (draining what it can) on `close`.
 */
export interface HostTransport {
  readonly kind: TransportKind;
  /** The host's view of the transport (a driver: it extends TypedEmitter with at least HostTransportEvents). */
  on(name: 'event', fn: (e: HostTransportEvent) => void): unknown;
  /** what the host registers with the Auth servers */
  endpoint(): TransportEndpoint;
  /** A game message to one seat; false when the seat has no open connection here. */
  send(seat: SeatRef, msg: GameMessage): boolean;
  /** A bulk stream to a seat (large state, replays), on transports that have streams. */
  openStream?(seat: SeatRef, header: { purpose: string; channel?: string; ext?: unknown }): Promise<BulkStreamWriter>;
  /** What the Auth server hands players of this session, when it differs per session (MQTT: room and host key). */
  sessionEndpoint?(sessionId: string): TransportEndpoint | undefined;
  /** Closes a seat's connection; the table treats it as lost (the player may come back within the grace). */
  disconnect(seat: SeatRef, code?: string, message?: string): boolean;
  /** Stops taking players and closes every connection, within `graceMs` where the medium drains. */
  close(opts?: { graceMs?: number }): Promise<void>;
}
