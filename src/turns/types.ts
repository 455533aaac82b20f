/**
 * Inputs and outputs of the two sans-IO machines (`TurnsHost`, `TurnsPlayer`). An adapter (turns-net)
 * feeds every MQTT message it receives to `receive(msg, now)` and performs the returned actions IN
 * ORDER, with one allowance: an `acl`, `subscribe` or `unsubscribe` may complete in the background,
 * but a QoS 2 publish (the block that opens a round and reveals its topic) must wait until every
 * earlier one is done (the broker enforces the grant of that topic, made a round ahead). An `acl`
 * follows the publishes before it.
 */
import type { RoomAcl } from './topics.js';

/** One MQTT message as the adapter received it. */
export interface InboundMessage {
  topic: string;
  payload: Uint8Array;
  /** the broker flagged it retained (sent on subscribe) */
  retained?: boolean;
}

export type Qos = 0 | 1 | 2;

export interface PublishAction {
  type: 'publish';
  topic: string;
  /** empty with `retain` = clear the retained message of that topic */
  payload: Uint8Array;
  qos: Qos;
  retain: boolean;
}

export type TurnsAction<E> =
  | PublishAction
  | { type: 'subscribe'; topics: string[]; qos: Qos }
  | { type: 'unsubscribe'; topics: string[] }
  /** host only: the broker must now enforce exactly this ACL for the room (await it before what follows) */
  | { type: 'acl'; acl: RoomAcl }
  /**
   * host only: the game-rules hook. Ask the game whether `playerId` may do `action` with `data` now
   * and what it does; answer with `host.validated(id, verdict, now)`. Moves are validated one at a
   * time, in arrival order, so the game sees the same sequence as the log.
   */
  | { type: 'validate'; id: number; playerId: string; action: string; data: unknown; seq: number }
  | { type: 'event'; event: E };

/** The game's answer to a `validate` action. */
export type Verdict =
  | { ok: true /** returned to the mover in the log entry (any MsgPack value) */; reply?: unknown }
  /**
   * `code`: the game's own reason, a wire-safe snake_case code. By convention a move made when it is
   * not the player's turn is refused with `not_your_turn`: turn order is the game's to decide.
   */
  | { ok: false; code: string; message?: string };

/** Why a message was refused; reported to its sender (host side) and raised as an event. */
export interface Rejection {
  code: string;
  message: string;
  /** the refused move's sequence number, when it was a move */
  seq?: number;
}

/** An entry of the activity log as the machines report it (decoded and verified). */
export type LogEntry =
  | { kind: 'genesis'; session: SessionInfo }
  | { kind: 'register'; registration: Registration }
  | { kind: 'leave'; playerId: string; epoch: number }
  /** a round starts: its seed (checked against the commitment published before) and the next round's commitment */
  | { kind: 'round'; round: number; seed: Uint8Array; next: Uint8Array; topic: string }
  | { kind: 'move'; move: Move; reply: unknown }
  | { kind: 'end'; results: unknown };

export interface Block {
  number: number;
  timestamp: number;
  prevHash: Uint8Array;
  hash: Uint8Array;
  entries: LogEntry[];
}

/** What a genesis block fixes for the whole session. */
export interface SessionInfo {
  protocol: number;
  game: string;
  room: string;
  sessionId: string;
  /** the players, in seat order */
  players: string[];
  hostSignKey: Uint8Array;
  hostDhKey: Uint8Array;
  /** commitment to round 1's seed */
  firstCommitment: Uint8Array;
  /** payloads on ctl, round and challenge topics are sealed with the room key */
  encrypted: boolean;
  createdAt: number;
}

/** A player's registration: fresh keys for one session and epoch. */
export interface Registration {
  playerId: string;
  sessionId: string;
  /** 1 on first registration; +1 after each clear (a will after a crash, or a leave) */
  epoch: number;
  signKey: Uint8Array;
  dhKey: Uint8Array;
  /** ms since epoch; the host refuses it after this */
  expiresAt: number;
  /** opaque proof from the hand-off (may be empty); the host may check it */
  proof: Uint8Array;
}

/** A player's move as signed (the envelope is game-agnostic; `data` is the game's). */
export interface Move {
  playerId: string;
  action: string;
  data: unknown;
  nonce: Uint8Array;
  seq: number;
  timestamp: number;
  prevHash: Uint8Array;
  round: number;
  topic: string;
}

export type HostEvent =
  | { type: 'registered'; registration: Registration }
  | { type: 'left'; playerId: string; epoch: number }
  | { type: 'ready'; players: string[] }
  | { type: 'round'; round: number; topic: string }
  | { type: 'block'; block: Block }
  | { type: 'rejected'; playerId: string | undefined; rejection: Rejection; topic: string }
  /** something that proves misbehaviour (conflicting registration, equivocation), or a forgery attempt */
  | { type: 'alert'; code: string; playerId: string | undefined; message: string }
  | { type: 'challenge'; from: string; verified: boolean }
  | { type: 'ended' };

export type PlayerEvent =
  | { type: 'registered'; epoch: number }
  /** the log grew by a verified block (moves of every player, rounds, registrations) */
  | { type: 'block'; block: Block }
  | { type: 'round'; round: number; topic: string }
  /** the host refused one of this player's messages */
  | { type: 'rejected'; rejection: Rejection }
  /** the chain was fetched and verified from genesis: play may go on */
  | { type: 'synced'; head: number }
  /** `ready` turned true (registered, caught up, in a round, with the room key if sealed): `move` may be called */
  | { type: 'ready' }
  /** a host-signed message for the game (`host.send`/`broadcast`) */
  | { type: 'message'; data: unknown }
  | { type: 'alert'; code: string; message: string }
  | { type: 'challenge'; from: string; verified: boolean }
  | { type: 'ended'; results: unknown };

export type HostAction = TurnsAction<HostEvent>;
export type PlayerAction = TurnsAction<PlayerEvent>;

/** Injected randomness: `n` cryptographically random bytes (crypto.randomBytes in production). */
export type RandomSource = (n: number) => Uint8Array;

/** Bounds on what one peer can make the host do. */
export interface TurnsLimits {
  /** largest payload accepted or produced, bytes (default 64 KiB) */
  maxMessageBytes: number;
  /** messages per player per window before `turns_rate_limited` (default 20 per 1000 ms) */
  ratePerWindow: number;
  rateWindowMs: number;
  /** accepted difference between a move's timestamp and the host clock (default 30 000 ms) */
  clockSkewMs: number;
  /** most blocks in one sync answer (default 256; the player asks again for the rest) */
  syncBatch: number;
  /** frames a player holds while it waits for a key or the chain (default 64) */
  maxPending: number;
}

export const DEFAULT_TURNS_LIMITS: Readonly<TurnsLimits> = Object.freeze({
  maxMessageBytes: 64 * 1024,
  ratePerWindow: 20,
  rateWindowMs: 1000,
  clockSkewMs: 30_000,
  syncBatch: 256,
  maxPending: 64,
});
