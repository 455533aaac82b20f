/** Key pairs: generation, PKCS#8 export (optionally passphrase-encrypted), loading and import into WebCrypto. */
import { createCipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, pbkdf2, randomBytes, type KeyObject, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import type { PassphraseProvider } from './api.js';
import type { KeyAlgorithm } from './types.js';
import * as der from './der.js';
import { derToPem, parsePem } from './pem.js';
import { subtle } from './x509.js';

export const ALGORITHMS: readonly KeyAlgorithm[] = ['p256', 'p384', 'ed25519'];

export interface GeneratedKeyPair {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(algorithm: KeyAlgorithm = 'p256'): GeneratedKeyPair {
  const pair = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: algorithm === 'p256' ? 'P-256' : 'P-384' });
  return { algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export function checkAlgorithm(a: unknown): KeyAlgorithm {
  if (!ALGORITHMS.includes(a as KeyAlgorithm)) {
    throw pkiError('bad_algorithm', `unknown key algorithm ${JSON.stringify(a)}`, {
      hint: `choose one of ${ALGORITHMS.join(', ')}`,
    });
  }
  return a as KeyAlgorithm;
}

/** Which of our algorithms a key uses; anything else (RSA, other curves) is refused. */
export function algorithmOf(key: KeyObject, what = 'key'): KeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'p256';
    if (curve === 'secp384r1') return 'p384';
  }
  throw pkiError('unsupported_key', `${what}: unsupported key type (${key.asymmetricKeyType ?? '?'})`, {
    hint: 'iyesmp uses ECDSA P-256, ECDSA P-384 or Ed25519 keys',
  });
}

/** Hash paired with each algorithm, for node:crypto sign/verify (Ed25519 hashes internally). */
export function hashOf(algorithm: KeyAlgorithm): string | null {
  return algorithm === 'p256' ? 'sha256' : algorithm === 'p384' ? 'sha384' : null;
}

/** WebCrypto parameters: import and signing. */
export function webAlgorithm(algorithm: KeyAlgorithm): {
  importParams: webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  signParams: webcrypto.EcdsaParams | webcrypto.Algorithm;
} {
  switch (algorithm) {
    case 'p256':
      return { importParams: { name: 'ECDSA', namedCurve: 'P-256' }, signParams: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'p384':
      return { importParams: { name: 'ECDSA', namedCurve: 'P-384' }, signParams: { name: 'ECDSA', hash: 'SHA-384' } };
    case 'ed25519':
      return { importParams: { name: 'Ed25519' }, signParams: { name: 'Ed25519' } };
  }
}

/** Unencrypted PKCS#8 PEM (leaf keys, and CA keys the operator chose to keep in clear at 0600). */
export function exportPrivateKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * Cost of the key-encryption KDF: PBKDF2-HMAC-SHA256 at 600,000 iterations (OWASP's 2023 figure).
 * Written by hand because node's `export({ cipher, passphrase })` is OpenSSL's PKCS#8 default,
 * PBKDF2-HMAC-SHA256 at only 2,048 iterations with an 8-byte salt. Not scrypt: OpenSSL caps scrypt
 * at 32 MiB when it reads PKCS#8, below scrypt's recommended cost, and keys must stay readable by
 * `openssl pkey`.
 */
export const KDF_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const OID_PBES2 = der.hex('06092a864886f70d01050d');
const OID_PBKDF2 = der.hex('06092a864886f70d01050c');
const OID_HMAC_SHA256 = der.hex('06082a864886f70d0209');
const OID_AES256_CBC = der.hex('060960864801650304012a');
const pbkdf2Async = promisify(pbkdf2);

/** PKCS#8 EncryptedPrivateKeyInfo (RFC 8018 PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC), PEM. */
export async function encryptPrivateKeyPem(key: KeyObject, passphrase: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(16);
  const kek = await pbkdf2Async(passphrase, salt, KDF_ITERATIONS, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', kek, iv);
  const plain = key.export({ format: 'der', type: 'pkcs8' });
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = der.seq(OID_PBKDF2, der.seq(der.octets(salt), der.uint(uintBytes(KDF_ITERATIONS)), der.seq(OID_HMAC_SHA256, der.hex('0500'))));
  const scheme = der.seq(OID_AES256_CBC, der.octets(iv));
  const info = der.seq(der.seq(OID_PBES2, der.seq(kdf, scheme)), der.octets(encrypted));
  return derToPem(info, 'ENCRYPTED PRIVATE KEY');
}

function uintBytes(n: number): Uint8Array {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Uint8Array.from(out);
}

const same = (buf: Uint8Array, el: der.Tlv, want: Uint8Array) => Buffer.from(buf.subarray(el.start, el.end)).equals(want);

/** True when an EncryptedPrivateKeyInfo is exactly what encryptPrivateKeyPem writes (PRF and cost included). */
export function isCurrentKeyEncryption(info: Uint8Array): boolean {
  try {
    const [alg] = der.children(info, der.read(info, 0));
    const [oid, params] = der.children(info, alg!);
    if (!same(info, oid!, OID_PBES2)) return false;
    const [kdf, scheme] = der.children(info, params!);
    const [kdfOid, kdfParams] = der.children(info, kdf!);
    const [schemeOid] = der.children(info, scheme!);
    if (!same(info, kdfOid!, OID_PBKDF2) || !same(info, schemeOid!, OID_AES256_CBC)) return false;
    const [salt, iterations, prf] = der.children(info, kdfParams!);
    if (salt!.end - salt!.body < SALT_BYTES || iterations!.tag !== 0x02 || prf?.tag !== 0x30) return false;
    let count = 0;
    for (let i = iterations!.body; i < iterations!.end; i++) count = count * 256 + info[i]!;
    return count >= KDF_ITERATIONS && same(info, der.children(info, prf)[0]!, OID_HMAC_SHA256);
  } catch {
    return false;
  }
}

export interface LoadedPrivateKey {
  key: KeyObject;
  /** encrypted keys: the passphrase that opened it, so a writer can re-encrypt an outdated one */
  passphrase?: string;
  /** encrypted with an older, weaker KDF: rewrite it (encryptPrivateKeyPem) on the next write */
  outdated: boolean;
}

/** Loads a PKCS#8 PEM key, asking for the passphrase only when the key is encrypted. */
export async function loadPrivateKey(pem: string, what: string, passphrase?: PassphraseProvider): Promise<KeyObject> {
  return (await loadPrivateKeyInfo(pem, what, passphrase)).key;
}

/** As loadPrivateKey, and says whether the key's encryption is outdated. */
export async function loadPrivateKeyInfo(pem: string, what: string, passphrase?: PassphraseProvider): Promise<LoadedPrivateKey> {
  const blocks = parsePem(pem, what);
  const block = blocks.find((b) => b.label === 'PRIVATE KEY' || b.label === 'ENCRYPTED PRIVATE KEY');
  if (!block) throw pkiError('bad_key', `${what}: no PKCS#8 private key in the file`);
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    if (!passphrase) {
      throw pkiError('passphrase_required', `${what} is encrypted and no passphrase was given`, {
        hint: "give this CA's passphrase (prompt, or --master-/--clientauth-/--sessionauth-passphrase-file, or --passphrase-file / IYESMP_PASSPHRASE)",
      });
    }
    const pass = await passphrase();
    try {
      const key = createPrivateKey({ key: Buffer.from(block.der), format: 'der', type: 'pkcs8', passphrase: pass });
      return { key, passphrase: pass, outdated: !isCurrentKeyEncryption(block.der) };
    } catch (cause) {
      throw pkiError('bad_passphrase', `wrong passphrase for ${what} (or the key file is damaged)`, {
        cause,
        hint: 'check the passphrase of this CA key',
      });
    }
  }
  try {
    return { key: createPrivateKey({ key: Buffer.from(block.der), format: 'der', type: 'pkcs8' }), outdated: false };
  } catch (cause) {
    throw pkiError('bad_key', `${what}: the private key cannot be read (damaged file?)`, { cause });
  }
}

/** A client's public key, as SPKI DER, or PEM text (PUBLIC KEY block), or PEM bytes. */
export function readPublicKey(input: Uint8Array | string, what = 'public key'): KeyObject {
  let key: KeyObject;
  try {
    const text = typeof input === 'string' ? input : looksLikePem(input) ? Buffer.from(input).toString('latin1') : undefined;
    if (text !== undefined) {
      const block = parsePem(text, what).find((b) => b.label === 'PUBLIC KEY');
      if (!block) throw pkiError('bad_public_key', `${what}: no PUBLIC KEY block`);
      key = createPublicKey({ key: Buffer.from(block.der), format: 'der', type: 'spki' });
    } else {
      key = createPublicKey({ key: Buffer.from(input as Uint8Array), format: 'der', type: 'spki' });
    }
  } catch (cause) {
    if (cause instanceof IyesmpError) throw cause;
    throw pkiError('bad_public_key', `${what}: not a SubjectPublicKeyInfo (DER or PEM)`, { cause });
  }
  algorithmOf(key, what);
  return key;
}

function looksLikePem(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 64)).toString('latin1').includes('-----BEGIN');
}

/** Imports a private KeyObject into WebCrypto once, so signing does not re-parse it. */
export async function toCryptoKey(key: KeyObject, algorithm: KeyAlgorithm): Promise<webcrypto.CryptoKey> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return subtle.importKey('pkcs8', der, webAlgorithm(algorithm).importParams, false, ['sign']);
}

export function spkiDer(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }));
}
