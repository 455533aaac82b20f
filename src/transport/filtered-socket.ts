/**
 * A QUICSocket that drops datagrams from sources not on an allow-list before quiche sees them.
 *
 * @matrixai/quic offers no packet-filter hook. Its QUICSocket attaches the instance field
 * `handleSocketMessage` to node:dgram's 'message' event in `start()` (and detaches the same field in
 * `stop()`), so a subclass that wraps that field in its constructor sits exactly between the UDP
 * socket and QUIC header parsing: a dropped datagram costs one map lookup, no crypto, no state.
 */
import type { RemoteInfo } from 'node:dgram';
import { QUICSocket } from '@matrixai/quic';
import type Logger from '@matrixai/logger';
import type { AddressAllowList } from './allow-list.js';

export class FilteredQUICSocket extends QUICSocket {
  /** null: no filtering. Replaceable while running. */
  allowList: AddressAllowList | null;

  constructor(opts: { allowList: AddressAllowList | null; logger: Logger }) {
    super({ logger: opts.logger });
    this.allowList = opts.allowList;
    const inner = this.handleSocketMessage;
    this.handleSocketMessage = async (data: Buffer, remote: RemoteInfo): Promise<void> => {
      const list = this.allowList;
      if (list !== null && !list.admit(remote.address, remote.port, data.byteLength)) return;
      return inner(data, remote);
    };
  }
}
