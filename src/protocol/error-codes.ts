/**
 * Stable error codes carried by error replies and close frames. Programs match on these, people
 * read the accompanying message. Games and the auth/host layers may add their own snake_case codes
 * (for example `invalid_credentials`, `lobby_full`); these are the ones the protocol layer itself uses.
 */
export const ErrorCodes = {
  /** The message decoded but did not match its schema (or the game's ext schema). */
  badRequest: 'bad_request',
  /** The message type is not part of this family, or the sender's side may not send it. */
  unknownType: 'unknown_type',
  /** Not decodable: bad MsgPack, not an envelope, or a MsgPack limit was exceeded. */
  malformed: 'malformed',
  /** A frame's declared length is above the limit. */
  frameTooLarge: 'frame_too_large',
  /** The receiver of this code runs a version older than the peer accepts. */
  versionTooOld: 'version_too_old',
  /** The receiver of this code runs a version newer than the peer accepts. */
  versionTooNew: 'version_too_new',
  /** The hello named a different protocol family than this endpoint serves. */
  wrongFamily: 'wrong_family',
  /** A message arrived before the hello exchange finished, or a second hello arrived. */
  helloRequired: 'hello_required',
  /** The handler refused the request (policy, permissions, state). */
  notAllowed: 'not_allowed',
  /** Too many requests in flight on this connection. */
  busy: 'busy',
  /** No answer in time (a request, or the hello exchange). Produced locally. */
  timeout: 'timeout',
  /** The connection closed while the request was pending. Produced locally. */
  closed: 'closed',
  /** The peer sent too many bad messages; the connection is closed. */
  tooManyErrors: 'too_many_errors',
  /** A handler failed unexpectedly. The message does not leak details. */
  internal: 'internal',
  /** Orderly close. */
  normal: 'normal',
} as const;

export type ProtocolErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Codes on the wire: the built-in ones or a game/app-defined snake_case identifier. */
export const ERROR_CODE_PATTERN = /^[a-z][a-z0-9_.]{0,63}$/;

/** Structured error information as carried by error replies and close frames. */
export interface ProtocolFailure {
  code: string;
  message: string;
}
