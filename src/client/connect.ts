/**
 * The two entry points a game calls: `connectToAuth` (QUIC + mutual TLS with the game build's
 * client certificate, then the auth hello) and `joinHost` (QUIC with the session certificate from
 * the hand-off, then the host hello). Both reject with a clear IyesmpError; a retired game build
 * is refused with "this game build's certificate was retired: update the game".
 */
import { ALPN } from '../protocol/index.js';
import type { PemSource } from '../transport/index.js';
import { AuthClient, type AuthClientOptions } from './auth-client.js';
import { dialQuic, localBind, parseAddress, type Address, type LocalBind } from './link.js';
import { withConnectRetry, type ConnectRetryInfo, type ConnectRetryPolicy } from './retry.js';
import { resolveTrust, type ClientTrust } from './trust.js';

/**
 * Liveness of the Auth connection: QUIC's idle timeout, kept from firing on a quiet but healthy
 * connection by keep-alive PINGs. A dead or unreachable Auth server is noticed (close with
 * `auth_lost`) one idle timeout after the first unanswered PING (about 30 s). The PING interval is
 * what an idle player costs the Auth server (one received PING and one ACK each time, about 0.3 ms
 * of its CPU in the QUIC library here, docs/performance.md): 10 s is 4x cheaper than the 2.5 s this
 * used to be while staying well inside NAT binding lifetimes (30 s+); a lost PING is sent again
 * (QUIC loss recovery) long before the 20 s idle timeout.
 */
export const AUTH_IDLE_TIMEOUT_MS = 20_000;
export const AUTH_KEEP_ALIVE_MS = 10_000;
/** Default budget of `connectToAuth`, retries included. */
export const AUTH_CONNECT_TIMEOUT_MS = 30_000;

export interface ConnectOptions<Ext = unknown> extends AuthClientOptions<Ext>, LocalBind {
  /** the Auth server, `host:port` or `{ host, port }` */
  address: string | Address;
  /** name the Auth server's certificate must carry (DNS or IP SAN); default: the address's host */
  serverName?: string;
  /** the game build's client certificate and key (PEM text or file paths) */
  identity: { cert: PemSource; key: PemSource };
  /** what to trust: the Master certificate the build ships, a trust folder, or a verifier */
  trust: ClientTrust;
  /**
   * The whole connect (handshake, confirmation, hello), retries included; default 30 s. A busy
   * server's transient failures (timeouts, `too_many_connections`, `server_full`, `deadline`) are
   * retried with jittered back-off within it; refusals (certificate, version) are not.
   */
  connectTimeoutMs?: number;
  /** the retry policy (retry.ts), or `false` for one attempt */
  connectRetry?: false | Partial<ConnectRetryPolicy>;
  /** called before each retry: the server is busy and the client tries again after `delayMs` */
  onConnectRetry?: (info: ConnectRetryInfo) => void;
  /**
   * QUIC idle timeout: how long a silent Auth server goes unnoticed before the client closes with
   * `auth_lost`. Default 20 s (AUTH_IDLE_TIMEOUT_MS).
   */
  idleTimeoutMs?: number;
  /**
   * PING interval keeping a quiet connection open; must be shorter than idleTimeoutMs. Default
   * 10 s with the default idle timeout (AUTH_KEEP_ALIVE_MS), else a quarter of idleTimeoutMs; 0 disables.
   */
  keepAliveMs?: number;
}

/**
 * Connects to the Auth server and finishes the hello. `client.joinHost(ticket)` then joins the
 * game host with the same trust and game options.
 */
export async function connectToAuth<Ext = unknown>(opts: ConnectOptions<Ext>): Promise<AuthClient<Ext>> {
  const address = parseAddress(opts.address);
  const verifier = await resolveTrust(opts.trust);
  // Nothing is lost before the login, so even a connection closed during the hello is tried again.
  return withConnectRetry(
    { budgetMs: opts.connectTimeoutMs ?? AUTH_CONNECT_TIMEOUT_MS, retry: opts.connectRetry, onRetry: opts.onConnectRetry, closedIsTransient: true },
    async (timeoutMs) => {
      const link = await dialQuic({
        address,
        alpn: ALPN.auth,
        serverName: opts.serverName ?? address.host,
        cert: opts.identity.cert,
        key: opts.identity.key,
        verifier,
        serverPolicy: { kind: 'auth-server' },
        timeoutMs,
        ...authLiveness(opts),
        ...localBind(opts),
      });
      return link.open((stream) =>
        AuthClient.open<Ext>(
          stream,
          { ...opts, hostTrust: { verifier }, ...(opts.localHost === undefined || opts.hostLocalHost !== undefined ? {} : { hostLocalHost: opts.localHost }) },
          link.close,
        ),
      );
    },
  );
}

/** The idle timeout and keep-alive interval of the Auth connection (defaults above). */
export function authLiveness(o: { idleTimeoutMs?: number | undefined; keepAliveMs?: number | undefined }): { idleTimeoutMs: number; keepAliveMs: number } {
  const idleTimeoutMs = o.idleTimeoutMs ?? AUTH_IDLE_TIMEOUT_MS;
  const keepAliveMs = o.keepAliveMs ?? (o.idleTimeoutMs === undefined ? AUTH_KEEP_ALIVE_MS : Math.floor(idleTimeoutMs / 4));
  return { idleTimeoutMs, keepAliveMs };
}
