/**
 * iyesmp protocol layer: length-prefixed MsgPack frames, schema-checked messages, a sans-IO
 * session state machine and a WHATWG-streams adapter. See docs/protocol.md.
 */
import type { MessagesFrom, RequestTypes, ResponseBody } from './family.js';
import type { AuthFamily } from './families/auth.js';
import type { HostctlFamily } from './families/hostctl.js';
import type { HostFamily } from './families/host.js';

/** Handlers throw this to refuse a request with a code; failures reject with it. */
export { IyesmpError, isIyesmpError } from '../errors.js';
export * from './limits.js';
export * from './error-codes.js';
export * from './framing.js';
export * from './msgpack-guard.js';
export * from './codec.js';
export * from './envelope.js';
export * from './family.js';
export * from './version.js';
export * from './validate.js';
export * from './session.js';
export * from './bulk.js';
export * from './stream-adapter.js';
export * as schemas from './schemas/common.js';
export * from './families/index.js';
export * from './transports.js';

// Per-family message unions (requests and events each side may send), typed with the game's Ext.
export type ClientToAuth<Ext = unknown> = MessagesFrom<AuthFamily, 'dialer', Ext>;
export type AuthToClient<Ext = unknown> = MessagesFrom<AuthFamily, 'listener', Ext>;
export type HostToAuth<Ext = unknown> = MessagesFrom<HostctlFamily, 'dialer', Ext>;
export type AuthToHost<Ext = unknown> = MessagesFrom<HostctlFamily, 'listener', Ext>;
export type ClientToHost<Ext = unknown> = MessagesFrom<HostFamily, 'dialer', Ext>;
export type HostToClient<Ext = unknown> = MessagesFrom<HostFamily, 'listener', Ext>;

/** Response body of a request type, e.g. `AuthResponse<'account.login'>`. */
export type AuthResponse<K extends RequestTypes<AuthFamily, 'dialer'>, Ext = unknown> = ResponseBody<AuthFamily, K, Ext>;
export type HostctlResponse<K extends keyof HostctlFamily['requests'], Ext = unknown> = ResponseBody<HostctlFamily, K, Ext>;
export type HostResponse<K extends RequestTypes<HostFamily, 'dialer'>, Ext = unknown> = ResponseBody<HostFamily, K, Ext>;
export { PROTOCOL_ERRORS, type ProtocolLayerErrorCode } from './errors.js';
