import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by LAN mode (starting the in-process servers, reading invites), and its kind. */
export const LAN_ERRORS = {
  bad_address: 'usage',
  bad_invite: 'input',
  lan_start_failed: 'io',
} as const;
export type LanErrorCode = ErrorCodeOf<typeof LAN_ERRORS>;
export const lanError = errorFactory(LAN_ERRORS);
