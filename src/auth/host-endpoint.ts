import type { Logger } from 'pino';
import { hasCodeOf } from '../errors.js';
import { formatHostPort } from '../net/address.js';
import { ProtocolConnection, hostctlFamily, type HostctlFamily } from '../protocol/index.js';
import type { PeerConnection, PeerStream } from '../transport/index.js';
import { errInfo } from './err-info.js';
import { SESSION_ERRORS, authError } from './errors.js';
import type { CreateBody } from './handoff/index.js';
import type { HostRegistry } from './host-registry.js';
import { acceptControlStream } from './control-stream.js';

/** What a host's control connection needs from the server around it (AuthServer implements it). */
export interface HostEndpointContext {
  readonly logger: Logger;
  readonly options: {
    name: string;
    gameVersion: string;
    /** what is checked of the bodies sent (SessionOptions.checkOutgoing) */
    checkOutgoing?: boolean | 'strict';
  };
  readonly registry: Pick<HostRegistry, 'register' | 'heartbeat' | 'heartbeatIntervalMs'>;
  hostRegistered(link: HostLink): void;
  /** an operator drained this host: it stays draining whatever its heartbeats say, until it registers afresh */
  hostDraining?(name: string): boolean;
  hostGone(link: HostLink): void;
  /** results from a host; idempotent (a lost ack means a resend); refused (session.wrong_host, session.unknown) unless the session runs on it */
  recordResults(
    hostName: string,
    body: { sessionId: string; endedAt: number; reason: string; results: Array<{ playerId: string }>; ext?: unknown },
  ): Promise<void>;
  /** `id` (hostctl 1.1) names the host's outbox item, so a resent batch is stored once; refused like results */
  recordTelemetry(hostName: string, entries: Array<{ sessionId?: string | undefined }>, ext: unknown, id?: string): Promise<void>;
}

/**
 * One Host server's control connection (`iyesmp-hostctl/1`). The host dialled us with its Host
 * certificate; the name it registers must be the name in that certificate, so one host cannot
 * speak for another. Registration, heartbeats, session creation on the host, results and telemetry.
 */
export class HostLink {
  readonly proto: ProtocolConnection<HostctlFamily, 'listener'>;
  readonly name: string;
  readonly log: Logger;
  registered = false;
  /** what the host said at registration: it is draining (it reconnected mid-drain) */
  registeredDraining = false;
  #closed = false;

  constructor(
    readonly server: HostEndpointContext,
    readonly conn: PeerConnection,
    stream: PeerStream,
  ) {
    this.name = conn.peer.name;
    this.log = server.logger.child({ host: this.name, remote: formatHostPort(conn.remoteHost, conn.remotePort) });
    const o = server.options;
    this.proto = ProtocolConnection.accept(hostctlFamily, stream, {
      gameVersion: o.gameVersion,
      ...(o.checkOutgoing !== undefined ? { checkOutgoing: o.checkOutgoing } : {}),
      onHello: ({ body }) => {
        if (body.hostName !== this.name) {
          throw authError('not_allowed', `this certificate is for host "${this.name}", not "${body.hostName}"`);
        }
        return { authNode: o.name, time: Date.now() };
      },
      onListenerError: (err) => this.log.error({ err: errInfo(err) }, 'host handler failed'),
    });
    this.#bind();
    this.proto.on('protocol_error', (e) => this.log.warn(e, 'host protocol error'));
    void this.proto.closed.then((info) => {
      this.log.info({ code: info.code, reason: info.reason }, 'host control connection closed');
      this.close();
    });
  }

  createSession(body: CreateBody, timeoutMs: number) {
    return this.proto.request('session.create', body, { timeoutMs });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.server.hostGone(this);
    void this.conn.close('bye').catch(() => undefined);
  }

  #bind(): void {
    const s = this.server;
    const p = this.proto;
    p.handle('host.register', (body) => {
      if (body.name !== this.name) throw authError('not_allowed', `this certificate is for host "${this.name}", not "${body.name}"`);
      s.registry.register(
        {
          name: this.name,
          region: body.region,
          address: formatHostPort(body.publicAddress.host, body.publicAddress.port),
          transports: body.transports.map((t) => t.kind),
          capacity: Math.max(1, body.capacity.sessions),
          version: body.version,
        },
        Date.now(),
      );
      s.registry.heartbeat(
        this.name,
        { active: body.load.sessions, draining: body.draining === true || (s.hostDraining?.(this.name) ?? false), metrics: { players: body.load.players } },
        Date.now(),
      );
      this.registered = true;
      this.registeredDraining = body.draining === true;
      s.hostRegistered(this);
      this.log.info({ region: body.region, capacity: body.capacity, version: body.version, transports: body.transports.map((t) => t.kind) }, 'host registered');
      return { hostId: this.name, heartbeatIntervalMs: s.registry.heartbeatIntervalMs };
    });

    p.on('event', (ev) => {
      const now = Date.now();
      switch (ev.type) {
        case 'host.heartbeat': {
          if (!this.registered) return;
          const l = ev.body.load;
          const alive = s.registry.heartbeat(
            this.name,
            {
              active: l.sessions,
              draining: ev.body.draining === true || (s.hostDraining?.(this.name) ?? false),
              metrics: { players: l.players, ...(l.cpu !== undefined ? { cpu: l.cpu } : {}), ...(l.memory !== undefined ? { memory: l.memory } : {}) },
            },
            now,
          );
          if (!alive) {
            // we declared it dead (and its sessions lost); it must register afresh
            this.log.warn('heartbeat from a host declared dead; asking it to reconnect');
            void p.close('register_required', 'this host was declared dead; reconnect and register again');
          }
          return;
        }
        case 'telemetry':
          // 1.0 hosts: unacknowledged; 1.1 hosts send telemetry.report instead
          s.recordTelemetry(this.name, ev.body.entries, ev.body.ext, ev.body.id).catch((err: unknown) => {
            if (!this.#refusedReport(err, 'telemetry')) this.log.warn({ err: errInfo(err) }, 'could not record telemetry');
          });
          return;
        case 'player.joined':
        case 'player.left':
          this.log.debug({ sessionId: ev.body.sessionId, playerId: ev.body.playerId }, ev.type);
          return;
      }
    });

    // the answer is the host's acknowledgement: it drops the telemetry from its outbox only then
    p.handle('telemetry.report', async (body) => {
      await s.recordTelemetry(this.name, body.entries, body.ext, body.id).catch((err: unknown) => {
        this.#refusedReport(err, 'telemetry');
        throw err;
      });
      return {};
    });

    p.handle('session.ended', async (body) => {
      const { telemetry, ...ended } = body;
      await s.recordResults(this.name, ended).catch((err: unknown) => {
        this.#refusedReport(err, 'results');
        throw err;
      });
      // hostctl 1.2: the session's telemetry came with its results; one answer acknowledges both, so a
      // failure here fails the request and the host sends both again (results are stored once per session)
      if (telemetry !== undefined) {
        await s.recordTelemetry(this.name, telemetry.entries, telemetry.ext, telemetry.id).catch((err: unknown) => {
          this.#refusedReport(err, 'telemetry');
          throw err;
        });
      }
      return { sessionId: body.sessionId };
    });
  }

  /** Logs a report refused because the session is unknown or another host's; says whether it was one. */
  #refusedReport(err: unknown, what: 'results' | 'telemetry'): boolean {
    if (!hasCodeOf(err, SESSION_ERRORS)) return false;
    const d = (err.details ?? {}) as { sessionId?: string; host?: string };
    if (err.code === 'session.wrong_host') {
      this.log.warn(
        { sessionId: d.sessionId, reportedBy: this.name, sessionHost: d.host },
        `${what} refused: host ${this.name} reported on a session of host ${d.host}`,
      );
      return true;
    }
    if (err.code === 'session.unknown') {
      this.log.warn({ sessionId: d.sessionId, reportedBy: this.name }, `${what} refused: host ${this.name} reported on an unknown session`);
      return true;
    }
    return false;
  }
}

export function acceptHost(server: HostEndpointContext, conn: PeerConnection): void {
  acceptControlStream(conn, 'hostctl', (stream) => new HostLink(server, conn, stream));
}
