/**
 * Wire format. Every payload is one MsgPack array (a fixed layout per kind, never a map):
 *
 * ```
 * signed:  [1, kind, body: bin, sig: bin(64)]        body = MsgPack [tag, 1, game, room, sessionId, ...fields]
 * sealed:  [1, 'sealed', keyId, nonce: bin(12), ct]  room key; ChaCha20-Poly1305, AAD = tag | topic | keyId
 * pair:    [1, 'pair', nonce: bin(12), ct]           player<->host key (X25519 + HKDF); AAD = tag | topic
 * ```
 *
 * The signature covers the exact `body` bytes as received: a verifier checks the signature first and
 * only then decodes `body`, so nothing is re-serialised before verifying. The body starts with a
 * domain tag (`iyesmp/turns/<kind>`), the protocol version, the game, the room and the session, so a
 * signature made for one kind, room or session never verifies for another.
 *
 * Every decoder here returns a reason instead of throwing, and bounds sizes before allocating.
 */
import { Encoder } from '@msgpack/msgpack';
import { MsgpackCodec } from '../protocol/codec.js';
import { AEAD_NONCE_BYTES, encodeParts, open, seal, type SigningKeys, signBytes } from './crypto.js';
import { turnsError } from './errors.js';
import { isValidId } from './topics.js';
import type { Move } from './types.js';

export const TURNS_PROTOCOL_VERSION = 1;

export type SignedKind = 'reg' | 'move' | 'block' | 'reject' | 'syncreq' | 'sync' | 'key' | 'msg' | 'chal' | 'resp';
const SIGNED_KINDS: ReadonlySet<string> = new Set<SignedKind>(['reg', 'move', 'block', 'reject', 'syncreq', 'sync', 'key', 'msg', 'chal', 'resp']);

export interface Context {
  game: string;
  room: string;
  sessionId: string;
}

const encoder = new Encoder({ ignoreUndefined: true });
export function pack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** One codec per size limit: strings, bins and arrays inside a message are bounded by the message. */
export function makeCodec(maxMessageBytes: number): MsgpackCodec {
  return new MsgpackCodec({
    maxFrameBytes: maxMessageBytes,
    maxStringBytes: Math.min(maxMessageBytes, 16 * 1024),
    maxBinBytes: maxMessageBytes,
    maxArrayLength: 4096,
    maxMapEntries: 512,
    maxDepth: 16,
  });
}

export type Outer =
  | { type: 'signed'; kind: SignedKind; body: Uint8Array; sig: Uint8Array }
  | { type: 'sealed'; keyId: number; nonce: Uint8Array; ct: Uint8Array }
  | { type: 'pair'; nonce: Uint8Array; ct: Uint8Array };

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

export const isBin = (v: unknown, len?: number): v is Uint8Array => v instanceof Uint8Array && (len === undefined || v.length === len);
export const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

export function decodeOuter(codec: MsgpackCodec, bytes: Uint8Array): Parsed<Outer> {
  if (bytes.length > codec.limits.maxFrameBytes) return fail(`message of ${bytes.length} bytes is above the ${codec.limits.maxFrameBytes}-byte limit`);
  const d = codec.decode(bytes);
  if (!d.ok) return fail(d.reason);
  const a = d.value;
  if (!Array.isArray(a) || a[0] !== TURNS_PROTOCOL_VERSION || typeof a[1] !== 'string') return fail('not a turns frame of protocol version 1');
  if (a[1] === 'sealed') {
    if (a.length !== 5 || !isUint(a[2]) || !isBin(a[3], AEAD_NONCE_BYTES) || !isBin(a[4])) return fail('malformed sealed frame');
    return { ok: true, value: { type: 'sealed', keyId: a[2], nonce: a[3], ct: a[4] } };
  }
  if (a[1] === 'pair') {
    if (a.length !== 4 || !isBin(a[2], AEAD_NONCE_BYTES) || !isBin(a[3])) return fail('malformed pair frame');
    return { ok: true, value: { type: 'pair', nonce: a[2], ct: a[3] } };
  }
  if (!SIGNED_KINDS.has(a[1]) || a.length !== 4 || !isBin(a[2]) || !isBin(a[3], 64)) return fail('malformed signed frame');
  return { ok: true, value: { type: 'signed', kind: a[1] as SignedKind, body: a[2], sig: a[3] } };
}

/** Builds a signed frame: body = [tag, version, game, room, sessionId, ...fields]. */
export function encodeSigned(kind: SignedKind, ctx: Context, fields: readonly unknown[], keys: SigningKeys): { frame: Uint8Array; body: Uint8Array } {
  let body: Uint8Array;
  try {
    body = pack([`iyesmp/turns/${kind}`, TURNS_PROTOCOL_VERSION, ctx.game, ctx.room, ctx.sessionId, ...fields]);
  } catch (err) {
    // game data is the caller's: say what could not be sent instead of a MsgPack stack
    throw turnsError('turns_bad_option', `cannot encode this ${kind}: ${err instanceof Error ? err.message : String(err)} (game data must be MsgPack values)`);
  }
  const frame = pack([TURNS_PROTOCOL_VERSION, kind, body, signBytes(keys, body)]);
  return { frame, body };
}

/**
 * Decodes a signed body (call only after its signature verified, or to find the signer's claimed id)
 * and checks its tag, version and context. Returns the fields after the context.
 */
export function decodeBody(codec: MsgpackCodec, kind: SignedKind, body: Uint8Array, ctx: Context): Parsed<unknown[]> {
  const d = codec.decode(body);
  if (!d.ok) return fail(d.reason);
  const a = d.value;
  if (!Array.isArray(a) || a.length < 5 || a[0] !== `iyesmp/turns/${kind}` || a[1] !== TURNS_PROTOCOL_VERSION)
    return fail(`not a ${kind} body of protocol version 1`);
  if (a[2] !== ctx.game || a[3] !== ctx.room || a[4] !== ctx.sessionId) return fail('signed for another game, room or session');
  return { ok: true, value: a.slice(5) };
}

const SEAL_TAG = 'iyesmp/turns/seal/v1';
const PAIR_SEAL_TAG = 'iyesmp/turns/pairseal/v1';

export function sealRoom(key: Uint8Array, keyId: number, nonce: Uint8Array, topic: string, inner: Uint8Array): Uint8Array {
  return pack([TURNS_PROTOCOL_VERSION, 'sealed', keyId, nonce, seal(key, nonce, inner, encodeParts([SEAL_TAG, topic, keyId]))]);
}

export function openRoom(key: Uint8Array, keyId: number, nonce: Uint8Array, topic: string, ct: Uint8Array): Uint8Array | undefined {
  return open(key, nonce, ct, encodeParts([SEAL_TAG, topic, keyId]));
}

export function sealPair(key: Uint8Array, nonce: Uint8Array, topic: string, inner: Uint8Array): Uint8Array {
  return pack([TURNS_PROTOCOL_VERSION, 'pair', nonce, seal(key, nonce, inner, encodeParts([PAIR_SEAL_TAG, topic]))]);
}

export function openPair(key: Uint8Array, nonce: Uint8Array, topic: string, ct: Uint8Array): Uint8Array | undefined {
  return open(key, nonce, ct, encodeParts([PAIR_SEAL_TAG, topic]));
}

// ---- per-kind field layouts (after the context) ----

export interface RegFields {
  playerId: string;
  signKey: Uint8Array;
  dhKey: Uint8Array;
  expiresAt: number;
  proof: Uint8Array;
  createdAt: number;
}
export const regFields = (r: RegFields): unknown[] => [r.playerId, r.signKey, r.dhKey, r.expiresAt, r.proof, r.createdAt];
export function parseReg(f: unknown[]): RegFields | undefined {
  const [playerId, signKey, dhKey, expiresAt, proof, createdAt] = f;
  if (
    f.length !== 6 ||
    !isValidId(playerId) ||
    !isBin(signKey, 32) ||
    !isBin(dhKey, 32) ||
    !isUint(expiresAt) ||
    !isBin(proof) ||
    proof.length > 4096 ||
    !isUint(createdAt)
  )
    return undefined;
  return { playerId, signKey, dhKey, expiresAt, proof, createdAt };
}

/** A move on the wire: the public Move's fields, in the order `moveFields` lays them out. */
export type MoveFields = Move;
export const moveFields = (m: MoveFields): unknown[] => [m.playerId, m.action, m.data ?? null, m.nonce, m.seq, m.timestamp, m.prevHash, m.round, m.topic];
export function parseMove(f: unknown[]): MoveFields | undefined {
  const [playerId, action, data, nonce, seq, timestamp, prevHash, round, topic] = f;
  if (
    f.length !== 9 ||
    !isValidId(playerId) ||
    !isStr(action, 64) ||
    action.length === 0 ||
    !isBin(nonce, 16) ||
    !isUint(seq) ||
    seq < 1 ||
    !isUint(timestamp) ||
    !isBin(prevHash, 32) ||
    !isUint(round) ||
    !isStr(topic, 512)
  )
    return undefined;
  return { playerId, action, data, nonce, seq, timestamp, prevHash, round, topic };
}

export type EntryFields =
  | ['genesis', string[], Uint8Array, Uint8Array, Uint8Array, boolean, number]
  | ['reg', Uint8Array, number]
  | ['leave', string, number]
  | ['round', number, Uint8Array, Uint8Array]
  | ['move', Uint8Array, unknown]
  | ['end', unknown];

export interface BlockFields {
  number: number;
  timestamp: number;
  prevHash: Uint8Array;
  entries: EntryFields[];
}
export const blockFields = (b: BlockFields): unknown[] => [b.number, b.timestamp, b.prevHash, b.entries];

function parseEntry(e: unknown): EntryFields | undefined {
  if (!Array.isArray(e) || typeof e[0] !== 'string') return undefined;
  switch (e[0]) {
    case 'genesis': {
      const [, players, sign, dh, commit, enc, at] = e;
      if (e.length !== 7 || !Array.isArray(players) || players.length === 0 || players.length > 64 || !players.every(isValidId)) return undefined;
      if (!isBin(sign, 32) || !isBin(dh, 32) || !isBin(commit, 32) || typeof enc !== 'boolean' || !isUint(at)) return undefined;
      return ['genesis', players as string[], sign, dh, commit, enc, at];
    }
    case 'reg':
      return e.length === 3 && isBin(e[1]) && isUint(e[2]) && e[2] >= 1 ? ['reg', e[1], e[2]] : undefined;
    case 'leave':
      return e.length === 3 && isValidId(e[1]) && isUint(e[2]) ? ['leave', e[1], e[2]] : undefined;
    case 'round':
      return e.length === 4 && isUint(e[1]) && e[1] >= 1 && isBin(e[2], 32) && isBin(e[3], 32) ? ['round', e[1], e[2], e[3]] : undefined;
    case 'move':
      return e.length === 3 && isBin(e[1]) ? ['move', e[1], e[2]] : undefined;
    case 'end':
      return e.length === 2 ? ['end', e[1]] : undefined;
    default:
      return undefined;
  }
}

export function parseBlock(f: unknown[]): BlockFields | undefined {
  const [number, timestamp, prevHash, entries] = f;
  if (f.length !== 4 || !isUint(number) || !isUint(timestamp) || !isBin(prevHash, 32) || !Array.isArray(entries) || entries.length > 256) return undefined;
  const parsed: EntryFields[] = [];
  for (const e of entries) {
    const p = parseEntry(e);
    if (p === undefined) return undefined;
    parsed.push(p);
  }
  return { number, timestamp, prevHash, entries: parsed };
}

export interface RejectFields {
  to: string;
  code: string;
  message: string;
  seq: number | null;
  digest: Uint8Array;
  timestamp: number;
}
export const rejectFields = (r: RejectFields): unknown[] => [r.to, r.code, r.message, r.seq, r.digest, r.timestamp];
export function parseReject(f: unknown[]): RejectFields | undefined {
  const [to, code, message, seq, digest, timestamp] = f;
  if (
    f.length !== 6 ||
    !isValidId(to) ||
    !isStr(code, 64) ||
    !isStr(message, 1024) ||
    (seq !== null && !isUint(seq)) ||
    !isBin(digest, 32) ||
    !isUint(timestamp)
  )
    return undefined;
  return { to, code, message, seq, digest, timestamp };
}

export interface SyncReqFields {
  playerId: string;
  from: number;
  nonce: Uint8Array;
  timestamp: number;
}
export const syncReqFields = (r: SyncReqFields): unknown[] => [r.playerId, r.from, r.nonce, r.timestamp];
export function parseSyncReq(f: unknown[]): SyncReqFields | undefined {
  const [playerId, from, nonce, timestamp] = f;
  if (f.length !== 4 || !isValidId(playerId) || !isUint(from) || !isBin(nonce, 16) || !isUint(timestamp)) return undefined;
  return { playerId, from, nonce, timestamp };
}

export interface SyncFields {
  to: string;
  from: number;
  blocks: Uint8Array[];
  head: number;
  nonce: Uint8Array;
}
export const syncFields = (s: SyncFields): unknown[] => [s.to, s.from, s.blocks, s.head, s.nonce];
export function parseSync(f: unknown[]): SyncFields | undefined {
  const [to, from, blocks, head, nonce] = f;
  if (f.length !== 5 || !isValidId(to) || !isUint(from) || !Array.isArray(blocks) || !blocks.every((b) => isBin(b)) || !isUint(head) || !isBin(nonce, 16))
    return undefined;
  return { to, from, blocks: blocks as Uint8Array[], head, nonce };
}

export interface KeyFields {
  to: string;
  keyId: number;
  key: Uint8Array;
}
export const keyFields = (k: KeyFields): unknown[] => [k.to, k.keyId, k.key];
export function parseKey(f: unknown[]): KeyFields | undefined {
  const [to, keyId, key] = f;
  if (f.length !== 3 || !isValidId(to) || !isUint(keyId) || keyId < 1 || !isBin(key, 32)) return undefined;
  return { to, keyId, key };
}

export interface MsgFields {
  /** '' = every player */
  to: string;
  counter: number;
  data: unknown;
  timestamp: number;
}
export const msgFields = (m: MsgFields): unknown[] => [m.to, m.counter, m.data ?? null, m.timestamp];
export function parseMsg(f: unknown[]): MsgFields | undefined {
  const [to, counter, data, timestamp] = f;
  if (f.length !== 4 || !(to === '' || isValidId(to)) || !isUint(counter) || !isUint(timestamp)) return undefined;
  return { to, counter, data, timestamp };
}

export interface ChalFields {
  from: string;
  to: string;
  nonce: Uint8Array;
  timestamp: number;
}
export const chalFields = (c: ChalFields): unknown[] => [c.from, c.to, c.nonce, c.timestamp];
export function parseChal(f: unknown[]): ChalFields | undefined {
  const [from, to, nonce, timestamp] = f;
  if (f.length !== 4 || !isValidId(from) || !isValidId(to) || !isBin(nonce, 16) || !isUint(timestamp)) return undefined;
  return { from, to, nonce, timestamp };
}

/** Peeks at a signed body's first field (the signer's claimed id) without trusting it: for rate limits and lookups. */
export function claimedSigner(codec: MsgpackCodec, kind: SignedKind, body: Uint8Array, ctx: Context): string | undefined {
  const d = decodeBody(codec, kind, body, ctx);
  if (!d.ok) return undefined;
  const id = d.value[0];
  return isValidId(id) ? id : undefined;
}
