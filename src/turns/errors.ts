import { errorFactory, type ErrorCodeOf } from '../errors.js';

/**
 * Every code the turns protocol raises or reports. The `turns_*` rejection codes travel back to the
 * sender of a refused message (in a `reject` frame on its sync topic), so each cause has its own code.
 * A move the game refuses carries the game's own code instead (for example `not_your_turn`,
 * `cell_taken`), or `turns_illegal_move` when the game gave none that is wire-safe.
 */
export const TURNS_ERRORS = {
  // raised to the program using the library (bad options, wrong state)
  turns_bad_id: 'usage',
  turns_bad_option: 'usage',
  turns_not_ready: 'conflict',
  turns_ended: 'conflict',
  turns_too_large: 'usage',
  // reported to the sender of a refused message, and in `rejected` events
  turns_malformed: 'input',
  turns_bad_signature: 'refused',
  turns_replay: 'refused',
  turns_sequence_gap: 'refused',
  turns_equivocation: 'refused',
  turns_stale_round: 'refused',
  turns_wrong_topic: 'refused',
  turns_stale_head: 'refused',
  turns_clock_skew: 'refused',
  turns_rate_limited: 'refused',
  turns_message_too_large: 'refused',
  turns_not_registered: 'refused',
  turns_registration_conflict: 'refused',
  turns_registration_expired: 'refused',
  turns_bad_proof: 'refused',
  turns_unknown_player: 'refused',
  /** a registration of a seat the session removed (kicked) */
  turns_removed: 'refused',
  turns_wrong_session: 'refused',
  turns_illegal_move: 'refused',
  turns_unknown_key: 'refused',
  turns_decrypt_failed: 'refused',
  // found by a player while checking what the host sent
  turns_bad_chain: 'refused',
  turns_bad_seed: 'refused',
  turns_fork: 'refused',
  turns_topic_collision: 'internal',
  /** a bug caught at a machine's edge (reported as an alert; the message is dropped) */
  turns_internal: 'internal',
} as const;
export type TurnsErrorCode = ErrorCodeOf<typeof TURNS_ERRORS>;
export const turnsError = errorFactory(TURNS_ERRORS);
