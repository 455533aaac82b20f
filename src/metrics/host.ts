import type { Registry } from 'prom-client';
import type { HostServer } from '../host/server.js';
import type { HostTransport } from '../host/transports/transport.js';
import { instrumentNetcode } from './netcode.js';
import { counter, counterOf, gaugeOf, LabelBound } from './registry.js';

/**
 * The Host server's metrics: sessions and players per transport, admissions and refusals (from its
 * transports' events), sessions ended, results waiting in the outbox, Auth links, the raw-datagram
 * allow-lists and the netcode transport's traffic (read from `stats()` when scraped).
 */
export function instrumentHostServer(server: HostServer, registry: Registry): void {
  const admissions = counter(
    registry,
    'iyesmp_host_admissions_total',
    'players admitted to a seat (reconnect: "true" when the seat had been admitted before)',
    ['transport', 'reconnect'],
  );
  const refusals = counter(registry, 'iyesmp_host_refusals_total', 'peers turned away before admission, by reason', ['transport', 'reason']);
  const reasons = new LabelBound();
  const attach = (t: HostTransport) => {
    admissions.inc({ transport: t.kind, reconnect: 'false' }, 0);
    t.on('event', (e) => {
      if (e.type === 'joined') admissions.inc({ transport: t.kind, reconnect: String(e.reconnect) });
      else if (e.type === 'refused') refusals.inc({ transport: t.kind, reason: reasons.of(e.reason) });
    });
  };
  attach(server.quic);
  if (server.netcode) attach(server.netcode);

  const ended = counter(registry, 'iyesmp_host_sessions_ended_total', 'sessions ended on this host, by how (completed, aborted, cancelled, ...)', ['end']);
  const ends = new LabelBound(16);
  server.domain.sessions.on('session', (e) => {
    if (e.type === 'session_ended') ended.inc({ end: ends.of(String(e.report.end)) });
  });

  gaugeOf(registry, 'iyesmp_host_sessions', 'sessions on this host, per transport', ['transport'], (g) => {
    for (const t of server.transports()) g.set({ transport: t.kind }, 0);
    for (const s of server.domain.sessions.sessions()) g.inc({ transport: s.transport });
  });
  gaugeOf(registry, 'iyesmp_host_players', 'players connected to this host, per transport', ['transport'], (g) => {
    for (const t of server.transports()) g.set({ transport: t.kind }, 0);
    for (const s of server.domain.sessions.sessions()) g.inc({ transport: s.transport }, s.players.filter((p) => p.admitted && p.status !== 'left').length);
  });
  gaugeOf(registry, 'iyesmp_host_capacity_sessions', 'sessions this host runs at most', [], (g) => g.set(server.domain.sessions.load().maxSessions));
  gaugeOf(registry, 'iyesmp_host_load_ratio', 'sessions running / capacity (0..1)', [], (g) => {
    const l = server.domain.sessions.load();
    g.set(l.maxSessions > 0 ? l.sessions / l.maxSessions : 0);
  });
  gaugeOf(registry, 'iyesmp_results_pending', 'results and telemetry waiting in the outbox for an Auth server', ['sink'], (g) =>
    g.set({ sink: 'auth' }, server.domain.outbox.size),
  );
  counterOf(registry, 'iyesmp_host_outbox_dropped_total', 'outbox items dropped for lack of room', [], () => [[{}, server.domain.outbox.dropped]]);
  gaugeOf(registry, 'iyesmp_host_auth_links_up', 'Auth servers this host is registered with', [], (g) => g.set(server.connectedAuthServers().length));
  gaugeOf(registry, 'iyesmp_host_auth_links', 'Auth servers configured', [], (g) => g.set(server.stats().authLinks.total));
  counterOf(
    registry,
    'iyesmp_allowlist_dropped_packets_total',
    'datagrams the raw-datagram allow-list dropped before QUIC or netcode read them',
    ['transport'],
    () => {
      const st = server.stats();
      return [
        [{ transport: 'quic' }, st.allowList.dropped],
        ...(st.netcode?.dropUnannounced ? [[{ transport: 'netcode' }, st.netcode.allowList.dropped] as [{ transport: string }, number]] : []),
      ];
    },
  );
  counterOf(registry, 'iyesmp_allowlist_passed_packets_total', 'datagrams the raw-datagram allow-list let through', ['transport'], () => {
    const st = server.stats();
    return [
      [{ transport: 'quic' }, st.allowList.passed],
      ...(st.netcode?.dropUnannounced ? [[{ transport: 'netcode' }, st.netcode.allowList.passed] as [{ transport: string }, number]] : []),
    ];
  });
  if (server.netcode) instrumentNetcode(registry, () => server.netcode?.server);
}
