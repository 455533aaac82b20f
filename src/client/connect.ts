/**
 * The two entry points a game calls: `connectToAuth` (QUIC + mutual TLS with the game build's
 * client certificate, then the auth hello) and `joinHost` (QUIC with the session certificate from
 * the hand-off, then the host hello). Both reject with a clear IyesmpError; a retired game build
 * is refused with "this game build's certificate was retired: update the game".
 */
import { ALPN } from '../protocol/index.js';
import type { PemSource } from '../transport/index.js';
import { AuthClient, type AuthClientOptions } from './auth-client.js';
import { dialQuic, parseAddress, type Address } from './link.js';
import { resolveTrust, type ClientTrust } from './trust.js';

export interface ConnectOptions<Ext = unknown> extends AuthClientOptions<Ext> {
  /** the Auth server, `host:port` or `{ host, port }` */
  address: string | Address;
  /** name the Auth server's certificate must carry (DNS or IP SAN); default: the address's host */
  serverName?: string;
  /** the game build's client certificate and key (PEM text or file paths) */
  identity: { cert: PemSource; key: PemSource };
  /** what to trust: the Master certificate the build ships, a trust folder, or a verifier */
  trust: ClientTrust;
  /** connect + confirm budget, default 10 s */
  connectTimeoutMs?: number;
  /** QUIC idle timeout, default 30 s (keep-alives keep a quiet connection open) */
  idleTimeoutMs?: number;
}

/**
 * Connects to the Auth server and finishes the hello. `client.joinHost(ticket)` then joins the
 * game host with the same trust and game options.
 */
export async function connectToAuth<Ext = unknown>(opts: ConnectOptions<Ext>): Promise<AuthClient<Ext>> {
  const address = parseAddress(opts.address);
  const verifier = await resolveTrust(opts.trust);
  const link = await dialQuic({
    address,
    alpn: ALPN.auth,
    serverName: opts.serverName ?? address.host,
    cert: opts.identity.cert,
    key: opts.identity.key,
    verifier,
    serverPolicy: { kind: 'auth-server' },
    ...(opts.connectTimeoutMs === undefined ? {} : { timeoutMs: opts.connectTimeoutMs }),
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
  });
  return AuthClient.open<Ext>(link.stream, { ...opts, hostTrust: { verifier } }, link.close);
}

