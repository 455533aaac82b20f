/**
 * Dialling a server for the client: address parsing and the QUIC connection + control stream that
 * both the Auth and the Host client sit on. Split out so tests (and LAN mode) can hand the clients
 * any `{ readable, writable }` pair instead.
 */
import { isIP } from 'node:net';
import { formatHostPort, isValidPort, parseEndpoint } from '../net/address.js';
import type { StreamPair } from '../protocol/index.js';
import { connectQuic, type PemSource } from '../transport/index.js';
import type { PeerVerifier, VerifyPolicy } from '../pki/types.js';
import { clientError } from './errors.js';
import { withTimeout } from '../events/timeout.js';

export interface Address {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`, or `{ host, port }`. */
export function parseAddress(a: string | Address): Address {
  if (typeof a !== 'string') {
    if (!isValidPort(a.port) || a.host.length === 0) throw badPort(formatHostPort(a.host, a.port));
    return { host: a.host, port: a.port };
  }
  const r = parseEndpoint(a);
  if (r.ok) return { ...r.value };
  if (r.what === 'port') throw badPort(a);
  throw clientError('bad_address', `"${a}" is not an address: write host:port (IPv6 as [addr]:port)`);
}

const badPort = (text: string) => clientError('bad_address', `"${text}" is not an address: the port must be 1..65535`);

const CLOSE_WAIT_MS = 3000;

/** The underlying connection of a client: its control stream and how to end it. */
export interface Link {
  /**
   * Opens the control stream right after the handshake and runs `exchange` on it (the client built
   * on the stream, resolved once the server welcomed it: the hello goes out at once). The welcome is
   * the server's confirmation of the connection (docs/transport.md). A refusal carried by the
   * connection close (a refused certificate, `server_full`, `deadline`...) replaces `exchange`'s
   * error, and the connect deadline applies, as when the transport confirmed by itself. Against an
   * older server (one that confirms only the `accepted` way) `exchange` runs once more, on a new
   * stream, after that confirmation.
   */
  open<T>(exchange: (stream: StreamPair) => Promise<T>): Promise<T>;
  /** closes the whole connection (after the protocol's own close frame went out) */
  close(): Promise<void>;
}

/** The source-address options shared by `connectToAuth` and `joinHost`. */
export interface LocalBind {
  /**
   * Local address to send from (default: any address of the family of the server's). Set it on a
   * machine with several addresses when the server must see a particular one.
   */
  localHost?: string;
  /** Local UDP port (default: any free port). */
  localPort?: number;
}

/** Only the keys that are set, so `exactOptionalPropertyTypes` stays happy downstream. */
export function localBind(o: LocalBind): LocalBind {
  return { ...(o.localHost === undefined ? {} : { localHost: o.localHost }), ...(o.localPort === undefined ? {} : { localPort: o.localPort }) };
}

export async function dialQuic(opts: {
  address: Address;
  alpn: string;
  serverName?: string;
  cert: PemSource;
  key: PemSource;
  verifier: PeerVerifier;
  serverPolicy: VerifyPolicy;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  /** source address and port to bind (a host with several addresses, allow-lists by address) */
  localHost?: string;
  localPort?: number;
}): Promise<Link> {
  const conn = await connectQuic({
    host: opts.address.host,
    port: opts.address.port,
    alpn: opts.alpn,
    ...(opts.serverName === undefined ? {} : { serverName: opts.serverName }),
    cert: opts.cert,
    key: opts.key,
    verifier: opts.verifier,
    serverPolicy: opts.serverPolicy,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
    ...(opts.keepAliveMs === undefined ? {} : { keepAliveMs: opts.keepAliveMs }),
    ...(opts.localHost !== undefined ? { localHost: opts.localHost } : isIP(opts.address.host) === 6 ? { localHost: '::' } : {}),
    ...(opts.localPort === undefined ? {} : { localPort: opts.localPort }),
    confirm: 'first-stream',
  });
  return {
    open: (exchange) => conn.openConfirmed(exchange),
    close: async () => {
      // Graceful (lets the protocol's close frame go out), but never hang a game on a silent peer:
      // the connection then ends at its idle timeout.
      await withTimeout(
        conn.close('bye').catch(() => undefined),
        CLOSE_WAIT_MS,
        { unref: true },
      );
    },
  };
}
