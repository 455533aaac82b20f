/**
 * The errors a game sees, with messages a player can act on. Transport refusals already arrive
 * with clear messages (a retired build: "this game build's certificate was retired: update the
 * game"); this module adds the protocol-level ones: version checks, login refusals, lost hosts.
 */
import { IyesmpError, errorFactory, isIyesmpError, type ErrorCodeOf } from '../errors.js';

/** Every code raised by the game client library, and its kind (the CLI exit code follows the kind). */
export const CLIENT_ERRORS = {
  auth_lost: 'io',
  bad_address: 'usage',
  bad_ca: 'input',
  bad_request: 'usage',
  bad_server_data: 'input',
  closed: ['conflict', 'io'],
  file_unreadable: 'io',
  handoff_expired: 'refused',
  host_lost: 'io',
  host_refused: 'refused',
  match_cancelled: 'refused',
  message_too_large: 'usage',
  netcode_bytes_only: 'usage',
  no_host_available: 'io',
  no_trust: 'usage',
  not_supported: ['refused', 'usage'],
  party_dequeued: 'refused',
  session_lost: 'io',
  timeout: 'io',
  transport_unsupported: 'usage',
  unexpected: 'internal',
  version_too_new: 'refused',
  version_too_old: 'refused',
  wrong_family: 'refused',
} as const;
export type ClientErrorCode = ErrorCodeOf<typeof CLIENT_ERRORS>;
export const clientError = errorFactory(CLIENT_ERRORS);

export type ServerKind = 'auth' | 'host';

const SERVER_NAME: Record<ServerKind, string> = { auth: 'login server', host: 'game host' };

/** Turns the rejection of `ProtocolConnection.ready` into the error a player should read. */
export function helloError(err: unknown, server: ServerKind, gameVersion: string): IyesmpError {
  if (!isIyesmpError(err)) return unexpected(err, `connecting to the ${SERVER_NAME[server]}`);
  const reason = serverReason(err);
  switch (err.code) {
    case 'version_too_old':
    case 'update_required':
      return clientError('version_too_old', `this game build (${gameVersion}) is too old for the ${SERVER_NAME[server]}: update the game`, {
        hint: reason ? `the server said: ${reason}` : 'install the current version of the game',
        cause: err,
      });
    case 'version_too_new':
      return clientError('version_too_new', `this game build (${gameVersion}) is newer than the ${SERVER_NAME[server]} accepts`, {
        hint: 'the servers have not been updated to this version yet: try again later, or play with the previous build',
        cause: err,
      });
    case 'wrong_family':
      return clientError('wrong_family', `the ${SERVER_NAME[server]} speaks another protocol on that port`, {
        hint: 'check the address and port',
        cause: err,
      });
    default:
      return new IyesmpError(err.kind, err.code, `the ${SERVER_NAME[server]} refused the connection: ${reason || err.code}`, {
        cause: err,
        ...(err.hint === undefined ? {} : { hint: err.hint }),
      });
  }
}

/** A refused request, with the server's words: `login refused: wrong username or password`. */
export function requestError(err: unknown, what: string): IyesmpError {
  if (!isIyesmpError(err)) return unexpected(err, what);
  if (err.code === 'closed') {
    return clientError.as('io', 'closed', `${what} failed: the connection to the server closed`, { cause: err });
  }
  if (err.code === 'timeout') {
    return clientError('timeout', `${what} failed: the server did not answer in time`, { cause: err });
  }
  // Without details the error was thrown here before anything was sent (e.g. ext failing the schema).
  const notSent = err.details === undefined;
  const local = err.details?.['local'] === true;
  const text = local || notSent ? err.message : stripPrefix(err.message);
  return new IyesmpError(err.kind, err.code, notSent ? `${what} was not sent: ${text}` : `${what} refused: ${text}`, {
    cause: err,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(err.details === undefined ? {} : { details: err.details }),
  });
}

/** The host connection ended before the game did. */
export function hostLost(detail: string): IyesmpError {
  return clientError('host_lost', `the connection to the game host was lost: ${detail}`, {
    hint: 'rejoin with the same hand-off while the session lasts (joinHost again), or log in again to get it back',
  });
}

/** The auth connection ended. */
export function authLost(detail: string): IyesmpError {
  return clientError('auth_lost', `the connection to the login server was lost: ${detail}`, {
    hint: 'connect again; a game in progress goes on, and logging in again returns its hand-off',
  });
}

/** The server sent something this client cannot use (it passed the schema but not our checks). */
export function badServerData(what: string, why: string): IyesmpError {
  return clientError('bad_server_data', `the server sent an unusable ${what}: ${why}`, {
    hint: 'the server may run an incompatible version',
  });
}

function serverReason(err: IyesmpError): string {
  // ProtocolConnection puts the peer's close reason after the last ': '
  const m = /closed before the hello finished: (.*)$/s.exec(err.message);
  return (m?.[1] ?? '').trim();
}

function stripPrefix(message: string): string {
  const m = /^"[^"]+" refused: (.*)$/s.exec(message);
  return m?.[1] ?? message;
}

function unexpected(err: unknown, what: string): IyesmpError {
  return clientError('unexpected', `${what} failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}
