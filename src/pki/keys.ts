/** Key pairs: generation, PKCS#8 export (optionally passphrase-encrypted), loading and import into WebCrypto. */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, type webcrypto } from 'node:crypto';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import type { PassphraseProvider } from './api.js';
import type { KeyAlgorithm } from './types.js';
import { parsePem } from './pem.js';
import { subtle } from './x509.js';

export const ALGORITHMS: readonly KeyAlgorithm[] = ['p256', 'p384', 'ed25519'];

export interface GeneratedKeyPair {
  algorithm: KeyAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(algorithm: KeyAlgorithm = 'p256'): GeneratedKeyPair {
  const pair =
    algorithm === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: algorithm === 'p256' ? 'P-256' : 'P-384' });
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
export function webAlgorithm(algorithm: KeyAlgorithm): { importParams: webcrypto.EcKeyImportParams | webcrypto.Algorithm; signParams: webcrypto.EcdsaParams | webcrypto.Algorithm } {
  switch (algorithm) {
    case 'p256':
      return { importParams: { name: 'ECDSA', namedCurve: 'P-256' }, signParams: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'p384':
      return { importParams: { name: 'ECDSA', namedCurve: 'P-384' }, signParams: { name: 'ECDSA', hash: 'SHA-384' } };
    case 'ed25519':
      return { importParams: { name: 'Ed25519' }, signParams: { name: 'Ed25519' } };
  }
}

export function exportPrivateKeyPem(key: KeyObject, passphrase?: string): string {
  if (passphrase === undefined) return key.export({ format: 'pem', type: 'pkcs8' }).toString();
  // PKCS#8 EncryptedPrivateKeyInfo (PBES2, AES-256-CBC): OpenSSL and node both read it.
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }).toString();
}

/** Loads a PKCS#8 PEM key, asking for the passphrase only when the key is encrypted. */
export async function loadPrivateKey(pem: string, what: string, passphrase?: PassphraseProvider): Promise<KeyObject> {
  const blocks = parsePem(pem, what);
  const block = blocks.find((b) => b.label === 'PRIVATE KEY' || b.label === 'ENCRYPTED PRIVATE KEY');
  if (!block) throw pkiError('bad_key', `${what}: no PKCS#8 private key in the file`);
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    if (!passphrase) {
      throw pkiError('passphrase_required', `${what} is encrypted and no passphrase was given`, {
        hint: 'give the CA passphrase (prompt, or --passphrase-file / IYESMP_PASSPHRASE)',
      });
    }
    const pass = await passphrase();
    try {
      return createPrivateKey({ key: Buffer.from(block.der), format: 'der', type: 'pkcs8', passphrase: pass });
    } catch (cause) {
      throw pkiError('bad_passphrase', `wrong passphrase for ${what} (or the key file is damaged)`, {
        cause,
        hint: 'check the CA passphrase',
      });
    }
  }
  try {
    return createPrivateKey({ key: Buffer.from(block.der), format: 'der', type: 'pkcs8' });
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
  return subtle.importKey('pkcs8', der, webAlgorithm(algorithm).importParams, false, ['sign']) ;
}

export function spkiDer(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }));
}
