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

const sodium = createRequire(import.meta.url)('sodium-native') as SodiumNative;

/** ChaCha20-Poly1305-IETF (12-byte nonce), combined mode: returns ciphertext || tag. */
export function aeadEncrypt(message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 16);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, message, ad, null, nonce, key);
  return out;
}

/** As aeadEncrypt, writing into `out` (message.length + 16 bytes) to save a copy on the hot path. */
export function aeadEncryptInto(out: Uint8Array, message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): void {
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, message, ad, null, nonce, key);
}

/** Returns the plaintext, or null when the tag does not verify. */
export function aeadDecrypt(cipher: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (cipher.length < 16) return null;
  // pooled: once per received packet, and decryption writes every byte
  const out = allocPooled(cipher.length - 16);
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
