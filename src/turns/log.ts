/**
 * The activity log: a hash chain of host-signed blocks. Host and players run the same `Chain`, so
 * what the host appends is exactly what a player accepts. A block is verified whole before anything
 * of it is applied: a bad block leaves the chain as it was.
 *
 * Block rules (checked for every block, from genesis):
 * - signed by the pinned host key; number = head + 1; prevHash = SHA-256 of the previous body
 *   (32 zero bytes for genesis); timestamp not before the previous block's;
 * - genesis: only in block 0, alone, naming the pinned key, the players and round 1's commitment;
 * - reg: a registration self-signed by its key, for a seated player with no live registration, at
 *   epoch = its last epoch + 1 (the host's signature on the block is the countersignature);
 * - leave: ends a player's live registration at its epoch;
 * - round: round = current + 1, and its seed matches the commitment published before (constant time);
 *   it carries the next round's commitment;
 * - move: signed by the mover's live key, for the current round and topic, sequence = last + 1, and
 *   prevHash = this block's prevHash (the mover had seen the head it built on);
 * - end: nothing may follow.
 */
import type { KeyObject } from 'node:crypto';
import type { MsgpackCodec } from '../protocol/codec.js';
import { ed25519PublicKey, roundCommitment, roundTopicHex, sameBytes, sha256, verifyBytes } from './crypto.js';
import { HOST_ID, type RoomTopics } from './topics.js';
import type { Block, LogEntry, Move, Registration, SessionInfo } from './types.js';
import { type Context, decodeBody, decodeOuter, type EntryFields, type Parsed, parseBlock, parseMove, parseReg, TURNS_PROTOCOL_VERSION } from './wire.js';

/** Round topics are 32 hex digits (128 bits): far beyond birthday collisions at any room count. */
export const TOPIC_HEX_CHARS = 32;
export const ZERO_HASH = new Uint8Array(32);

export interface LivePlayer {
  /** the last epoch assigned (0 = never registered) */
  epoch: number;
  live: (Registration & { key: KeyObject; frame: Uint8Array }) | undefined;
  lastSeq: number;
  /** every signing key logged for this player (hex), and the last one: kept after a leave */
  keys: ReadonlySet<string>;
  lastKey: string | undefined;
}

/**
 * A registration may come after the player's last logged one only with a key never logged before
 * (a new process), or with the last key again (the same process registering after its will fired).
 * So an old registration replayed by whoever can publish on the register topic never comes back.
 * Clock-free on purpose: a player's clock is not trusted to order its processes.
 */
export function isFreshRegistration(p: LivePlayer, signKey: Uint8Array): boolean {
  const hex = Buffer.from(signKey).toString('hex');
  return hex === p.lastKey || !p.keys.has(hex);
}

interface State {
  number: number;
  headHash: Uint8Array;
  timestamp: number;
  info: SessionInfo | undefined;
  players: Map<string, LivePlayer>;
  round: number;
  roundHex: string | undefined;
  nextCommitment: Uint8Array | undefined;
  ended: boolean;
  results: unknown;
}

export class Chain {
  #s: State = {
    number: -1,
    headHash: ZERO_HASH,
    timestamp: 0,
    info: undefined,
    players: new Map(),
    round: 0,
    roundHex: undefined,
    nextCommitment: undefined,
    ended: false,
    results: undefined,
  };
  /** every accepted block frame, by number (for sync answers) */
  readonly frames: Uint8Array[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly topics: RoomTopics,
    private readonly hostKey: KeyObject,
    private readonly hostKeyRaw: Uint8Array,
    private readonly codec: MsgpackCodec,
  ) {}

  get head(): number {
    return this.#s.number;
  }
  /** the head block's timestamp (0 before genesis) */
  get timestamp(): number {
    return this.#s.timestamp;
  }
  get headHash(): Uint8Array {
    return this.#s.headHash;
  }
  get info(): SessionInfo | undefined {
    return this.#s.info;
  }
  get round(): number {
    return this.#s.round;
  }
  get roundHex(): string | undefined {
    return this.#s.roundHex;
  }
  get roundTopic(): string | undefined {
    return this.#s.roundHex === undefined ? undefined : this.topics.round(this.#s.roundHex);
  }
  get nextCommitment(): Uint8Array | undefined {
    return this.#s.nextCommitment;
  }
  get ended(): boolean {
    return this.#s.ended;
  }
  player(id: string): LivePlayer | undefined {
    return this.#s.players.get(id);
  }
  get players(): ReadonlyMap<string, LivePlayer> {
    return this.#s.players;
  }

  /**
   * Verifies one block frame against the head and appends it. `trusted` skips the signature checks
   * the caller already made (the host appending its own block of moves it verified on arrival);
   * `hostSignatureChecked` skips only the block's own signature (a player checked it on arrival);
   * `ownMove` is the move frame this verifier signed itself (identical bytes skip one verify).
   */
  append(frame: Uint8Array, trusted = false, hostSignatureChecked = false, ownMove?: Uint8Array): Parsed<Block> {
    const outer = decodeOuter(this.codec, frame);
    if (!outer.ok) return outer;
    const o = outer.value;
    if (o.type !== 'signed' || o.kind !== 'block') return { ok: false, reason: 'not a block' };
    if (!trusted && !hostSignatureChecked && !verifyBytes(this.hostKey, o.body, o.sig)) return { ok: false, reason: 'block not signed by the pinned host key' };
    const body = decodeBody(this.codec, 'block', o.body, this.ctx);
    if (!body.ok) return body;
    const b = parseBlock(body.value);
    if (b === undefined) return { ok: false, reason: 'malformed block' };
    const s = this.#s;
    if (s.ended) return { ok: false, reason: 'the session has ended: no block may follow its end' };
    if (b.number !== s.number + 1) return { ok: false, reason: `block ${b.number} does not follow ${s.number}` };
    if (!sameBytes(b.prevHash, s.headHash)) return { ok: false, reason: `block ${b.number} does not link to the previous block's hash` };
    if (b.timestamp < s.timestamp) return { ok: false, reason: `block ${b.number} is older than the block before it` };
    if (b.entries.length === 0) return { ok: false, reason: `block ${b.number} is empty` };

    // stage: copy what entries change, commit only if every entry passes
    const next: State = { ...s, players: new Map([...s.players].map(([k, v]) => [k, { ...v }])) };
    const entries: LogEntry[] = [];
    for (const e of b.entries) {
      const r = this.#entry(next, e, b.number, b.prevHash, trusted, b.timestamp, ownMove);
      if (typeof r === 'string') return { ok: false, reason: `block ${b.number}: ${r}` };
      entries.push(r);
    }
    const hash = sha256(o.body);
    next.number = b.number;
    next.headHash = hash;
    next.timestamp = b.timestamp;
    this.#s = next;
    this.frames.push(frame);
    return { ok: true, value: { number: b.number, timestamp: b.timestamp, prevHash: b.prevHash, hash, entries } };
  }

  #entry(
    s: State,
    e: EntryFields,
    number: number,
    prevHash: Uint8Array,
    trusted: boolean,
    timestamp: number,
    ownMove: Uint8Array | undefined,
  ): LogEntry | string {
    if (e[0] === 'genesis') {
      if (number !== 0 || s.info !== undefined) return 'genesis outside block 0';
      const [, players, sign, dh, commit, encrypted, createdAt] = e;
      if (!sameBytes(sign, this.hostKeyRaw)) return 'genesis names another host key than the pinned one';
      if (new Set(players).size !== players.length || players.includes(HOST_ID)) return 'genesis player list has duplicates or the host id';
      const info: SessionInfo = {
        protocol: TURNS_PROTOCOL_VERSION,
        game: this.ctx.game,
        room: this.ctx.room,
        sessionId: this.ctx.sessionId,
        players: [...players],
        hostSignKey: sign,
        hostDhKey: dh,
        firstCommitment: commit,
        encrypted,
        createdAt,
      };
      s.info = info;
      s.nextCommitment = commit;
      for (const p of players) s.players.set(p, { epoch: 0, live: undefined, lastSeq: 0, keys: new Set(), lastKey: undefined });
      return { kind: 'genesis', session: info };
    }
    if (s.info === undefined) return 'block before genesis';
    switch (e[0]) {
      case 'reg': {
        const [, frame, epoch] = e;
        const reg = this.#registration(frame, trusted);
        if (typeof reg === 'string') return reg;
        const p = s.players.get(reg.fields.playerId);
        if (p === undefined) return `registration of ${reg.fields.playerId}, who is not seated in this session`;
        if (p.live !== undefined) return `registration of ${reg.fields.playerId} while its epoch ${p.epoch} is live`;
        if (reg.fields.expiresAt <= timestamp) return `registration of ${reg.fields.playerId} had expired when it was logged`;
        if (epoch !== p.epoch + 1) return `registration epoch ${epoch} of ${reg.fields.playerId} does not follow ${p.epoch}`;
        if (!isFreshRegistration(p, reg.fields.signKey)) return `registration of ${reg.fields.playerId} reuses a key of an earlier epoch`;
        const registration: Registration = { ...reg.fields, sessionId: this.ctx.sessionId, epoch };
        p.epoch = epoch;
        p.live = { ...registration, key: reg.key, frame };
        p.lastKey = Buffer.from(reg.fields.signKey).toString('hex');
        p.keys = new Set([...p.keys, p.lastKey]); // a new set: the staged copy must not touch the committed one
        return { kind: 'register', registration };
      }
      case 'leave': {
        const [, id, epoch] = e;
        const p = s.players.get(id);
        if (p?.live === undefined || p.epoch !== epoch) return `leave of ${id} at epoch ${epoch}, which is not live`;
        p.live = undefined;
        return { kind: 'leave', playerId: id, epoch };
      }
      case 'round': {
        const [, round, seed, next] = e;
        if (round !== s.round + 1) return `round ${round} does not follow ${s.round}`;
        const expected = s.nextCommitment;
        if (expected === undefined || !sameBytes(roundCommitment(this.ctx.game, this.ctx.room, round, seed), expected))
          return `round ${round}'s seed does not match its commitment`;
        s.round = round;
        s.roundHex = roundTopicHex(this.ctx.game, this.ctx.room, round, seed, TOPIC_HEX_CHARS);
        s.nextCommitment = next;
        return { kind: 'round', round, seed, next, topic: this.topics.round(s.roundHex) };
      }
      case 'move': {
        const [, frame, reply] = e;
        // a move byte for byte as this verifier signed it needs no signature check: it is ours
        const m = this.#move(s, frame, trusted || (ownMove !== undefined && Buffer.compare(ownMove, frame) === 0));
        if (typeof m === 'string') return m;
        if (s.round === 0 || m.round !== s.round || s.roundHex === undefined || m.topic !== this.topics.round(s.roundHex))
          return `move ${m.playerId}#${m.seq} is not for the current round and topic`;
        const p = s.players.get(m.playerId)!;
        if (p.live!.expiresAt <= m.timestamp) return `move ${m.playerId}#${m.seq} was made after its registration expired`;
        if (m.seq !== p.lastSeq + 1) return `move ${m.playerId}#${m.seq} does not follow sequence ${p.lastSeq}`;
        if (!sameBytes(m.prevHash, prevHash)) return `move ${m.playerId}#${m.seq} was not built on the previous block`;
        p.lastSeq = m.seq;
        return { kind: 'move', move: m, reply };
      }
      case 'end':
        s.ended = true;
        s.results = e[1];
        return { kind: 'end', results: e[1] };
    }
  }

  #registration(frame: Uint8Array, trusted: boolean): { fields: NonNullable<ReturnType<typeof parseReg>>; key: KeyObject } | string {
    const outer = decodeOuter(this.codec, frame);
    if (!outer.ok || outer.value.type !== 'signed' || outer.value.kind !== 'reg') return 'registration entry is not a signed registration';
    const body = decodeBody(this.codec, 'reg', outer.value.body, this.ctx);
    const fields = body.ok ? parseReg(body.value) : undefined;
    if (fields === undefined) return 'malformed registration entry';
    const key = ed25519PublicKey(fields.signKey);
    if (key === undefined) return 'registration key is not an Ed25519 key';
    if (!trusted && !verifyBytes(key, outer.value.body, outer.value.sig)) return `registration of ${fields.playerId} is not signed by its own key`;
    return { fields, key };
  }

  #move(s: State, frame: Uint8Array, trusted: boolean): Move | string {
    const outer = decodeOuter(this.codec, frame);
    if (!outer.ok || outer.value.type !== 'signed' || outer.value.kind !== 'move') return 'move entry is not a signed move';
    const body = decodeBody(this.codec, 'move', outer.value.body, this.ctx);
    const m = body.ok ? parseMove(body.value) : undefined;
    if (m === undefined) return 'malformed move entry';
    const live = s.players.get(m.playerId)?.live;
    if (live === undefined) return `move of ${m.playerId}, who has no live registration`;
    if (!trusted && !verifyBytes(live.key, outer.value.body, outer.value.sig)) return `move ${m.playerId}#${m.seq} is not signed by ${m.playerId}'s key`;
    return m;
  }
}
