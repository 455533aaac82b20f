/** netcode.io as an iyesmp Host transport: seat identity, the session messages, the host transport. */
export * from './identity.js';
export * from './messages.js';
export * from './host-transport.js';
export * from './session-client.js';
export * from '../handoff.js';
export * from '../config.js';
