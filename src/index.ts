/**
 * iyesmp. Import the part you need, so a game client never loads server code:
 *   iyesmp/client      connect, log in, matchmake, join a host (docs/client.md)
 *   iyesmp/client/lan  run Auth + Host inside a game for LAN play
 *   iyesmp/server      run Auth and Host servers with your game (docs/servers.md)
 *   iyesmp/pki, iyesmp/transport, iyesmp/protocol, iyesmp/netcode, iyesmp/auth, iyesmp/host
 * This root entry holds only what every part shares.
 */
export { IyesmpError, isIyesmpError, hasCodeOf, type ErrorKind, type ErrorRegistry } from './errors.js';
export type * from './error-codes.js';
export { ALPN } from './protocol/index.js';
