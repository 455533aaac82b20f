import { errorFactory, type ErrorCodeOf } from '../errors.js';

/**
 * Every code the protocol layer raises locally, and its kind (the CLI exit code follows the kind).
 * Most are wire codes of error-codes.ts (`ErrorCodes`), which is what peers see; a failure that
 * arrives from a peer keeps the peer's code, which may be a game's own and so stays a string.
 */
export const PROTOCOL_ERRORS = {
  bad_request: 'input',
  busy: 'conflict',
  closed: ['conflict', 'io'],
  frame_too_large: 'input',
  hello_required: 'conflict',
  unknown_request: 'usage',
  unknown_type: ['refused', 'usage'],
  wrong_side: 'internal',
} as const;
export type ProtocolLayerErrorCode = ErrorCodeOf<typeof PROTOCOL_ERRORS>;
export const protocolError = errorFactory(PROTOCOL_ERRORS);
