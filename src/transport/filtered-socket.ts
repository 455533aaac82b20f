/**
 * A QUICSocket that takes PROXY protocol v2 headers off datagrams from trusted proxies and drops
 * datagrams from sources not on an allow-list, before quiche sees them.
 *
 * @matrixai/quic offers no packet-filter hook. Its QUICSocket attaches the instance field
 * `handleSocketMessage` to node:dgram's 'message' event in `start()` (and detaches the same field in
 * `stop()`; with our patch, through a wrapper that counts datagrams and reads the field per call),
 * so a subclass that wraps that field in its constructor sits exactly between the UDP socket and
 * QUIC header parsing: a dropped datagram costs one map lookup, no crypto, no state.
 * Every datagram the server sends goes through `send_` (connections, version negotiation, retry),
 * which is where replies to a client behind a proxy are redirected to that proxy.
 */
import type { RemoteInfo } from 'node:dgram';
import { QUICSocket } from '@matrixai/quic';
import type Logger from '@matrixai/logger';
import type { AddressAllowList } from './allow-list.js';
import type { ProxyRouter } from './proxy-protocol.js';

/** What a server socket asks of the kernel for datagrams not read yet (quic-go asks 7 MiB). */
const RECV_BUFFER_BYTES = 8 * 1024 * 1024;

export class FilteredQUICSocket extends QUICSocket {
  /** null: no filtering. Replaceable while running. */
  allowList: AddressAllowList | null;
  /** null: no trusted proxies (every datagram is taken as from its UDP source, as without this) */
  readonly proxies: ProxyRouter | null;

  constructor(opts: { allowList: AddressAllowList | null; proxies: ProxyRouter | null; now: () => number; logger: Logger }) {
    super({ logger: opts.logger });
    this.allowList = opts.allowList;
    this.proxies = opts.proxies;
    const inner = this.handleSocketMessage;
    this.handleSocketMessage = async (data: Buffer, remote: RemoteInfo): Promise<void> => {
      let from = remote;
      let payload = data;
      if (this.proxies !== null) {
        const d = this.proxies.inbound(data, remote.address, remote.port, opts.now());
        if (!d.pass) return;
        if (d.viaProxy !== undefined) {
          from = { ...remote, address: d.host, port: d.port, family: d.host.includes(':') ? 'IPv6' : 'IPv4', size: d.data.byteLength };
          payload = Buffer.from(d.data.buffer, d.data.byteOffset, d.data.byteLength);
        }
      }
      // the allow-list judges the real client, not the proxy
      const list = this.allowList;
      if (list !== null && !list.admit(from.address, from.port, payload.byteLength)) return;
      return inner(payload, from);
    };
  }

  /**
   * Binds, then asks the kernel for a receive buffer large enough for a burst of datagrams while
   * the event loop is busy: with the default (~208 KiB on Linux) a server's one socket overflows
   * under a crowd of handshakes, and the datagrams it drops starve live connections into idle
   * timeouts. Linux caps the size at net.core.rmem_max without an error; raise that sysctl on a
   * busy server.
   */
  override async start(...params: Parameters<QUICSocket['start']>): Promise<void> {
    await super.start(...params);
    // macOS refuses (rather than caps) a size over kern.ipc.maxsockbuf: ask for less until it fits
    for (let bytes = RECV_BUFFER_BYTES; bytes >= 1024 * 1024 && this.socket.getRecvBufferSize() < bytes; bytes /= 2) {
      try {
        this.socket.setRecvBufferSize(bytes);
        return;
      } catch {
        // too large for this system
      }
    }
  }

  /** The proxy a peer's datagrams come through, or undefined when they come straight. */
  viaProxy(host: string, port: number): { host: string; port: number } | undefined {
    return this.proxies?.outbound(host, port);
  }

  // @matrixai/quic calls this as (msg, port, host) and as (msg, offset, length, port, host)
  override send_(...params: Parameters<QUICSocket['send_']>): Promise<number> {
    const args = params as unknown[];
    const last = args.length - 1;
    const via = this.proxies?.outbound(args[last] as string, args[last - 1] as number);
    if (via !== undefined) {
      args[last - 1] = via.port;
      args[last] = via.host;
    }
    return super.send_(...params);
  }
}
