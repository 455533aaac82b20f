import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt parameters. They are stored inside every hash string, so they can be raised later without
 * breaking old hashes; `needsRehash` tells the caller when a stored hash uses weaker ones.
 */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. Memory used is about 128 * 2^ln * r bytes. */
  ln: number;
  r: number;
  p: number;
  saltBytes: number;
  keyBytes: number;
}

/** 2^16 * 8 * 128 B = 64 MiB per hash: OWASP-grade while keeping several logins in flight affordable. */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 16, r: 8, p: 1, saltBytes: 16, keyBytes: 32 };

// PHC-style string: $scrypt$ln=16,r=8,p=1$<salt>$<hash>, base64 without padding.
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function derive(password: string, salt: Buffer, ln: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  const N = 2 ** ln;
  return new Promise((resolve, reject) => {
    // maxmem must cover 128*N*r (plus slack), otherwise Node refuses larger parameters.
    scrypt(password.normalize('NFKC'), salt, keyBytes, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(params.saltBytes);
  const key = await derive(password, salt, params.ln, params.r, params.p, params.keyBytes);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

interface Parsed {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const m = PHC.exec(stored);
  if (!m) return undefined;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 1 || ln > 24 || r < 1 || p < 1) return undefined;
  return { ln, r, p, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

/**
 * True when `password` matches `stored`. The comparison is constant-time; an unparseable hash is a
 * mismatch (never an exception that would reveal which accounts have broken records).
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.key.length === 0) return false;
  const key = await derive(password, parsed.salt, parsed.ln, parsed.r, parsed.p, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

/** True when `stored` was made with weaker parameters than `params` (rehash after a good login). */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  const parsed = parse(stored);
  if (!parsed) return true;
  return parsed.ln < params.ln || parsed.r < params.r || parsed.p < params.p || parsed.key.length < params.keyBytes;
}
