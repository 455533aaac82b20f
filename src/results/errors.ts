import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Codes of the results sinks ([results.webhook]). */
export const RESULTS_ERRORS = {
  /** the secret file is missing, unreadable or too short */
  webhook_secret: 'input',
  /** the queue folder cannot be created or read */
  webhook_queue: 'io',
} as const;
export type ResultsErrorCode = ErrorCodeOf<typeof RESULTS_ERRORS>;
export const resultsError = errorFactory(RESULTS_ERRORS);
