/**
 * The protocol's cryptography, all from node:crypto: Ed25519 signatures, X25519 + HKDF-SHA256 for
 * pairwise keys, ChaCha20-Poly1305 for sealing, SHA-256 commitments and HMAC-SHA256 round topics.
 * Keys are built from injected random bytes (a 32-byte seed each) so the machines stay deterministic
 * under test; nothing here reads a clock or draws randomness itself.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';

// DER prefixes of a PKCS#8 private key and an SPKI public key for the two curves (RFC 8410): the
// 32 raw bytes follow. node:crypto has no raw-key import for these curves, so the prefix is spelled out.
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

export interface SigningKeys {
  privateKey: KeyObject;
  /** raw 32-byte Ed25519 public key */
  publicKey: Uint8Array;
}

export interface DhKeys {
  privateKey: KeyObject;
  /** raw 32-byte X25519 public key */
  publicKey: Uint8Array;
}

function rawPublic(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

export function signingKeysFromSeed(seed: Uint8Array): SigningKeys {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: rawPublic(createPublicKey(privateKey)) };
}

export function dhKeysFromSeed(seed: Uint8Array): DhKeys {
  if (seed.length !== 32) throw new RangeError('an X25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: rawPublic(createPublicKey(privateKey)) };
}

/** A verifier's key object for a raw Ed25519 public key; undefined if the bytes are not one. */
export const ed25519PublicKey = (raw: Uint8Array): KeyObject | undefined => rawPublicKey(ED25519_SPKI, raw);

/** The key object for a raw X25519 public key; undefined if the bytes are not one. */
export const x25519PublicKey = (raw: Uint8Array): KeyObject | undefined => rawPublicKey(X25519_SPKI, raw);

function rawPublicKey(spkiPrefix: Buffer, raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== 32) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([spkiPrefix, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

export function signBytes(keys: SigningKeys, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, bytes, keys.privateKey));
}

/** Never throws: a malformed signature is just invalid. */
export function verifyBytes(publicKey: KeyObject, bytes: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify(null, bytes, publicKey, signature);
  } catch {
    return false;
  }
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Constant-time equality (false on different lengths, which are public anyway). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Unambiguous binary encoding for hash inputs: each string is a u16 big-endian byte length and its
 * UTF-8 bytes, each number a u64 big-endian, each byte string a u32 length and its bytes.
 */
export function encodeParts(parts: readonly (string | number | Uint8Array)[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      const b = Buffer.from(p, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length);
      chunks.push(len, b);
    } else if (typeof p === 'number') {
      const n = Buffer.alloc(8);
      n.writeBigUInt64BE(BigInt(p));
      chunks.push(n);
    } else {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      chunks.push(len, p);
    }
  }
  return new Uint8Array(Buffer.concat(chunks));
}

const COMMIT_TAG = 'iyesmp/turns/commit/v1';
const TOPIC_TAG = 'iyesmp/turns/topic/v1';
const PAIR_TAG = 'iyesmp/turns/pair/v1';

/** SHA-256(tag | game | room | round u64be | seed): published before the round, the seed after. */
export function roundCommitment(game: string, room: string, round: number, seed: Uint8Array): Uint8Array {
  return sha256(encodeParts([COMMIT_TAG, game, room, round, seed]));
}

/** The round topic's last level: HMAC-SHA256(seed, tag | game | room | round u64be), first `hexChars` hex digits. */
export function roundTopicHex(game: string, room: string, round: number, seed: Uint8Array, hexChars: number): string {
  return createHmac('sha256', seed)
    .update(encodeParts([TOPIC_TAG, game, room, round]))
    .digest('hex')
    .slice(0, hexChars);
}

/** The ChaCha20-Poly1305 key one player shares with the host: HKDF-SHA256 over their X25519 secret. */
export function pairKey(
  own: DhKeys,
  peer: KeyObject,
  ctx: { sessionId: string; game: string; room: string; playerId: string; hostDh: Uint8Array; playerDh: Uint8Array },
): Uint8Array {
  const secret = diffieHellman({ privateKey: own.privateKey, publicKey: peer });
  const info = encodeParts([PAIR_TAG, ctx.game, ctx.room, ctx.playerId, ctx.hostDh, ctx.playerDh]);
  return new Uint8Array(hkdfSync('sha256', secret, Buffer.from(ctx.sessionId, 'utf8'), info, 32));
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** ChaCha20-Poly1305; `nonce` is 12 random bytes, never reused with the same key. Returns ciphertext | tag. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const out = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return new Uint8Array(out);
}

/** The plaintext, or undefined if the key, nonce, AAD or bytes do not match. Never throws. */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (key.length !== 32 || nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) return undefined;
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
    d.setAAD(aad, { plaintextLength: sealed.length - TAG_BYTES });
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return new Uint8Array(Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()]));
  } catch {
    return undefined;
  }
}

export const AEAD_NONCE_BYTES = NONCE_BYTES;
