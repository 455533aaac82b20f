import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { hasCodeOf } from '../../errors.js';
import { ACCOUNT_ERRORS, accountError, type AccountErrorCode, type AuthError } from '../errors.js';
import { type Account, type AccountProvider, type AuthContext, type Credentials, cleanDisplayName, stringField } from './types.js';

/**
 * Login tokens from a studio's own identity provider: signed JWTs, verified with `jose` against
 * the provider's JWKS URL, a key file, or (HS*) a shared secret. Issuer, audience, expiry (with a
 * clock skew) and the signing algorithm (an allow-list; `none` is never on it) are checked; each
 * refusal has its own code, so a studio can tell a misconfigured audience from a forged token.
 */

/** JWS algorithms a token may be signed with. `none` is deliberately absent. */
export const JWS_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];
export const isHmacAlgorithm = (alg: JwsAlgorithm): boolean => alg.startsWith('HS');

/** Allowed by default for public keys (JWKS URL, key file) and for a shared secret. */
export const DEFAULT_PUBLIC_KEY_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'];
export const DEFAULT_SECRET_ALGORITHMS: readonly JwsAlgorithm[] = ['HS256'];

const MAX_TOKEN_CHARS = 4096;
/** RFC 7518 3.2: an HMAC key at least as long as the hash output. */
const MIN_SECRET_BYTES = 32;

/** Where verification keys come from; build one with `remoteJwks`, `jwtKeysFromFile` or `jwtSecret`. */
export interface JwtKeys {
  readonly kind: 'public' | 'secret';
  readonly get: JWTVerifyGetKey;
}

export interface RemoteJwksOptions {
  /** one fetch of the key set gives up after this; default 5 s */
  timeoutMs?: number;
  /** largest key set accepted, in bytes; default 64 KiB */
  maxBytes?: number;
  /** a fetched key set is used this long before it is fetched again; default 10 min */
  cacheMaxAgeMs?: number;
  /** after a fetch, an unknown `kid` does not cause another one before this; default 30 s */
  cooldownMs?: number;
}

/** Thrown by the bounded fetch; reported to the player as `auth.token_keys_unavailable`. */
class JwksTooLarge extends Error {}

/**
 * The identity provider's key set, fetched on demand and cached by jose (one fetch at a time,
 * refetched when a token names an unknown `kid`, at most once per cooldown). Every fetch is bounded
 * in time and size, so a slow or hostile endpoint fails logins quickly instead of hanging them.
 */
export function remoteJwks(url: string | URL, opts: RemoteJwksOptions = {}): JwtKeys {
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  const get = createRemoteJWKSet(new URL(url), {
    timeoutDuration: opts.timeoutMs ?? 5_000,
    cacheMaxAge: opts.cacheMaxAgeMs ?? 600_000,
    cooldownDuration: opts.cooldownMs ?? 30_000,
    [customFetch]: (input: string, init: RequestInit) => boundedFetch(input, init, maxBytes),
  });
  return { kind: 'public', get };
}

async function boundedFetch(input: string, init: RequestInit, maxBytes: number): Promise<Response> {
  const res = await fetch(input, init);
  if (!res.body) return res;
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body.cancel();
    throw new JwksTooLarge(`the key set at ${input} is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new JwksTooLarge(`the key set at ${input} is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return new Response(Buffer.concat(chunks), { status: res.status, headers: res.headers });
}

/**
 * Keys from a file's text: a PEM public key (`-----BEGIN PUBLIC KEY-----` or a certificate), a JWK,
 * or a JWK set (`{ "keys": [...] }`). Private keys are refused: the Auth server only verifies.
 */
export function jwtKeysFromFile(text: string, what = 'key file'): JwtKeys {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (err) {
      throw new RangeError(`${what}: not valid JSON (${(err as Error).message})`);
    }
    const set = (Array.isArray((json as JSONWebKeySet).keys) ? json : { keys: [json] }) as JSONWebKeySet;
    if (set.keys.some((k) => typeof k !== 'object' || k === null || 'd' in k || 'k' in k)) {
      throw new RangeError(`${what}: holds private or secret key material; give the identity provider's public keys only`);
    }
    return { kind: 'public', get: createLocalJWKSet(set) };
  }
  if (/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) {
    throw new RangeError(`${what}: is a private key; give the identity provider's public key`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(trimmed);
  } catch (err) {
    throw new RangeError(`${what}: not a PEM public key, certificate, JWK or JWK set (${(err as Error).message})`);
  }
  return { kind: 'public', get: async () => key };
}

/** A shared HMAC secret (HS256/384/512): the studio backend and the Auth server both hold it. */
export function jwtSecret(secret: Uint8Array | string): JwtKeys {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < MIN_SECRET_BYTES) throw new RangeError(`the token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return { kind: 'secret', get: async () => bytes };
}

export interface JwtProviderOptions {
  keys: JwtKeys;
  /** algorithms accepted; default by key kind (DEFAULT_PUBLIC_KEY_ALGORITHMS / DEFAULT_SECRET_ALGORITHMS) */
  algorithms?: readonly JwsAlgorithm[];
  /** required `iss` */
  issuer?: string;
  /** required `aud` (one of the token's audiences) */
  audience?: string;
  /** allowed clock difference for `exp`, `nbf` and `iat`, in seconds; default 30 */
  clockSkewSeconds?: number;
  /** credentials method this provider answers to (default `token`) */
  method?: string;
}

/**
 * Credentials: `{ method: 'token', token }`. Claims used: `sub` (required, becomes the accountId),
 * `exp` (required), `name` (display name), `data` (an object, becomes Account.data).
 */
export class JwtProvider implements AccountProvider {
  readonly method: string;
  readonly #keys: JwtKeys;
  readonly #algorithms: readonly JwsAlgorithm[];
  readonly #opts: JwtProviderOptions;

  constructor(opts: JwtProviderOptions) {
    this.method = opts.method ?? 'token';
    this.#keys = opts.keys;
    this.#algorithms = opts.algorithms ?? (opts.keys.kind === 'secret' ? DEFAULT_SECRET_ALGORITHMS : DEFAULT_PUBLIC_KEY_ALGORITHMS);
    // an HMAC algorithm with public keys is the classic confusion attack; a secret signs nothing else
    const wrong = this.#algorithms.filter((a) => isHmacAlgorithm(a) !== (opts.keys.kind === 'secret'));
    if (this.#algorithms.length === 0 || wrong.length > 0) {
      throw new RangeError(
        `algorithms ${wrong.join(', ') || '(none)'} do not fit ${opts.keys.kind === 'secret' ? 'a shared secret (HS256/384/512 only)' : 'public keys (no HS*)'}`,
      );
    }
    this.#opts = opts;
  }

  async authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account> {
    const token = stringField(credentials, 'token', { max: MAX_TOKEN_CHARS })!;
    const claims = await this.verify(token, ctx.now);
    const a: Account = {
      playerId: `${this.method}:${claims.sub}`,
      accountId: claims.sub,
      method: this.method,
      displayName: (typeof claims.name === 'string' ? cleanDisplayName(claims.name) : undefined) ?? claims.sub,
    };
    if (claims.data !== undefined) a.data = claims.data as Record<string, unknown>;
    if (credentials.ext !== undefined) a.ext = credentials.ext;
    return a;
  }

  /** The token's claims if it passes every check at `now` (ms); otherwise an AuthError saying which failed. */
  async verify(token: string, now: number): Promise<JWTPayload & { sub: string }> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw refuse('auth.token_invalid', 'not a JWT');
    }
    // checked here as well as by jose, so `none` and friends get their own code before any key lookup
    if (typeof alg !== 'string' || !(this.#algorithms as readonly string[]).includes(alg)) {
      throw refuse('auth.token_algorithm', `algorithm "${String(alg).slice(0, 16)}" is not accepted (allowed: ${this.#algorithms.join(', ')})`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys.get, {
        algorithms: [...this.#algorithms],
        ...(this.#opts.issuer !== undefined ? { issuer: this.#opts.issuer } : {}),
        ...(this.#opts.audience !== undefined ? { audience: this.#opts.audience } : {}),
        clockTolerance: this.#opts.clockSkewSeconds ?? 30,
        currentDate: new Date(now),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw refusal(err);
    }
    const { sub, data, name } = payload;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) throw refuse('auth.token_invalid', '"sub" must be 1 to 128 characters');
    if (name !== undefined && typeof name !== 'string') throw refuse('auth.token_invalid', '"name" must be a string');
    if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data)))
      throw refuse('auth.token_invalid', '"data" must be an object');
    return { ...payload, sub };
  }
}

function refuse(code: AccountErrorCode, why: string, cause?: unknown, hint?: string): AuthError {
  return accountError(code, `login token rejected: ${why}`, { ...(cause !== undefined ? { cause } : {}), ...(hint ? { hint } : {}) });
}

/** jose's failure, as the code a client and a log can act on. */
function refusal(err: unknown): AuthError {
  if (hasCodeOf(err, ACCOUNT_ERRORS)) return err;
  if (err instanceof errors.JWTExpired) {
    return accountError('auth.token_expired', 'login token has expired', { hint: 'ask the game backend for a fresh token', cause: err });
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return refuse('auth.token_issuer', 'issued by another issuer', err);
    if (err.claim === 'aud') return refuse('auth.token_audience', 'meant for another audience', err);
    return refuse('auth.token_invalid', `"${err.claim}" ${err.reason === 'missing' ? 'is missing' : 'is not acceptable'}`, err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse('auth.token_algorithm', 'algorithm not accepted', err);
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('auth.token_signature', 'bad signature', err);
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return refuse('auth.token_signature', 'no key of the identity provider verifies it', err);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported || err instanceof errors.JWKInvalid) {
    return refuse('auth.token_invalid', 'malformed token', err);
  }
  // the key set could not be fetched (timeout, too large, not JSON, unreachable): not the player's fault
  return accountError('auth.token_keys_unavailable', "the identity provider's keys are unavailable, so the login token cannot be checked", {
    hint: 'try again shortly',
    cause: err,
  });
}
