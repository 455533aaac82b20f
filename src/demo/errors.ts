import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by the demo deployment, and its kind (the CLI exit code follows the kind). */
export const DEMO_ERRORS = {
  bad_port: 'usage',
  demo_no_client: 'internal',
  demo_no_host: 'internal',
  demo_no_mosquitto: 'io',
  demo_server_exited: 'io',
  demo_server_failed: 'io',
  demo_timeout: 'io',
  example_not_built: 'input',
  interrupted: 'io',
  same_port: 'usage',
  toml_edit: 'internal',
} as const;
export type DemoErrorCode = ErrorCodeOf<typeof DEMO_ERRORS>;
export const demoError = errorFactory(DEMO_ERRORS);
