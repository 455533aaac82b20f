import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import { formatHostPort } from '../net/address.js';
import { printable } from '../net/printable.js';
import type { PeerVerifier } from '../pki/types.js';
import type { GameVersionCheck } from '../protocol/index.js';
import { ALPN, createQuicServer, type AddressAllowList, type AllowListStats, type PemSource, type QuicServer, type ServerLimits } from '../transport/index.js';
import { HOST_ADMIN_LIMITS, acceptHostAdmin, type HostAdminContext, type HostRefusalNote } from './admin-endpoint.js';
import { AuthConnection, type AuthLinkContext } from './auth-connection.js';
import { hostError } from './errors.js';
import { GameSession, toPlayerResults, type GameMessage, type GameTransport, type HostGame, type WirePlayerResult } from './game.js';
import { HostDomain } from './host-domain.js';
import { NetcodeHostTransport, type NetcodeHostTransportOptions } from './transports/netcode/transport.js';
import { QuicHostTransport, type GameEndNotice, type QuicTransportContext } from './transports/quic/transport.js';
import type { HostTransport, SeatRef, TransportEndpoint } from './transports/transport.js';
import { MqttHostTransport } from './transports/mqtt/transport.js';
import type { EmbeddedBroker, EmbeddedBrokerOptions } from '../mqtt/broker.js';
import type { GameResults, TransportKind } from './types.js';
import { OutboxStore } from './outbox-store.js';

/**
 * The Host server: dials every Auth server (`iyesmp-hostctl/1`), registers and heartbeats, and
 * runs the sessions they create on a player endpoint (`iyesmp-host/1`) whose raw-datagram
 * allow-list follows the session table. Games keep running while every Auth server is down;
 * their results wait in the outbox until one is back.
 */
export interface HostServerOptions {
  /** host name; must be the name in the host certificate */
  name: string;
  region?: string;
  /** address players use to reach the player endpoint (an IP or DNS name in the host cert) */
  publicAddress: string;
  /** TLS name players check in this host's certificate; default publicAddress */
  tlsName?: string;
  /** player endpoint bind address and port (0 = any) */
  listen?: { host?: string; port?: number };
  cert: PemSource;
  key: PemSource;
  verifier: PeerVerifier;
  authServers: Array<{ host: string; port: number }>;
  /** name the Auth servers' certificates must carry */
  authServerName?: string;
  capacity?: { sessions: number; players?: number };
  /** game build version (hello) and rule for clients' versions */
  version?: string;
  acceptGameVersion?: GameVersionCheck;
  joinTimeoutMs?: number;
  reconnectGraceMs?: number;
  /**
   * Fewest players a session may begin (and go on) with. Sessions with fewer seats need all of
   * theirs. Default: every expected player.
   */
  minPlayers?: number;
  /**
   * Also run netcode.io sessions: a `NetcodeHostTransport` listens beside the QUIC endpoint and the
   * host registers it (`resolveNetcodeHost(config)` gives these from `[transports.netcode]`).
   */
  netcode?: Omit<NetcodeHostTransportOptions, 'sessions' | 'nowMs'>;
  /**
   * Longest gap between heartbeats. The host beats at the interval each Auth server asks for at
   * registration, or at this one when it is shorter. Default: the Auth server's.
   */
  heartbeatIntervalMs?: number;
  /** re-dial backoff ceiling */
  reconnectMaxMs?: number;
  reconnectInitialMs?: number;
  idleTimeoutMs?: number;
  maxStreams?: number;
  /** limits and deadlines of players' QUIC connections (see QuicHostTransportOptions.connections) */
  connections?: ServerLimits;
  tickIntervalMs?: number;
  /**
   * Shortest gap between two "allow-list dropped datagrams" log lines (default 10 s): a flood of
   * stray datagrams makes one line per interval, not one per datagram.
   */
  dropLogIntervalMs?: number;
  /** Also run turn-based sessions over MQTT (`[transports.mqtt]`): see HostMqttOptions. */
  mqtt?: HostMqttOptions;
  /** keep the results outbox in this folder, so results survive a restart while every Auth server is down */
  outboxDir?: string;
  /**
   * The admin port (`iyesmp-admin/1`, Admin certificates only): status, sessions, drain. Absent: none.
   * `connections` overrides HOST_ADMIN_LIMITS.
   */
  admin?: { host?: string; port?: number; connections?: ServerLimits };
  /** a drain (SIGTERM, `iyesmp admin drain`) lets running games take this long before cancelling them; default 10 min */
  drainTimeoutMs?: number;
  /** after a drain's games are over, how long it waits for an Auth server to take their results; default 30 s */
  drainDeliveryMs?: number;
  logger?: Logger;
}

/** Turn-based sessions over MQTT: where the broker is, and how the host keeps its ACL. */
export interface HostMqttOptions {
  /** "embedded": an aedes broker in this process (the host cert is its server cert); or the mqtts:// URL of a broker */
  broker: 'embedded' | string;
  /** embedded: listen port (default 8883; 0 = any free port), on `listen.host` */
  port?: number;
  /** the URL players dial, when it differs (embedded default: mqtts://<publicAddress>:<port>) */
  publicUrl?: string;
  /** what the broker's certificate must chain to (PEM); default: the host's verifier checks it (a Host cert of this PKI) */
  caPem?: string;
  /** the name checked in the broker's certificate (default: the URL's host; embedded: tlsName) */
  servername?: string;
  /** how room ACLs reach the broker: iyesmp's control topic (embedded, `serve broker`) or Mosquitto's dynamic security */
  acl?: 'control' | 'dynsec';
  topicPrefix?: string;
  game?: string;
  movesPerRound?: number;
  encrypt?: boolean;
  /** how long a session's grants (and kicks) outlive its end, so the end block reaches the players (default 3 s) */
  endGraceMs?: number;
  /** embedded broker: limits, and `mq`/`persistence` to share a Redis with other nodes */
  embedded?: Partial<Omit<EmbeddedBrokerOptions, 'cert' | 'key' | 'verifier'>>;
}

/** What `HostServer.stats()` reports: the numbers an operator watches. */
export interface HostStats {
  /** the player endpoint's raw-datagram filter: passed, dropped, droppedBytes, lastDroppedFrom, and its entries */
  allowList: AllowListStats & { entries: number };
  /** the netcode transport, when it runs: its own raw-datagram filter (consulted only with `dropUnannounced`) and admissions */
  netcode?: {
    dropUnannounced: boolean;
    allowList: AllowListStats & { entries: number };
    admitted: number;
    refused: number;
    ignored: number;
    malformed: number;
  };
  /** live sessions and connected players (session table) */
  sessions: number;
  players: number;
  /** results and telemetry waiting for an Auth server, and items dropped for lack of room */
  outbox: { size: number; dropped: number };
  /** Auth servers this host is registered with right now, out of those configured */
  authLinks: { up: number; total: number; connected: string[] };
}

type Resolved = HostServerOptions & Required<Pick<HostServerOptions, 'region' | 'tlsName' | 'version' | 'tickIntervalMs'>>;

export class HostServer<Ext = unknown> implements GameTransport<Ext>, AuthLinkContext, HostAdminContext {
  readonly options: Resolved;
  readonly logger: Logger;
  readonly domain: HostDomain;
  readonly games = new Map<string, GameSession<Ext>>();
  /** monotonic clock for the domain */
  readonly clock = () => performance.now();
  /** the player endpoint (QUIC, always on) */
  quic!: QuicHostTransport;
  /** the netcode transport, when `options.netcode` is set */
  netcode: NetcodeHostTransport | undefined;
  /** the MQTT transport and, when embedded, its broker (`options.mqtt`) */
  mqtt: MqttHostTransport | undefined;
  broker: EmbeddedBroker | undefined;
  closing = false;
  /** the admin port, when `options.admin` is set */
  adminServer: QuicServer | undefined;
  /** 0 without an admin port */
  adminPort = 0;
  readonly startedAt = Date.now();
  /** set while draining: wall-clock times */
  #drain: { since: number; deadline: number; reason: string } | undefined;
  #drainStopped = false;
  #resolveDrained!: () => void;
  readonly #drained = new Promise<void>((r) => {
    this.#resolveDrained = r;
  });
  /** the latest refused players, for the admin channel (bounded) */
  readonly #refusals: HostRefusalNote[] = [];

  readonly #auth = new Map<string, AuthConnection>();
  /** the transports by kind, in the order they are registered with the Auth servers */
  readonly #transports = new Map<TransportKind, HostTransport>();
  /** what `game.end` says, set just before the domain ends a session */
  readonly #lastReport = new Map<string, { reason: 'completed' | 'aborted' | 'cancelled'; results: WirePlayerResult[]; ext?: unknown }>();
  #timer: NodeJS.Timeout | undefined;
  #outboxStore: OutboxStore | undefined;
  #closeP: Promise<void> | undefined;
  /** per transport: allow-list drops already logged, and when (rate limit of the drop log line) */
  readonly #dropLog = new Map<TransportKind, { logged: number; at: number }>();

  private constructor(
    opts: HostServerOptions,
    readonly game: HostGame<Ext>,
  ) {
    this.options = {
      ...opts,
      region: opts.region ?? 'local',
      tlsName: opts.tlsName ?? opts.publicAddress,
      version: opts.version ?? '0.0.0',
      tickIntervalMs: opts.tickIntervalMs ?? 100,
    };
    this.logger = opts.logger ?? pino({ name: 'iyesmp-host' });
    const sessions = opts.capacity?.sessions ?? 64;
    const ids = opts.authServers.map((a) => formatHostPort(a.host, a.port));
    this.domain = new HostDomain(
      {
        sessions: {
          maxSessions: sessions,
          maxPlayers: opts.capacity?.players ?? sessions * 16,
          ...(opts.joinTimeoutMs !== undefined ? { joinTimeoutMs: opts.joinTimeoutMs } : {}),
          ...(opts.reconnectGraceMs !== undefined ? { reconnectGraceMs: opts.reconnectGraceMs } : {}),
          onListenerError: (err) => this.logger.error({ message: err instanceof Error ? err.message : String(err) }, 'session event listener failed'),
        },
        authServers: ids,
        redial: { initialMs: opts.reconnectInitialMs ?? 500, maxMs: opts.reconnectMaxMs ?? 30_000 },
      },
      this.clock(),
    );
    opts.authServers.forEach((a, i) => this.#auth.set(ids[i]!, new AuthConnection(this, ids[i]!, a)));
    this.#wire();
  }

  static async start<Ext = unknown>(opts: HostServerOptions, game: HostGame<Ext>): Promise<HostServer<Ext>> {
    const s = new HostServer<Ext>(opts, game);
    if (opts.outboxDir) {
      const store = await OutboxStore.open({ dir: opts.outboxDir, clock: { mono: s.clock, wall: Date.now } });
      store.on('warning', (e) => s.logger.warn({ event: e.type, ...('id' in e ? { id: e.id } : { file: e.file }) }, e.message));
      const restored = await store.load();
      s.domain.on('outbox', (e) => store.apply(e));
      for (const item of restored) s.domain.enqueue(item, s.clock());
      if (restored.length > 0) s.logger.info({ restored: restored.length, dir: opts.outboxDir }, 'results outbox restored from disk');
      s.#outboxStore = store;
    }
    const o = s.options;
    s.quic = await QuicHostTransport.listen(s.#quicContext(), {
      ...(opts.listen ? { listen: opts.listen } : {}),
      publicAddress: o.publicAddress,
      tlsName: o.tlsName,
      cert: opts.cert,
      key: opts.key,
      verifier: opts.verifier,
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      ...(opts.maxStreams !== undefined ? { maxStreams: opts.maxStreams } : {}),
      ...(opts.connections ? { connections: opts.connections } : {}),
      gameVersion: o.version,
      ...(opts.acceptGameVersion ? { acceptGameVersion: opts.acceptGameVersion } : {}),
    });
    s.#attach(s.quic);
    if (opts.netcode) {
      try {
        const q = s.#quicContext();
        // the same game answers and end notice as QUIC: a game runs unchanged on either transport
        s.netcode = await NetcodeHostTransport.listen({
          ...opts.netcode,
          sessions: s.domain.sessions,
          nowMs: s.clock,
          action: q.action,
          endNotice: q.endNotice,
        });
      } catch (err) {
        await s.quic.close({ graceMs: 0 });
        throw err;
      }
      s.#attach(s.netcode);
      if (!s.netcode.dropsUnannounced) {
        s.logger.warn(
          { transport: 'netcode' },
          'netcode drop_unannounced = false: datagrams from any source reach netcode, the connect token is the only check',
        );
      }
    }
    if (opts.mqtt) {
      try {
        await s.#startMqtt(opts.mqtt);
      } catch (err) {
        await s.quic.close({ graceMs: 0 });
        await s.netcode?.close();
        await s.broker?.close();
        throw err;
      }
    }
    if (opts.admin) {
      try {
        s.adminServer = await createQuicServer({
          cert: opts.cert,
          key: opts.key,
          verifier: opts.verifier,
          limits: { idleTimeoutMs: 30_000, ...HOST_ADMIN_LIMITS, ...opts.admin.connections },
          host: opts.admin.host ?? '127.0.0.1',
          port: opts.admin.port ?? 0,
          alpn: ALPN.admin,
          policy: { kind: 'admin' },
        });
      } catch (err) {
        await Promise.all([...s.#transports.values()].map((t) => t.close({ graceMs: 0 })));
        await s.broker?.close();
        throw err;
      }
      s.adminPort = s.adminServer.port;
      s.adminServer.on('connection', (conn) => acceptHostAdmin(s, conn));
      s.adminServer.on('refused', (r) => {
        s.#noteRefusal({ at: Date.now(), endpoint: 'admin', reason: r.reason, message: r.message, ...(r.remote ? { remote: r.remote } : {}) });
        s.logger.warn({ endpoint: 'admin', reason: r.reason, subject: r.subject, remote: r.remote }, `admin refused: ${r.message}`);
      });
    }
    s.#timer = setInterval(() => s.tick(), s.options.tickIntervalMs);
    s.#timer.unref?.();
    s.logger.info(
      {
        players: s.quic.port,
        ...(s.netcode ? { netcode: s.netcode.endpoint().address } : {}),
        ...(s.adminServer ? { admin: s.adminServer.port } : {}),
        auth: [...s.#auth.keys()],
      },
      'host server listening',
    );
    s.tick();
    return s;
  }

  /** the player endpoint's port (kept after close) */
  get playerPort(): number {
    return this.quic.port;
  }

  /** the player endpoint's QUIC server */
  get playerServer(): QuicServer {
    return this.quic.server;
  }

  /** the player endpoint's raw-datagram filter, following the session table */
  get allowList(): AddressAllowList {
    return this.quic.allowList;
  }

  /** The transports this host offers, as registered with the Auth servers. */
  transports(): TransportEndpoint[] {
    return [...this.#transports.values()].map((t) => t.endpoint());
  }

  /** One session's endpoint, for transports that answer per session (MQTT: room and host key). */
  sessionEndpoint(kind: TransportKind, sessionId: string): TransportEndpoint | undefined {
    return this.#transports.get(kind)?.sessionEndpoint?.(sessionId);
  }

  /** Auth servers this host is registered with right now. */
  connectedAuthServers(): string[] {
    return [...this.#auth.values()].filter((a) => a.state === 'up').map((a) => a.serverId);
  }

  tick(): void {
    try {
      this.domain.tick(this.clock());
      for (const a of this.#auth.values()) a.flush();
      this.#logDrops(false);
    } catch (err) {
      this.logger.error({ message: (err as Error).message }, 'tick failed');
    }
  }

  /** The operator's numbers: allow-list counters, sessions, players, outbox, Auth links. */
  stats(): HostStats {
    const load = this.domain.sessions.load();
    const connected = this.connectedAuthServers();
    return {
      allowList: { ...this.allowList.stats(), entries: this.allowList.size },
      sessions: load.sessions,
      players: load.players,
      outbox: { size: this.domain.outbox.size, dropped: this.domain.outbox.dropped },
      authLinks: { up: connected.length, total: this.#auth.size, connected },
      ...(this.netcode
        ? {
            netcode: {
              dropUnannounced: this.netcode.dropsUnannounced,
              allowList: { ...this.netcode.allowList.stats(), entries: this.netcode.allowList.size },
              ...this.netcode.stats,
            },
          }
        : {}),
    };
  }

  /**
   * One structured line per transport when its allow-list dropped datagrams since its last line, at
   * most every `dropLogIntervalMs` (always when `force`, e.g. at shutdown, so the last drops are not lost).
   */
  #logDrops(force: boolean): void {
    this.#logDropsOf('quic', this.allowList, force);
    if (this.netcode?.dropsUnannounced) this.#logDropsOf('netcode', this.netcode.allowList, force);
  }

  #logDropsOf(transport: TransportKind, list: AddressAllowList, force: boolean): void {
    const st = list.stats();
    const last = this.#dropLog.get(transport) ?? { logged: 0, at: -Infinity };
    if (st.dropped === last.logged) return;
    const now = this.clock();
    if (!force && now - last.at < (this.options.dropLogIntervalMs ?? 10_000)) return;
    const newDrops = st.dropped - last.logged;
    this.#dropLog.set(transport, { logged: st.dropped, at: now });
    // a fixed message, so log searches match; the numbers are fields
    this.logger.warn(
      {
        transport,
        allowList: {
          dropped: st.dropped,
          droppedBytes: st.droppedBytes,
          passed: st.passed,
          newDrops,
          ...(st.lastDroppedFrom ? { lastDroppedFrom: st.lastDroppedFrom } : {}),
        },
      },
      'allow-list dropped datagrams',
    );
  }

  // ---- drain and the admin channel -----------------------------------------------------------

  /** True while draining: no new sessions; the Auth servers know it. */
  get draining(): boolean {
    return this.#drain !== undefined;
  }

  drainState(): { since: number; deadline: number; reason: string } | undefined {
    return this.#drain ? { ...this.#drain } : undefined;
  }

  /**
   * Starts draining: the Auth servers are told at once (heartbeat `draining`) and new sessions are
   * refused; running games may finish until the deadline, then the rest are cancelled; their results
   * are delivered; then `whenDrained()` resolves (`serve host` then exits 0). A second call may only
   * bring the deadline closer.
   */
  startDrain(o: { reason: string; deadlineMs?: number; by: string }): { deadline: number } {
    const now = Date.now();
    const wanted = now + (o.deadlineMs ?? this.options.drainTimeoutMs ?? 600_000);
    if (this.#drain) {
      if (wanted < this.#drain.deadline) this.#drain.deadline = wanted;
      return { deadline: this.#drain.deadline };
    }
    this.#drain = { since: now, deadline: wanted, reason: o.reason };
    this.logger.warn({ reason: o.reason, by: o.by, deadline: new Date(wanted).toISOString(), sessions: this.domain.sessions.load().sessions }, 'draining');
    for (const a of this.#auth.values()) a.announceDrain();
    void this.#runDrain();
    return { deadline: wanted };
  }

  /** startDrain, resolving once drained. */
  drain(o: { reason?: string; deadlineMs?: number } = {}): Promise<void> {
    this.startDrain({ reason: o.reason ?? 'shutting down', ...(o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {}), by: 'local' });
    return this.#drained;
  }

  /** Resolves when a drain (from any source) has finished its games and delivered their results, or the server closed. */
  whenDrained(): Promise<void> {
    return this.#drained;
  }

  async #runDrain(): Promise<void> {
    const sleep = () => new Promise((r) => setTimeout(r, 100));
    while (!this.#drainStopped && this.domain.sessions.load().sessions > 0 && Date.now() < this.#drain!.deadline) await sleep();
    if (this.#drainStopped) return;
    const left = this.domain.sessions.sessions();
    if (left.length > 0) {
      this.logger.warn({ sessions: left.map((v) => v.sessionId) }, 'drain deadline reached; cancelling the games still running');
      for (const v of left) {
        this.#lastReport.set(v.sessionId, { reason: 'cancelled', results: [] });
        this.domain.sessions.cancel(v.sessionId, this.clock(), 'host drained');
      }
      this.tick();
    }
    // results go out while an Auth server is connected; with none, a short wait for one to come back
    // (a persistent outbox keeps them for the next start anyway)
    const started = Date.now();
    const until = started + (this.options.drainDeliveryMs ?? 30_000);
    const waiting = () => this.connectedAuthServers().length > 0 || Date.now() < started + 5_000;
    while (!this.#drainStopped && this.domain.outbox.size > 0 && Date.now() < until && waiting()) {
      await sleep();
      this.tick();
    }
    this.logger.info({ unsent: this.domain.outbox.size }, 'drained: games over, results delivered');
    this.#resolveDrained();
  }

  sessionViews() {
    return this.domain.sessions.sessions();
  }

  /**
   * Removes a player from every session here it has not left (an operator's kick): the table
   * closes its connection, the game hears it left, and on MQTT the broker kicks its client.
   */
  kickPlayer(playerId: string, reason: string): string[] {
    const out: string[] = [];
    for (const v of this.domain.sessions.sessions()) {
      if (!v.players.some((p) => p.playerId === playerId && p.status !== 'left')) continue;
      if (this.domain.sessions.removePlayer(v.sessionId, playerId, this.clock()).ok) out.push(v.sessionId);
    }
    if (out.length > 0) this.logger.info({ playerId, reason, sessions: out }, 'player removed from its sessions');
    return out;
  }

  load(): { sessions: number; players: number; maxSessions: number } {
    return this.domain.sessions.load();
  }

  transportKinds(): string[] {
    return [...this.#transports.keys()];
  }

  recentRefusals(): HostRefusalNote[] {
    return this.#refusals.map((r) => ({ ...r }));
  }

  #noteRefusal(r: HostRefusalNote): void {
    // refusal messages quote what a peer sent: `admin status` and `top` show them on a terminal
    this.#refusals.push({ ...r, message: printable(r.message).slice(0, 300), ...(r.remote !== undefined ? { remote: printable(r.remote) } : {}) });
    if (this.#refusals.length > 50) this.#refusals.shift();
  }

  async reloadCertificates(): Promise<void> {
    const fingerprint = await this.quic.reload();
    this.logger.info({ fingerprint }, 'certificates reloaded');
  }

  /**
   * Shutdown: cancels the sessions still running (their players get `game.end`), gives the outbox
   * up to graceMs to reach an Auth server, then closes everything.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.#closeP ??= (async () => {
      const graceMs = opts.graceMs ?? 2000;
      this.#drainStopped = true;
      this.#resolveDrained();
      for (const v of this.domain.sessions.sessions()) {
        this.#lastReport.set(v.sessionId, { reason: 'cancelled', results: [] });
        this.domain.sessions.cancel(v.sessionId, this.clock(), 'host shutting down');
      }
      this.tick();
      const until = Date.now() + graceMs;
      while (this.domain.outbox.size > 0 && this.connectedAuthServers().length > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        this.tick();
      }
      this.closing = true;
      clearInterval(this.#timer);
      await Promise.all([...this.#auth.values()].map((a) => a.close()));
      await Promise.all([...[...this.#transports.values()].map((t) => t.close({ graceMs: Math.min(graceMs, 1000) })), this.adminServer?.close({ graceMs: 0 })]);
      await this.broker?.close();
      this.#logDrops(true);
      await this.#outboxStore?.idle();
      this.logger.info({ unsent: this.domain.outbox.size, stats: this.stats() }, 'host server stopped');
    })();
    return this.#closeP;
  }

  // ---- GameTransport ---------------------------------------------------------------------------

  send(sessionId: string, playerId: string, msg: GameMessage<Ext>): boolean {
    const kind = this.domain.sessions.session(sessionId)?.transport;
    const t = kind && this.#transports.get(kind);
    return t ? t.send({ sessionId, playerId }, msg) : false;
  }

  async openStream(sessionId: string, playerId: string, header: { purpose: string; channel?: string; ext?: Ext }) {
    const kind = this.domain.sessions.session(sessionId)?.transport;
    const t = kind && this.#transports.get(kind);
    if (kind && !t?.openStream) {
      throw hostError('not_supported', `session ${sessionId} runs on ${kind}, which has no bulk streams; send datagrams instead`);
    }
    if (!t?.openStream) throw new Error(`player ${playerId} is not connected`);
    return t.openStream({ sessionId, playerId }, header);
  }

  end(sessionId: string, results: GameResults): void {
    this.#lastReport.set(sessionId, {
      reason: 'completed',
      results: toPlayerResults(results.outcomes),
      ...(results.playerExt !== undefined ? { ext: results.playerExt } : {}),
    });
    const r = this.domain.sessions.end(sessionId, results, this.clock());
    if (!r.ok) {
      this.#lastReport.delete(sessionId);
      throw new Error(r.message);
    }
  }

  // ---- transports --------------------------------------------------------------------------------

  /** What the QUIC endpoint may ask of the host: the table, the clock, and the game's answers. */
  #quicContext(): QuicTransportContext {
    return {
      sessions: this.domain.sessions,
      now: this.clock,
      logger: this.logger,
      action: async (seat: SeatRef, ext: unknown) => {
        const handler = this.games.get(seat.sessionId)?.actionHandler;
        if (!handler) throw hostError('wrong_phase', 'the game is not taking actions now');
        return handler(seat.playerId, ext as Ext | undefined);
      },
      stream: (seat, header, frames) => {
        const game = this.games.get(seat.sessionId);
        if (!game) return false;
        game.emit('stream', { playerId: seat.playerId, header: header as never, frames });
        return true;
      },
      endNotice: (sessionId): GameEndNotice => this.#lastReport.get(sessionId) ?? { reason: 'aborted', results: [] },
    };
  }

  /** The MQTT transport: an embedded broker if asked, the host's own connection with its certificate, the grants. */
  async #startMqtt(m: HostMqttOptions): Promise<void> {
    const [{ loadCredentials }, { MqttLink }, grantsMod] = await Promise.all([
      import('../transport/credentials.js'),
      import('../mqtt/link.js'),
      import('../mqtt/grants.js'),
    ]);
    const o = this.options;
    const creds = await loadCredentials({ cert: o.cert, key: o.key });
    let url: string;
    let publicUrl: string;
    if (m.broker === 'embedded') {
      const { EmbeddedBroker } = await import('../mqtt/broker.js');
      this.broker = await EmbeddedBroker.start({
        cert: creds.cert,
        key: creds.key,
        verifier: o.verifier,
        host: o.listen?.host ?? '0.0.0.0',
        port: m.port ?? 8883,
        publicHost: o.publicAddress,
        ...(m.topicPrefix ? { acl: { prefix: m.topicPrefix } } : {}),
        ...m.embedded,
        logger: { info: (f, msg) => this.logger.info(f, msg), warn: (f, msg) => this.logger.warn(f, msg) },
      });
      const port = this.broker.address().port;
      const local = !o.listen?.host || o.listen.host === '0.0.0.0' || o.listen.host === '::' ? '127.0.0.1' : o.listen.host;
      url = `mqtts://${local.includes(':') ? `[${local}]` : local}:${port}`;
      publicUrl = m.publicUrl ?? `mqtts://${o.publicAddress.includes(':') ? `[${o.publicAddress}]` : o.publicAddress}:${port}`;
    } else {
      url = m.broker;
      publicUrl = m.publicUrl ?? m.broker;
    }
    const servername = m.servername ?? (m.broker === 'embedded' ? o.tlsName : undefined);
    const link = await MqttLink.connect({
      url,
      cert: creds.cert,
      key: creds.key,
      ...(m.caPem
        ? { ca: m.caPem }
        : {
            verify: async (chain: Uint8Array[]) => {
              const r = await o.verifier.verify(chain, { kind: 'host' });
              return r.ok ? undefined : `${r.message} (${r.reason})`;
            },
          }),
      ...(servername ? { servername } : {}),
      clientId: `host/${o.name}`,
      reconnectMs: 1000,
    });
    const grants =
      m.acl === 'dynsec'
        ? (await import('../mqtt/dynsec.js')).dynsecGrants(link, { organization: (await import('../mqtt/mosquitto.js')).organizationOfCert(creds.cert) })
        : grantsMod.controlTopicGrants(link);
    this.mqtt = new MqttHostTransport(this.#quicContext(), {
      brokerUrl: publicUrl,
      link,
      grants,
      ...(m.topicPrefix ? { topicPrefix: m.topicPrefix } : {}),
      ...(m.game ? { game: m.game } : {}),
      ...(m.movesPerRound !== undefined ? { movesPerRound: m.movesPerRound } : {}),
      ...(m.encrypt !== undefined ? { encrypt: m.encrypt } : {}),
      ...(m.endGraceMs !== undefined ? { endGraceMs: m.endGraceMs } : {}),
    });
    this.#attach(this.mqtt);
  }

  /** A transport's players: game messages to the game, comings and goings and refusals to the log. */
  #attach(t: HostTransport): void {
    this.#transports.set(t.kind, t);
    const log = this.logger.child({ transport: t.kind });
    t.on('event', (e) => {
      switch (e.type) {
        case 'message':
          try {
            this.games.get(e.sessionId)?.emit('message', { playerId: e.playerId, ...(e.message as GameMessage<Ext>) });
          } catch (err) {
            log.error({ sessionId: e.sessionId, message: (err as Error).message }, 'game message listener failed');
          }
          return;
        case 'joined':
          log.info({ sessionId: e.sessionId, playerId: e.playerId, reconnect: e.reconnect, remote: e.remote }, 'player admitted');
          return;
        case 'refused':
          this.#noteRefusal({ at: Date.now(), endpoint: t.kind, reason: e.reason, message: e.message, ...(e.remote ? { remote: String(e.remote) } : {}) });
          log.info({ reason: e.reason, sessionId: e.sessionId, playerId: e.playerId, remote: e.remote }, `player refused: ${e.message}`);
          return;
        case 'left':
          log.debug({ sessionId: e.sessionId, playerId: e.playerId, reason: e.reason }, 'player disconnected');
          return;
        case 'warning':
          log.warn({ message: e.error.message }, 'transport warning');
          return;
      }
    });
  }

  /** The domain's events: the game's life, the Auth servers' view, the log. Transports tell their players themselves. */
  #wire(): void {
    this.domain.on('link', (e) => {
      if (e.type === 'dial') void this.#auth.get(e.serverId)?.dial();
    });
    this.domain.on('outbox', (e) => {
      if (e.type === 'dropped') this.logger.warn({ id: e.id, dropped: e.dropped }, e.message);
    });
    this.domain.sessions.on('session', (e) => {
      try {
        switch (e.type) {
          case 'player_status': {
            if (e.status === 'left')
              for (const a of this.#auth.values())
                a.playerEvent('player.left', { sessionId: e.sessionId, playerId: e.playerId, reason: e.departure ?? 'left' });
            this.games.get(e.sessionId)?.emit('player', { playerId: e.playerId, status: e.status, previous: e.previous });
            return;
          }
          case 'game_begin': {
            const players = e.roster.filter((p) => p.status !== 'left');
            const transport = this.domain.sessions.session(e.sessionId)?.transport ?? 'quic';
            const game = new GameSession<Ext>(e.sessionId, players, e.settings, this, transport);
            game.on('error', (err) => this.logger.error({ sessionId: e.sessionId, message: (err as Error)?.message ?? String(err) }, 'game listener failed'));
            this.games.set(e.sessionId, game);
            this.logger.info({ sessionId: e.sessionId, players: players.length }, 'game begins');
            Promise.resolve()
              .then(() => this.game.begin(game))
              .catch((err: unknown) => this.logger.error({ sessionId: e.sessionId, message: (err as Error).message }, 'game begin failed'));
            return;
          }
          case 'session_ended': {
            const game = this.games.get(e.sessionId);
            this.games.delete(e.sessionId);
            this.#lastReport.delete(e.sessionId);
            this.logger.info({ sessionId: e.sessionId, end: e.report.end, abort: e.report.abortReason }, 'session ended');
            game?.markEnded(e.report);
            for (const a of this.#auth.values()) a.flush();
            return;
          }
          case 'player_admitted':
            for (const a of this.#auth.values()) a.playerEvent('player.joined', { sessionId: e.sessionId, playerId: e.playerId });
            return;
          case 'admission_refused':
            this.logger.info({ reason: e.reason, sessionId: e.sessionId, source: formatHostPort(e.source.ip, e.source.port) }, 'admission refused');
            return;
          case 'player_timed_out':
            this.logger.info({ sessionId: e.sessionId, playerId: e.playerId, reason: e.reason }, 'player timed out');
            return;
          default:
            return;
        }
      } catch (err) {
        this.logger.error({ event: e.type, message: (err as Error).message }, 'session event handling failed');
      }
    });
  }
}

export function startHostServer<Ext = unknown>(opts: HostServerOptions, game: HostGame<Ext>): Promise<HostServer<Ext>> {
  return HostServer.start(opts, game);
}
