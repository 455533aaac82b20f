/**
 * The host's side of a turn-based room: coordinator (rounds, keys, registrations) and arbiter (it
 * asks the game about every move and keeps the one signed log). Sans-IO: MQTT messages and the time
 * come in, actions come out (see types.ts); randomness is injected.
 */
import { turnsError } from './errors.js';
import type { RoomAcl, RoomRef } from './topics.js';
import type { HostAction, InboundMessage, RandomSource, Registration, TurnsLimits, Verdict } from './types.js';

export interface TurnsHostOptions extends RoomRef {
  sessionId: string;
  /** the session's players in seat order (from the hand-off); nobody else can register */
  players: readonly string[];
  random: RandomSource;
  /** seal ctl, round and challenge payloads with a room key (default false) */
  encrypt?: boolean;
  /** accepted moves per round before the round topic rotates (default 1: a new topic after every move) */
  movesPerRound?: number;
  limits?: Partial<TurnsLimits>;
  /** checks a registration's hand-off proof; default: accept (the broker ties register/<id> to the cert) */
  checkProof?: (registration: Omit<Registration, 'epoch'>) => boolean;
}

export class TurnsHost {
  constructor(opts: TurnsHostOptions) {
    void opts;
    throw turnsError('turns_not_ready', 'not implemented yet');
  }

  /** The host's Ed25519 public key (32 raw bytes): give it to the players in the hand-off; they pin it. */
  get publicKey(): Uint8Array {
    throw turnsError('turns_not_ready', 'not implemented yet');
  }

  /** The ACL the broker must enforce now. */
  get acl(): RoomAcl {
    throw turnsError('turns_not_ready', 'not implemented yet');
  }

  /** Subscribes, sets the ACL and publishes the genesis block (retained on ctl). */
  start(now: number): HostAction[] {
    void now;
    return [];
  }

  /** One MQTT message received on any topic of the room. Never throws. */
  receive(msg: InboundMessage, now: number): HostAction[] {
    void msg;
    void now;
    return [];
  }

  /** The game's answer to a `validate` action. */
  validated(id: number, verdict: Verdict, now: number): HostAction[] {
    void id;
    void verdict;
    void now;
    return [];
  }

  /** Starts the next round now (new seed and topic) even if the current one has moves left. */
  nextRound(now: number): HostAction[] {
    void now;
    return [];
  }

  /** Encrypted rooms: a new room key for everyone; the previous one is still accepted until the next rotation. */
  rotateKey(now: number): HostAction[] {
    void now;
    return [];
  }

  /** A host-signed game message to one player (`to`) or to all (`to` undefined). */
  send(to: string | undefined, data: unknown, now: number): HostAction[] {
    void to;
    void data;
    void now;
    return [];
  }

  /** Challenges a participant to prove it holds its registered key. */
  challenge(target: string, now: number): HostAction[] {
    void target;
    void now;
    return [];
  }

  /** Appends the end block, then clears every retained message of the session and unsubscribes. */
  end(results: unknown, now: number): HostAction[] {
    void results;
    void now;
    return [];
  }
}
