/**
 * A player's side of a turn-based room. Sans-IO like the host: MQTT messages and the time come in,
 * actions and events come out; randomness is injected. The host key is pinned from the hand-off.
 */
import { turnsError } from './errors.js';
import type { RoomRef } from './topics.js';
import type { InboundMessage, PlayerAction, RandomSource, TurnsLimits } from './types.js';

export interface TurnsPlayerOptions extends RoomRef {
  sessionId: string;
  playerId: string;
  /** the host's Ed25519 public key from the hand-off: never learned from the broker */
  hostKey: Uint8Array;
  random: RandomSource;
  /** how long the registration is valid, ms (default 6 hours) */
  registrationTtlMs?: number;
  /** opaque proof from the hand-off, carried in the registration (default empty) */
  proof?: Uint8Array;
  limits?: Partial<TurnsLimits>;
}

export class TurnsPlayer {
  constructor(opts: TurnsPlayerOptions) {
    void opts;
    throw turnsError('turns_not_ready', 'not implemented yet');
  }

  /** The will to set when connecting: an empty retained message on this player's register topic. */
  get will(): { topic: string; payload: Uint8Array; qos: 1; retain: true } {
    throw turnsError('turns_not_ready', 'not implemented yet');
  }

  /** True once registered, synced from genesis and in a round: `move` may be called. */
  get ready(): boolean {
    return false;
  }

  /** Subscribes and publishes the registration (retained). Call again after a reconnect. */
  start(now: number): PlayerAction[] {
    void now;
    return [];
  }

  /** One MQTT message received on any topic of the room. Never throws. */
  receive(msg: InboundMessage, now: number): PlayerAction[] {
    void msg;
    void now;
    return [];
  }

  /** Signs a move and publishes it on the current round topic (QoS 1). Throws `turns_not_ready` before `ready`. */
  move(action: string, data: unknown, now: number): PlayerAction[] {
    void action;
    void data;
    void now;
    return [];
  }

  /** Challenges another participant (or the host, `HOST_ID`) to prove it holds its registered key. */
  challenge(target: string, now: number): PlayerAction[] {
    void target;
    void now;
    return [];
  }

  /** Asks the host for the log from genesis again (after a reconnect); play waits for `synced`. */
  resync(now: number): PlayerAction[] {
    void now;
    return [];
  }

  /** Clears this player's registration (an empty retained publish), as a clean leave. */
  leave(): PlayerAction[] {
    return [];
  }
}
