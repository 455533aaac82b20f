/**
 * QUIC client endpoint: dials, checks the server's certificate with a PeerVerifier, then has the
 * server confirm it (see confirm.ts), so a client whose own certificate the server refused gets that
 * refusal (with its reason) instead of a connection that dies at once. `confirm: 'accepted'` waits
 * for the server's ACCEPTED before resolving; `confirm: 'first-stream'` resolves after the handshake
 * and the server's answer on the first stream (the protocol welcome) confirms, see `confirmedBy`.
 */
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { QUICClient, errors as quicErrors } from '@matrixai/quic';
import type { PeerVerifier, VerifiedPeer, VerifyPolicy } from '../pki/types.js';
import { IyesmpError, isIyesmpError } from '../errors.js';
import { TIMED_OUT } from '../events/timeout.js';
import { transportError } from './errors.js';
import { loadCredentials, type CredentialSources } from './credentials.js';
import { clientCrypto, quicLogger } from './quic-runtime.js';
import { VerifyGate, type Refusal } from './verify.js';
import { errorFromPeerClose, refusalToCryptoError, serverCertRefused } from './refusal.js';
import { decodeConfirm, type ConfirmMode } from './confirm.js';
import { PeerConnection, helloAccepted } from './connection.js';
import { checkAlpn } from './alpn.js';
import { formatHostPort } from '../net/address.js';

export interface ConnectQuicOptions extends CredentialSources {
  host: string;
  port: number;
  alpn: string;
  /**
   * Name the server certificate must carry (DNS or IP SAN). When given it is checked in addition
   * to `serverPolicy`; when absent only the policy (role, chain, validity) is checked.
   */
  serverName?: string;
  verifier: PeerVerifier;
  /** what the server's certificate must be: `{ kind: 'auth-server' }` or `{ kind: 'host' }` */
  serverPolicy: VerifyPolicy;
  /** whole connect + confirm budget (`first-stream`: until `confirmedBy` saw the answer). Default 10000. */
  timeoutMs?: number;
  /**
   * How the server confirms this client (confirm.ts). `accepted` (default): resolves once the server
   * answered ACCEPTED, one round trip after the handshake. `first-stream`: resolves after the
   * handshake; open the protocol stream at once, say hello, and pass the answer to
   * `conn.confirmedBy(...)`, which turns a refusal into the same errors as `accepted`. Needs a server
   * that knows the mode (this release or later): an older one resets that stream.
   */
  confirm?: ConfirmMode;
  /** QUIC max_idle_timeout of the connection. Default 30000. */
  idleTimeoutMs?: number;
  /** PING interval keeping an idle connection open. Default: a third of idleTimeoutMs; 0 disables. */
  keepAliveMs?: number;
  /** concurrent bidirectional streams the server may open. Default 100. */
  maxStreams?: number;
  /** local address to bind; default `0.0.0.0` for an IPv4 target, `::` otherwise */
  localHost?: string;
  /** local UDP port; default 0 (any). Fix it when the server allow-lists `address:port`. */
  localPort?: number;
  now?: () => Date;
}

function timeoutError(address: string, ms: number): IyesmpError {
  return transportError('timeout', `no QUIC answer from ${address} within ${ms} ms`, {
    hint: "is the server running on that port, and is this machine's address on its allow-list?",
    details: { server: address, timeoutMs: ms },
  });
}

/**
 * Connects and confirms; with `confirm: 'accepted'` resolves only once the server accepted this
 * client, with `first-stream` once the handshake is done (the first stream's answer confirms).
 */
export async function connectQuic(opts: ConnectQuicOptions): Promise<PeerConnection> {
  const alpn = checkAlpn(opts.alpn);
  const address = formatHostPort(opts.host, opts.port);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  const keepAliveMs = opts.keepAliveMs ?? (idleTimeoutMs > 0 ? Math.floor(idleTimeoutMs / 3) : 0);
  if (keepAliveMs > 0 && idleTimeoutMs > 0 && keepAliveMs >= idleTimeoutMs) {
    throw transportError('bad_limits', 'keepAliveMs must be shorter than idleTimeoutMs');
  }
  const deadline = Date.now() + timeoutMs;
  const creds = await loadCredentials(opts);

  let refusal: Refusal | undefined;
  let serverPeer: VerifiedPeer | undefined;
  const gate = new VerifyGate(opts.verifier, opts.serverPolicy, opts.now, () => undefined);
  const verifyCallback = async (certs: Uint8Array[]): Promise<number | undefined> => {
    const r = await gate.verify(certs);
    if (!r.ok) {
      refusal = r.refusal;
      return r.refusal.reason === 'verifier_error' ? refusalToCryptoError('malformed') : refusalToCryptoError(r.refusal.reason);
    }
    if (opts.serverName !== undefined && !nameMatches(certs[0]!, opts.serverName)) {
      refusal = { reason: 'wrong_role', message: `the certificate is not for ${opts.serverName}` };
      return refusalToCryptoError('wrong_role');
    }
    serverPeer = r.peer;
    return undefined;
  };

  const localHost = opts.localHost ?? (isIP(opts.host) === 4 ? '0.0.0.0' : '::');
  let client: QUICClient;
  try {
    client = await QUICClient.createQUICClient(
      {
        host: opts.host,
        port: opts.port,
        ...(opts.serverName === undefined ? {} : { serverName: opts.serverName }),
        localHost,
        ...(opts.localPort === undefined ? {} : { localPort: opts.localPort }),
        crypto: clientCrypto,
        logger: quicLogger('QUICClient'),
        config: {
          cert: creds.cert,
          key: creds.key,
          ...(creds.ca.length > 0 ? { ca: creds.ca } : {}),
          verifyPeer: true,
          verifyCallback,
          applicationProtos: [alpn],
          maxIdleTimeout: idleTimeoutMs,
          ...(keepAliveMs > 0 ? { keepAliveIntervalTime: keepAliveMs } : {}),
          initialMaxStreamsBidi: opts.maxStreams ?? 100,
          // one unidirectional stream: the server's ACCEPTED (confirm.ts), also in `first-stream` mode,
          // where an older server confirms that way after it reset the first stream
          initialMaxStreamsUni: 1,
        },
      },
      { timer: timeoutMs },
    );
  } catch (e) {
    throw clientError(e, refusal, { alpn, address, timeoutMs });
  }

  const conn = client.connection;
  const destroy = (o: { isApp: true; errorCode: number; reason: Uint8Array; force: boolean }): Promise<void> => client.destroy(o).catch(() => undefined);
  try {
    if (refusal || !serverPeer) throw clientError(undefined, refusal, { alpn, address, timeoutMs });
    if (opts.confirm === 'first-stream') {
      if (conn.closed) throw new Error('connection closed after the handshake');
      return new PeerConnection({
        conn,
        peer: serverPeer,
        alpn,
        side: 'client',
        stop: destroy,
        confirm: { deadline, address, timeout: () => timeoutError(address, timeoutMs) },
      });
    }
    const frame = await helloAccepted(conn, Math.max(1, deadline - Date.now()));
    if (frame === TIMED_OUT) throw timeoutError(address, timeoutMs);
    if (frame === undefined || decodeConfirm(frame) !== 'accepted') {
      throw transportError('confirm_failed', `${address} answered the confirmation with something unexpected`);
    }
    return new PeerConnection({ conn, peer: serverPeer, alpn, side: 'client', stop: destroy });
  } catch (e) {
    const closeInfo = conn.getConnectionError();
    await destroy({ isApp: true, errorCode: 0, reason: new Uint8Array(), force: true });
    const fromClose = closeInfo ? errorFromPeerClose(closeInfo, { alpn, address }) : undefined;
    // a refusal carried by the close explains the failed read better than the read error itself
    if (fromClose) throw fromClose;
    throw isIyesmpError(e) ? e : clientError(e, refusal, { alpn, address, timeoutMs });
  }
}

function nameMatches(der: Uint8Array, name: string): boolean {
  try {
    const cert = new X509Certificate(der);
    return isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined;
  } catch {
    return false;
  }
}

/** Turns whatever connecting threw into the IyesmpError a caller sees. */
function clientError(e: unknown, refusal: Refusal | undefined, ctx: { alpn: string; address: string; timeoutMs: number }): IyesmpError {
  if (isIyesmpError(e)) return e;
  if (refusal) return serverCertRefused(refusal.reason, refusal.message, ctx.address);
  const data = (e as { data?: { isApp: boolean; errorCode: number; reason: Uint8Array } } | undefined)?.data;
  if (data && typeof data.errorCode === 'number' && e instanceof quicErrors.ErrorQUICConnectionPeer) {
    const mapped = errorFromPeerClose(data, ctx);
    if (mapped) return mapped;
  }
  if (data && typeof data.errorCode === 'number' && e instanceof quicErrors.ErrorQUICConnectionPeerTLS) {
    const mapped = errorFromPeerClose(data, ctx);
    if (mapped) return mapped;
  }
  if (
    e instanceof quicErrors.ErrorQUICClientCreateTimeout ||
    e instanceof quicErrors.ErrorQUICConnectionStartTimeout ||
    e instanceof quicErrors.ErrorQUICConnectionIdleTimeout
  ) {
    return timeoutError(ctx.address, ctx.timeoutMs);
  }
  if (e instanceof quicErrors.ErrorQUICSocket || e instanceof quicErrors.ErrorQUICClientInvalidHost) {
    return transportError('socket_failed', `cannot reach ${ctx.address}: ${(e as Error).message}`, { cause: e });
  }
  if (e === undefined) {
    return transportError('no_server_peer', `the handshake with ${ctx.address} finished without a verified server`);
  }
  return transportError('quic_failed', `QUIC connection to ${ctx.address} failed: ${(e as Error).message ?? String(e)}`, {
    cause: e,
  });
}
