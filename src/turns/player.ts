/**
 * A player's side of a turn-based room. Sans-IO like the host: MQTT messages and the time come in,
 * actions and events come out; randomness is injected. The host key is pinned from the hand-off and
 * every block is verified against it, from genesis: the player holds the same `Chain` as the host.
 *
 * Life of a player: `start` subscribes and publishes its registration (retained, with `will` set on
 * the connection). The genesis arrives retained on ctl; the block with its registration arrives on
 * ctl; a block number ahead of its head makes it ask its sync topic for the missing blocks. Once its
 * registration is in the verified chain, the chain has caught up with the host and a round has
 * started, `ready` is true and `move` may be called. After a reconnect, `start` again; a new process
 * (keys lost) is a new `TurnsPlayer`: it registers anew (the host accepts it once the old
 * registration is cleared by the will) and verifies the chain from genesis.
 */
import type { KeyObject } from 'node:crypto';
import type { MsgpackCodec } from '../protocol/codec.js';
import {
  type DhKeys,
  dhKeysFromSeed,
  ed25519PublicKey,
  pairKey,
  type SigningKeys,
  sha256,
  signingKeysFromSeed,
  verifyBytes,
  x25519PublicKey,
} from './crypto.js';
import { turnsError } from './errors.js';
import { Chain } from './log.js';
import { checkId, HOST_ID, type RoomRef, type RoomTopics, roomTopics } from './topics.js';
import { type Block, DEFAULT_TURNS_LIMITS, type InboundMessage, type PlayerAction, type RandomSource, type TurnsLimits } from './types.js';
import {
  type Context,
  chalFields,
  decodeBody,
  decodeOuter,
  encodeSigned,
  makeCodec,
  moveFields,
  openPair,
  openRoom,
  type Outer,
  parseBlock,
  parseChal,
  parseKey,
  parseMsg,
  parseReject,
  parseSync,
  regFields,
  sealPair,
  sealRoom,
  syncReqFields,
} from './wire.js';

export interface TurnsPlayerOptions extends RoomRef {
  sessionId: string;
  playerId: string;
  /** the host's Ed25519 public key from the hand-off: never learned from the broker */
  hostKey: Uint8Array;
  random: RandomSource;
  /** the time `start` is first called (ms); the registration is dated with it */
  now: number;
  /** how long the registration is valid, ms (default 6 hours) */
  registrationTtlMs?: number;
  /** opaque proof from the hand-off, carried in the registration (default empty) */
  proof?: Uint8Array;
  limits?: Partial<TurnsLimits>;
}

/** How long a sent move may go unanswered before another may be sent (ms). */
const MOVE_ANSWER_MS = 10_000;
/** How long a sync request may go unanswered before `tick` asks again (ms). */
const SYNC_RETRY_MS = 3_000;

export class TurnsPlayer {
  readonly playerId: string;
  readonly #ctx: Context;
  readonly #topics: RoomTopics;
  readonly #limits: TurnsLimits;
  readonly #codec: MsgpackCodec;
  readonly #random: RandomSource;
  readonly #sign: SigningKeys;
  readonly #dh: DhKeys;
  readonly #hostKey: KeyObject;
  readonly #hostKeyRaw: Uint8Array;
  readonly #regFrame: Uint8Array;
  #chain: Chain;
  #pairKey: Uint8Array | undefined;
  readonly #roomKeys = new Map<number, Uint8Array>();
  /** blocks ahead of the head, and sealed frames waiting for their key or for the genesis */
  #ahead = new Map<number, Uint8Array>();
  #waiting: InboundMessage[] = [];
  /** the host's head as last told by a sync answer; -1 while unknown */
  #hostHead = -1;
  #syncing = false;
  #syncNonce: Uint8Array | undefined;
  #inflight: { seq: number; at: number; frame: Uint8Array } | undefined;
  /** last host message counter seen on ctl (to all) and on our sync topic: MQTT keeps order per topic only */
  #lastMsg = { all: 0, mine: 0 };
  readonly #challenges = new Map<string, { target: string; at: number }>();
  #ended = false;
  readonly #sent: string[] = [];
  #answers = { start: 0, count: 0 };
  #regDigest = '';
  #syncAt = 0;
  #retry = false;
  /** learned from the genesis, kept across `resync` */
  #encryptedRoom = false;

  constructor(opts: TurnsPlayerOptions) {
    this.#topics = roomTopics(opts);
    this.playerId = checkId('player id', opts.playerId);
    if (this.playerId === HOST_ID) throw turnsError('turns_bad_id', `player id ${HOST_ID} is reserved for the host`);
    if (typeof opts.sessionId !== 'string' || opts.sessionId.length === 0 || opts.sessionId.length > 128)
      throw turnsError('turns_bad_option', 'sessionId must be 1-128 characters');
    this.#ctx = { game: opts.game, room: opts.room, sessionId: opts.sessionId };
    const hostKey = ed25519PublicKey(opts.hostKey);
    if (hostKey === undefined) throw turnsError('turns_bad_option', 'hostKey must be the 32-byte Ed25519 public key from the hand-off');
    this.#hostKey = hostKey;
    this.#hostKeyRaw = opts.hostKey;
    this.#limits = { ...DEFAULT_TURNS_LIMITS, ...(opts.limits ?? {}) };
    this.#codec = makeCodec(this.#limits.maxMessageBytes);
    this.#random = opts.random;
    this.#sign = signingKeysFromSeed(this.#bytes(32));
    this.#dh = dhKeysFromSeed(this.#bytes(32));
    const ttl = opts.registrationTtlMs ?? 6 * 3600_000;
    this.#regFrame = encodeSigned(
      'reg',
      this.#ctx,
      regFields({
        playerId: this.playerId,
        signKey: this.#sign.publicKey,
        dhKey: this.#dh.publicKey,
        expiresAt: opts.now + ttl,
        proof: opts.proof ?? new Uint8Array(0),
        createdAt: opts.now,
      }),
      this.#sign,
    ).frame;
    this.#regDigest = Buffer.from(sha256(this.#regFrame)).toString('hex');
    this.#chain = this.#newChain();
  }

  /** The will to set when connecting: an empty retained message on this player's register topic. */
  get will(): { topic: string; payload: Uint8Array; qos: 1; retain: true } {
    return { topic: this.#topics.register(this.playerId), payload: new Uint8Array(0), qos: 1, retain: true };
  }

  /** This player's Ed25519 public key for this session. */
  get publicKey(): Uint8Array {
    return this.#sign.publicKey;
  }

  get topics(): RoomTopics {
    return this.#topics;
  }

  /** The verified log. */
  get chain(): Chain {
    return this.#chain;
  }

  /** This player's registration is live in the verified chain (with this object's keys). */
  get registered(): boolean {
    const live = this.#chain.player(this.playerId)?.live;
    return live !== undefined && Buffer.compare(live.signKey, this.#sign.publicKey) === 0;
  }

  /** True once registered, caught up with the host's log and in a round: `move` may be called. */
  get ready(): boolean {
    return (
      !this.#ended &&
      !this.#chain.ended &&
      this.registered &&
      !this.#syncing &&
      this.#chain.head >= this.#hostHead &&
      this.#chain.round > 0 &&
      (!this.#encryptedRoom || this.#roomKeys.size > 0)
    );
  }

  get ended(): boolean {
    return this.#ended || this.#chain.ended;
  }

  /** Subscribes and publishes the registration (retained). Call again after a reconnect. */
  start(now: number): PlayerAction[] {
    // no round topic subscription: moves reach players inside the host's blocks, so a player only
    // publishes there (half the deliveries of every move)
    const out: PlayerAction[] = [
      { type: 'subscribe', topics: [this.#topics.ctl], qos: 2 },
      { type: 'subscribe', topics: [this.#topics.sync(this.playerId), this.#topics.challenge(this.playerId)], qos: 1 },
      { type: 'publish', topic: this.#topics.register(this.playerId), payload: this.#regFrame, qos: 1, retain: true },
    ];
    if (this.registered) out.push(...this.#requestSync(this.#chain.head + 1, now));
    return out;
  }

  /** One MQTT message received on any topic of the room. Never throws. */
  receive(msg: InboundMessage, now: number): PlayerAction[] {
    if (this.#ended) return [];
    try {
      const was = this.ready;
      const out = this.#dispatch(msg, now);
      if (this.#retry) out.push(...this.#retryWaiting(now));
      if (!was && this.ready) out.push({ type: 'event', event: { type: 'ready' } });
      return out;
    } catch (err) {
      return [{ type: 'event', event: { type: 'alert', code: 'turns_internal', message: err instanceof Error ? err.message : String(err) } }];
    }
  }

  /** Asks again for a sync answer that did not come (call every few seconds; cheap when idle). */
  tick(now: number): PlayerAction[] {
    if (this.#ended || !this.#syncing || this.#syncNonce === undefined || now - this.#syncAt < SYNC_RETRY_MS) return [];
    return this.#requestSync(this.#chain.head + 1, now);
  }

  #dispatch(msg: InboundMessage, now: number): PlayerAction[] {
    const t = this.#topics.parse(msg.topic);
    if (t === undefined || msg.payload.length === 0 || msg.payload.length > this.#limits.maxMessageBytes) return [];
    const outer = decodeOuter(this.#codec, msg.payload);
    if (!outer.ok) return [];
    if (t.kind === 'ctl') return this.#onCtl(msg, outer.value, now);
    if (t.kind === 'sync' && t.id === this.playerId) return this.#onSync(msg, outer.value, now);
    if (t.kind === 'challenge' && t.id === this.playerId) return this.#onChallenge(msg, outer.value, now);
    return []; // round topics (moves reach us in blocks), registers, others' topics
  }

  /** Signs a move and publishes it on the current round topic (QoS 1). Throws `turns_not_ready` before `ready`. */
  move(action: string, data: unknown, now: number): PlayerAction[] {
    if (this.ended) throw turnsError('turns_ended', 'the session has ended');
    if (!this.ready)
      throw turnsError(
        'turns_not_ready',
        this.registered ? 'waiting for the log to catch up or the first round' : 'waiting for the host to accept this registration',
      );
    if (this.#inflight !== undefined && now - this.#inflight.at < MOVE_ANSWER_MS)
      throw turnsError('turns_not_ready', `move #${this.#inflight.seq} is still waiting for the host`);
    if (typeof action !== 'string' || action.length === 0 || action.length > 64) throw turnsError('turns_bad_option', 'action must be 1-64 characters');
    const seq = this.#chain.player(this.playerId)!.lastSeq + 1;
    const topic = this.#chain.roundTopic!;
    const { frame } = encodeSigned(
      'move',
      this.#ctx,
      moveFields({
        playerId: this.playerId,
        action,
        data,
        nonce: this.#bytes(16),
        seq,
        timestamp: now,
        prevHash: this.#chain.headHash,
        round: this.#chain.round,
        topic,
      }),
      this.#sign,
    );
    const payload = this.#sealRoom(topic, frame);
    if (payload.length > this.#limits.maxMessageBytes)
      throw turnsError('turns_too_large', `move of ${payload.length} bytes is above the ${this.#limits.maxMessageBytes}-byte limit`);
    this.#inflight = { seq, at: now, frame };
    this.#remember(frame);
    return [{ type: 'publish', topic, payload, qos: 1, retain: false }];
  }

  /** Challenges another participant (or the host, `HOST_ID`) to prove it holds its registered key. */
  challenge(target: string, now: number): PlayerAction[] {
    checkId('participant id', target);
    if (target === this.playerId) throw turnsError('turns_bad_option', 'a player does not challenge itself');
    if (!this.registered) throw turnsError('turns_not_ready', 'register before challenging');
    for (const [k, v] of this.#challenges) if (now - v.at > this.#limits.clockSkewMs) this.#challenges.delete(k);
    if (this.#challenges.size >= 64) throw turnsError('turns_not_ready', 'too many challenges are waiting for an answer');
    const nonce = this.#bytes(16);
    this.#challenges.set(Buffer.from(nonce).toString('hex'), { target, at: now });
    const topic = this.#topics.challenge(target);
    const { frame } = encodeSigned('chal', this.#ctx, chalFields({ from: this.playerId, to: target, nonce, timestamp: now }), this.#sign);
    return [{ type: 'publish', topic, payload: this.#sealRoom(topic, frame), qos: 1, retain: false }];
  }

  /** Drops the local log and fetches it again from genesis (after a reconnect); play waits for `synced`. */
  resync(now: number): PlayerAction[] {
    if (this.ended) return [];
    // not registered (yet, or again after a will): the host refuses this request, and the block with
    // our registration, when it comes, shows a gap that asks again
    this.#chain = this.#newChain();
    this.#ahead.clear();
    return this.#requestSync(0, now);
  }

  /** Clears this player's registration (an empty retained publish), as a clean leave. */
  leave(): PlayerAction[] {
    this.#ended = true;
    return [{ type: 'publish', topic: this.#topics.register(this.playerId), payload: new Uint8Array(0), qos: 1, retain: true }];
  }

  // ---- inbound ----

  #onCtl(msg: InboundMessage, outer: Outer, now: number): PlayerAction[] {
    let frame = msg.payload;
    let o = outer;
    if (o.type === 'sealed') {
      const key = this.#roomKeys.get(o.keyId);
      if (key === undefined) return this.#wait(msg);
      const opened = openRoom(key, o.keyId, o.nonce, msg.topic, o.ct);
      if (opened === undefined) return this.#alert('turns_decrypt_failed', 'a sealed frame on ctl did not open');
      const inner = decodeOuter(this.#codec, opened);
      if (!inner.ok) return [];
      frame = opened;
      o = inner.value;
    }
    if (o.type !== 'signed') return [];
    if (o.kind === 'block') return this.#onBlock(frame, o, now);
    if (o.kind === 'msg') return this.#onMsg(o);
    return [];
  }

  #onSync(msg: InboundMessage, outer: Outer, now: number): PlayerAction[] {
    let o = outer;
    if (o.type === 'pair') {
      if (this.#pairKey === undefined) return this.#wait(msg);
      const opened = openPair(this.#pairKey, o.nonce, msg.topic, o.ct);
      if (opened === undefined) return [];
      const inner = decodeOuter(this.#codec, opened);
      if (!inner.ok) return [];
      o = inner.value;
    }
    if (o.type !== 'signed' || !verifyBytes(this.#hostKey, o.body, o.sig)) return [];
    const body = decodeBody(this.#codec, o.kind, o.body, this.#ctx);
    if (!body.ok) return [];
    switch (o.kind) {
      case 'reject': {
        const r = parseReject(body.value);
        if (r === undefined || r.to !== this.playerId) return [];
        // a QoS 1 duplicate of a move already in the log (ours, or a copy of it): nothing to tell
        if (r.code === 'turns_replay' && r.seq !== null && r.seq <= (this.#chain.player(this.playerId)?.lastSeq ?? 0)) return [];
        // the digest names what was refused: something this object sent, or something sent in our name
        if (!this.#sentByMe(r.digest)) return this.#alert(r.code, `a message in ${this.playerId}'s name, not sent by this player, was refused: ${r.message}`);
        if (r.seq !== null && this.#inflight?.seq === r.seq) this.#inflight = undefined;
        // asked before the host had our registration: the next gap asks again
        if (r.code === 'turns_not_registered' && r.seq === null) this.#syncing = false;
        return [
          {
            type: 'event',
            event: { type: 'rejected', rejection: r.seq === null ? { code: r.code, message: r.message } : { code: r.code, message: r.message, seq: r.seq } },
          },
        ];
      }
      case 'key': {
        const k = parseKey(body.value);
        // a room key only ever travels sealed with the pair key
        if (k === undefined || k.to !== this.playerId || outer.type !== 'pair') return [];
        this.#roomKeys.set(k.keyId, k.key);
        this.#roomKeys.delete(k.keyId - 2);
        this.#retry = true;
        return [];
      }
      case 'sync': {
        const s = parseSync(body.value);
        if (s === undefined || s.to !== this.playerId || this.#syncNonce === undefined || Buffer.compare(s.nonce, this.#syncNonce) !== 0) return [];
        return this.#onSyncAnswer(s.blocks, s.head, now);
      }
      case 'msg':
        return this.#onMsg(o);
      default:
        return [];
    }
  }

  #onSyncAnswer(blocks: Uint8Array[], head: number, now: number): PlayerAction[] {
    this.#syncNonce = undefined;
    this.#syncing = false;
    this.#hostHead = Math.max(this.#hostHead, head);
    const out: PlayerAction[] = [];
    for (const frame of blocks) {
      const n = this.#peekNumber(frame);
      if (n === undefined || n <= this.#chain.head) continue;
      if (n !== this.#chain.head + 1) break;
      const r = this.#apply(frame);
      if (!r.ok) {
        // a tampered or forked chain: keep what verified, play nothing on top of it
        this.#syncing = true;
        return [...out, ...this.#alert('turns_bad_chain', `the log from the host does not verify: ${r.reason}`)];
      }
      out.push(...r.actions);
    }
    out.push(...this.#applyAhead());
    if (this.#chain.head < this.#hostHead) out.push(...this.#requestSync(this.#chain.head + 1, now));
    else out.push({ type: 'event', event: { type: 'synced', head: this.#chain.head } });
    return out;
  }

  #onBlock(frame: Uint8Array, o: Extract<Outer, { type: 'signed' }>, now: number): PlayerAction[] {
    // only the pinned host signs blocks: check before buffering anything
    if (!verifyBytes(this.#hostKey, o.body, o.sig)) return this.#alert('turns_bad_signature', 'a block on ctl is not signed by the pinned host key');
    const n = this.#peekNumber(frame);
    if (n === undefined) return [];
    if (n <= this.#chain.head) return this.#checkFork(n, o.body);
    if (n > this.#chain.head + 1) {
      if (this.#ahead.size < this.#limits.maxPending) this.#ahead.set(n, frame);
      this.#hostHead = Math.max(this.#hostHead, n);
      // the host answers once it has our registration (maybe in this very block): ask unless a request is out
      return this.#syncing ? [] : this.#requestSync(this.#chain.head + 1, now);
    }
    const r = this.#apply(frame, true);
    if (!r.ok) return this.#alert('turns_bad_chain', `block ${n} does not verify: ${r.reason}`);
    this.#hostHead = Math.max(this.#hostHead, n);
    const out = [...r.actions, ...this.#applyAhead()];
    // our registration arrived after blocks we never saw: fetch them now that the host will answer
    if (this.#chain.head < this.#hostHead && !this.#syncing) out.push(...this.#requestSync(this.#chain.head + 1, now));
    return out;
  }

  /** A second host-signed block with a number already in the log: the same one again, or a fork the host signed. */
  #checkFork(n: number, body: Uint8Array): PlayerAction[] {
    const stored = this.#chain.frames[n];
    const outer = stored && decodeOuter(this.#codec, stored);
    if (!outer || !outer.ok || outer.value.type !== 'signed' || Buffer.compare(outer.value.body, body) === 0) return [];
    return this.#alert('turns_fork', `the host signed two different blocks numbered ${n}`);
  }

  #applyAhead(): PlayerAction[] {
    const out: PlayerAction[] = [];
    for (;;) {
      const next = this.#ahead.get(this.#chain.head + 1);
      if (next === undefined) break;
      this.#ahead.delete(this.#chain.head + 1);
      const r = this.#apply(next);
      if (!r.ok) break;
      out.push(...r.actions);
    }
    for (const k of this.#ahead.keys()) if (k <= this.#chain.head) this.#ahead.delete(k);
    return out;
  }

  /** Appends a verified block and turns its entries into actions and events. */
  #apply(frame: Uint8Array, hostSignatureChecked = false): { ok: true; actions: PlayerAction[] } | { ok: false; reason: string } {
    const r = this.#chain.append(frame, false, hostSignatureChecked, this.#inflight?.frame);
    if (!r.ok) return r;
    const block: Block = r.value;
    const out: PlayerAction[] = [];
    for (const e of block.entries) {
      if (e.kind === 'genesis') {
        const peer = x25519PublicKey(e.session.hostDhKey);
        if (peer !== undefined)
          this.#pairKey = pairKey(this.#dh, peer, { ...this.#ctx, playerId: this.playerId, hostDh: e.session.hostDhKey, playerDh: this.#dh.publicKey });
        this.#encryptedRoom = e.session.encrypted;
        if (!e.session.players.includes(this.playerId))
          out.push(...this.#alert('turns_unknown_player', `${this.playerId} is not seated in this session (players: ${e.session.players.join(', ')})`));
        this.#retry = true;
      } else if (e.kind === 'register' && e.registration.playerId === this.playerId && Buffer.compare(e.registration.signKey, this.#sign.publicKey) === 0) {
        out.push({ type: 'event', event: { type: 'registered', epoch: e.registration.epoch } });
      } else if (e.kind === 'move' && e.move.playerId === this.playerId && this.#inflight?.seq === e.move.seq) {
        this.#inflight = undefined;
      } else if (e.kind === 'end') {
        out.push({ type: 'event', event: { type: 'ended', results: e.results } });
      }
    }
    out.push({ type: 'event', event: { type: 'block', block } });
    for (const e of block.entries) if (e.kind === 'round') out.push({ type: 'event', event: { type: 'round', round: e.round, topic: e.topic } });
    if (this.#chain.ended) {
      // nothing of the session stays behind: clear our registration ourselves too
      out.push({
        type: 'unsubscribe',
        topics: [this.#topics.ctl, this.#topics.sync(this.playerId), this.#topics.challenge(this.playerId)],
      });
      out.push(...this.leave());
    }
    return { ok: true, actions: out };
  }

  #onMsg(o: Extract<Outer, { type: 'signed' }>): PlayerAction[] {
    if (!verifyBytes(this.#hostKey, o.body, o.sig)) return [];
    const body = decodeBody(this.#codec, 'msg', o.body, this.#ctx);
    const m = body.ok ? parseMsg(body.value) : undefined;
    if (m === undefined || (m.to !== '' && m.to !== this.playerId)) return [];
    const channel = m.to === '' ? 'all' : 'mine';
    if (m.counter <= this.#lastMsg[channel]) return []; // a replay
    this.#lastMsg[channel] = m.counter;
    return [{ type: 'event', event: { type: 'message', data: m.data } }];
  }

  #onChallenge(msg: InboundMessage, outer: Outer, now: number): PlayerAction[] {
    let o = outer;
    if (o.type === 'sealed') {
      const key = this.#roomKeys.get(o.keyId);
      if (key === undefined) return this.#wait(msg);
      const opened = openRoom(key, o.keyId, o.nonce, msg.topic, o.ct);
      const inner = opened && decodeOuter(this.#codec, opened);
      if (!inner || !inner.ok) return [];
      o = inner.value;
    }
    if (o.type !== 'signed' || (o.kind !== 'chal' && o.kind !== 'resp')) return [];
    const body = decodeBody(this.#codec, o.kind, o.body, this.#ctx);
    const c = body.ok ? parseChal(body.value) : undefined;
    if (c === undefined || c.to !== this.playerId) return [];
    const key = c.from === HOST_ID ? this.#hostKey : this.#chain.player(c.from)?.live?.key;
    const ok = key !== undefined && verifyBytes(key, o.body, o.sig);
    if (o.kind === 'chal') {
      if (!ok || Math.abs(c.timestamp - now) > this.#limits.clockSkewMs || !this.registered) return [];
      // answering costs a signature: at most ratePerWindow answers per window, to everyone together
      if (now - this.#answers.start >= this.#limits.rateWindowMs || now < this.#answers.start) this.#answers = { start: now, count: 0 };
      if (++this.#answers.count > this.#limits.ratePerWindow) return [];
      const topic = this.#topics.challenge(c.from);
      const { frame } = encodeSigned('resp', this.#ctx, chalFields({ from: this.playerId, to: c.from, nonce: c.nonce, timestamp: now }), this.#sign);
      return [{ type: 'publish', topic, payload: this.#sealRoom(topic, frame), qos: 1, retain: false }];
    }
    const hex = Buffer.from(c.nonce).toString('hex');
    const pending = this.#challenges.get(hex);
    if (pending === undefined || pending.target !== c.from) return [];
    this.#challenges.delete(hex);
    return [{ type: 'event', event: { type: 'challenge', from: c.from, verified: ok } }];
  }

  // ---- helpers ----

  #newChain(): Chain {
    return new Chain(this.#ctx, this.#topics, this.#hostKey, this.#hostKeyRaw, this.#codec);
  }

  #bytes(n: number): Uint8Array {
    const b = this.#random(n);
    if (!(b instanceof Uint8Array) || b.length !== n) throw turnsError('turns_bad_option', `random(${n}) must return ${n} bytes`);
    return b;
  }

  /** A block frame's number, read before it is verified (only to order and buffer; `Chain.append` verifies). */
  #peekNumber(frame: Uint8Array): number | undefined {
    const outer = decodeOuter(this.#codec, frame);
    if (!outer.ok || outer.value.type !== 'signed' || outer.value.kind !== 'block') return undefined;
    const body = decodeBody(this.#codec, 'block', outer.value.body, this.#ctx);
    return body.ok ? parseBlock(body.value)?.number : undefined;
  }

  #requestSync(from: number, now: number): PlayerAction[] {
    const nonce = this.#bytes(16);
    this.#syncNonce = nonce;
    this.#syncing = true;
    this.#syncAt = now;
    const topic = this.#topics.sync(this.playerId);
    const { frame } = encodeSigned('syncreq', this.#ctx, syncReqFields({ playerId: this.playerId, from, nonce, timestamp: now }), this.#sign);
    const encrypted = this.#pairKey !== undefined && this.#encrypted();
    const payload = encrypted ? sealPair(this.#pairKey!, this.#bytes(12), topic, frame) : frame;
    this.#remember(payload);
    return [{ type: 'publish', topic, payload, qos: 1, retain: false }];
  }

  /** Digests of what this player sent lately (moves' signed frames, sync requests): rejections name one. */
  #remember(bytes: Uint8Array): void {
    this.#sent.push(Buffer.from(sha256(bytes)).toString('hex'));
    if (this.#sent.length > 16) this.#sent.shift();
  }

  /** True for a digest of something this player sent; each sent message is answered once (a replayed refusal is not ours). */
  #sentByMe(digest: Uint8Array): boolean {
    const hex = Buffer.from(digest).toString('hex');
    if (hex === this.#regDigest) return true;
    const i = this.#sent.indexOf(hex);
    if (i < 0) return false;
    this.#sent.splice(i, 1);
    return true;
  }

  #encrypted(): boolean {
    return this.#encryptedRoom;
  }

  #sealRoom(topic: string, frame: Uint8Array): Uint8Array {
    if (!this.#encrypted()) return frame;
    let keyId = 0;
    for (const k of this.#roomKeys.keys()) keyId = Math.max(keyId, k);
    const key = this.#roomKeys.get(keyId);
    if (key === undefined) throw turnsError('turns_not_ready', 'no room key from the host yet');
    return sealRoom(key, keyId, this.#bytes(12), topic, frame);
  }

  /** Holds a frame that cannot be opened yet (its key or the genesis has not arrived); bounded. */
  #wait(msg: InboundMessage): PlayerAction[] {
    if (this.#waiting.length < this.#limits.maxPending) this.#waiting.push({ topic: msg.topic, payload: msg.payload });
    return [];
  }

  /** Once a key arrived (the pair key with the genesis, or a room key), the held frames are tried again. */
  #retryWaiting(now: number): PlayerAction[] {
    const out: PlayerAction[] = [];
    // each pass may unlock more (a block gives the genesis, a key opens blocks); bounded by the held frames
    for (let pass = 0; this.#retry && pass <= this.#limits.maxPending; pass++) {
      this.#retry = false;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const m of waiting) out.push(...this.#dispatch(m, now));
    }
    this.#retry = false;
    return out;
  }

  #alert(code: string, message: string): PlayerAction[] {
    return [{ type: 'event', event: { type: 'alert', code, message } }];
  }
}
