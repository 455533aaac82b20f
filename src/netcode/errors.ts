import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by the netcode.io library, and its kind (the CLI exit code follows the kind). */
export const NETCODE_ERRORS = {
  exists: 'conflict',
  netcode_address_unresolved: 'input',
  netcode_bad_address: 'usage',
  netcode_bad_expire: 'usage',
  netcode_bad_key: 'input',
  netcode_bad_length: 'usage',
  netcode_bad_server_count: 'usage',
  netcode_bad_timeout: 'usage',
  netcode_no_key: 'input',
  netcode_timeout_zero: 'usage',
  netcode_out_of_range: 'usage',
  netcode_user_data_too_long: 'usage',
  netcode_nonce_not_in_version: 'usage',
  netcode_no_token_sequence: 'usage',
  netcode_sequence_not_in_version: 'usage',
  netcode_bad_issuer_id: 'usage',
  netcode_token_sequence_exhausted: 'internal',
  not_found: 'input',
} as const;
export type NetcodeErrorCode = ErrorCodeOf<typeof NETCODE_ERRORS>;
export const netcodeError = errorFactory(NETCODE_ERRORS);
