import type { Registry } from 'prom-client';
import type { AuthServer } from '../auth/server.js';
import { counter, gaugeOf, histogram, LabelBound } from './registry.js';

/** Hand-offs take tens of milliseconds on a LAN and seconds when players are slow to claim. */
export const HANDOFF_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The Auth server's metrics, fed by the events it and its domain already emit (connections,
 * refusals, logins, matches, session records) and read from its state when scraped (queues, hosts,
 * hand-offs in progress). Labels whose values come from clients (game modes, login methods,
 * refusal reasons) are bounded: past 64 distinct values they count as "other".
 */
export function instrumentAuthServer(server: AuthServer, registry: Registry): void {
  const endpoints = [
    ['client', server.clientServer],
    ['host', server.hostServer],
  ] as const;

  const accepted = counter(registry, 'iyesmp_auth_connections_accepted_total', 'QUIC connections accepted (TLS and certificate checks passed)', ['endpoint']);
  const refusals = counter(registry, 'iyesmp_auth_refusals_total', 'connections refused, by reason (certificate, limits, ALPN, ...)', ['endpoint', 'reason']);
  const reasons = new LabelBound();
  for (const [endpoint, srv] of endpoints) {
    accepted.inc({ endpoint }, 0);
    srv.on('connection', () => accepted.inc({ endpoint }));
    srv.on('refused', (r) => refusals.inc({ endpoint, reason: reasons.of(r.reason) }));
  }
  gaugeOf(registry, 'iyesmp_auth_connections', 'open QUIC connections', ['endpoint'], (g) => {
    for (const [endpoint, srv] of endpoints) g.set({ endpoint }, srv.stats().connections);
  });
  gaugeOf(registry, 'iyesmp_auth_unauthenticated_connections', 'client connections not logged in yet', [], (g) =>
    g.set(server.clientServer.stats().unauthenticated),
  );
  gaugeOf(registry, 'iyesmp_auth_players_online', 'logged-in players connected', [], (g) => g.set(server.playersOnline));

  const logins = counter(registry, 'iyesmp_auth_logins_total', 'logins by method and outcome ("ok" or the error code)', ['method', 'outcome']);
  const methods = new LabelBound(16);
  const outcomes = new LabelBound();
  server.on('login', (e) => logins.inc({ method: methods.of(e.method), outcome: outcomes.of(e.outcome) }));

  const modes = new LabelBound();
  gaugeOf(registry, 'iyesmp_matchmaking_queued_players', 'players waiting in the matchmaking queue, per game mode', ['mode'], (g) => {
    for (const [mode, q] of server.matchmaker.queuedByMode()) g.inc({ mode: modes.of(mode) }, q.players);
  });
  gaugeOf(registry, 'iyesmp_matchmaking_queued_tickets', 'tickets (a player or a party) in the matchmaking queue, per game mode', ['mode'], (g) => {
    for (const [mode, q] of server.matchmaker.queuedByMode()) g.inc({ mode: modes.of(mode) }, q.tickets);
  });
  gaugeOf(registry, 'iyesmp_matchmaking_pending_matches', 'matches proposed and waiting for their players to accept', [], (g) =>
    g.set(server.matchmaker.stats.pendingMatches),
  );
  const matches = counter(registry, 'iyesmp_matches_formed_total', 'matches every player accepted (handed to a host next)', ['mode']);
  const matchFails = counter(registry, 'iyesmp_matches_failed_total', 'proposed matches that failed', ['reason']);
  server.domain.on('match', (e) => {
    if (e.type === 'confirmed') matches.inc({ mode: modes.of(e.match.mode) });
    else if (e.type === 'failed') matchFails.inc({ reason: e.reason });
  });

  const handoff = histogram(
    registry,
    'iyesmp_handoff_duration_seconds',
    'from session creation (match confirmed or lobby started) to the host acknowledging it and the players getting their hand-offs',
    HANDOFF_BUCKETS,
    ['transport'],
  );
  const sessions = counter(registry, 'iyesmp_auth_sessions_total', 'session records by what happened to them (created, handed_off, ended, failed, lost)', [
    'event',
  ]);
  const failures = counter(registry, 'iyesmp_auth_sessions_failed_total', 'sessions that failed before play, by reason', ['reason']);
  const failReasons = new LabelBound(32);
  for (const event of ['created', 'handed_off', 'ended', 'failed', 'lost']) sessions.inc({ event }, 0);
  server.domain.on('session', (e) => {
    switch (e.type) {
      case 'created':
      case 'ended':
      case 'lost':
        sessions.inc({ event: e.type });
        return;
      case 'handed-off':
        sessions.inc({ event: 'handed_off' });
        handoff.observe({ transport: e.session.transport }, Math.max(0, e.session.updatedAt - e.session.createdAt) / 1000);
        return;
      case 'failed':
        sessions.inc({ event: 'failed' });
        failures.inc({ reason: failReasons.of(e.reason) });
        return;
      default:
        return;
    }
  });
  gaugeOf(registry, 'iyesmp_handoffs_in_progress', 'sessions being set up (claims, minting, waiting for the host)', [], (g) =>
    g.set(server.handoffs.pendingCount),
  );
  gaugeOf(registry, 'iyesmp_handoffs_waiting_for_host', 'session starts waiting for a host with room', [], (g) => g.set(server.handoffs.waitingForHost));

  const recorded = counter(registry, 'iyesmp_results_recorded_total', 'session results recorded from hosts');
  server.on('session-ended', () => recorded.inc());

  gaugeOf(registry, 'iyesmp_hosts', 'registered hosts by state (alive, draining, dead)', ['state'], (g) => {
    for (const state of ['alive', 'draining', 'dead']) g.set({ state }, 0);
    for (const h of server.registry.list()) g.inc({ state: h.state === 'dead' ? 'dead' : h.draining ? 'draining' : 'alive' });
  });
  // one series per host: hosts are registered with certificates of this PKI, so their number is the operator's
  gaugeOf(registry, 'iyesmp_host_load', 'sessions counted against a host capacity (reserved or running)', ['host', 'region'], (g) => {
    for (const h of server.registry.list()) if (h.state === 'alive') g.set({ host: h.name, region: h.region }, h.load);
  });
  gaugeOf(registry, 'iyesmp_host_capacity', 'sessions a host can run at once', ['host', 'region'], (g) => {
    for (const h of server.registry.list()) if (h.state === 'alive') g.set({ host: h.name, region: h.region }, h.capacity);
  });
  gaugeOf(registry, 'iyesmp_host_active_sessions', 'sessions running on a host, per its last heartbeat', ['host', 'region'], (g) => {
    for (const h of server.registry.list()) if (h.state === 'alive') g.set({ host: h.name, region: h.region }, h.active);
  });
}
