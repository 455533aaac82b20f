/**
 * iyesmp client library: what a game links to talk to the Auth server (login, lobbies,
 * matchmaking, hand-off) and then to its game host (ready, begin, messages, actions, end).
 *
 * ```ts
 * const client = await connectToAuth({ address: 'auth.example.net:4433', identity: { cert, key }, trust: { caPem }, gameVersion: '1.0.0' });
 * await client.login({ method: 'guest', displayName: 'ada' });
 * const ticket = await client.matchmake({ mode: 'tictactoe' });
 * const game = await client.joinHost(ticket);            // QUIC or netcode.io, as the hand-off says
 * game.on('begin', ...); game.on('message', ...); game.on('end', ...);
 * await game.ready();
 * ```
 * See docs/client.md.
 */
export { IyesmpError, isIyesmpError } from '../errors.js';
export { CLIENT_ERRORS, type ClientErrorCode } from './errors.js';
export { AUTH_CONNECT_TIMEOUT_MS, AUTH_IDLE_TIMEOUT_MS, AUTH_KEEP_ALIVE_MS, connectToAuth, type ConnectOptions } from './connect.js';
export { DEFAULT_CONNECT_RETRY, type ConnectRetryInfo, type ConnectRetryPolicy } from './retry.js';
export { joinHost, type JoinHostOptions } from './join-host.js';
export {
  AuthClient,
  type AuthClientEvents,
  type AuthClientOptions,
  type CreatedLobby,
  type FollowOptions,
  type LoginCredentials,
  type LoginResult,
  type Lobby,
  type LobbySummary,
  type MatchFound,
  type MatchmakingStatus,
  type MatchQueued,
  type Registration,
  type SessionLost,
  type SessionHandoff,
  type SessionKeyRefused,
  type SessionReady,
  type SessionWaiting,
  type WelcomeInfo,
} from './auth-client.js';
export {
  GameSession,
  type GameBegin,
  type GameEnd,
  type GameMessage,
  type GameSessionEvents,
  type GameSessionOptions,
  type HostTransportKind,
  type PlayerStatus,
  type SessionState,
} from './game-session.js';
export {
  bytesNetcodeCodec,
  msgpackNetcodeCodec,
  type NetcodeCodec,
  type NetcodeJoinHostOptions,
  type NetcodeJoinOptions,
} from './netcode-host.js';
export { CONFIRMED_KEYS_ID, FileKeyStore, MemoryKeyStore, type HostTicket, type SessionKeyStore } from './handoff.js';
export { masterOnlyVerifier, type ClientTrust } from './trust.js';
export { parseAddress, type Address, type LocalBind } from './link.js';
export { TypedEmitter } from '../events/emitter.js';
