import type { Logger } from 'pino';
import { formatHostPort } from '../net/address.js';
import { printable } from '../net/printable.js';
import { ADMIN_PROTOCOL_LIMITS, ProtocolConnection, adminFamily, fitAdminRows, type AdminFamily } from '../protocol/index.js';
import type { PeerConnection, PeerStream, ServerLimits } from '../transport/index.js';
import { MAX_BAN_UNTIL_MS, type Ban } from './accounts/index.js';
import type { AuditActor, AuditStore } from './audit.js';
import { acceptControlStream } from './control-stream.js';
import { errInfo } from './err-info.js';
import { adminError } from './errors.js';
import type { HostRegistry, HostView } from './host-registry.js';
import type { Matchmaker } from './matchmaking.js';
import type { OpsStats } from './ops-stats.js';
import type { SessionRecord } from './sessions.js';

/**
 * The admin port's limits: a handful of operators, never a crowd. Only Admin certificates pass the
 * TLS handshake (policy `admin`), so these bound a leaked admin key or a runaway script, not strangers.
 */
export const ADMIN_CONNECTION_LIMITS = {
  maxConnections: 32,
  maxUnauthenticated: 16,
  maxUnauthenticatedPerAddress: 8,
  maxUnauthenticatedPerCert: 8,
  maxStreamsPerConnection: 4,
  firstStreamTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
} satisfies ServerLimits;

/** Requests one operator connection may have unanswered at once (the rest are answered `busy`). */
export const ADMIN_MAX_IN_FLIGHT = 8;

/** The admin requests that change something, and their audit verbs. */
const AUDITED_REQUESTS: Record<string, string> = { 'player.kick': 'kick', 'player.ban': 'ban', 'player.unban': 'unban', 'host.drain': 'drain' };

/** A logged-in player as the admin channel lists it. */
export interface AdminPlayerView {
  playerId: string;
  displayName: string;
  address: string;
}

/** What the admin endpoint needs from the Auth server around it (AuthServer implements it). */
export interface AdminEndpointContext {
  readonly logger: Logger;
  readonly options: { name: string; gameVersion: string };
  readonly audit: AuditStore;
  readonly ops: OpsStats;
  readonly startedAt: number;
  readonly registry: Pick<HostRegistry, 'list' | 'get'>;
  readonly matchmaker: Pick<Matchmaker, 'queues' | 'ticketOf'>;
  readonly lobbies: { lobbyOf(playerId: string): { id: string } | undefined };
  readonly handoffs: { readonly pendingCount: number };
  readonly sessions: { readonly store: { liveByHost(host: string): Promise<SessionRecord[]> } };
  onlinePlayers(): AdminPlayerView[];
  /** how many players are logged in (status is polled by `iyesmp top`: no list built for it) */
  onlineCount(): number;
  /** ends a logged-in player's connection; false when it is not connected */
  kickPlayer(playerId: string, reason: string): boolean;
  ban(who: string, o: { reason: string; until?: number; by?: string }): Promise<Ban>;
  unban(who: string): Promise<number>;
  /** no new sessions on that host; it is told to finish its games and stop */
  drainHost(name: string, reason: string, deadlineMs?: number): { sessions: number; deadline?: number };
}

const hostInfo = (h: HostView) => ({
  name: h.name,
  region: h.region,
  address: h.address,
  state: h.state,
  draining: h.draining,
  load: h.load,
  capacity: h.capacity,
  active: h.active,
  ...(typeof h.metrics.players === 'number' ? { players: h.metrics.players } : {}),
  version: h.version,
  lastSeen: h.lastSeen,
  transports: h.transports.slice(0, 8),
});

/**
 * One operator's connection to the Auth server's admin port (`iyesmp-admin/1`). The operator is
 * the Admin certificate the TLS handshake verified; each action it takes is written to the audit
 * log under that certificate's name and fingerprint, refused ones included.
 */
export class AdminLink {
  readonly proto: ProtocolConnection<AdminFamily, 'listener'>;
  readonly actor: AuditActor;
  readonly log: Logger;
  #closed = false;

  constructor(
    readonly server: AdminEndpointContext,
    readonly conn: PeerConnection,
    stream: PeerStream,
  ) {
    this.actor = { name: conn.peer.name, fingerprint: conn.peer.fingerprint };
    this.log = server.logger.child({ admin: this.actor.name, remote: formatHostPort(conn.remoteHost, conn.remotePort) });
    this.proto = ProtocolConnection.accept(adminFamily, stream, {
      gameVersion: server.options.gameVersion,
      maxIncomingInFlight: ADMIN_MAX_IN_FLIGHT,
      limits: ADMIN_PROTOCOL_LIMITS,
      onHello: () => ({ kind: 'auth' as const, node: server.options.name, time: Date.now() }),
      onListenerError: (err) => this.log.error({ err: errInfo(err) }, 'admin handler failed'),
    });
    this.#bind();
    this.log.info({ fingerprint: this.actor.fingerprint }, 'admin connected');
    void this.proto.closed.then(() => this.close());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.conn.close('bye').catch(() => undefined);
  }

  /** Runs an action and writes its audit entry (ok, refused or failed) before answering. */
  async #audited<T>(action: string, target: string | null, details: Record<string, unknown>, run: () => Promise<T> | T): Promise<T> {
    const s = this.server;
    const entry = { at: Date.now(), actor: this.actor, action, target, details };
    let out: T;
    try {
      out = await run();
    } catch (err) {
      const code = (err as { code?: string }).code;
      const refused = (err as { kind?: string }).kind !== undefined && (err as { kind?: string }).kind !== 'internal';
      await s.audit
        .append({ ...entry, outcome: refused ? 'refused' : 'failed', error: code ?? String((err as Error).message ?? err) })
        .catch((e: unknown) => this.log.error({ err: errInfo(e) }, 'could not write the audit log'));
      this.log.warn({ action, target, code }, `admin ${action} refused`);
      throw err;
    }
    // The action is done: a failing audit store must not tell the operator it was not (a retried ban
    // or drain would then be done twice). The entry goes to the log instead, marked for an auditor.
    await s.audit
      .append({ ...entry, outcome: 'ok' })
      .catch((e: unknown) =>
        this.log.error(
          { err: errInfo(e), audit: true, action, target, actor: this.actor, details, outcome: 'ok' },
          'could not write the audit log; the action was done',
        ),
      );
    this.log.info({ action, target, ...details }, `admin ${action}`);
    return out;
  }

  #bind(): void {
    const s = this.server;
    const p = this.proto;

    // a kick, ban, unban or drain whose body the protocol refused never reaches its handler: audited
    // here, so a leaked key probing with malformed requests leaves a trace too
    p.on('protocol_error', (e) => {
      const action = e.type !== undefined && Object.hasOwn(AUDITED_REQUESTS, e.type) ? AUDITED_REQUESTS[e.type] : undefined;
      if (action === undefined) return;
      void s.audit
        .append({
          at: Date.now(),
          actor: this.actor,
          action,
          target: null,
          details: { problem: printable(e.message).slice(0, 300) },
          outcome: 'refused',
          error: e.code,
        })
        .catch((err: unknown) => this.log.error({ err: errInfo(err) }, 'could not write the audit log'));
    });

    p.handle('server.status', () => {
      const now = Date.now();
      const hosts = s.registry.list();
      return {
        kind: 'auth' as const,
        node: s.options.name,
        version: s.options.gameVersion,
        time: now,
        startedAt: s.startedAt,
        players: s.onlineCount(),
        sessions: hosts.reduce((n, h) => n + h.reserved, 0),
        hosts: hosts.slice(0, 1000).map(hostInfo),
        queues: s.matchmaker.queues().slice(0, 1000),
        handoffs: { ...s.ops.handoffs(now), pending: s.handoffs.pendingCount },
        refusals: s.ops.refusals(20),
      };
    });

    p.handle('players.list', (body) => {
      const all = s.onlinePlayers();
      const players = all.slice(0, body.limit ?? 100).map((pl) => {
        const lobby = s.lobbies.lobbyOf(pl.playerId);
        const ticket = s.matchmaker.ticketOf(pl.playerId);
        return { ...pl, ...(lobby ? { lobbyId: lobby.id } : {}), ...(ticket ? { queued: ticket.mode } : {}) };
      });
      const fit = fitAdminRows(players, 'first');
      return { players: fit.rows, total: all.length, ...(fit.truncated ? { truncated: true } : {}) };
    });

    p.handle('sessions.list', async (body) => {
      const out: SessionRecord[] = [];
      for (const h of s.registry.list()) out.push(...(await s.sessions.store.liveByHost(h.name)));
      out.sort((a, b) => a.createdAt - b.createdAt);
      const sessions = out.slice(0, body.limit ?? 100).map((r) => ({
        sessionId: r.id,
        state: r.state,
        host: r.hostName,
        transport: r.transport,
        ...(r.mode !== undefined ? { mode: r.mode } : {}),
        players: r.players.slice(0, 1024),
        createdAt: r.createdAt,
      }));
      const fit = fitAdminRows(sessions, 'first');
      return { sessions: fit.rows, total: out.length, ...(fit.truncated ? { truncated: true } : {}) };
    });

    p.handle('hosts.list', () => ({ hosts: s.registry.list().slice(0, 1000).map(hostInfo) }));

    p.handle('player.kick', (body) => {
      const reason = body.reason || 'kicked by an administrator';
      return this.#audited('kick', body.playerId, { reason }, () => {
        if (!s.kickPlayer(body.playerId, reason)) throw adminError('admin.unknown_player', `no player ${body.playerId} is logged in here`);
        return { kicked: true };
      });
    });

    p.handle('player.ban', (body) => {
      const details = { reason: body.reason, until: body.until ?? null };
      return this.#audited('ban', body.playerId, details, async () => {
        if (body.until !== undefined && body.until <= Date.now())
          throw adminError('admin.bad_request', 'the ban would already be over: `until` is in the past');
        if (body.until !== undefined && body.until > MAX_BAN_UNTIL_MS)
          throw adminError('admin.bad_request', '`until` is beyond the last time a Date can hold (year 275760): leave it out for a permanent ban');
        const online = s.onlinePlayers().some((pl) => pl.playerId === body.playerId);
        const ban = await s.ban(body.playerId, { reason: body.reason, ...(body.until !== undefined ? { until: body.until } : {}), by: this.actor.name });
        return { playerId: body.playerId, reason: ban.reason, expiresAt: ban.expiresAt, kicked: online };
      });
    });

    p.handle('player.unban', (body) => this.#audited('unban', body.playerId, {}, async () => ({ lifted: await s.unban(body.playerId) })));

    p.handle('host.drain', (body) => {
      if (!body.host) throw adminError('admin.bad_request', 'name the host to drain (an Auth server drains one of its hosts)');
      const reason = body.reason || 'drained by an administrator';
      const host = body.host;
      return this.#audited('drain', host, { reason, deadlineMs: body.deadlineMs ?? null }, () => {
        if (!s.registry.get(host)) throw adminError('admin.unknown_host', `no host named ${host} is registered here`);
        const r = s.drainHost(host, reason, body.deadlineMs);
        return { host, sessions: r.sessions, ...(r.deadline !== undefined ? { deadline: r.deadline } : {}) };
      });
    });

    p.handle('results.list', (body) => {
      const fit = fitAdminRows(s.ops.results({ limit: body.limit ?? 100, ...(body.since !== undefined ? { since: body.since } : {}) }), 'last');
      return { results: fit.rows, ...(fit.truncated ? { truncated: true } : {}) };
    });

    p.handle('audit.list', async (body) => {
      const entries = await s.audit.list({
        limit: body.limit ?? 100,
        ...(body.since !== undefined ? { since: body.since } : {}),
        ...(body.action !== undefined ? { action: body.action } : {}),
      });
      // oldest first: the newest entries are the ones kept when the answer must shrink
      const fit = fitAdminRows(entries, 'last');
      return { entries: fit.rows, ...(fit.truncated ? { truncated: true } : {}) };
    });
  }
}

export function acceptAdmin(server: AdminEndpointContext, conn: PeerConnection): void {
  acceptControlStream(conn, 'admin', (stream) => new AdminLink(server, conn, stream));
}
