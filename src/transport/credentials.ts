/**
 * TLS credentials for an endpoint: PEM text or paths to PEM files, checked before use so that a bad
 * reload is refused (and the running configuration kept) instead of breaking new handshakes.
 */
import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { transportError } from './errors.js';

/** PEM text (anything containing `-----BEGIN`), PEM bytes, or a path to a PEM file. */
export type PemSource = string | Uint8Array;

export interface CredentialSources {
  /** certificate chain, leaf first (intermediates optional) */
  cert: PemSource;
  key: PemSource;
  /** extra CA certificates; optional because the PeerVerifier knows this PKI's CAs */
  ca?: PemSource | PemSource[];
}

export interface LoadedCredentials {
  cert: string;
  key: string;
  ca: string[];
  /** SHA-256 of the leaf, colon-free lowercase hex (to tell reloads apart) */
  fingerprint: string;
  /** absolute file paths the credentials came from (for watching) */
  files: string[];
}

function isPemText(s: string): boolean {
  return s.includes('-----BEGIN');
}

async function readPem(src: PemSource, what: string, files: string[]): Promise<string> {
  if (typeof src !== 'string') return Buffer.from(src).toString('utf8');
  if (isPemText(src)) return src;
  const file = path.resolve(src);
  try {
    const text = await readFile(file, 'utf8');
    files.push(file);
    return text;
  } catch (e) {
    throw transportError('tls_file_unreadable', `cannot read the ${what} file ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Reads and checks credentials: the cert parses, the key parses, and the key belongs to the cert. */
export async function loadCredentials(src: CredentialSources): Promise<LoadedCredentials> {
  const files: string[] = [];
  const cert = await readPem(src.cert, 'certificate', files);
  const key = await readPem(src.key, 'private key', files);
  const caList = src.ca === undefined ? [] : Array.isArray(src.ca) ? src.ca : [src.ca];
  const ca: string[] = [];
  for (const c of caList) ca.push(await readPem(c as PemSource, 'CA certificate', files));
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (e) {
    throw transportError('tls_bad_cert', `the certificate is not a PEM X.509 certificate: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw transportError('tls_bad_key', `the private key cannot be read (encrypted keys must be decrypted first): ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw transportError('tls_key_mismatch', `the private key does not belong to the certificate ${leaf.subject.replace(/\n/g, ', ')}`);
  }
  const fingerprint = leaf.fingerprint256.replace(/:/g, '').toLowerCase();
  return { cert, key, ca, fingerprint, files };
}
