/** The Host server's transport-independent domain: sessions, admission, readying, results outbox, redial policy. */
export * from './types.js';
export type { HostSessionEvent } from './events.js';
export { HOST_ERRORS, hostError, type HostErrorCode } from './errors.js';
export { canonicalIp, canonicalAddress, addressKey, addressMatches } from './address.js';
export { AllowList, type AllowListEvent } from './allow-list.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { Session, normalizeFingerprint, type SessionView } from './session.js';
export { SessionTable, type SessionTableOptions, type HostCapacity, type HostLoad, type ConnectionBinding, type AdmissionRequest } from './session-table.js';
export { HostSessions, type HostSessionsEvents, type HostSessionsOptions, type AllowListView } from './sessions.js';
export { ResultsOutbox, type OutboxItem, type OutboxKind, type OutboxOptions, type OutboxEvent, type DeliveryPolicy } from './outbox.js';
export { OutboxStore, type OutboxClock, type OutboxStoreOptions, type OutboxStoreEvent, type OutboxStoreEvents } from './outbox-store.js';
export { AuthLinks, type AuthLinkEvent, type AuthLinkState } from './auth-links.js';
export { HostDomain, type HostDomainOptions, type HostDomainEvents, type AuthLinksView, type OutboxView, type OutboxBody } from './host-domain.js';

// The network-facing Host server and the game API built on the rules above (docs/servers.md).
export { HostServer, startHostServer, type HostServerOptions } from './server.js';
export { GameSession, type HostGame, type GameMessage, type GameSessionEvents, type ActionHandler } from './game.js';

// How players reach the host: one interface every transport implements (src/host/transports/transport.ts says how to add one).
export type {
  HostTransport,
  HostTransportContext,
  HostTransportEvent,
  HostTransportEvents,
  SeatRef,
  TransportEndpoint,
  SeatClaim,
  SeatCredential,
} from './transports/transport.js';
export { QuicHostTransport, type QuicHostTransportOptions, type QuicTransportContext, type GameEndNotice } from './transports/quic/transport.js';
export {
  NetcodeHostTransport,
  type NetcodeHostTransportOptions,
  type NetcodeHostTransportEvents,
  type NetcodeHostEvent,
  type NetcodeRefusal,
} from './transports/netcode/transport.js';
export { netcodeExpectedPlayer, NO_ANNOUNCED_ADDRESS, type NetcodeSeat } from './transports/netcode/seat.js';
