/**
 * Joining the game host named in a hand-off: QUIC with the session certificate (the seat's proof),
 * the host's certificate checked against the PKI and the hand-off's TLS name, then the host hello.
 */
import { IyesmpError } from '../errors.js';
import { ALPN } from '../protocol/index.js';
import { GameSession, type GameSessionOptions } from './game-session.js';
import type { HostTicket } from './handoff.js';
import { dialQuic } from './link.js';
import { resolveTrust, type ClientTrust } from './trust.js';

export interface JoinHostOptions<Ext = unknown> extends GameSessionOptions<Ext> {
  trust: ClientTrust;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** the clock, for the expiry check (tests) */
  now?: () => number;
}

/**
 * Connects to the game host named in a hand-off, proving the seat with the session certificate,
 * and finishes the hello. Call `game.ready()` when the player is ready.
 */
export async function joinHost<Ext = unknown>(ticket: HostTicket<Ext>, opts: JoinHostOptions<Ext>): Promise<GameSession<Ext>> {
  if (ticket.transport !== 'quic' || ticket.credentials === undefined) {
    throw new IyesmpError('usage', 'transport_unsupported', `this client joins hosts over QUIC; the hand-off uses ${ticket.transport}`, {
      hint: ticket.transport === 'netcode' ? 'use the netcode.io client (src/netcode) with the connect token' : 'use the MQTT turn-based client',
    });
  }
  const now = opts.now?.() ?? Date.now();
  if (now > ticket.expiresAt) {
    throw new IyesmpError('refused', 'handoff_expired', `the hand-off to session ${ticket.sessionId} expired at ${new Date(ticket.expiresAt).toISOString()}`, {
      hint: 'log in again and queue for a new game',
    });
  }
  const verifier = await resolveTrust(opts.trust);
  const link = await dialQuic({
    address: { host: ticket.host.host, port: ticket.host.port },
    alpn: ALPN.host,
    serverName: ticket.host.tlsName,
    cert: ticket.credentials.certPem,
    key: ticket.credentials.keyPem,
    verifier,
    serverPolicy: { kind: 'host' },
    ...(opts.connectTimeoutMs === undefined ? {} : { timeoutMs: opts.connectTimeoutMs }),
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
  });
  return GameSession.open<Ext>(link.stream, { sessionId: ticket.sessionId, playerId: ticket.playerId }, opts, link.close);
}
