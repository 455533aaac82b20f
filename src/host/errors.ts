import { errorFactory, type ErrorCodeOf } from '../errors.js';
import type { ActionRefusal, AdmissionRefusal, CreateRefusal } from './types.js';

/**
 * Every code raised by the Host server and its transports, and its kind (the CLI exit code follows
 * the kind). The session table's refusals travel to the Auth server and to players as they are.
 */
export const HOST_ERRORS = {
  // session table refusals (types.ts), the table's `reason` unchanged
  already_started: 'refused',
  capacity_players: 'refused',
  capacity_sessions: 'refused',
  invalid_results: 'refused',
  invalid_spec: 'refused',
  not_expected: 'refused',
  not_readying: 'refused',
  not_session_cert: 'refused',
  player_left: 'refused',
  seat_taken: 'refused',
  session_ended: 'refused',
  session_exists: 'refused',
  unknown_connection: 'refused',
  unknown_player: 'refused',
  unknown_session: 'refused',
  wrong_address: 'refused',
  wrong_client_id: 'refused',
  wrong_fingerprint: 'refused',
  wrong_phase: 'refused',
  // the server and its transports
  not_supported: 'usage',
  shutting_down: 'io',
  /** the host is draining (admin drain, SIGTERM): no new sessions */
  draining: 'refused',
  /** an admin request a Host does not serve, or a drain naming another host */
  'admin.not_served': 'refused',
  /** an admin kick naming a player in none of this host's sessions */
  'admin.unknown_player': 'conflict',
  transport_unavailable: 'refused',
  wrong_session: 'refused',
  // connection limits of the transport's admission (src/transport/admission.ts)
  too_many_for_account: 'refused',
  too_many_for_certificate: 'refused',
  too_many_from_address: 'refused',
  too_many_unauthenticated: 'refused',
} as const;
export type HostErrorCode = ErrorCodeOf<typeof HOST_ERRORS>;
export const hostError = errorFactory(HOST_ERRORS);

/** A refusal of the session table as the error the protocol sends back. */
export function refusalError(r: { reason: AdmissionRefusal | CreateRefusal | ActionRefusal; message: string }) {
  return hostError(r.reason, r.message);
}
