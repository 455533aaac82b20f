import { createHmac, timingSafeEqual } from 'node:crypto';
import { accountError } from '../errors.js';
import { cleanDisplayName, stringField, type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

/**
 * iyesmp's own compact token, for when both ends run this library: a Node backend that imports
 * `signToken` and an Auth server built with `TokenProvider` (embedders, tests). Tokens from a studio's
 * identity provider are JWTs and go through JwtProvider (jwt.ts); `accounts.mode = "token"` in the
 * config means JWT.
 *
 * Format: `ist1.<kid>.<claims as base64url JSON>.<HMAC-SHA256 as base64url>`, the MAC covering
 * everything before the last dot. Kept beside JWT where we control both sides because it is smaller
 * in what can go wrong: one fixed algorithm (no `alg` header to negotiate, downgrade or confuse),
 * mandatory expiry, a key id for rotation, the MAC checked before any claim is parsed, no parser
 * dependency. An identity provider cannot produce it, so it is never the answer for studios' IdPs.
 */
export interface TokenClaims {
  /** Player id in the studio's system; becomes Account.accountId. */
  sub: string;
  /** Expiry, ms since epoch. Required: a token that never expires is a password. */
  exp: number;
  /** Issued-at, ms since epoch. */
  iat: number;
  name?: string;
  /** Audience: when the verifier is configured with one, tokens must carry the same. */
  aud?: string;
  data?: Record<string, unknown>;
}

const PREFIX = 'ist1';
const MAX_TOKEN_CHARS = 4096;
const KID = /^[A-Za-z0-9_-]{1,32}$/;

function mac(secret: Uint8Array | string, signed: string): Buffer {
  return createHmac('sha256', secret).update(signed).digest();
}

export interface SignOptions {
  secret: Uint8Array | string;
  kid: string;
  now: number;
  ttlMs: number;
}

/** Studio-side signer (import it in the studio's backend, or reimplement the format above). */
export function signToken(claims: Omit<TokenClaims, 'exp' | 'iat'>, opts: SignOptions): string {
  if (!KID.test(opts.kid)) throw new RangeError(`key id "${opts.kid}" must be 1-32 characters of [A-Za-z0-9_-]`);
  if (!(opts.ttlMs > 0)) throw new RangeError('ttlMs must be positive');
  const full: TokenClaims = { ...claims, iat: opts.now, exp: opts.now + opts.ttlMs };
  const body = `${PREFIX}.${opts.kid}.${Buffer.from(JSON.stringify(full)).toString('base64url')}`;
  return `${body}.${mac(opts.secret, body).toString('base64url')}`;
}

export interface VerifyOptions {
  /** Active secrets by key id; keep the old one here while rotating. */
  secrets: Record<string, Uint8Array | string>;
  /** Allowed clock difference between the studio backend and us. */
  clockSkewMs?: number;
  audience?: string;
}

const invalid = (why: string) => accountError('auth.token_invalid', `login token rejected: ${why}`);

/** Verify MAC first, then claims; any failure is `auth.token_invalid` or `auth.token_expired`. */
export function verifyToken(token: string, now: number, opts: VerifyOptions): TokenClaims {
  if (token.length > MAX_TOKEN_CHARS) throw invalid('too long');
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== PREFIX) throw invalid('not an iyesmp login token');
  const [, kid, payload, sig] = parts as [string, string, string, string];
  const secret = Object.hasOwn(opts.secrets, kid) ? opts.secrets[kid] : undefined;
  if (secret === undefined) throw invalid(`unknown key id "${kid.slice(0, 32)}"`);
  const expected = mac(secret, `${PREFIX}.${kid}.${payload}`);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('bad signature');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid('claims are not JSON');
  }
  const c = claims as Partial<TokenClaims> | null;
  if (typeof c !== 'object' || c === null) throw invalid('claims are not an object');
  if (typeof c.sub !== 'string' || c.sub.length === 0 || c.sub.length > 128) throw invalid('missing or bad "sub"');
  if (typeof c.exp !== 'number' || typeof c.iat !== 'number') throw invalid('missing "exp" or "iat"');
  if (c.name !== undefined && typeof c.name !== 'string') throw invalid('"name" must be a string');
  if (c.data !== undefined && (typeof c.data !== 'object' || c.data === null || Array.isArray(c.data))) {
    throw invalid('"data" must be an object');
  }
  if (opts.audience !== undefined && c.aud !== opts.audience) throw invalid('wrong audience');
  const skew = opts.clockSkewMs ?? 30_000;
  if (now > c.exp + skew) {
    throw accountError('auth.token_expired', 'login token has expired', {
      hint: 'ask the game backend for a fresh token',
      details: { expiredAt: c.exp },
    });
  }
  if (c.iat > now + skew) throw invalid('issued in the future');
  return c as TokenClaims;
}

/** Credentials: `{ method: 'token', token }`. */
export class TokenProvider implements AccountProvider {
  readonly method = 'token';
  constructor(private readonly opts: VerifyOptions) {}

  async authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account> {
    const token = stringField(credentials, 'token', { max: MAX_TOKEN_CHARS })!;
    const claims = verifyToken(token, ctx.now, this.opts);
    const a: Account = {
      playerId: `token:${claims.sub}`,
      accountId: claims.sub,
      method: this.method,
      displayName: (claims.name === undefined ? undefined : cleanDisplayName(claims.name)) ?? claims.sub,
    };
    if (claims.data !== undefined) a.data = claims.data;
    if (credentials.ext !== undefined) a.ext = credentials.ext;
    return a;
  }
}
