/**
 * The Auth server: `startAuthServer` runs it; the sans-IO rules it is built from (accounts, lobbies,
 * matchmaking, host registry, session records) are exported for studios that embed or extend them.
 * See docs/servers.md and docs/auth-domain.md.
 */
export { AuthServer, startAuthServer, type AuthServerOptions, type AuthServerEvents } from './server.js';
export * from './accounts/index.js';
export * from './audit.js';
export * from './domain.js';
export * from './errors.js';
export * from './lobbies.js';
export * from './matchmaking.js';
export * from './host-registry.js';
export * from './sessions.js';
export * from './stores.js';
