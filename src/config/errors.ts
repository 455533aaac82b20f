import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by config loading, checking and scaffolding, and its kind (the CLI exit code follows the kind). */
export const CONFIG_ERRORS = {
  address_not_in_cert: 'input',
  bad_env_override: 'input',
  bad_exec: 'usage',
  config_invalid: 'input',
  config_kind: 'input',
  config_not_found: 'usage',
  host_cert_unnamed: 'input',
  not_found: 'input',
  not_toml: 'input',
  scaffold_invalid: 'input',
  template_placeholder: 'internal',
  unknown_cert: 'input',
  unreadable: 'io',
  wrong_role: 'usage',
} as const;
export type ConfigErrorCode = ErrorCodeOf<typeof CONFIG_ERRORS>;
export const configError = errorFactory(CONFIG_ERRORS);
