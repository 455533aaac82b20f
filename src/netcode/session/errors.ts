import { errorFactory, type ErrorCodeOf } from '../../errors.js';

/**
 * Every code the netcode session client raises, and its kind. A failed handshake is named after the
 * netcode client state it settled in (`netcode_<state>`, constants.ts), every state but `connected`.
 */
export const NETCODE_SESSION_ERRORS = {
  disconnected: 'refused',
  netcode_connect_token_expired: 'refused',
  netcode_connection_denied: 'refused',
  netcode_connection_request_timed_out: 'refused',
  netcode_connection_response_timed_out: 'refused',
  netcode_connection_timed_out: 'refused',
  netcode_disconnected: 'refused',
  netcode_invalid_connect_token: 'refused',
  netcode_sending_connection_request: 'refused',
  netcode_sending_connection_response: 'refused',
  timeout: 'io',
} as const;
export type NetcodeSessionErrorCode = ErrorCodeOf<typeof NETCODE_SESSION_ERRORS>;
export const netcodeSessionError = errorFactory(NETCODE_SESSION_ERRORS);
