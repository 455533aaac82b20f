/**
 * iyesmp servers for game programmers. Start an Auth server and one or more Host servers, give the
 * host your game, and players are matched, handed off with session certificates and admitted.
 *
 * ```ts
 * import { startAuthServer, startHostServer, ReloadableVerifier, openPki } from 'iyesmp/server';
 *
 * const pki = await openPki('pki');
 * const auth = await startAuthServer({
 *   clients: { port: 7350 }, hosts: { port: 7351 },
 *   cert: 'pki/certs/auth.pem', key: 'pki/keys/auth.key.pem',
 *   verifier: await ReloadableVerifier.load('pki/trust'),
 *   minter: await pki.sessionMinter(),
 * });
 *
 * const host = await startHostServer(
 *   { name: 'host-1', publicAddress: '203.0.113.7', listen: { port: 7400 },
 *     cert: 'pki/certs/host-1.pem', key: 'pki/keys/host-1.key.pem',
 *     verifier: await ReloadableVerifier.load('pki/trust'),
 *     authServers: [{ host: 'auth.example.org', port: 7351 }] },
 *   {
 *     begin(session) {                                   // every player is ready
 *       session.on('message', ({ playerId, ext }) => session.broadcast({ ext }, { except: playerId }));
 *       session.onAction((playerId, move) => ({ ok: true }));
 *       // ... later: session.end({ outcomes: { [winner]: { result: 'win' } } });
 *     },
 *   },
 * );
 * ```
 */
export { AuthServer, startAuthServer, type AuthServerOptions, type AuthServerEvents } from './auth/server.js';
export { HostServer, startHostServer, type HostServerOptions } from './host/server.js';
export { GameSession, type HostGame, type GameMessage, type GameSessionEvents, type ActionHandler } from './host/game.js';
export type { WireHandoff, HandoffTransportKind } from './auth/handoff/index.js';
// netcode.io sessions: the Auth server's `netcode` and the Host server's `netcode` options from configs
export { resolveNetcodeIssuer, resolveNetcodeHost, type ResolvedNetcodeIssuer, type ResolvedNetcodeHost } from './netcode/config.js';
export { ReloadableVerifier } from './serve/verifier.js';
export { authOptionsFromConfig, hostOptionsFromConfig } from './serve/config.js';
export { relayGame } from './serve/game.js';
export { openPki, loadSessionMinter } from './pki/index.js';
export * from './auth/accounts/index.js';
// observability for servers run in your own process: a registry per server, its metrics, the admin HTTP listener, the results webhook
export { createRegistry, instrumentAuthServer, instrumentHostServer, startAdminHttp, type AdminHttp, type ReadyCheck } from './metrics/index.js';
export { WebhookSink, readWebhookSecret, signWebhook, verifyWebhook, type WebhookOptions } from './results/webhook.js';
export { makeServerLogger, type ServerLoggerOptions } from './serve/log.js';
