import type { Logger } from 'pino';
import { formatHostPort } from '../net/address.js';
import { ADMIN_PROTOCOL_LIMITS, ProtocolConnection, adminFamily, fitAdminRows, type AdminFamily } from '../protocol/index.js';
import type { PeerConnection, ServerLimits } from '../transport/index.js';
import { hostError } from './errors.js';
import type { SessionView } from './session.js';

/**
 * A Host server's admin port: a few operators at most (see the Auth server's ADMIN_CONNECTION_LIMITS;
 * host and auth share no code but the protocol, so the numbers are repeated here).
 */
export const HOST_ADMIN_LIMITS = {
  maxConnections: 16,
  maxUnauthenticated: 8,
  maxUnauthenticatedPerAddress: 4,
  maxUnauthenticatedPerCert: 4,
  maxStreamsPerConnection: 4,
  firstStreamTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
} satisfies ServerLimits;

export interface HostRefusalNote {
  at: number;
  endpoint: string;
  reason: string;
  message: string;
  remote?: string;
}

/** What the admin endpoint needs from the Host server (HostServer implements it). */
export interface HostAdminContext {
  readonly logger: Logger;
  readonly options: { name: string; region: string; publicAddress: string; version: string };
  readonly startedAt: number;
  /** monotonic clock of the session table */
  clock(): number;
  sessionViews(): SessionView[];
  load(): { sessions: number; players: number; maxSessions: number };
  transportKinds(): string[];
  recentRefusals(): HostRefusalNote[];
  drainState(): { since: number; deadline: number; reason: string } | undefined;
  /** removes the player from every session of this host it is still in; the sessions it left */
  kickPlayer(playerId: string, reason: string): string[];
  /** starts draining (or shortens a running drain to `deadlineMs`) */
  startDrain(o: { reason: string; deadlineMs?: number; by: string }): { deadline: number };
}

/**
 * One operator's connection to a Host server's admin port (`iyesmp-admin/1`): status, sessions,
 * kick (out of this host's sessions) and drain. Player accounts, bans and results live on the Auth
 * servers: a Host answers them `admin.not_served`. Each kick and drain is logged with `audit: true`
 * and the admin certificate's name and fingerprint (a Host keeps no audit store of its own).
 */
export function acceptHostAdmin(ctx: HostAdminContext, conn: PeerConnection): void {
  let proto: ProtocolConnection<AdminFamily, 'listener'> | undefined;
  const actor = { name: conn.peer.name, fingerprint: conn.peer.fingerprint };
  const log = ctx.logger.child({ admin: actor.name, remote: formatHostPort(conn.remoteHost, conn.remotePort) });
  conn.on('stream', (stream) => {
    if (proto) {
      stream.cancel('the admin protocol uses one stream');
      return;
    }
    proto = ProtocolConnection.accept(adminFamily, stream, {
      gameVersion: ctx.options.version,
      maxIncomingInFlight: 8,
      limits: ADMIN_PROTOCOL_LIMITS,
      onHello: () => ({ kind: 'host' as const, node: ctx.options.name, time: Date.now() }),
      onListenerError: (err) => log.error({ message: (err as Error)?.message ?? String(err) }, 'admin handler failed'),
    });
    bind(ctx, proto, actor, log);
    void proto.closed.then(() => conn.close('bye').catch(() => undefined));
  });
  conn.on('close', () => void proto?.close('normal', 'connection closed'));
}

function bind(ctx: HostAdminContext, p: ProtocolConnection<AdminFamily, 'listener'>, actor: { name: string; fingerprint: string }, log: Logger): void {
  const wall = (mono: number) => Math.max(0, Math.round(Date.now() - (ctx.clock() - mono)));
  const self = () => {
    const load = ctx.load();
    return {
      name: ctx.options.name,
      region: ctx.options.region,
      address: ctx.options.publicAddress,
      state: 'alive' as const,
      draining: ctx.drainState() !== undefined,
      load: load.sessions,
      capacity: load.maxSessions,
      active: load.sessions,
      players: load.players,
      version: ctx.options.version,
      lastSeen: Date.now(),
      transports: ctx.transportKinds().slice(0, 8),
    };
  };
  const notServed = (what: string) => () => {
    throw hostError('admin.not_served', `a Host server keeps no ${what}: ask an Auth server's admin port`);
  };

  p.handle('server.status', () => {
    const load = ctx.load();
    const drain = ctx.drainState();
    return {
      kind: 'host' as const,
      node: ctx.options.name,
      version: ctx.options.version,
      time: Date.now(),
      startedAt: ctx.startedAt,
      players: load.players,
      sessions: load.sessions,
      hosts: [self()],
      queues: [],
      handoffs: { total: 0, failed: 0, perSecond: 0, p50Ms: null, p95Ms: null, pending: 0 },
      refusals: ctx.recentRefusals().slice(-20),
      ...(drain ? { drain } : {}),
    };
  });
  p.handle('hosts.list', () => ({ hosts: [self()] }));
  p.handle('sessions.list', (body) => {
    const all = ctx.sessionViews();
    const fit = fitAdminRows(
      all.slice(0, body.limit ?? 100).map((v) => ({
        sessionId: v.sessionId,
        state: v.phase,
        host: ctx.options.name,
        transport: v.transport,
        players: v.players.map((pl) => pl.playerId).slice(0, 1024),
        createdAt: wall(v.createdAt),
      })),
      'first',
    );
    return { sessions: fit.rows, total: all.length, ...(fit.truncated ? { truncated: true } : {}) };
  });
  p.handle('players.list', (body) => {
    const all = ctx
      .sessionViews()
      .flatMap((v) =>
        v.players
          .filter((pl) => pl.status !== 'left')
          .map((pl) => ({ playerId: pl.playerId, displayName: pl.displayName, address: pl.address.ip ?? '', sessionId: v.sessionId })),
      );
    const fit = fitAdminRows(all.slice(0, body.limit ?? 100), 'first');
    return { players: fit.rows, total: all.length, ...(fit.truncated ? { truncated: true } : {}) };
  });
  p.handle('host.drain', (body) => {
    const reason = body.reason || 'drained by an administrator';
    if (body.host !== undefined && body.host !== ctx.options.name) {
      log.warn({ audit: true, action: 'drain', target: body.host, outcome: 'refused', actor }, 'admin drain refused: another host');
      throw hostError('admin.not_served', `this is host ${ctx.options.name}, not ${body.host}`);
    }
    const { deadline } = ctx.startDrain({ reason, ...(body.deadlineMs !== undefined ? { deadlineMs: body.deadlineMs } : {}), by: actor.name });
    log.warn({ audit: true, action: 'drain', target: ctx.options.name, outcome: 'ok', actor, reason, deadline }, 'admin drain');
    return { host: ctx.options.name, sessions: ctx.load().sessions, deadline };
  });
  p.handle('player.kick', (body) => {
    const reason = body.reason || 'kicked by an administrator';
    const sessions = ctx.kickPlayer(body.playerId, reason);
    const outcome = sessions.length > 0 ? 'ok' : 'refused';
    log.warn({ audit: true, action: 'kick', target: body.playerId, outcome, actor, reason, sessions }, 'admin kick');
    if (sessions.length === 0) throw hostError('admin.unknown_player', `player ${body.playerId} is in no session on this host`);
    return { kicked: true };
  });
  p.handle('player.ban', notServed('bans'));
  p.handle('player.unban', notServed('bans'));
  p.handle('results.list', notServed('results'));
  p.handle('audit.list', notServed('audit log'));
}
