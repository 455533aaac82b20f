/**
 * iyesmp QUIC transport: mutual-TLS endpoints that enforce a PKI policy during the handshake,
 * confirm acceptance before reporting success, and hand out streams as WHATWG `{ readable, writable }`
 * pairs for the protocol layer. See docs/transport.md.
 */
export { ALPN, type AlpnId } from './alpn.js';
export { createQuicServer, QuicServer } from './server.js';
export type { QuicServerOptions, ServerLimits, ServerRefusal, QuicServerStats, QuicServerEvents } from './server.js';
export { connectQuic, type ConnectQuicOptions } from './client.js';
export type { ConfirmMode } from './confirm.js';
export { PeerConnection, type PeerStream, type CloseInfo, type ConnectionAdmissionHandle } from './connection.js';
export { AddressAllowList, parseAllowEntry, canonicalIp, type AllowListStats, type AllowEntry } from './allow-list.js';
export {
  parseProxyV2,
  encodeProxyV2,
  hasProxySignature,
  parseTrustedProxies,
  PROXY_V2_SIGNATURE,
  PROXY_HEADER_REFUSALS,
  type ProxyHeaderRefusal,
  type ProxyHeaderResult,
  type ProxyEndpoint,
  type ProxyStats,
} from './proxy-protocol.js';
export type { CredentialSources, PemSource } from './credentials.js';
export type { PolicyRefusal, PolicyResolver, Refusal } from './verify.js';
export { AppClose } from './refusal.js';
export { ConnectionAdmission, ADMISSION_REFUSALS, type AdmissionLimits, type AdmissionRefusal, type AdmissionStage, type AdmitResult } from './admission.js';
export { TRANSPORT_ERRORS, type TransportErrorCode } from './errors.js';
