import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Codes of the admin HTTP listener (/metrics, /healthz, /readyz) and its config. */
export const METRICS_ERRORS = {
  /** the address cannot be bound (in use, not an address of this machine, no permission) */
  admin_http_listen: 'io',
  admin_http_address: 'input',
} as const;
export type MetricsErrorCode = ErrorCodeOf<typeof METRICS_ERRORS>;
export const metricsError = errorFactory(METRICS_ERRORS);
