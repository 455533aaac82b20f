/** PEM <-> DER helpers that report malformed input as IyesmpError (never a raw exception). */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** Every PEM block in `text`; throws 'input'/'bad_pem' when there is none or one is damaged. */
export function parsePem(text: string, what: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = (m[2] ?? '').replace(/[\r\n]/g, '');
    // Buffer.from(base64) silently skips garbage, so check the alphabet and padding ourselves.
    if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
      throw badPem(what, `its ${m[1]} block is not valid base64 (truncated or edited?)`);
    }
    blocks.push({ label: m[1] ?? '', der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  if (blocks.length === 0) {
    const hint = text.includes('-----BEGIN') ? 'a BEGIN line without its END line: truncated?' : 'no PEM block found';
    throw badPem(what, hint);
  }
  return blocks;
}

/** DER of every CERTIFICATE block, in order. */
export function pemToDerList(text: string, what = 'certificate'): Uint8Array[] {
  const certs = parsePem(text, what).filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) throw badPem(what, 'it holds no CERTIFICATE block');
  return certs.map((b) => b.der);
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  // a view, not a copy; slices joined in a loop are ~4x faster than a /.{1,64}/g match (every mint)
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return `${out}-----END ${label}-----\n`;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** How many certificates derFingerprint remembers (a server sees a handful: its peers' builds, hosts). */
const RECENT_FINGERPRINTS = 8;
const recent: { der: Buffer; fp: string }[] = [];
let nextSlot = 0;

/**
 * SHA-256 (hex) of a certificate's DER, remembered by its bytes for the last few certificates: every
 * player of one game build presents the same certificate, and each login needs its fingerprint two or
 * three times (TLS callback, verifier, connection). A byte comparison costs a fraction of a hash. Only
 * the bytes-to-hash mapping is remembered (pure, never stale), never a verdict.
 */
export function derFingerprint(der: Uint8Array): string {
  const view = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  for (const e of recent) if (e.der.equals(view)) return e.fp;
  const fp = oneShotHash('sha256', view, 'hex');
  // a copy: the caller's array may be reused or changed after this call
  const entry = { der: Buffer.from(view), fp };
  if (recent.length < RECENT_FINGERPRINTS) recent.push(entry);
  else recent[nextSlot] = entry;
  nextSlot = (nextSlot + 1) % RECENT_FINGERPRINTS;
  return fp;
}

function badPem(what: string, why: string): IyesmpError {
  return pkiError('bad_pem', `${what}: not a usable PEM file (${why})`, {
    hint: 'restore the file from a backup, or re-issue it',
  });
}
