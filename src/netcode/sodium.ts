import { createRequire } from 'node:module';
import { allocPooled } from './bytes.js';

/**
 * The few libsodium calls netcode needs. sodium-native ships no type declarations, so it is loaded
 * through createRequire and typed here by hand (only the functions we call).
 */
interface SodiumNative {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  randombytes_buf(buf: Uint8Array): void;
}

const require = createRequire(import.meta.url);
const sodium = require('sodium-native') as SodiumNative;

/**
 * sodium-native's exported functions check every argument in JavaScript (about 0.1 µs of a 0.6 µs
 * call on a 100-byte packet, four calls per payload round trip) and a failed decryption throws an
 * Error, stack and all, for every forged datagram. The addon's own functions, which those wrap, take
 * the same arguments less `nsec` and return -1 instead. They are used when present and when they
 * give the wrapper's bytes at load (see below); otherwise the wrappers serve. Callers here always
 * pass a 12-byte nonce and exact output sizes; the key size is checked per call, because the addon
 * asserts on sizes in C instead of throwing.
 */
interface SodiumBinding {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | undefined, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, c: Uint8Array, ad: Uint8Array | undefined, npub: Uint8Array, k: Uint8Array): number;
}

function loadBinding(): SodiumBinding | undefined {
  try {
    const b = require('sodium-native/binding.js') as Partial<SodiumBinding>;
    if (typeof b.crypto_aead_chacha20poly1305_ietf_encrypt !== 'function' || typeof b.crypto_aead_chacha20poly1305_ietf_decrypt !== 'function')
      return undefined;
    const binding = b as SodiumBinding;
    // a known round trip against the public wrapper, so a changed addon signature falls back instead of misbehaving
    const k = new Uint8Array(32).fill(7);
    const n = new Uint8Array(12).fill(3);
    const ad = new Uint8Array(5).fill(1);
    const m = new Uint8Array(40).fill(9);
    const viaWrapper = new Uint8Array(56);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(viaWrapper, m, ad, null, n, k);
    const viaBinding = new Uint8Array(56);
    if (binding.crypto_aead_chacha20poly1305_ietf_encrypt(viaBinding, m, ad, n, k) !== 56) return undefined;
    if (Buffer.compare(viaWrapper, viaBinding) !== 0) return undefined;
    const back = new Uint8Array(40);
    if (binding.crypto_aead_chacha20poly1305_ietf_decrypt(back, viaBinding, ad, n, k) !== 40 || Buffer.compare(back, m) !== 0) return undefined;
    viaBinding[0]! ^= 1;
    if (binding.crypto_aead_chacha20poly1305_ietf_decrypt(back, viaBinding, ad, n, k) !== -1) return undefined;
    return binding;
  } catch {
    return undefined;
  }
}

const binding = loadBinding();
/** whether the addon's functions are in use (tests check both paths agree) */
export const sodiumFastPath = binding !== undefined;

/** ChaCha20-Poly1305-IETF (12-byte nonce), combined mode: returns ciphertext || tag. */
export function aeadEncrypt(message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 16);
  aeadEncryptInto(out, message, ad, nonce, key);
  return out;
}

/** As aeadEncrypt, writing into `out` (message.length + 16 bytes) to save a copy on the hot path. */
export function aeadEncryptInto(out: Uint8Array, message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): void {
  if (binding && key.length === 32 && nonce.length === 12 && out.length === message.length + 16) {
    binding.crypto_aead_chacha20poly1305_ietf_encrypt(out, message, ad ?? undefined, nonce, key);
  } else {
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, message, ad, null, nonce, key);
  }
}

/** Returns the plaintext, or null when the tag does not verify. */
export function aeadDecrypt(cipher: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (cipher.length < 16) return null;
  // pooled: once per received packet, and decryption writes every byte
  const out = allocPooled(cipher.length - 16);
  if (binding && key.length === 32 && nonce.length === 12) {
    return binding.crypto_aead_chacha20poly1305_ietf_decrypt(out, cipher, ad ?? undefined, nonce, key) === out.length ? out : null;
  }
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, cipher, ad, nonce, key);
  } catch {
    return null;
  }
  return out;
}

/** XChaCha20-Poly1305-IETF (24-byte nonce), combined mode. */
export function xaeadEncrypt(message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 16);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, message, ad, null, nonce, key);
  return out;
}

export function xaeadDecrypt(cipher: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (cipher.length < 16) return null;
  const out = new Uint8Array(cipher.length - 16);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, cipher, ad, nonce, key);
  } catch {
    return null;
  }
  return out;
}

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  sodium.randombytes_buf(b);
  return b;
}
