import type { Registry } from 'prom-client';
import type { NetcodeUdpServer } from '../netcode/udp.js';
import { counterOf, gaugeOf } from './registry.js';

/**
 * netcode.io traffic of one UDP server (the host's netcode transport, or `netcode serve`): datagrams
 * in and out, those the source filter dropped unread, and those the protocol core dropped, by reason
 * (a fixed set: the core's ServerDropReason).
 */
export function instrumentNetcode(registry: Registry, server: () => NetcodeUdpServer | undefined): void {
  counterOf(registry, 'iyesmp_netcode_packets_total', 'netcode datagrams received (in) and sent (out)', ['direction'], () => {
    const t = server()?.traffic;
    return t
      ? [
          [{ direction: 'in' }, t.packetsIn],
          [{ direction: 'out' }, t.packetsOut],
        ]
      : [];
  });
  counterOf(registry, 'iyesmp_netcode_received_bytes_total', 'bytes of netcode datagrams received', [], () => {
    const t = server()?.traffic;
    return t ? [[{}, t.bytesIn]] : [];
  });
  counterOf(
    registry,
    'iyesmp_netcode_dropped_packets_total',
    'netcode datagrams dropped: by the source filter (reason "filtered") or by the protocol',
    ['reason'],
    () => {
      const s = server();
      if (!s) return [];
      return [
        [{ reason: 'filtered' }, s.traffic.filtered],
        ...Object.entries(s.core.drops).map(([reason, n]) => [{ reason }, n ?? 0] as [{ reason: string }, number]),
      ];
    },
  );
  gaugeOf(registry, 'iyesmp_netcode_clients', 'netcode clients connected', [], (g) => g.set(server()?.core.numConnectedClients ?? 0));
}
