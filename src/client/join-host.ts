/**
 * Joining the game host named in a hand-off. QUIC: the session certificate proves the seat, the
 * host's certificate is checked against the PKI and the hand-off's TLS name, then the host hello.
 * netcode.io: the connect token is the credential (netcode-host.ts). Both give a GameSession.
 */
import { ALPN } from '../protocol/index.js';
import { GameSession, type GameSessionOptions } from './game-session.js';
import type { HostTicket } from './handoff.js';
import { dialQuic, localBind, type LocalBind } from './link.js';
import { joinNetcodeHost, type NetcodeJoinOptions } from './netcode-host.js';
import { withConnectRetry, type ConnectRetryInfo, type ConnectRetryPolicy } from './retry.js';
import { resolveTrust, type ClientTrust } from './trust.js';
import { clientError } from './errors.js';

/** Default budget of a QUIC `joinHost`, retries included. */
const HOST_CONNECT_TIMEOUT_MS = 30_000;

export interface JoinHostOptions<Ext = unknown> extends GameSessionOptions<Ext>, LocalBind {
  /** what the host's certificate must chain to; required for QUIC hosts, unused for netcode */
  trust?: ClientTrust;
  /**
   * QUIC: connect + confirm + hello, retries of a busy host's transient failures included (default
   * 30 s); netcode: handshake + first roster (default 15 s)
   */
  connectTimeoutMs?: number;
  /** QUIC: the retry policy (retry.ts), or `false` for one attempt */
  connectRetry?: false | Partial<ConnectRetryPolicy>;
  /** QUIC: called before each retry */
  onConnectRetry?: (info: ConnectRetryInfo) => void;
  /**
   * QUIC idle timeout (default 30 s): how long a silent host goes unnoticed before `host_lost`;
   * MQTT: how long the broker may stay unreachable (the link trying again every second) before it
   */
  idleTimeoutMs?: number;
  /** QUIC PING interval keeping a quiet connection open (default a third of idleTimeoutMs; 0 disables) */
  keepAliveMs?: number;
  /** netcode.io options: how game data becomes datagrams (`codec`), resend interval */
  netcode?: NetcodeJoinOptions<Ext>;
  /** the clock, for the expiry check (tests) */
  now?: () => number;
}

/**
 * Connects to the game host named in a hand-off (QUIC with the session certificate, or netcode.io
 * with the connect token) and waits for the host's welcome or roster. Call `game.ready()` when
 * the player is ready.
 */
export async function joinHost<Ext = unknown>(ticket: HostTicket<Ext>, opts: JoinHostOptions<Ext>): Promise<GameSession<Ext>> {
  const netcode = ticket.transport === 'netcode' && ticket.connectToken !== undefined;
  if (ticket.transport === 'mqtt' && ticket.mqtt !== undefined && ticket.credentials !== undefined) {
    const { joinMqttHost } = await import('./mqtt-host.js');
    return joinMqttHost<Ext>(ticket, opts);
  }
  if (!netcode && (ticket.transport !== 'quic' || ticket.credentials === undefined)) {
    throw clientError('transport_unsupported', `this client joins hosts over QUIC or netcode.io; the hand-off uses ${ticket.transport}`, {
      hint: ticket.transport === 'mqtt' ? 'use the MQTT turn-based client' : 'the hand-off is incomplete: claim the seat again',
    });
  }
  const now = opts.now?.() ?? Date.now();
  if (now > ticket.expiresAt) {
    throw clientError('handoff_expired', `the hand-off to session ${ticket.sessionId} expired at ${new Date(ticket.expiresAt).toISOString()}`, {
      hint: netcode ? 'claim the seat again (log in again) for a fresh connect token' : 'log in again and queue for a new game',
    });
  }
  if (netcode) return joinNetcodeHost<Ext>(ticket, opts);
  if (opts.trust === undefined) {
    throw clientError('no_trust', 'joinHost needs `trust` (the PKI Master certificate) to check a QUIC game host');
  }
  const verifier = await resolveTrust(opts.trust);
  // A connection the host closed during the hello is not retried: that may be the seat's own doing.
  return withConnectRetry(
    { budgetMs: opts.connectTimeoutMs ?? HOST_CONNECT_TIMEOUT_MS, retry: opts.connectRetry, onRetry: opts.onConnectRetry, closedIsTransient: false },
    async (timeoutMs) => {
      const link = await dialQuic({
        address: { host: ticket.host.host, port: ticket.host.port },
        alpn: ALPN.host,
        serverName: ticket.host.tlsName,
        cert: ticket.credentials!.certPem,
        key: ticket.credentials!.keyPem,
        verifier,
        serverPolicy: { kind: 'host' },
        timeoutMs,
        ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
        ...(opts.keepAliveMs === undefined ? {} : { keepAliveMs: opts.keepAliveMs }),
        ...localBind(opts),
      });
      return link.open((stream) => GameSession.open<Ext>(stream, { sessionId: ticket.sessionId, playerId: ticket.playerId }, opts, link.close));
    },
  );
}
