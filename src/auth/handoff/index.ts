/** The hand-off: a sans-IO core (HandoffCore) and the driver the Auth server runs it with. */
export {
  HandoffCore,
  OFFER_TTL_MS,
  WAITING_NOTICE_MS,
  type ClaimRefusal,
  type CreateBody,
  type ErrorInfo,
  type HandoffAction,
  type HandoffCoreOptions,
  type ClaimRefusalCode,
  type HostEndpoint,
  type HostPicker,
  type KeyRefusedBody,
  type Offer,
  type PushedHandoffBody,
  type PlayerNotice,
  type SeatCert,
  type SeatPlayer,
  type SessionReadyBody,
  type SessionRecordOp,
  type StartRequest,
  type WaitingBody,
  type WireHandoff,
} from './core.js';
export { HandoffDriver, type HandoffDriverOptions } from './driver.js';
export { seatIdOf, type HandoffTransportKind } from './seat.js';
