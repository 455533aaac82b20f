/**
 * The host's side of a turn-based room: coordinator (registrations, rounds, keys) and arbiter (it
 * asks the game about every move and keeps the one signed log). Sans-IO: MQTT messages and the time
 * come in, actions come out (see types.ts); randomness is injected.
 *
 * A move is checked in this order, each failure with its own code reported to the mover's sync topic:
 * size, decodable, rate (per claimed player), seated, registered, signature, replay or equivocation
 * (per player and sequence), sequence gap, round (stale) and topic, clock skew, head hash; then the
 * game is asked (`validate` action) and its refusal code is passed on as it is. Moves are validated
 * one at a time; others wait in a bounded queue.
 */
import type { KeyObject } from 'node:crypto';
import type { MsgpackCodec } from '../protocol/codec.js';
import { ERROR_CODE_PATTERN } from '../protocol/error-codes.js';
import {
  type DhKeys,
  dhKeysFromSeed,
  ed25519PublicKey,
  pairKey,
  roundCommitment,
  roundTopicHex,
  type SigningKeys,
  sha256,
  signingKeysFromSeed,
  verifyBytes,
  x25519PublicKey,
} from './crypto.js';
import { type TurnsErrorCode, turnsError } from './errors.js';
import { Chain, isFreshRegistration, TOPIC_HEX_CHARS, ZERO_HASH } from './log.js';
import { checkId, HOST_ID, type RoomAcl, type RoomRef, type RoomTopics, roomAcl, roomTopics } from './topics.js';
import {
  type Block,
  DEFAULT_TURNS_LIMITS,
  type HostAction,
  type HostEvent,
  type InboundMessage,
  type RandomSource,
  type Registration,
  type Rejection,
  type TurnsLimits,
  type Verdict,
} from './types.js';
import {
  blockFields,
  type Context,
  chalFields,
  decodeBody,
  decodeOuter,
  type EntryFields,
  encodeSigned,
  keyFields,
  makeCodec,
  type MoveFields,
  msgFields,
  openPair,
  openRoom,
  pack,
  parseChal,
  parseMove,
  parseReg,
  parseSyncReq,
  rejectFields,
  sealPair,
  sealRoom,
  syncFields,
} from './wire.js';

export interface TurnsHostOptions extends RoomRef {
  sessionId: string;
  /** the session's players in seat order (from the hand-off); nobody else can register */
  players: readonly string[];
  random: RandomSource;
  /** seal ctl, round, challenge and sync payloads (default false) */
  encrypt?: boolean;
  /** accepted moves per round before the round topic rotates (default 1: a new topic after every move) */
  movesPerRound?: number;
  limits?: Partial<TurnsLimits>;
  /** checks a registration's hand-off proof; default: accept (the broker ties register/<id> to the cert) */
  checkProof?: (registration: Omit<Registration, 'epoch'>) => boolean;
}

interface PendingMove {
  id: number;
  playerId: string;
  seq: number;
  frame: Uint8Array;
  digest: Uint8Array;
}

interface QueuedMove {
  move: MoveFields;
  frame: Uint8Array;
  digest: Uint8Array;
  topic: string;
}

const QOS_ROUND = 2;
/** Bytes kept free around a move for the block and sync frames that carry it. */
const FRAMING_ROOM = 2048;
/** Largest reply of the game logged with a move (MsgPack bytes). */
const MAX_REPLY_BYTES = 1024;

export class TurnsHost {
  readonly #ctx: Context;
  readonly #topics: RoomTopics;
  readonly #players: readonly string[];
  readonly #limits: TurnsLimits;
  readonly #codec: MsgpackCodec;
  readonly #random: RandomSource;
  readonly #sign: SigningKeys;
  readonly #dh: DhKeys;
  readonly #chain: Chain;
  readonly #encrypt: boolean;
  readonly #movesPerRound: number;
  readonly #checkProof: TurnsHostOptions['checkProof'];
  #started = false;
  #ended = false;
  /** the seed committed for the next round (secret until that round starts) */
  #nextSeed: Uint8Array | undefined;
  /** the topic that seed gives its round: granted and subscribed a round ahead */
  #nextHex: string | undefined;
  readonly #usedTopics = new Set<string>();
  #movesInRound = 0;
  #pending: PendingMove | undefined;
  #queue: QueuedMove[] = [];
  #deferred: InboundMessage[] = [];
  #roundAfterPending = false;
  #endAfterPending: { results: unknown } | undefined;
  #nextValidateId = 1;
  /** digest of every accepted move by `player:seq`: replays and equivocation */
  readonly #accepted = new Map<string, Uint8Array>();
  readonly #rate = new Map<string, { start: number; count: number; told: boolean }>();
  readonly #forged = new Map<string, { start: number; count: number; told: boolean }>();
  /** the latest conflicting registration per player, accepted if the live one is cleared */
  readonly #conflicts = new Map<string, { frame: Uint8Array; expiresAt: number }>();
  readonly #roomKeys = new Map<number, Uint8Array>();
  #keyId = 0;
  readonly #pairKeys = new Map<string, { epoch: number; key: Uint8Array }>();
  #msgCounter = 0;
  readonly #challenges = new Map<string, { target: string; at: number }>();
  /** seats the session removed for good (kicked): no grant, no registration any more */
  readonly #removed = new Set<string>();

  constructor(opts: TurnsHostOptions) {
    this.#topics = roomTopics(opts);
    this.#ctx = { game: opts.game, room: opts.room, sessionId: opts.sessionId };
    if (typeof opts.sessionId !== 'string' || opts.sessionId.length === 0 || opts.sessionId.length > 128)
      throw turnsError('turns_bad_option', 'sessionId must be 1-128 characters');
    if (opts.players.length === 0 || opts.players.length > 64) throw turnsError('turns_bad_option', 'a room seats 1 to 64 players');
    for (const p of opts.players) {
      checkId('player id', p);
      if (p === HOST_ID) throw turnsError('turns_bad_id', `player id ${HOST_ID} is reserved for the host`);
    }
    if (new Set(opts.players).size !== opts.players.length) throw turnsError('turns_bad_option', 'player ids must be unique');
    this.#players = [...opts.players];
    this.#limits = { ...DEFAULT_TURNS_LIMITS, ...(opts.limits ?? {}) };
    this.#codec = makeCodec(this.#limits.maxMessageBytes);
    this.#random = opts.random;
    this.#sign = signingKeysFromSeed(this.#bytes(32));
    this.#dh = dhKeysFromSeed(this.#bytes(32));
    this.#encrypt = opts.encrypt === true;
    this.#movesPerRound = opts.movesPerRound ?? 1;
    if (!Number.isSafeInteger(this.#movesPerRound) || this.#movesPerRound < 1) throw turnsError('turns_bad_option', 'movesPerRound must be a positive integer');
    this.#checkProof = opts.checkProof;
    this.#chain = new Chain(this.#ctx, this.#topics, ed25519PublicKey(this.#sign.publicKey)!, this.#sign.publicKey, this.#codec);
  }

  /** The host's Ed25519 public key (32 raw bytes): give it to the players in the hand-off; they pin it. */
  get publicKey(): Uint8Array {
    return this.#sign.publicKey;
  }

  get topics(): RoomTopics {
    return this.#topics;
  }

  /** The ACL the broker must enforce now (a removed seat has none). */
  get acl(): RoomAcl {
    const acl = roomAcl(
      { prefix: this.#topics.base.split('/').slice(0, -2).join('/'), game: this.#ctx.game, room: this.#ctx.room },
      this.#players,
      this.#chain.roundHex,
      this.#nextHex,
    );
    for (const p of this.#removed) delete acl.players[p];
    return acl;
  }

  /** Whether the session removed this seat (`remove`). */
  removed(playerId: string): boolean {
    return this.#removed.has(playerId);
  }

  /**
   * The session removed a seat for good (an operator's kick, a seat gone past its grace): its live
   * registration ends with a leave block, its retained registration is cleared, later ACLs leave it
   * out and a registration of it is refused (`turns_removed`). The broker must also be told (a
   * kick): this machine only stops granting it. When the others are all registered, the first
   * round no longer waits for it.
   */
  remove(playerId: string, now: number): HostAction[] {
    if (!this.#players.includes(playerId) || this.#removed.has(playerId)) return [];
    this.#removed.add(playerId);
    if (!this.#started || this.#ended) return [];
    // a leave goes through the register topic's path: held while the game judges a move
    const out = this.receive({ topic: this.#topics.register(playerId), payload: new Uint8Array(0) }, now);
    out.push({ type: 'publish', topic: this.#topics.register(playerId), payload: new Uint8Array(0), qos: 1, retain: true });
    if (this.#pending === undefined) out.push(...this.#startIfAllRegistered(now));
    return out;
  }

  /** Round 1 once every seat still in the room is registered (a removal can complete the set). */
  #startIfAllRegistered(now: number): HostAction[] {
    if (this.#chain.round !== 0 || this.#ended) return [];
    const seated = this.#players.filter((p) => !this.#removed.has(p));
    if (seated.length === 0 || !seated.every((p) => this.#chain.player(p)?.live !== undefined)) return [];
    const out = this.#append([], now, true);
    out.push({ type: 'event', event: { type: 'ready', players: [...this.#players] } });
    return out;
  }

  /** The verified log (read-only view): head, round, players. */
  get chain(): Chain {
    return this.#chain;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Sets the ACL, subscribes and publishes the genesis block (retained on ctl). */
  start(now: number): HostAction[] {
    if (this.#started) throw turnsError('turns_not_ready', 'the host has already started');
    this.#started = true;
    const first = this.#newSeed(1);
    const out: HostAction[] = [
      { type: 'acl', acl: this.acl },
      { type: 'subscribe', topics: this.acl.host.subscribe, qos: 1 },
    ];
    if (this.#encrypt) this.#newRoomKey();
    const genesis: EntryFields = ['genesis', [...this.#players], this.#sign.publicKey, this.#dh.publicKey, first, this.#encrypt, now];
    const { frame } = this.#block([genesis], now);
    // the genesis is plaintext and retained: a player needs it (the host's X25519 key) before it can open anything
    out.push({ type: 'publish', topic: this.#topics.ctl, payload: frame, qos: 1, retain: true });
    return out;
  }

  /** One MQTT message received on any topic of the room. Never throws. */
  receive(msg: InboundMessage, now: number): HostAction[] {
    if (!this.#started || this.#ended) return [];
    try {
      const t = this.#topics.parse(msg.topic);
      if (t === undefined) return [];
      if (msg.payload.length > this.#limits.maxMessageBytes) {
        const id = t.kind === 'register' || t.kind === 'sync' ? t.id : undefined;
        return this.#reject(
          id,
          msg.topic,
          msg.payload,
          'turns_message_too_large',
          `message of ${msg.payload.length} bytes is above the ${this.#limits.maxMessageBytes}-byte limit`,
          now,
        );
      }
      switch (t.kind) {
        case 'register':
          // a registration or a leave appends a block: not while the game judges a move built on the head
          if (this.#pending !== undefined) return this.#defer(msg, now);
          return msg.payload.length === 0 ? this.#onClear(t.id, now) : this.#onRegistration(t.id, msg.topic, msg.payload, now);
        case 'round':
          return this.#onMove(msg.topic, msg.payload, now);
        case 'sync':
          return this.#onSync(t.id, msg.topic, msg.payload, now);
        case 'challenge':
          return t.id === HOST_ID ? this.#onChallenge(msg.topic, msg.payload, now) : [];
        case 'ctl':
          return []; // our own announcements coming back
      }
    } catch (err) {
      // a bug must not take the host down with it: report and drop the message
      return [
        { type: 'event', event: { type: 'alert', code: 'turns_internal', playerId: undefined, message: err instanceof Error ? err.message : String(err) } },
      ];
    }
  }

  /** The game's answer to a `validate` action. */
  validated(id: number, verdict: Verdict, now: number): HostAction[] {
    const p = this.#pending;
    if (p === undefined || p.id !== id || this.#ended) return [];
    this.#pending = undefined;
    const out: HostAction[] = [];
    if (verdict.ok) {
      this.#accepted.set(`${p.playerId}:${p.seq}`, p.digest);
      let reply = verdict.reply ?? null;
      if (replySize(reply) > MAX_REPLY_BYTES) {
        // the game accepted the move (its state moved on): log it, without a reply that would not fit a block
        out.push(
          ...this.#alert('turns_too_large', p.playerId, `the game's reply to ${p.playerId}#${p.seq} is over ${MAX_REPLY_BYTES} bytes: logged without it`),
        );
        reply = null;
      }
      const entries: EntryFields[] = [['move', p.frame, reply]];
      this.#movesInRound++;
      const rotate = this.#movesInRound >= this.#movesPerRound;
      out.push(...this.#append(entries, now, rotate));
    } else {
      const code = typeof verdict.code === 'string' && ERROR_CODE_PATTERN.test(verdict.code) ? verdict.code : 'turns_illegal_move';
      const message = typeof verdict.message === 'string' ? verdict.message.slice(0, 512) : 'the game refused this move';
      out.push(...this.#reject(p.playerId, this.#chain.roundTopic ?? '', p.frame, code, message, now, p.seq));
    }
    // what waited for the verdict, in the order it came: registrations and leaves, a forced round, the end
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const m of deferred) out.push(...this.receive(m, now));
    if (this.#roundAfterPending) {
      this.#roundAfterPending = false;
      out.push(...this.nextRound(now));
    }
    if (this.#endAfterPending !== undefined) {
      const { results } = this.#endAfterPending;
      this.#endAfterPending = undefined;
      this.#queue = [];
      return [...out, ...this.end(results, now)];
    }
    out.push(...this.#drain(now));
    return out;
  }

  /** Holds a register-topic message until the pending verdict (bounded: a few per seat). */
  #defer(msg: InboundMessage, now: number): HostAction[] {
    if (this.#deferred.length >= this.#players.length * 4)
      return this.#alert('turns_rate_limited', undefined, `dropped a message on ${msg.topic}: too many wait for the game`);
    void now;
    this.#deferred.push({ topic: msg.topic, payload: msg.payload });
    return [];
  }

  /** Starts the next round now (new seed and topic) even if the current one has moves left. */
  nextRound(now: number): HostAction[] {
    if (!this.#started || this.#ended || this.#chain.round === 0) return [];
    if (this.#pending !== undefined) {
      this.#roundAfterPending = true;
      return [];
    }
    return this.#append([], now, true);
  }

  /** Encrypted rooms: a new room key for everyone; the previous one is still accepted until the next rotation. */
  rotateKey(now: number): HostAction[] {
    if (!this.#encrypt) throw turnsError('turns_bad_option', 'this room is not encrypted');
    if (this.#ended) return [];
    void now;
    this.#newRoomKey();
    const out: HostAction[] = [];
    for (const id of this.#players) out.push(...this.#sendKey(id));
    return out;
  }

  /** A host-signed game message to one player (`to`) or to all (`to` undefined). */
  send(to: string | undefined, data: unknown, now: number): HostAction[] {
    if (!this.#started || this.#ended) return [];
    if (to !== undefined && !this.#players.includes(to)) throw turnsError('turns_unknown_player', `${to} is not seated in this room`);
    const { frame } = encodeSigned('msg', this.#ctx, msgFields({ to: to ?? '', counter: ++this.#msgCounter, data, timestamp: now }), this.#sign);
    if (frame.length > this.#limits.maxMessageBytes)
      throw turnsError('turns_too_large', `message of ${frame.length} bytes is above the ${this.#limits.maxMessageBytes}-byte limit`);
    return [to === undefined ? this.#publishRoom(this.#topics.ctl, frame, 1) : this.#publishSync(to, frame)];
  }

  /** Challenges a participant to prove it holds its registered key; the answer comes as a `challenge` event. */
  challenge(target: string, now: number): HostAction[] {
    if (!this.#started || this.#ended) return [];
    if (!this.#players.includes(target)) throw turnsError('turns_unknown_player', `${target} is not seated in this room`);
    const nonce = this.#bytes(16);
    this.#expireChallenges(now);
    this.#challenges.set(Buffer.from(nonce).toString('hex'), { target, at: now });
    const { frame } = encodeSigned('chal', this.#ctx, chalFields({ from: HOST_ID, to: target, nonce, timestamp: now }), this.#sign);
    return [this.#publishRoom(this.#topics.challenge(target), frame, 1)];
  }

  /** Appends the end block, then clears every retained message of the session and unsubscribes. */
  end(results: unknown, now: number): HostAction[] {
    if (!this.#started || this.#ended) return [];
    if (this.#pending !== undefined) {
      // the game ended while judging a move (or right after): the move's verdict goes in first
      this.#endAfterPending = { results };
      return [];
    }
    const out = this.#append([['end', results ?? null]], now, false);
    this.#ended = true;
    for (const topic of [this.#topics.ctl, ...this.#players.map((p) => this.#topics.register(p))])
      out.push({ type: 'publish', topic, payload: new Uint8Array(0), qos: 1, retain: true });
    const subs = this.acl.host.subscribe;
    out.push({ type: 'unsubscribe', topics: subs });
    out.push({ type: 'event', event: { type: 'ended' } });
    return out;
  }

  // ---- registrations ----

  #onRegistration(id: string, topic: string, payload: Uint8Array, now: number): HostAction[] {
    if (!this.#players.includes(id)) return this.#alert('turns_unknown_player', undefined, `registration on ${topic} for a player who is not seated`);
    if (this.#removed.has(id)) return this.#reject(id, topic, payload, 'turns_removed', `${id} was removed from this session`, now);
    const limited = this.#limited(id, topic, payload, now);
    if (limited) return limited;
    const outer = decodeOuter(this.#codec, payload);
    if (!outer.ok || outer.value.type !== 'signed' || outer.value.kind !== 'reg')
      return this.#reject(id, topic, payload, 'turns_malformed', `registration: ${outer.ok ? 'not a signed registration' : outer.reason}`, now);
    const body = decodeBody(this.#codec, 'reg', outer.value.body, this.#ctx);
    if (!body.ok)
      return this.#reject(
        id,
        topic,
        payload,
        body.reason.startsWith('signed for') ? 'turns_wrong_session' : 'turns_malformed',
        `registration: ${body.reason}`,
        now,
      );
    const reg = parseReg(body.value);
    if (reg === undefined) return this.#reject(id, topic, payload, 'turns_malformed', 'registration: malformed fields', now);
    if (reg.playerId !== id)
      return this.#reject(id, topic, payload, 'turns_wrong_topic', `registration of ${reg.playerId} published on ${id}'s register topic`, now);
    const key = ed25519PublicKey(reg.signKey);
    if (key === undefined || x25519PublicKey(reg.dhKey) === undefined || !verifyBytes(key, outer.value.body, outer.value.sig)) {
      return [
        ...this.#reject(id, topic, payload, 'turns_bad_signature', 'registration is not signed by the key it registers', now),
        ...this.#alert('turns_bad_signature', id, 'a registration with a bad signature'),
      ];
    }
    if (reg.expiresAt <= this.#blockTime(now)) return this.#reject(id, topic, payload, 'turns_registration_expired', 'registration has expired', now);
    if (this.#checkProof && !this.#checkProof({ ...reg, sessionId: this.#ctx.sessionId }))
      return this.#reject(id, topic, payload, 'turns_bad_proof', 'registration proof was refused', now);
    const seat = this.#chain.player(id)!;
    const live = seat.live;
    if (live !== undefined && Buffer.compare(live.signKey, reg.signKey) === 0 && Buffer.compare(live.dhKey, reg.dhKey) === 0) return []; // the retained copy again
    if (!isFreshRegistration(seat, reg.signKey))
      return this.#reject(id, topic, payload, 'turns_replay', `registration of ${id} reuses a key of an earlier epoch`, now);
    if (live !== undefined) {
      this.#conflicts.set(id, { frame: payload, expiresAt: reg.expiresAt });
      return [
        ...this.#alert(
          'turns_registration_conflict',
          id,
          `a second registration for ${id} with other keys while epoch ${this.#chain.player(id)!.epoch} is live: ignored`,
        ),
        ...this.#reject(
          id,
          topic,
          payload,
          'turns_registration_conflict',
          `${id} is already registered with other keys; this registration is ignored until that one is cleared`,
          now,
        ),
      ];
    }
    return this.#accept(id, payload, now, []);
  }

  #accept(id: string, frame: Uint8Array, now: number, before: EntryFields[]): HostAction[] {
    const epoch = this.#chain.player(id)!.epoch + 1; // a leave keeps the epoch; the next registration takes the one after
    const entries: EntryFields[] = [...before, ['reg', frame, epoch]];
    this.#conflicts.delete(id);
    // the round starts once every seat has registered
    const startRound = this.#chain.round === 0 && this.#players.every((p) => p === id || this.#removed.has(p) || this.#chain.player(p)?.live !== undefined);
    const out = this.#append(entries, now, startRound);
    if (this.#encrypt) out.unshift(...this.#sendKey(id));
    const reg = this.#chain.player(id)!.live!;
    out.push({ type: 'event', event: { type: 'registered', registration: stripLive(reg) } });
    if (startRound) out.push({ type: 'event', event: { type: 'ready', players: [...this.#players] } });
    return out;
  }

  #onClear(id: string, now: number): HostAction[] {
    const p = this.#chain.player(id);
    if (!this.#players.includes(id) || p?.live === undefined) return [];
    const epoch = p.epoch;
    const waiting = this.#conflicts.get(id);
    this.#conflicts.delete(id);
    const pending = waiting !== undefined && waiting.expiresAt > this.#blockTime(now) ? waiting.frame : undefined;
    const out: HostAction[] = [{ type: 'event', event: { type: 'left', playerId: id, epoch } }];
    this.#pairKeys.delete(id);
    if (pending !== undefined) {
      // a newer registration was waiting for this one to go: take it, and put it back as the retained one
      out.push(...this.#accept(id, pending, now, [['leave', id, epoch]]));
      out.push({ type: 'publish', topic: this.#topics.register(id), payload: pending, qos: 1, retain: true });
      return out;
    }
    out.push(...this.#append([['leave', id, epoch]], now, false));
    return out;
  }

  // ---- moves ----

  #onMove(topic: string, payload: Uint8Array, now: number): HostAction[] {
    const inner = this.#openRoomFrame(topic, payload);
    if (typeof inner !== 'object')
      return this.#reject(
        undefined,
        topic,
        payload,
        inner === 'unknown_key' ? 'turns_unknown_key' : 'turns_decrypt_failed',
        'cannot open this sealed move',
        now,
      );
    const outer = decodeOuter(this.#codec, inner);
    if (!outer.ok || outer.value.type !== 'signed' || outer.value.kind !== 'move')
      return this.#reject(undefined, topic, payload, 'turns_malformed', 'not a signed move', now);
    const body = decodeBody(this.#codec, 'move', outer.value.body, this.#ctx);
    if (!body.ok)
      return this.#reject(
        undefined,
        topic,
        payload,
        body.reason.startsWith('signed for') ? 'turns_wrong_session' : 'turns_malformed',
        `move: ${body.reason}`,
        now,
      );
    const move = parseMove(body.value);
    if (move === undefined) return this.#reject(undefined, topic, payload, 'turns_malformed', 'move: malformed fields', now);
    const id = move.playerId;
    if (!this.#players.includes(id)) return this.#alert('turns_unknown_player', undefined, `a move claiming to be from ${id}, who is not seated`);
    // until the signature verifies, the claimed id is anyone's word: such refusals draw on a budget of
    // their own, so a forger cannot use up the real player's rate (the broker bounds each connection)
    const live = this.#chain.player(id)?.live;
    if (live === undefined)
      return this.#unverified(id, now) ? [] : this.#reject(id, topic, inner, 'turns_not_registered', `${id} has no live registration`, now, move.seq);
    if (!verifyBytes(live.key, outer.value.body, outer.value.sig)) {
      if (this.#unverified(id, now)) return [];
      return [
        ...this.#reject(id, topic, inner, 'turns_bad_signature', `move is not signed by ${id}'s registered key`, now, move.seq),
        ...this.#alert('turns_bad_signature', id, `a move in ${id}'s name with a bad signature`),
      ];
    }
    const limited = this.#limited(id, topic, inner, now);
    if (limited) return limited;
    // the move travels again inside a block (and a sync answer): leave room for their framing
    if (inner.length > this.#limits.maxMessageBytes - FRAMING_ROOM)
      return this.#reject(
        id,
        topic,
        inner,
        'turns_message_too_large',
        `a move may take at most ${this.#limits.maxMessageBytes - FRAMING_ROOM} bytes`,
        now,
        move.seq,
      );
    const digest = sha256(outer.value.body);
    const queued: QueuedMove = { move, frame: inner, digest, topic };
    if (this.#pending !== undefined || this.#queue.length > 0) {
      if (this.#pending !== undefined && this.#pending.playerId === id && this.#pending.seq === move.seq && Buffer.compare(this.#pending.digest, digest) === 0)
        return []; // QoS 1 duplicate
      if (this.#queue.length >= this.#limits.maxPending)
        return this.#reject(id, topic, inner, 'turns_rate_limited', 'too many moves are waiting for the game', now, move.seq);
      this.#queue.push(queued);
      return [];
    }
    return this.#process(queued, now);
  }

  #process(q: QueuedMove, now: number): HostAction[] {
    const { move, frame, digest, topic } = q;
    const id = move.playerId;
    const fail = (code: TurnsErrorCode, message: string): HostAction[] => this.#reject(id, topic, frame, code, message, now, move.seq);
    const seen = this.#accepted.get(`${id}:${move.seq}`);
    if (seen !== undefined) {
      if (Buffer.compare(seen, digest) === 0) return fail('turns_replay', `move ${id}#${move.seq} was already accepted`);
      return [
        ...this.#alert('turns_equivocation', id, `${id} signed two different moves with sequence ${move.seq}`),
        ...fail('turns_equivocation', `another move ${id}#${move.seq} was already accepted`),
      ];
    }
    const p = this.#chain.player(id)!;
    if (move.seq <= p.lastSeq) return fail('turns_replay', `sequence ${move.seq} is not after ${p.lastSeq}`);
    if (move.seq > p.lastSeq + 1) return fail('turns_sequence_gap', `sequence ${move.seq} skips ahead of ${p.lastSeq + 1}`);
    const current = this.#chain.roundTopic;
    if (move.round < this.#chain.round) return fail('turns_stale_round', `move is for round ${move.round}; round ${this.#chain.round} has started`);
    if (current === undefined || move.round !== this.#chain.round || move.topic !== topic || topic !== current)
      return fail(
        current === undefined ? 'turns_not_registered' : 'turns_wrong_topic',
        current === undefined ? 'no round has started yet' : 'move is not for the current round topic',
      );
    if (p.live !== undefined && p.live.expiresAt <= move.timestamp) return fail('turns_registration_expired', `${id}'s registration expired: register again`);
    if (Math.abs(move.timestamp - now) > this.#limits.clockSkewMs)
      return fail('turns_clock_skew', `move timestamp is ${move.timestamp - now} ms off the host clock`);
    if (Buffer.compare(move.prevHash, this.#chain.headHash) !== 0)
      return fail('turns_stale_head', `move was built on an old head; the log is at block ${this.#chain.head}`);
    const vid = this.#nextValidateId++;
    this.#pending = { id: vid, playerId: id, seq: move.seq, frame, digest };
    return [{ type: 'validate', id: vid, playerId: id, action: move.action, data: move.data, seq: move.seq }];
  }

  #drain(now: number): HostAction[] {
    const out: HostAction[] = [];
    while (this.#pending === undefined && this.#queue.length > 0) out.push(...this.#process(this.#queue.shift()!, now));
    return out;
  }

  // ---- sync and challenges ----

  #onSync(id: string, topic: string, payload: Uint8Array, now: number): HostAction[] {
    if (!this.#players.includes(id)) return [];
    const outer0 = decodeOuter(this.#codec, payload);
    if (!outer0.ok) return this.#reject(id, topic, payload, 'turns_malformed', outer0.reason, now);
    let inner = payload;
    if (outer0.value.type === 'pair') {
      const key = this.#pairKey(id);
      const opened = key && openPair(key, outer0.value.nonce, topic, outer0.value.ct);
      if (!opened) return []; // not for us, or our own frame under another epoch's key
      inner = opened;
    } else if (this.#encrypt) {
      if (outer0.value.type === 'signed' && outer0.value.kind === 'syncreq')
        return this.#reject(id, topic, payload, 'turns_malformed', 'this room takes sealed sync requests only', now);
      return [];
    }
    const outer = inner === payload ? outer0 : decodeOuter(this.#codec, inner);
    if (!outer.ok || outer.value.type !== 'signed' || outer.value.kind !== 'syncreq') return []; // our own answers echoed back
    const limited = this.#limited(id, topic, payload, now);
    if (limited) return limited;
    const body = decodeBody(this.#codec, 'syncreq', outer.value.body, this.#ctx);
    const req = body.ok ? parseSyncReq(body.value) : undefined;
    if (req === undefined || req.playerId !== id) return this.#reject(id, topic, payload, 'turns_malformed', 'malformed sync request', now);
    const live = this.#chain.player(id)?.live;
    if (live === undefined) return this.#reject(id, topic, payload, 'turns_not_registered', `${id} has no live registration: register first`, now);
    if (!verifyBytes(live.key, outer.value.body, outer.value.sig))
      return this.#reject(id, topic, payload, 'turns_bad_signature', `sync request is not signed by ${id}'s registered key`, now);
    if (Math.abs(req.timestamp - now) > this.#limits.clockSkewMs)
      return this.#reject(id, topic, payload, 'turns_clock_skew', 'sync request timestamp is off the host clock', now);
    // batch by count and by size so the answer fits one message
    const blocks: Uint8Array[] = [];
    let size = 256;
    for (let n = req.from; n <= this.#chain.head && blocks.length < this.#limits.syncBatch; n++) {
      const f = this.#chain.frames[n]!;
      if (size + f.length + 8 > this.#limits.maxMessageBytes - 128 && blocks.length > 0) break;
      blocks.push(f);
      size += f.length + 8;
    }
    const { frame } = encodeSigned('sync', this.#ctx, syncFields({ to: id, from: req.from, blocks, head: this.#chain.head, nonce: req.nonce }), this.#sign);
    return [this.#publishSync(id, frame)];
  }

  #onChallenge(topic: string, payload: Uint8Array, now: number): HostAction[] {
    const inner = this.#openRoomFrame(topic, payload);
    if (typeof inner !== 'object') return [];
    const outer = decodeOuter(this.#codec, inner);
    if (!outer.ok || outer.value.type !== 'signed' || (outer.value.kind !== 'chal' && outer.value.kind !== 'resp')) return [];
    const kind = outer.value.kind;
    const body = decodeBody(this.#codec, kind, outer.value.body, this.#ctx);
    const c = body.ok ? parseChal(body.value) : undefined;
    if (c === undefined || c.to !== HOST_ID) return [];
    const live = this.#chain.player(c.from)?.live;
    const ok = live !== undefined && verifyBytes(live.key, outer.value.body, outer.value.sig);
    if (ok ? this.#limited(c.from, topic, payload, now) : this.#unverified(c.from, now)) return [];
    if (kind === 'chal') {
      if (!ok || Math.abs(c.timestamp - now) > this.#limits.clockSkewMs) return [];
      const { frame } = encodeSigned('resp', this.#ctx, chalFields({ from: HOST_ID, to: c.from, nonce: c.nonce, timestamp: now }), this.#sign);
      return [this.#publishRoom(this.#topics.challenge(c.from), frame, 1)];
    }
    const hex = Buffer.from(c.nonce).toString('hex');
    const pending = this.#challenges.get(hex);
    if (pending === undefined || pending.target !== c.from) return [];
    this.#challenges.delete(hex);
    return [{ type: 'event', event: { type: 'challenge', from: c.from, verified: ok } }];
  }

  #expireChallenges(now: number): void {
    for (const [k, v] of this.#challenges) if (now - v.at > this.#limits.clockSkewMs) this.#challenges.delete(k);
    // a bounded table even if nobody answers
    while (this.#challenges.size >= 256) this.#challenges.delete(this.#challenges.keys().next().value!);
  }

  // ---- helpers ----

  /** A block's time: the host clock, but never before the previous block (a clock stepped back must not break the chain). */
  #blockTime(now: number): number {
    return Math.max(now, this.#chain.timestamp);
  }

  #bytes(n: number): Uint8Array {
    const b = this.#random(n);
    if (!(b instanceof Uint8Array) || b.length !== n) throw turnsError('turns_bad_option', `random(${n}) must return ${n} bytes`);
    return b;
  }

  /** A fresh seed for `round`, whose topic was never used in this room; returns its commitment. */
  #newSeed(round: number): Uint8Array {
    for (let i = 0; i < 8; i++) {
      const seed = this.#bytes(32);
      const hex = roundTopicHex(this.#ctx.game, this.#ctx.room, round, seed, TOPIC_HEX_CHARS);
      if (this.#usedTopics.has(hex)) continue;
      this.#usedTopics.add(hex);
      this.#nextSeed = seed;
      this.#nextHex = hex;
      return roundCommitment(this.#ctx.game, this.#ctx.room, round, seed);
    }
    throw turnsError('turns_topic_collision', 'eight fresh seeds gave round topics already used: the random source is broken');
  }

  #block(entries: EntryFields[], now: number): { frame: Uint8Array; block: Block } {
    const { frame } = encodeSigned(
      'block',
      this.#ctx,
      blockFields({
        number: this.#chain.head + 1,
        timestamp: this.#blockTime(now),
        prevHash: this.#chain.head < 0 ? ZERO_HASH : this.#chain.headHash,
        entries,
      }),
      this.#sign,
    );
    const r = this.#chain.append(frame, true);
    if (!r.ok) throw turnsError('turns_bad_chain', `the host built a block its own chain refuses: ${r.reason}`);
    return { frame, block: r.value };
  }

  /** Appends a block (with the next round when `rotate`), and the actions that announce it. */
  #append(entries: EntryFields[], now: number, rotate: boolean): HostAction[] {
    const out: HostAction[] = [];
    const oldTopic = this.#chain.roundTopic;
    if (rotate) {
      const round = this.#chain.round + 1;
      const seed = this.#nextSeed!;
      const next = this.#newSeed(round + 1);
      entries = [...entries, ['round', round, seed, next]];
      this.#movesInRound = 0;
    }
    const { frame, block } = this.#block(entries, now);
    if (rotate) {
      const topic = this.#chain.roundTopic!;
      // the broker granted this topic (and we subscribed to it) a round ahead, with the round before
      // (or at start): the block goes out first and the round change waits for no grant round trip.
      // Then the next round's topic is granted and the old one retired, while players verify.
      out.push(this.#publishRoom(this.#topics.ctl, frame, QOS_ROUND));
      out.push({ type: 'acl', acl: this.acl }, { type: 'subscribe', topics: [this.#topics.round(this.#nextHex!)], qos: 1 });
      if (oldTopic !== undefined) out.push({ type: 'unsubscribe', topics: [oldTopic] });
      out.push({ type: 'event', event: { type: 'round', round: this.#chain.round, topic } });
    } else {
      out.push(this.#publishRoom(this.#topics.ctl, frame, 1));
    }
    out.push({ type: 'event', event: { type: 'block', block } });
    return out;
  }

  #newRoomKey(): void {
    this.#keyId++;
    this.#roomKeys.set(this.#keyId, this.#bytes(32));
    // the current and the previous key open incoming frames; older ones are gone
    this.#roomKeys.delete(this.#keyId - 2);
  }

  #sendKey(id: string): HostAction[] {
    if (this.#chain.player(id)?.live === undefined) return [];
    const { frame } = encodeSigned('key', this.#ctx, keyFields({ to: id, keyId: this.#keyId, key: this.#roomKeys.get(this.#keyId)! }), this.#sign);
    return [this.#publishSync(id, frame)];
  }

  #pairKey(id: string): Uint8Array | undefined {
    const p = this.#chain.player(id);
    if (p?.live === undefined) return undefined;
    const cached = this.#pairKeys.get(id);
    if (cached?.epoch === p.epoch) return cached.key;
    const peer = x25519PublicKey(p.live.dhKey);
    if (peer === undefined) return undefined;
    const key = pairKey(this.#dh, peer, { ...this.#ctx, playerId: id, hostDh: this.#dh.publicKey, playerDh: p.live.dhKey });
    this.#pairKeys.set(id, { epoch: p.epoch, key });
    return key;
  }

  /** A sealed frame opened with the room key (or the frame itself in a plain room); a string says why not. */
  #openRoomFrame(topic: string, payload: Uint8Array): Uint8Array | 'unknown_key' | 'failed' {
    if (!this.#encrypt) return payload;
    const outer = decodeOuter(this.#codec, payload);
    if (!outer.ok || outer.value.type !== 'sealed') return 'failed';
    const key = this.#roomKeys.get(outer.value.keyId);
    if (key === undefined) return 'unknown_key';
    return openRoom(key, outer.value.keyId, outer.value.nonce, topic, outer.value.ct) ?? 'failed';
  }

  #publishRoom(topic: string, frame: Uint8Array, qos: 1 | 2): HostAction {
    const payload = this.#encrypt ? sealRoom(this.#roomKeys.get(this.#keyId)!, this.#keyId, this.#bytes(12), topic, frame) : frame;
    return { type: 'publish', topic, payload, qos, retain: false };
  }

  /** To one player's sync topic: sealed with the pair key when the room is encrypted and the player registered. */
  #publishSync(id: string, frame: Uint8Array): HostAction {
    const topic = this.#topics.sync(id);
    const key = this.#encrypt ? this.#pairKey(id) : undefined;
    const payload = key ? sealPair(key, this.#bytes(12), topic, frame) : frame;
    return { type: 'publish', topic, payload, qos: 1, retain: false };
  }

  /** Counts an unauthenticated refusal in `id`'s name; true once over the window's budget (then dropped silently). */
  #unverified(id: string, now: number): boolean {
    let r = this.#forged.get(id);
    if (r === undefined || now - r.start >= this.#limits.rateWindowMs || now < r.start) {
      r = { start: now, count: 0, told: false };
      this.#forged.set(id, r);
    }
    return ++r.count > this.#limits.ratePerWindow;
  }

  /** Counts a message against its player's window; the first one over the limit is told, the rest dropped. */
  #limited(id: string, topic: string, payload: Uint8Array, now: number): HostAction[] | undefined {
    let r = this.#rate.get(id);
    if (r === undefined || now - r.start >= this.#limits.rateWindowMs || now < r.start) {
      r = { start: now, count: 0, told: false };
      this.#rate.set(id, r);
    }
    r.count++;
    if (r.count <= this.#limits.ratePerWindow) return undefined;
    if (r.told) return [];
    r.told = true;
    return this.#reject(id, topic, payload, 'turns_rate_limited', `more than ${this.#limits.ratePerWindow} messages in ${this.#limits.rateWindowMs} ms`, now);
  }

  #alert(code: string, playerId: string | undefined, message: string): HostAction[] {
    return [{ type: 'event', event: { type: 'alert', code, playerId, message } }];
  }

  /**
   * A `rejected` event, and a host-signed reject frame on the player's sync topic when the sender is a
   * seated player. `payload` is what its digest names: the signed frame of a move (so the mover can
   * tell its own refused move from one forged in its name), or the message as received.
   */
  #reject(playerId: string | undefined, topic: string, payload: Uint8Array, code: string, message: string, now: number, seq?: number): HostAction[] {
    const rejection: Rejection = seq === undefined ? { code, message } : { code, message, seq };
    const out: HostAction[] = [{ type: 'event', event: { type: 'rejected', playerId, rejection, topic } satisfies HostEvent }];
    if (playerId === undefined || !this.#players.includes(playerId)) return out;
    const { frame } = encodeSigned(
      'reject',
      this.#ctx,
      rejectFields({ to: playerId, code, message, seq: seq ?? null, digest: sha256(payload), timestamp: now }),
      this.#sign,
    );
    out.unshift(this.#publishSync(playerId, frame));
    return out;
  }
}

/** MsgPack size of a game's reply; unencodable counts as too large. */
function replySize(reply: unknown): number {
  try {
    return pack(reply).length;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function stripLive(r: Registration & { key?: KeyObject; frame?: Uint8Array }): Registration {
  return { playerId: r.playerId, sessionId: r.sessionId, epoch: r.epoch, signKey: r.signKey, dhKey: r.dhKey, expiresAt: r.expiresAt, proof: r.proof };
}
