import type { Logger } from 'pino';
import type { IyesmpError } from '../errors.js';
import { withTimeout } from '../events/timeout.js';
import { ProtocolConnection, hostctlFamily, type HostctlFamily } from '../protocol/index.js';
import { ALPN, connectQuic, type PeerConnection } from '../transport/index.js';
import { toPlayerResults } from './game.js';
import { hostError, refusalError } from './errors.js';
import type { HostDomain, OutboxBody } from './host-domain.js';
import type { OutboxItem } from './outbox.js';
import type { HostServerOptions } from './server.js';
import { netcodeExpectedPlayer } from './transports/netcode/seat.js';
import type { TransportEndpoint } from './transports/transport.js';
import type { ExpectedPlayer, SessionSpec, SessionTelemetry, TransportKind } from './types.js';

/** What a link to an Auth server uses of the host: its identity and settings, the domain, the clock, the transports it offers. */
export interface AuthLinkContext {
  readonly options: Pick<
    HostServerOptions,
    'name' | 'region' | 'publicAddress' | 'cert' | 'key' | 'verifier' | 'authServerName' | 'heartbeatIntervalMs' | 'version' | 'minPlayers'
  > & { region: string; version: string };
  readonly logger: Logger;
  readonly domain: HostDomain;
  clock(): number;
  /** set once the host shuts down: a dial that completes then is dropped */
  readonly closing: boolean;
  /** the transports this host offers, QUIC first */
  transports(): TransportEndpoint[];
  /** true while the host drains: no new sessions, and the Auth servers are told */
  readonly draining?: boolean;
  /** an Auth server asked this host to drain (`host.drain`) */
  startDrain?(o: { reason: string; deadlineMs?: number; by: string }): unknown;
  /** the endpoint of one session, for transports whose answer differs per session (MQTT) */
  sessionEndpoint?(kind: TransportKind, sessionId: string): TransportEndpoint | undefined;
}

/**
 * The host's control connection to one Auth server (`iyesmp-hostctl/1`): dial when `AuthLinks`
 * says so, register, heartbeat, run the sessions the Auth server creates, and deliver the outbox.
 * Any failure just reports the link down; `AuthLinks` decides when to dial again.
 */
export class AuthConnection {
  readonly log: Logger;
  state: 'down' | 'dialing' | 'up' = 'down';
  #conn: PeerConnection | undefined;
  #proto: ProtocolConnection<HostctlFamily, 'dialer'> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #generation = 0;
  /**
   * Player arrivals and departures not sent yet. The Auth server only logs them, so none is worth a
   * datagram (and its acknowledgement) of its own: they go with the next message to it, at the
   * latest the next heartbeat.
   */
  #playerEvents: PlayerEvent[] = [];

  constructor(
    readonly server: AuthLinkContext,
    readonly serverId: string,
    readonly target: { host: string; port: number },
  ) {
    this.log = server.logger.child({ auth: serverId });
  }

  async dial(): Promise<void> {
    if (this.state !== 'down') return;
    this.state = 'dialing';
    const gen = ++this.#generation;
    const s = this.server;
    const o = s.options;
    try {
      const conn = await connectQuic({
        host: this.target.host,
        port: this.target.port,
        alpn: ALPN.hostctl,
        cert: o.cert,
        key: o.key,
        verifier: o.verifier,
        serverPolicy: { kind: 'auth-server' },
        ...(o.authServerName ? { serverName: o.authServerName } : {}),
        timeoutMs: 10_000,
        ...authLinkLiveness(o.heartbeatIntervalMs),
        confirm: 'first-stream',
      });
      this.#conn = conn;
      if (gen !== this.#generation || s.closing) throw hostError('shutting_down', 'host is shutting down');
      conn.on('close', (info) => {
        if (gen === this.#generation) this.#down(info.code);
      });
      // The welcome confirms the connection (a refusal by the transport replaces the hello's error).
      // An older Auth server confirms the `accepted` way instead: the hello then goes again on a new
      // stream, so the link follows the protocol connection that was welcomed.
      const proto = await conn.openConfirmed(async (stream) => {
        const p = ProtocolConnection.dial(hostctlFamily, stream, { gameVersion: o.version, hello: { hostName: o.name } });
        this.#bind(p);
        await p.ready;
        return p;
      });
      this.#proto = proto;
      void proto.closed.then((info) => {
        if (gen === this.#generation) this.#down(`${info.code}${info.reason ? `: ${info.reason}` : ''}`);
      });
      const load = s.domain.sessions.load();
      const transports = s.transports();
      const port = transports.find((t) => t.kind === 'quic')?.address.port ?? 0;
      const reg = await proto.request(
        'host.register',
        {
          name: o.name,
          region: o.region,
          publicAddress: { host: o.publicAddress, port },
          transports,
          capacity: { sessions: load.maxSessions, players: load.maxPlayers },
          version: o.version,
          load: { sessions: load.sessions, players: load.players },
          ...(s.draining ? { draining: true } : {}),
        },
        { timeoutMs: 10_000 },
      );
      if (gen !== this.#generation) return;
      this.state = 'up';
      const every = Math.max(50, Math.min(reg.heartbeatIntervalMs, o.heartbeatIntervalMs ?? Infinity));
      this.#heartbeat = setInterval(() => this.#sendHeartbeat(), every);
      this.#heartbeat.unref?.();
      this.log.info({ heartbeatMs: every }, 'registered with the auth server');
      s.domain.linkUp(this.serverId, s.clock());
      this.flush();
    } catch (err) {
      if (gen !== this.#generation) return;
      this.log.warn({ code: (err as IyesmpError).code, message: (err as Error).message }, 'could not reach the auth server');
      this.#teardown();
      this.state = 'down';
      s.domain.dialFailed(this.serverId, s.clock());
    }
  }

  /** Writes what the outbox has for this server. */
  flush(): void {
    const proto = this.#proto;
    if (this.state !== 'up' || !proto) return;
    const s = this.server;
    const outbox = s.domain.outbox;
    const items = outbox.pending(this.serverId, s.clock());
    // (called every tick) held player events go only with something else
    if (items.length > 0) this.#sendPlayerEvents();
    // hostctl 1.2: a session's telemetry goes with its results, in one request acknowledged once
    const minor = proto.session.negotiated?.minor ?? 0;
    const withResults = new Map<string, OutboxItem<OutboxBody>>();
    if (minor >= 2) {
      const ended = new Set(items.flatMap((i) => (i.body.kind === 'result' ? [i.body.report.sessionId] : [])));
      for (const i of items) if (i.body.kind === 'telemetry' && ended.has(i.body.telemetry.sessionId)) withResults.set(i.body.telemetry.sessionId, i);
    }
    for (const item of items) {
      try {
        if (item.body.kind === 'result') {
          const r = item.body.report;
          const t = withResults.get(r.sessionId);
          const body = {
            sessionId: r.sessionId,
            endedAt: Math.round(Date.now() - Math.max(0, s.clock() - r.endedAt)),
            reason: r.end === 'completed' ? ('completed' as const) : r.abortReason === 'cancelled' ? ('cancelled' as const) : ('aborted' as const),
            results: toPlayerResults(r.outcomes),
            ...(t?.body.kind === 'telemetry' ? { telemetry: telemetryBody(t.id, t.body.telemetry) } : {}),
            ext: { report: r },
          };
          const ids = t ? [item.id, t.id] : [item.id];
          for (const id of ids) outbox.markSent(this.serverId, id, s.clock());
          proto.request('session.ended', body, { timeoutMs: 15_000 }).then(
            () => {
              for (const id of ids) s.domain.outboxAcked(this.serverId, id, s.clock());
            },
            (err: unknown) =>
              this.log.warn({ id: item.id, code: (err as IyesmpError).code, message: (err as Error).message }, 'results not acknowledged; will resend'),
          );
        } else if (withResults.get(item.body.telemetry.sessionId) !== item) {
          const body = telemetryBody(item.id, item.body.telemetry);
          outbox.markSent(this.serverId, item.id, s.clock());
          if (minor >= 1) {
            // hostctl 1.1: acknowledged like results, so it stays queued until the Auth server has it
            proto.request('telemetry.report', body, { timeoutMs: 15_000 }).then(
              () => s.domain.outboxAcked(this.serverId, item.id, s.clock()),
              (err: unknown) =>
                this.log.warn({ id: item.id, code: (err as IyesmpError).code, message: (err as Error).message }, 'telemetry not acknowledged; will resend'),
            );
          } else {
            // a 1.0 Auth server only takes the event (no reply): count it delivered once written
            proto.notify('telemetry', { entries: body.entries, ext: body.ext });
            void proto.flushed().then(() => s.domain.outboxAcked(this.serverId, item.id, s.clock()));
          }
        }
      } catch (err) {
        this.log.warn({ id: item.id, message: (err as Error).message }, 'could not send an outbox item');
      }
    }
  }

  /**
   * Player arrivals and departures, for the Auth server's view (best effort: events, not queued
   * across a reconnect), sent with the next message to it (see #playerEvents).
   */
  playerEvent(type: 'player.joined' | 'player.left', body: { sessionId: string; playerId: string; reason?: string }): void {
    if (this.state !== 'up') return;
    this.#playerEvents.push({ type, sessionId: body.sessionId, playerId: body.playerId, at: Date.now(), reason: body.reason ?? 'left' });
  }

  /** The held player events, in the job that writes another message, so they share its datagram. */
  #sendPlayerEvents(): void {
    const events = this.#playerEvents;
    if (events.length === 0) return;
    this.#playerEvents = [];
    const proto = this.#proto;
    try {
      for (const e of events) {
        if (e.type === 'player.joined') proto?.notify('player.joined', { sessionId: e.sessionId, playerId: e.playerId, at: e.at });
        else proto?.notify('player.left', { sessionId: e.sessionId, playerId: e.playerId, at: e.at, reason: e.reason });
      }
    } catch {
      // the link is going down; the close handler deals with it
    }
  }

  async close(): Promise<void> {
    this.#generation++;
    const proto = this.#proto;
    const conn = this.#conn;
    this.#teardown();
    if (this.state === 'up') this.server.domain.linkDown(this.serverId, this.server.clock());
    this.state = 'down';
    if (proto) await withTimeout(proto.close('normal', 'host shutting down'), 500);
    if (conn) await conn.close('host shutting down').catch(() => undefined);
  }

  /** Tells the Auth server now (not at the next beat) that this host drains. */
  announceDrain(): void {
    if (this.state === 'up') this.#sendHeartbeat();
  }

  #sendHeartbeat(): void {
    const load = this.server.domain.sessions.load();
    this.#sendPlayerEvents();
    try {
      this.#proto?.notify('host.heartbeat', {
        time: Date.now(),
        load: { sessions: load.sessions, players: load.players },
        ...(this.server.draining ? { draining: true } : {}),
      });
    } catch {
      // the close handler reports the link down
    }
  }

  #down(why: string): void {
    if (this.state === 'down') return;
    const wasUp = this.state === 'up';
    this.#generation++;
    this.#teardown();
    this.state = 'down';
    const s = this.server;
    if (wasUp) {
      this.log.warn({ why }, 'lost the auth server; games go on, will reconnect');
      s.domain.linkDown(this.serverId, s.clock());
    } else s.domain.dialFailed(this.serverId, s.clock());
  }

  #teardown(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#playerEvents = [];
    const conn = this.#conn;
    this.#conn = undefined;
    this.#proto = undefined;
    if (conn) void conn.close('link reset', { force: true }).catch(() => undefined);
  }

  #bind(proto: ProtocolConnection<HostctlFamily, 'dialer'>): void {
    const s = this.server;
    proto.handle('session.create', (body) => {
      // a draining host finishes what it runs; the Auth server picks another host for new games
      if (s.draining) throw hostError('draining', `host ${s.options.name} is draining and takes no new sessions`);
      const endpoints = s.transports();
      const endpoint = endpoints.find((t) => t.kind === body.transport);
      if (!endpoint) {
        const offered = endpoints.map((t) => t.kind).join(' and ');
        throw hostError('transport_unavailable', `this host runs ${offered} sessions, not ${body.transport}`);
      }
      const players = body.players.map((p) => expectedOn(body.transport, body.sessionId, p));
      const min = s.options.minPlayers;
      const spec: SessionSpec = {
        sessionId: body.sessionId,
        transport: body.transport,
        players,
        joinTimeoutMs: Math.max(1_000, body.expiresAt - Date.now()),
        // a session with fewer seats than the host's minimum needs all of them
        ...(min !== undefined && players.length > 0 ? { minPlayers: Math.min(min, players.length) } : {}),
        ...(body.ext !== undefined ? { settings: body.ext } : {}),
      };
      const r = s.domain.sessions.create(spec, s.clock());
      if (!r.ok) throw refusalError(r);
      this.#sendPlayerEvents(); // with the answer
      this.log.info({ sessionId: body.sessionId, transport: body.transport, players: spec.players.length }, 'session created');
      // MQTT answers per session (room, the host's pinned key)
      return { sessionId: body.sessionId, endpoint: s.sessionEndpoint?.(body.transport, body.sessionId) ?? endpoint };
    });
    proto.handle('session.expect', (body) => {
      const transport = s.domain.sessions.session(body.sessionId)?.transport ?? 'quic';
      const r = s.domain.sessions.addPlayers(
        body.sessionId,
        body.players.map((p) => expectedOn(transport, body.sessionId, p)),
        s.clock(),
      );
      if (!r.ok) throw refusalError(r);
      return {};
    });
    proto.handle('session.cancel', (body) => {
      const r = s.domain.sessions.cancel(body.sessionId, s.clock(), body.reason);
      if (!r.ok) throw refusalError(r);
      return {};
    });
    proto.on('event', (ev) => {
      if (ev.type !== 'host.drain') return;
      this.log.warn({ reason: ev.body.reason, deadlineMs: ev.body.deadlineMs }, 'auth server asked this host to drain');
      s.startDrain?.({ reason: ev.body.reason, ...(ev.body.deadlineMs !== undefined ? { deadlineMs: ev.body.deadlineMs } : {}), by: `auth ${this.serverId}` });
    });
  }
}

interface PlayerEvent {
  type: 'player.joined' | 'player.left';
  sessionId: string;
  playerId: string;
  at: number;
  reason: string;
}

/** Heartbeat interval assumed before the Auth server gives its own (the config default). */
const DEFAULT_HEARTBEAT_MS = 5_000;
/** Floor of the link's idle timeout: below it a busy event loop could drop a healthy link. */
const MIN_AUTH_IDLE_MS = 3_000;

/**
 * QUIC liveness of the hostctl link. A dead Auth server (killed, unplugged) sends no close, so the
 * link only ends at QUIC's idle timeout: 3 heartbeat intervals (at least 3 s) rather than QUIC's
 * 30 s default. Keep-alive PINGs twice per interval are acknowledged by a live peer's QUIC stack,
 * so a quiet but healthy link never idles out; the lost link is re-dialled at once, and queued
 * results reach a restarted Auth server within seconds.
 */
export function authLinkLiveness(heartbeatIntervalMs: number | undefined): { idleTimeoutMs: number; keepAliveMs: number } {
  const beat = Math.max(50, heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS);
  const idleTimeoutMs = Math.max(MIN_AUTH_IDLE_MS, 3 * beat);
  return { idleTimeoutMs, keepAliveMs: Math.max(100, Math.min(Math.floor(beat / 2), Math.floor(idleTimeoutMs / 4))) };
}

type WireExpected = {
  playerId: string;
  accountId: string;
  displayName?: string | undefined;
  address?: string | undefined;
  certFingerprint?: Uint8Array | undefined;
  netcodeClientId?: string | undefined;
};

/** A hostctl expected player in the session table's terms, for the session's transport. */
export function expectedOn(transport: TransportKind, sessionId: string, p: WireExpected): ExpectedPlayer {
  if (transport !== 'netcode') return expected(p);
  // the Auth server always knows it (the claim's source); without it the seat could never pass the drop-first filter
  if (!p.address) throw hostError('invalid_spec', `player ${p.playerId}: a netcode session needs the player's address`);
  try {
    return netcodeExpectedPlayer(sessionId, {
      playerId: p.playerId,
      ...(p.displayName !== undefined ? { displayName: p.displayName } : {}),
      ...(p.netcodeClientId !== undefined ? { netcodeClientId: p.netcodeClientId } : {}),
      ...(p.address !== undefined ? { address: p.address } : {}),
      extras: { accountId: p.accountId },
    });
  } catch (err) {
    throw hostError('invalid_spec', `player ${p.playerId}: ${(err as Error).message}`);
  }
}

function expected(p: {
  playerId: string;
  accountId: string;
  displayName?: string | undefined;
  address?: string | undefined;
  certFingerprint?: Uint8Array | undefined;
}): ExpectedPlayer {
  if (!p.address || !p.certFingerprint) {
    throw hostError('invalid_spec', `player ${p.playerId}: a QUIC session needs the player's address and session cert fingerprint`);
  }
  return {
    playerId: p.playerId,
    address: { ip: p.address },
    fingerprint: Buffer.from(p.certFingerprint).toString('hex'),
    displayName: p.displayName ?? p.playerId,
    extras: { accountId: p.accountId },
  };
}

/** A session's telemetry as hostctl carries it: `id` names the outbox item, so a resent batch is stored once. */
function telemetryBody(id: string, t: SessionTelemetry) {
  const at = Date.now();
  const entries = (
    [
      ['readying_ms', t.readyingMs],
      ['in_game_ms', t.inGameMs],
      ['expected_players', t.expectedPlayers],
      ['admitted_players', t.admittedPlayers],
      ['no_shows', t.noShows],
      ['reconnects', t.reconnects],
    ] as const
  ).map(([name, value]) => ({ at, name, value, sessionId: t.sessionId }));
  return { id, entries, ext: { telemetry: t } };
}
