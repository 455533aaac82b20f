/**
 * Names, ids and the role URIs carried in certificates. Roles live in a URI SAN so a program can
 * check them exactly; ids are restricted to a charset that cannot break out of a URI or a DN.
 */
import { X509Certificate as NodeX509 } from 'node:crypto';
import { pkiError } from './errors.js';
import type { Role } from './types.js';
import { x509 } from './x509.js';

/**
 * The one charset for names, session ids and player (seat) ids: whatever passes cannot break out of
 * a URI SAN, a DN or a file name. The manifest, the wire and the hand-off's seat ids all use it.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SAFE = ID_PATTERN;
export const ROLE_URI_PREFIX = 'iyesmp:role/';
export const SESSION_URI_PREFIX = 'iyesmp:session/';
export const ROLES: readonly Role[] = ['master', 'auth', 'host', 'clientauth', 'sessionauth', 'client', 'session', 'admin'];

function check(value: unknown, what: string, code: 'bad_name' | 'bad_session_id' | 'bad_player_id'): string {
  if (typeof value !== 'string' || !SAFE.test(value)) {
    throw pkiError(code, `${what} ${JSON.stringify(value)} is not allowed`, {
      hint: 'use 1-64 characters from A-Z a-z 0-9 . _ - , starting with a letter or digit',
    });
  }
  return value;
}

export const validateName = (v: unknown): string => check(v, 'name', 'bad_name');
export const validateSessionId = (v: unknown): string => check(v, 'session id', 'bad_session_id');
export const validatePlayerId = (v: unknown): string => check(v, 'player id', 'bad_player_id');

export function roleUri(role: Role, name: string): string {
  return `${ROLE_URI_PREFIX}${role}/${name}`;
}

export function sessionUri(sessionId: string, playerId: string): string {
  return `${SESSION_URI_PREFIX}${sessionId}/player/${playerId}`;
}

export interface ParsedIdentity {
  role?: Role;
  name?: string;
  sessionId?: string;
  playerId?: string;
  /** more than one role URI, or a malformed iyesmp URI: treat as not ours */
  conflicting: boolean;
}

/** Reads role and session from a cert's URI SANs. Only exact, well-formed iyesmp URIs count. */
export function parseIdentity(uris: readonly string[]): ParsedIdentity {
  const out: ParsedIdentity = { conflicting: false };
  for (const uri of uris) {
    if (uri.startsWith(ROLE_URI_PREFIX)) {
      const parts = uri.slice(ROLE_URI_PREFIX.length).split('/');
      const role = parts[0] as Role;
      if (parts.length !== 2 || !ROLES.includes(role) || !SAFE.test(parts[1] ?? '') || out.role) {
        out.conflicting = true;
        continue;
      }
      out.role = role;
      out.name = parts[1];
    } else if (uri.startsWith(SESSION_URI_PREFIX)) {
      const parts = uri.slice(SESSION_URI_PREFIX.length).split('/');
      if (parts.length !== 3 || parts[1] !== 'player' || !SAFE.test(parts[0] ?? '') || !SAFE.test(parts[2] ?? '') || out.sessionId) {
        out.conflicting = true;
        continue;
      }
      out.sessionId = parts[0];
      out.playerId = parts[2];
    }
  }
  return out;
}

/** The URI SANs of a parsed certificate. */
export function uriSansOf(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
}

/** `URI:value` or `URI:"quoted value"` entries of node's `subjectAltName` text, comma-separated. */
const NODE_SAN_ENTRY = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;

/**
 * The URI SANs of a certificate parsed by node:crypto (OpenSSL). Node's X509Certificate is about
 * ten times faster to build than @peculiar/x509's, which matters for certs seen once (a fresh
 * session cert per joining player); node prints SANs as text, quoting (JSON-style) any value that
 * holds a comma or quote, so the text is read back without ambiguity.
 */
export function uriSansOfNode(cert: NodeX509): string[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  const out: string[] = [];
  for (const m of text.matchAll(NODE_SAN_ENTRY)) {
    if (m[1] !== 'URI') continue;
    const v = m[2] ?? '';
    out.push(v.startsWith('"') ? (JSON.parse(v) as string) : v);
  }
  return out;
}

/**
 * The session and seat a session certificate names, read from its DER the same way the verifier
 * reads it; undefined when the cert does not parse or names no session (or several, or badly).
 * For a Host's TLS-time policy, which must pick the expected fingerprint before verification.
 */
export function sessionIdentityOf(der: Uint8Array): { sessionId: string; playerId: string } | undefined {
  let id: ParsedIdentity;
  try {
    id = parseIdentity(uriSansOfNode(new NodeX509(der)));
  } catch {
    return undefined;
  }
  if (id.conflicting || id.sessionId === undefined || id.playerId === undefined) return undefined;
  return { sessionId: id.sessionId, playerId: id.playerId };
}
