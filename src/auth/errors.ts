import { errorFactory, type ErrorCodeOf, type IyesmpError } from '../errors.js';

/**
 * The Auth server's codes, one registry per concept, code -> kind (the CLI exit code follows the
 * kind). The codes go on the wire to players and hosts and into logs: never rename them.
 */

/** The endpoints and the server's own options. */
export const AUTH_ERRORS = {
  already_logged_in: 'refused',
  ban_reason: 'usage',
  ban_until: 'usage',
  login_required: 'refused',
  /** a host certificate speaking for another host */
  not_allowed: 'refused',
  netcode_bad_key: 'usage',
  transport_unsupported: 'usage',
  // connection limits of the clients' endpoint (src/transport/admission.ts), refused at login
  too_many_for_account: 'refused',
  too_many_for_certificate: 'refused',
  too_many_from_address: 'refused',
  too_many_unauthenticated: 'refused',
  // Auth nodes sharing a database (cluster.ts)
  /** another node did not answer a forwarded request in time */
  cluster_timeout: 'io',
  /** no node holds the matchmaking lock yet (a leader is being elected) */
  cluster_no_leader: 'io',
  /** a forwarded request failed on the other node without an error code */
  cluster_failed: 'internal',
} as const;
export type AuthErrorCode = ErrorCodeOf<typeof AUTH_ERRORS>;
export const authError = errorFactory(AUTH_ERRORS);

/** Refused logins and registrations (accounts/): `refused`, or `input` for a malformed request. */
export const ACCOUNT_ERRORS = {
  'auth.invalid_request': 'input',
  'auth.unknown_method': 'refused',
  'auth.bad_credentials': 'refused',
  'auth.username_taken': 'refused',
  'auth.weak_password': 'refused',
  'auth.password_too_long': 'refused',
  'auth.registration_disabled': 'refused',
  'auth.token_invalid': 'refused',
  'auth.token_expired': 'refused',
  /** the token's signature does not verify with any key of the identity provider */
  'auth.token_signature': 'refused',
  /** the token is signed with an algorithm the server does not accept (`none` never is) */
  'auth.token_algorithm': 'refused',
  /** the token's `iss` is not the configured issuer */
  'auth.token_issuer': 'refused',
  /** the token's `aud` does not name the configured audience */
  'auth.token_audience': 'refused',
  /** the identity provider's key set could not be fetched in time: not the player's fault, try again */
  'auth.token_keys_unavailable': 'refused',
  'auth.banned': 'refused',
  'auth.verifier_rejected': 'refused',
  'auth.verifier_timeout': 'refused',
  'auth.verifier_error': 'refused',
  'auth.verifier_busy': 'refused',
  /** too many failed logins for this account or from this address: back off (details: retryAfterMs) */
  'auth.locked': 'refused',
  /** too many registrations or logins in a short time (details: retryAfterMs) */
  'auth.rate_limited': 'refused',
  /** every password-hashing slot is taken and the queue is full: try again shortly */
  'auth.busy': 'refused',
  /** this connection already has a login or registration running */
  'auth.login_in_progress': 'refused',
} as const;
export type AccountErrorCode = ErrorCodeOf<typeof ACCOUNT_ERRORS>;
export const accountError = errorFactory(ACCOUNT_ERRORS);
/** A refused login or registration. */
export type AuthError = IyesmpError<AccountErrorCode>;

/** Session records (sessions.ts). */
export const SESSION_ERRORS = {
  'session.bad_request': ['input', 'conflict'],
  'session.unknown': ['refused', 'conflict'],
  'session.wrong_state': 'conflict',
  'session.player_busy': 'conflict',
  /** a host reported on a session that runs on another host */
  'session.wrong_host': 'refused',
} as const;
export type SessionErrorCode = ErrorCodeOf<typeof SESSION_ERRORS>;
export const sessionError = errorFactory(SESSION_ERRORS);

/** The registry of Host servers (host-registry.ts). */
export const HOST_REGISTRY_ERRORS = {
  'host.bad_request': 'input',
  'host.unknown': 'conflict',
  'host.duplicate_reservation': 'conflict',
} as const;
export type HostRegistryErrorCode = ErrorCodeOf<typeof HOST_REGISTRY_ERRORS>;
export const hostRegistryError = errorFactory(HOST_REGISTRY_ERRORS);

/** Lobbies (lobbies.ts, and the endpoint's lobby queueing). */
export const LOBBY_ERRORS = {
  'lobby.bad_request': 'input',
  'lobby.not_found': 'conflict',
  'lobby.bad_password': 'conflict',
  'lobby.full': 'conflict',
  'lobby.started': 'conflict',
  'lobby.banned': 'conflict',
  'lobby.already_in_lobby': 'conflict',
  'lobby.not_member': 'conflict',
  'lobby.not_owner': 'conflict',
  'lobby.not_ready': 'conflict',
  'lobby.too_few_players': 'conflict',
  /** a member is still in a game session, or in a match whose session is being set up (details: playerId, in) */
  'lobby.member_in_session': 'conflict',
  /** the members changed between reading the lobby and queueing it */
  'lobby.changed': 'conflict',
  'lobby.code_space_exhausted': 'internal',
} as const;
export type LobbyErrorCode = ErrorCodeOf<typeof LOBBY_ERRORS>;
export const lobbyError = errorFactory(LOBBY_ERRORS);

/** Matchmaking (matchmaking.ts, parties.ts, the endpoint). */
export const MATCHMAKING_ERRORS = {
  'mm.bad_request': 'input',
  'mm.already_queued': 'conflict',
  'mm.rating_required': 'input',
  /** `conflict` from the matchmaker, `refused` when the ticket is someone else's */
  'mm.unknown_ticket': ['conflict', 'refused'],
  'mm.unknown_match': 'conflict',
  'mm.not_in_match': 'conflict',
  'mm.party_offline': 'refused',
} as const;
export type MatchmakingErrorCode = ErrorCodeOf<typeof MATCHMAKING_ERRORS>;
export const matchmakingError = errorFactory(MATCHMAKING_ERRORS);

/** The admin channel (admin-endpoint.ts): what an operator's request is refused with. */
export const ADMIN_ERRORS = {
  /** no logged-in player (kick) with that id */
  'admin.unknown_player': 'conflict',
  /** no registered host with that name (drain) */
  'admin.unknown_host': 'conflict',
  /** the request is not served by this kind of server (players on a Host) */
  'admin.not_served': 'refused',
  'admin.bad_request': 'input',
} as const;
export type AdminErrorCode = ErrorCodeOf<typeof ADMIN_ERRORS>;
export const adminError = errorFactory(ADMIN_ERRORS);

/** The hand-off (handoff/): what a claim is refused with, and a netcode session without the key. */
export const HANDOFF_ERRORS = {
  unknown_session: 'refused',
  bad_request: 'input',
  session_failed: 'refused',
  mint_failed: 'internal',
  shutting_down: 'io',
  /** `input` from the core; `usage` when the server's options name netcode but give no key */
  netcode_no_key: ['input', 'usage'],
} as const;
export type HandoffErrorCode = ErrorCodeOf<typeof HANDOFF_ERRORS>;
export const handoffError = errorFactory(HANDOFF_ERRORS);
