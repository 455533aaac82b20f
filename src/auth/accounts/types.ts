import { accountError } from '../errors.js';

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

/** One way to log in. Implementations throw `accountError` (a code of ACCOUNT_ERRORS) on refusal. */
export interface AccountProvider {
  readonly method: string;
  authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account>;
}

/** Read a string field from untyped credentials, refusing anything else with a clear message. */
export function stringField(c: Credentials, field: string, opts: { optional?: boolean; max?: number } = {}): string | undefined {
  const v = c[field];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string') {
    throw accountError('auth.invalid_request', `credentials.${field} must be a string`);
  }
  const max = opts.max ?? 1024;
  if (v.length > max) {
    throw accountError('auth.invalid_request', `credentials.${field} is longer than ${max} characters`);
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
