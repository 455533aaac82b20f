import { IyesmpError } from '../../errors.js';

/**
 * What a login attempt carries. `method` picks the provider; the rest is the provider's business.
 * `ext` is game-specific data the client sends along; it passes through to the Account untouched.
 */
export interface Credentials {
  method: string;
  ext?: unknown;
  [field: string]: unknown;
}

/** Facts about the call that are not credentials. Time is an input so the logic stays testable. */
export interface AuthContext {
  /** Current time in ms since the epoch. */
  now: number;
  /** Peer address as the transport saw it (for logs and custom verifiers). */
  remoteAddress?: string;
  /** Cancelled when the client goes away; providers that wait on I/O should honour it. */
  signal?: AbortSignal;
}

/** A logged-in identity. `playerId` is unique across providers: `<method>:<accountId>`. */
export interface Account {
  playerId: string;
  /** Provider-local stable id (not the username, which may change). */
  accountId: string;
  method: string;
  displayName: string;
  /** Profile data the provider knows (studio verifier payload, token claims `data`). */
  data?: Record<string, unknown>;
  /** Game extras from the client's credentials, passed through unchanged. */
  ext?: unknown;
}

/** One way to log in. Implementations throw AuthError with a code from AUTH_FAILURES on refusal. */
export interface AccountProvider {
  readonly method: string;
  authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account>;
}

/** Stable failure codes: they go on the wire to clients and into logs, so never rename them. */
export const AUTH_FAILURES = {
  invalidRequest: 'auth.invalid_request',
  unknownMethod: 'auth.unknown_method',
  badCredentials: 'auth.bad_credentials',
  usernameTaken: 'auth.username_taken',
  weakPassword: 'auth.weak_password',
  passwordTooLong: 'auth.password_too_long',
  registrationDisabled: 'auth.registration_disabled',
  tokenInvalid: 'auth.token_invalid',
  tokenExpired: 'auth.token_expired',
  /** The token's signature does not verify with any key of the identity provider. */
  tokenSignature: 'auth.token_signature',
  /** The token is signed with an algorithm the server does not accept (`none` never is). */
  tokenAlgorithm: 'auth.token_algorithm',
  /** The token's `iss` is not the configured issuer. */
  tokenIssuer: 'auth.token_issuer',
  /** The token's `aud` does not name the configured audience. */
  tokenAudience: 'auth.token_audience',
  /** The identity provider's key set could not be fetched in time: not the player's fault, try again. */
  tokenKeysUnavailable: 'auth.token_keys_unavailable',
  banned: 'auth.banned',
  verifierRejected: 'auth.verifier_rejected',
  verifierTimeout: 'auth.verifier_timeout',
  verifierError: 'auth.verifier_error',
  verifierBusy: 'auth.verifier_busy',
  /** Too many failed logins for this account or from this address: back off (details: retryAfterMs). */
  locked: 'auth.locked',
  /** Too many registrations or logins in a short time (details: retryAfterMs). */
  rateLimited: 'auth.rate_limited',
  /** Every password-hashing slot is taken and the queue is full: try again shortly. */
  busy: 'auth.busy',
  /** This connection already has a login or registration running. */
  loginInProgress: 'auth.login_in_progress',
} as const;
export type AuthFailureCode = (typeof AUTH_FAILURES)[keyof typeof AUTH_FAILURES];

/** A refused login. `kind` is `refused` (or `input` for malformed requests) so the CLI maps it sanely. */
export class AuthError extends IyesmpError {
  declare readonly code: AuthFailureCode;
  constructor(
    code: AuthFailureCode,
    message: string,
    opts: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code === AUTH_FAILURES.invalidRequest ? 'input' : 'refused', code, message, opts);
    this.name = 'AuthError';
  }
}

export function isAuthError(err: unknown): err is AuthError {
  return err instanceof AuthError;
}

/** Read a string field from untyped credentials, refusing anything else with a clear message. */
export function stringField(
  c: Credentials,
  field: string,
  opts: { optional?: boolean; max?: number } = {},
): string | undefined {
  const v = c[field];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string') {
    throw new AuthError(AUTH_FAILURES.invalidRequest, `credentials.${field} must be a string`);
  }
  const max = opts.max ?? 1024;
  if (v.length > max) {
    throw new AuthError(AUTH_FAILURES.invalidRequest, `credentials.${field} is longer than ${max} characters`);
  }
  return v;
}

/**
 * Display names are shown to other players: trim, drop control/format characters, cap the length.
 * Returns undefined when nothing printable is left.
 */
export function cleanDisplayName(raw: string, max = 32): string | undefined {
  const cleaned = raw
    .normalize('NFKC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/\s+/gu, ' ')
    .trim();
  if (cleaned.length === 0) return undefined;
  return [...cleaned].slice(0, max).join('');
}
