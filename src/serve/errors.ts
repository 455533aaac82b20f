import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by turning configs into running servers, and its kind (the CLI exit code follows the kind). */
export const SERVE_ERRORS = {
  address_not_in_cert: 'input',
  config_invalid: 'input',
  config_module: 'input',
  config_unsupported: 'input',
  game_module: 'input',
  server_cert_refused: 'input',
  sessionauth_bad_passphrase: 'input',
  sessionauth_passphrase_required: 'usage',
  unreadable: 'io',
} as const;
export type ServeErrorCode = ErrorCodeOf<typeof SERVE_ERRORS>;
export const serveError = errorFactory(SERVE_ERRORS);
