import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import type { ResolvedNetcodeIssuer } from '../netcode/config.js';
import type { FastSessionMinter } from '../pki/index.js';
import type { KeyAlgorithm, PeerVerifier } from '../pki/types.js';
import type { GameVersionCheck } from '../protocol/index.js';
import { ALPN, createQuicServer, type PemSource, type QuicServer, type ServerLimits } from '../transport/index.js';
import { AccountService, GuestProvider, MAX_BAN_UNTIL_MS, banUntil, type Account, type Ban, type BanTarget } from './accounts/index.js';
import { AuthLimits } from './limits.js';
import { acceptClient, lobbyInfo, type ClientEndpointContext, type ClientLink, type ClientNotice } from './client-endpoint.js';
import { errInfo } from './err-info.js';
import { authError, handoffError, matchmakingError } from './errors.js';
import { HandoffDriver, seatIdOf, type HandoffTransportKind, type Offer } from './handoff/index.js';
import { acceptHost, type HostEndpointContext, type HostLink } from './host-endpoint.js';
import { ADMIN_CONNECTION_LIMITS, acceptAdmin, type AdminEndpointContext, type AdminPlayerView } from './admin-endpoint.js';
import { MemoryAuditStore, type AuditStore } from './audit.js';
import { OpsStats } from './ops-stats.js';
import { AuthDomain } from './domain.js';
import type { HostRegistry } from './host-registry.js';
import type { Joiner, JoinTarget, Lobbies, LobbyView } from './lobbies.js';
import type { Matchmaker, MatchmakerOptions } from './matchmaking.js';
import type { PartyQueue } from './parties.js';
import { MemorySessionStore, type SessionRecord, type SessionStore, type Sessions, type TelemetryItem } from './sessions.js';
import { loggingMinter, StatePersistence } from './persistence.js';
import { ClusterCoordinator, type ClusterBus, type ClusterOp, type ForwardedTicket, type ForwardingOps, type LobbyOp, type OlderNotice } from './cluster.js';
import { randomUUID } from 'node:crypto';
import type { AuthStores } from './stores.js';

/**
 * The Auth server: a client endpoint (`iyesmp-auth/1`, Client certs of active ClientAuths) and a
 * host endpoint (`iyesmp-hostctl/1`, Host certs), both QUIC with mutual TLS, around the sans-IO
 * domain of src/auth. One timer drives every domain `tick(now)`.
 */
export interface AuthServerOptions {
  /** this node's name (welcome messages, logs) */
  name?: string;
  /** `trustedProxies`: ranges of UDP proxies whose PROXY v2 headers name the real client (QuicServerOptions) */
  clients?: { host?: string; port?: number; trustedProxies?: readonly string[] };
  hosts?: { host?: string; port?: number };
  /**
   * The admin port (`iyesmp-admin/1`, Admin certificates only) for `iyesmp admin` and `iyesmp top`;
   * absent: no admin port. Keep it on a private address. `connections` overrides ADMIN_CONNECTION_LIMITS.
   */
  admin?: { host?: string; port?: number; connections?: ServerLimits };
  /** where admin actions are recorded (default: in memory, the latest 10,000) */
  audit?: AuditStore;
  /** the Auth certificate chain and key (PEM text or file paths) */
  cert: PemSource;
  key: PemSource;
  /** checks client and host certificates (see ReloadableVerifier to swap trust data at run time) */
  verifier: PeerVerifier;
  /** signs session certificates at hand-off */
  minter: FastSessionMinter;
  /** login methods; default: guests only */
  accounts?: AccountService;
  /**
   * Serve `account.register` (1.2) with the accounts' password provider. Default false: clients
   * are refused with `auth.registration_disabled`.
   */
  allowRegistration?: boolean;
  /** rate limits on registration and password login, per address and per account (default: AuthLimits' own) */
  limits?: AuthLimits;
  /**
   * A player's matchmaking rating in a game mode, looked up by the server when the player queues
   * (clients never send ratings). Default: `account.data.ratings[mode]` when the login provider
   * supplied it (token claims `data`, a studio verifier's `data`, registration data). `undefined`
   * in a rated mode refuses the queue with `mm.rating_required`. A party's rating is the mean of
   * its members'.
   */
  ratingFor?: (account: Account, mode: string) => number | undefined | Promise<number | undefined>;
  /** this server's build version, and the rule for clients' game versions */
  gameVersion?: string;
  acceptGameVersion?: GameVersionCheck;
  motd?: string;
  /** `client` (default): clients send a public key; `seed`: we generate the key and send it */
  keyDelivery?: 'client' | 'seed';
  /** key type generated in the seed design; default: the SessionAuth key's algorithm */
  seedKeyAlgorithm?: KeyAlgorithm;
  sessionTtlSeconds?: number;
  /** transport of matches and lobbies whose mode has none in `modeTransports`; default quic */
  defaultTransport?: HandoffTransportKind;
  /** per game mode: the host transport its sessions run on (hosts are picked by it) */
  modeTransports?: Record<string, HandoffTransportKind>;
  /**
   * netcode.io hand-off: the 32-byte key shared with the hosts and the token settings
   * (`resolveNetcodeIssuer(config)` reads them). Required when any mode uses netcode.
   */
  netcode?: ResolvedNetcodeIssuer;
  /** players per match, and per mode overrides */
  matchSize?: number;
  modeSizes?: Record<string, number>;
  matchmaker?: MatchmakerOptions;
  heartbeatIntervalMs?: number;
  missedHeartbeats?: number;
  /** players must claim their seats within this */
  claimTimeoutMs?: number;
  hostAckTimeoutMs?: number;
  /** how long a host waits for the players of a new session */
  joinTimeoutMs?: number;
  noHostTimeoutMs?: number;
  tickIntervalMs?: number;
  idleTimeoutMs?: number;
  /**
   * Connection limits and deadlines of the client endpoint. A client connection is trusted once it
   * logs in; until then it must open its stream, say hello and log in in time, and it counts against
   * limits per address and per certificate and against half of maxConnections, so logged-in players
   * keep the other half whatever strangers do. Defaults: CLIENT_CONNECTION_LIMITS.
   */
  clientConnections?: ServerLimits;
  sessionStore?: SessionStore;
  /** telemetry entries kept per session; a host's excess is dropped with a warning (default 1,000) */
  telemetryPerSession?: number;
  /** finished sessions are forgotten this long after they end, fail or are lost (default 10 min); later reports are refused */
  sessionRetentionMs?: number;
  /** without a `sessionStore`: finished sessions kept in memory at most, oldest forgotten first (default 10,000) */
  finishedSessionsKept?: number;
  /**
   * results of unknown sessions (kept by a host across our restart) recorded per registered host
   * and retention window (default 256; 0 refuses them all, right with a persistent `sessionStore`)
   */
  adoptedResultsPerHost?: number;
  /**
   * Durable state (src/store opens it from `[database]`): session records (unless `sessionStore`),
   * ratings (looked up before `ratingFor`'s default), lobbies (saved after each change, restored at
   * start), queued tickets, the host directory, results once per session id, the session-cert log.
   * With `durable` set, results for unknown sessions are never adopted (default of
   * `adoptedResultsPerHost` becomes 0). Accounts and bans go in through `accounts`.
   */
  stores?: Partial<AuthStores>;
  /**
   * Serve one deployment with other Auth nodes (same database, same PKI and config; cluster.ts):
   * the bus they talk on (src/store's `openPgCluster`: PostgreSQL LISTEN/NOTIFY and an advisory
   * lock). The leader runs the matchmaker; the others forward their players' queue requests.
   */
  cluster?: ClusterBus;
  /**
   * What is checked of the bodies this server sends its players and hosts (the protocol session's
   * `checkOutgoing`). Default: nothing, as its own code builds them to the schemas (what it receives
   * is always checked); `IYESMP_CHECK_OUTGOING=strict` in the environment (the test setup sets it)
   * or `=1` turns the check on, `strict` also refusing bodies with keys the schema does not name.
   */
  checkOutgoing?: boolean | 'strict';
  logger?: Logger;
}

/** The default of `checkOutgoing`, from `IYESMP_CHECK_OUTGOING`. */
function outgoingCheckFromEnv(): boolean | 'strict' {
  const v = process.env.IYESMP_CHECK_OUTGOING;
  return v === 'strict' ? 'strict' : v === '1' || v === 'true';
}

/** The client endpoint's defaults (see `clientConnections`). */
export const CLIENT_CONNECTION_LIMITS = {
  // one Auth process holds 10,000 logged-in idle players (bench/scale.bench.js)
  maxConnections: 10_000,
  maxUnauthenticated: 5_000,
  maxUnauthenticatedPerAddress: 64,
  maxPerAccount: 4,
  firstStreamTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
  loginTimeoutMs: 30_000,
} satisfies ServerLimits;

type Resolved = Required<
  Pick<AuthServerOptions, 'name' | 'gameVersion' | 'keyDelivery' | 'sessionTtlSeconds' | 'matchSize' | 'tickIntervalMs' | 'checkOutgoing'>
> &
  AuthServerOptions;

export interface AuthServerEvents {
  /** results (and possibly telemetry) of a session arrived from its host */
  'session-ended': [SessionRecord];
  'host-registered': [string];
  'host-dead': [string];
  /** a login ended: `ok` or the error code it was refused with */
  login: [{ method: string; outcome: string }];
}

export class AuthServer extends EventEmitter<AuthServerEvents> implements ClientEndpointContext, HostEndpointContext, AdminEndpointContext {
  readonly options: Resolved;
  readonly logger: Logger;
  readonly accounts: AccountService;
  readonly limits: AuthLimits;
  /** the domain cores and their driver; the fields below are its */
  readonly domain: AuthDomain;
  readonly lobbies: Lobbies;
  readonly matchmaker: Matchmaker;
  readonly registry: HostRegistry;
  readonly sessions: Sessions;
  readonly handoffs: HandoffDriver;
  /** lobbies queued as matchmaking parties */
  readonly parties: PartyQueue;
  clientServer!: QuicServer;
  hostServer!: QuicServer;
  /** the admin port, when `options.admin` is set */
  adminServer: QuicServer | undefined;
  /** admin actions, with the admin certificate that took them */
  readonly audit: AuditStore;
  /** hand-off rate and latency, recent refusals and results, for the admin channel */
  readonly ops = new OpsStats();
  readonly startedAt = Date.now();
  /** hosts an operator drained: they get no new sessions until they register afresh */
  readonly #drained = new Map<string, { reason: string; at: number }>();

  readonly #clients = new Map<string, ClientLink>();
  readonly #hosts = new Map<string, HostLink>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  readonly #persistence: StatePersistence | undefined;
  readonly #cluster: ClusterCoordinator | undefined;
  /** display names of players of other nodes whose tickets this node (the leader) holds */
  readonly #remoteNames = new Map<string, string>();
  /** players of this node in a lobby another node runs */
  readonly #remoteLobby = new Map<string, { lobbyId: string; node: string }>();
  #closing: Promise<void> | undefined;

  private constructor(opts: AuthServerOptions) {
    super();
    this.options = {
      ...opts,
      name: opts.name ?? 'auth-1',
      gameVersion: opts.gameVersion ?? '0.0.0',
      keyDelivery: opts.keyDelivery ?? 'client',
      sessionTtlSeconds: opts.sessionTtlSeconds ?? 3600,
      matchSize: opts.matchSize ?? 2,
      tickIntervalMs: opts.tickIntervalMs ?? 250,
      checkOutgoing: opts.checkOutgoing ?? outgoingCheckFromEnv(),
    };
    this.logger = opts.logger ?? pino({ name: 'iyesmp-auth' });
    this.accounts = opts.accounts ?? new AccountService({ providers: [new GuestProvider()] });
    this.limits = opts.limits ?? new AuthLimits();
    // the store's audit log when there is one: admin actions outlive the process and are shared by every node
    this.audit = opts.audit ?? opts.stores?.audit ?? new MemoryAuditStore();
    const claimTimeoutMs = opts.claimTimeoutMs ?? 30_000;
    const hostAckTimeoutMs = opts.hostAckTimeoutMs ?? 15_000;
    // the domain's own ack deadline counts from creation, so it must cover the claims too
    const setupMs = claimTimeoutMs + hostAckTimeoutMs + 5_000;
    this.domain = new AuthDomain({
      // ids unique across the nodes (a new leader must not reuse the old one's)
      matchmaker: opts.cluster
        ? { newTicketId: () => `tkt_${randomUUID()}`, newMatchId: () => `mch_${randomUUID()}`, ...opts.matchmaker }
        : (opts.matchmaker ?? {}),
      registry: {
        ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
        ...(opts.missedHeartbeats !== undefined ? { missedHeartbeats: opts.missedHeartbeats } : {}),
        // a slot held for a session being set up outlives its setup, so it is never freed early
        reservationTtlMs: setupMs + 10_000,
      },
      sessions: {
        hostAckTimeoutMs: setupMs,
        // ended sessions leave memory (evicted here; a SQL store keeps them on disk)
        store:
          opts.sessionStore ??
          opts.stores?.sessions ??
          new MemorySessionStore(opts.finishedSessionsKept !== undefined ? { maxFinished: opts.finishedSessionsKept } : {}),
        ...(opts.telemetryPerSession !== undefined ? { telemetryPerSession: opts.telemetryPerSession } : {}),
        ...(opts.sessionRetentionMs !== undefined ? { retentionMs: opts.sessionRetentionMs } : {}),
        ...(opts.adoptedResultsPerHost !== undefined ? { adoptPerHost: opts.adoptedResultsPerHost } : opts.stores?.durable ? { adoptPerHost: 0 } : {}),
      },
      onListenerError: (err) => this.logger.error({ err: errInfo(err) }, 'a domain event listener failed'),
    });
    this.lobbies = this.domain.lobbies;
    this.matchmaker = this.domain.matchmaker;
    this.registry = this.domain.registry;
    this.sessions = this.domain.sessions;
    this.parties = this.domain.parties;
    this.handoffs = new HandoffDriver({
      registry: this.registry,
      sessions: this.sessions,
      minter: opts.stores?.certs
        ? loggingMinter(opts.minter, opts.stores.certs, this.logger, async (sessionId, seat) =>
            (await this.sessions.store.get(sessionId))?.players.find((p) => seatIdOf(p) === seat),
          )
        : opts.minter,
      logger: this.logger.child({ part: 'handoff' }),
      keyDelivery: this.options.keyDelivery,
      ...(opts.seedKeyAlgorithm ? { seedKeyAlgorithm: opts.seedKeyAlgorithm } : {}),
      sessionTtlSeconds: this.options.sessionTtlSeconds,
      transportFor: (mode) => this.transportFor(mode),
      ...(opts.netcode ? { netcode: opts.netcode } : {}),
      claimTimeoutMs,
      hostAckTimeoutMs,
      joinTimeoutMs: opts.joinTimeoutMs ?? 60_000,
      noHostTimeoutMs: opts.noHostTimeoutMs ?? 60_000,
      createOnHost: async (hostName, body, timeoutMs) => {
        const link = this.#hosts.get(hostName);
        if (!link) throw new Error(`host ${hostName} is not connected`);
        return link.createSession(body, timeoutMs);
      },
      cancelOnHost: (hostName, sessionId, reason) => {
        this.#hosts
          .get(hostName)
          ?.proto.request('session.cancel', { sessionId, reason }, { timeoutMs: 10_000 })
          .catch(() => undefined);
      },
      // the pushed hand-off and its refusal exist from 1.3; only 1.3 players make the offers that cause them
      notifyPlayer: (playerId, type, body) => this.notifyPlayer(playerId, type === 'session.handoff' || type === 'session.key_refused' ? 3 : 0, type, body),
      notifyWaiting: (playerId, body) => this.notifyPlayer(playerId, 1, 'session.waiting', body),
      noteHandoff: (ms, ok) => this.noteHandoff(ms, ok),
      // a confirmed match's players who queue again wait until its set-up is over (rule 7)
      setUpOver: (origin, sessionId) => {
        this.matchmaker.setUpOver(origin.id, sessionId, Date.now());
        // a lobby whose start failed before any session existed may be started again
        if (origin.kind === 'lobby' && sessionId === undefined) this.lobbies.reopen(origin.id, 'the game session could not be set up', Date.now());
      },
    });
    this.#wire();
    if (opts.cluster) {
      this.#cluster = new ClusterCoordinator(opts.cluster, {
        logger: this.logger.child({ part: 'cluster' }),
        perform: (op, args, from) => this.#perform(op, args, from),
        deliverLocal: (playerId, minMinor, type, body, older) => {
          const link = this.#clients.get(playerId);
          if (!link) return false;
          notifyLink(link, minMinor, type as ClientNotice, body, older);
          return true;
        },
        kickLocal: (playerId, code, reason) => this.#clients.get(playerId)?.kick(code, reason),
        // the old leader's queue is gone with it: its ticket rows are dropped (followers re-send theirs)
        tookOverFrom: (previous) => {
          this.options.stores?.tickets?.removeByNode(previous).then(
            (n) => n > 0 && this.logger.info({ previous, tickets: n }, "the previous leader's tickets expired"),
            (err: unknown) => this.logger.warn({ err: errInfo(err) }, "could not drop the previous leader's tickets"),
          );
        },
      });
    }
    if (this.#cluster) {
      // names of other nodes' players are kept while their tickets are here
      this.domain.on('match', (e) => {
        const done = e.type === 'confirmed' ? e.match.tickets : e.type === 'removed' ? [e.ticket] : e.type === 'failed' ? e.removed : [];
        for (const t of done) for (const p of t.players) this.#remoteNames.delete(p);
      });
    }
    if (opts.stores) {
      this.#persistence = new StatePersistence(opts.stores, { domain: this.domain, logger: this.logger.child({ part: 'store' }), node: this.options.name });
      this.#persistence.attach();
    }
  }

  /** Binds both endpoints and starts the driver timer. */
  static async start(opts: AuthServerOptions): Promise<AuthServer> {
    checkTransports(opts);
    const s = new AuthServer(opts);
    if (s.#persistence) {
      const restored = await s.#persistence.restore();
      if (restored.lobbies > 0 || restored.droppedTickets > 0) s.logger.info(restored, 'state restored from the database');
    }
    const limits = { idleTimeoutMs: opts.idleTimeoutMs ?? 30_000 };
    const common = { cert: opts.cert, key: opts.key, verifier: opts.verifier, limits };
    s.clientServer = await createQuicServer({
      ...common,
      limits: { ...limits, ...CLIENT_CONNECTION_LIMITS, ...opts.clientConnections },
      trustAt: 'login',
      host: opts.clients?.host ?? '::',
      port: opts.clients?.port ?? 0,
      // behind a proxy the real client's address is what limits, logs and hand-offs (host allow-lists) use
      trustedProxies: opts.clients?.trustedProxies ?? [],
      alpn: ALPN.auth,
      policy: { kind: 'auth-client' },
    });
    try {
      s.hostServer = await createQuicServer({
        ...common,
        host: opts.hosts?.host ?? '::',
        port: opts.hosts?.port ?? 0,
        alpn: ALPN.hostctl,
        policy: { kind: 'host' },
      });
      if (opts.admin) {
        s.adminServer = await createQuicServer({
          ...common,
          limits: { ...limits, ...ADMIN_CONNECTION_LIMITS, ...opts.admin.connections },
          host: opts.admin.host ?? '127.0.0.1',
          port: opts.admin.port ?? 0,
          alpn: ALPN.admin,
          policy: { kind: 'admin' },
        });
      }
    } catch (err) {
      await s.clientServer.close({ graceMs: 0 });
      await s.hostServer?.close({ graceMs: 0 });
      throw err;
    }
    s.clientPort = s.clientServer.port;
    s.hostPort = s.hostServer.port;
    s.adminPort = s.adminServer?.port ?? 0;
    s.clientServer.on('connection', (conn) => acceptClient(s, conn));
    s.hostServer.on('connection', (conn) => acceptHost(s, conn));
    s.adminServer?.on('connection', (conn) => acceptAdmin(s, conn));
    for (const [which, srv] of [['client', s.clientServer], ['host', s.hostServer], ...(s.adminServer ? [['admin', s.adminServer] as const] : [])] as const) {
      srv.on('refused', (r) => {
        s.ops.refusal({ at: Date.now(), endpoint: which, reason: r.reason, message: r.message, ...(r.remote ? { remote: r.remote } : {}) });
        // a wrong ALPN is a misconfigured client or a port scan: worth an operator's attention
        const level = r.reason === 'wrong_alpn' ? 'warn' : 'info';
        s.logger[level](
          { endpoint: which, reason: r.reason, subject: r.subject, remote: r.remote, offeredAlpn: r.offeredAlpn },
          `${which} refused: ${r.message}`,
        );
      });
      srv.on('reloadError', (e) => s.logger.error({ endpoint: which, code: e.code }, e.message));
    }
    s.#timer = setInterval(() => void s.tick(), s.options.tickIntervalMs);
    s.#timer.unref?.();
    s.logger.info(
      { clients: s.clientServer.port, hosts: s.hostServer.port, ...(s.adminServer ? { admin: s.adminServer.port } : {}), name: s.options.name },
      'auth server listening',
    );
    return s;
  }

  /** bound ports (kept after close, for reports) */
  clientPort = 0;
  hostPort = 0;
  /** 0 without an admin port */
  adminPort = 0;

  /** Logged-in players connected right now. */
  get playersOnline(): number {
    return this.#clients.size;
  }

  /** @internal */
  loginOutcome(method: string, outcome: string): void {
    this.emit('login', { method, outcome });
  }

  /** Hosts with a live control connection. */
  connectedHosts(): string[] {
    return [...this.#hosts.keys()];
  }

  matchSizeFor(mode: string): number {
    const sizes = this.options.modeSizes;
    // own keys only: mode names come from clients ("constructor", "__proto__")
    return (sizes && Object.hasOwn(sizes, mode) ? sizes[mode] : undefined) ?? this.options.matchSize;
  }

  /** The rating the matchmaker uses for this account in this mode (see `ratingFor`). */
  async ratingOf(account: Account, mode: string): Promise<number | undefined> {
    const stored = await this.options.stores?.ratings?.get(account.playerId, mode);
    const r = stored ?? (this.options.ratingFor ? await this.options.ratingFor(account, mode) : defaultRating(account, mode));
    return typeof r === 'number' && Number.isFinite(r) ? r : undefined;
  }

  onlineCount(): number {
    return this.#clients.size;
  }

  /** Logged-in players, for the admin channel. */
  onlinePlayers(): AdminPlayerView[] {
    return [...this.#clients.values()].flatMap((l) =>
      l.account ? [{ playerId: l.account.playerId, displayName: l.account.displayName, address: l.address }] : [],
    );
  }

  /** Ends a logged-in player's connection (code `kicked`, the reason); false when it is not connected. */
  kickPlayer(playerId: string, reason: string): boolean {
    const link = this.#clients.get(playerId);
    if (!link) return false;
    this.logger.info({ playerId, reason }, 'player kicked');
    link.kick('kicked', reason);
    return true;
  }

  /**
   * Drains a host: no new sessions are placed on it (until it registers afresh, as a restarted host
   * does), and a connected iyesmp host is told to finish its games within `deadlineMs`, deliver the
   * results and stop.
   */
  drainHost(name: string, reason: string, deadlineMs?: number): { sessions: number; deadline?: number } {
    const now = Date.now();
    this.#drained.set(name, { reason, at: now });
    const view = this.registry.get(name);
    if (view?.state === 'alive') this.registry.heartbeat(name, { active: view.active, draining: true }, now);
    const link = this.#hosts.get(name);
    try {
      link?.proto.notify('host.drain', { reason, ...(deadlineMs !== undefined ? { deadlineMs } : {}) });
    } catch (err) {
      this.logger.warn({ host: name, err: errInfo(err) }, 'could not tell the host to drain');
    }
    this.logger.warn({ host: name, reason, deadlineMs }, 'host drained by an administrator');
    return { sessions: view?.reserved ?? 0, ...(deadlineMs !== undefined ? { deadline: now + deadlineMs } : {}) };
  }

  /** @internal */
  hostDraining(name: string): boolean {
    return this.#drained.has(name);
  }

  /** @internal A refused login or claim, for the admin channel's recent refusals. */
  noteRefusal(endpoint: string, reason: string, message: string, remote?: string): void {
    this.ops.refusal({ at: Date.now(), endpoint, reason, message, ...(remote ? { remote } : {}) });
  }

  /** @internal A claim answered (or refused) `ms` after it was asked. */
  noteHandoff(ms: number, ok: boolean): void {
    this.ops.handoff(Date.now(), ms, ok);
  }

  /** A logged-in player's account (undefined when not connected). */
  accountOf(playerId: string): Account | undefined {
    return this.#clients.get(playerId)?.account;
  }

  /**
   * @internal Tells a logged-in player something, if it negotiated at least `minor`; an older one
   * gets `older` when given. Connected to another node: through that node, with the same choice.
   */
  notifyPlayer(playerId: string, minMinor: number, type: ClientNotice, body: unknown, older?: OlderNotice): void {
    const link = this.#clients.get(playerId);
    if (link) notifyLink(link, minMinor, type, body, older);
    else this.#cluster?.relay(playerId, minMinor, type, body, older);
  }

  /**
   * Bans a player (a player id such as `password:<uuid>`, or an `Account`) until `until` (ms or
   * Date; absent: permanently). A connected player is kicked with code `banned` and the reason;
   * its next login is refused with `auth.banned`, the reason and the expiry.
   */
  async ban(who: string | Pick<Account, 'playerId'>, o: { reason: string; until?: number | Date; by?: string }): Promise<Ban> {
    const playerId = typeof who === 'string' ? who : who.playerId;
    const expiresAt = o.until === undefined ? null : o.until instanceof Date ? o.until.getTime() : o.until;
    if (typeof o.reason !== 'string' || o.reason.length === 0) throw authError('ban_reason', 'a ban needs a reason (the player is told it)');
    if (expiresAt !== null && !Number.isFinite(expiresAt)) throw authError('ban_until', '`until` must be a time (ms since the epoch or a Date)');
    // past Date's range the expiry cannot be told to the player (toISOString throws): refused before it is stored
    if (expiresAt !== null && expiresAt > MAX_BAN_UNTIL_MS) throw authError('ban_until', '`until` is beyond the last time a Date can hold (year 275760)');
    const ban: Ban = { target: { playerId }, reason: o.reason, createdAt: Date.now(), expiresAt, ...(o.by !== undefined ? { by: o.by } : {}) };
    await this.accounts.bans.add(ban);
    const link = this.#clients.get(playerId);
    if (link) {
      this.logger.info({ playerId, until: expiresAt }, 'banned player kicked');
      link.kick('banned', `this account is banned ${banUntil(ban)}: ${ban.reason}`);
    }
    // connected to another node: that node kicks it
    this.#cluster?.kickEverywhere(playerId, 'banned', `this account is banned ${banUntil(ban)}: ${ban.reason}`);
    return ban;
  }

  /** Lifts every ban on a player (by player id or account). Resolves how many were lifted. */
  async unban(who: string | Pick<Account, 'playerId'>): Promise<number> {
    const playerId = typeof who === 'string' ? who : who.playerId;
    const targets: BanTarget[] = [{ playerId }];
    // bans added by other code may name the account by method and id: lift those too
    const colon = playerId.indexOf(':');
    if (colon > 0) targets.push({ method: playerId.slice(0, colon), accountId: playerId.slice(colon + 1) });
    let n = 0;
    for (const t of targets) n += await this.accounts.bans.remove(t);
    return n;
  }

  /** The host transport a game mode's sessions run on. */
  transportFor(mode: string | undefined): HandoffTransportKind {
    const kinds = this.options.modeTransports;
    return (mode !== undefined && kinds && Object.hasOwn(kinds, mode) ? kinds[mode] : undefined) ?? this.options.defaultTransport ?? 'quic';
  }

  /** One pass of every domain clock. Never throws; a slow pass is not overlapped by the next. */
  async tick(now = Date.now()): Promise<void> {
    if (this.#ticking || this.#closing) return;
    this.#ticking = true;
    try {
      // tickets held by sessions that ended without this node hearing it (another node took the
      // host's report) are released first, so they are matched in this pass
      await this.domain.releaseHolds(now);
      // sessions still being set up count against the matchmaker's cap on matches in flight (those
      // waiting for a free host do not: no work for this process, and a mode without hosts must
      // not hold up the others)
      this.matchmaker.tick(now, { handingOff: this.handoffs.pendingCount });
      this.registry.tick(now);
      this.#persistence?.tick(now);
      await this.sessions.tick(now);
      this.handoffs.tick(now);
    } catch (err) {
      this.logger.error({ err: errInfo(err) }, 'tick failed');
    } finally {
      this.#ticking = false;
    }
  }

  /** Re-reads the TLS certificate and key of both endpoints (SIGHUP). */
  async reloadCertificates(): Promise<void> {
    await this.clientServer.reload();
    await this.hostServer.reload();
    this.logger.info({ fingerprint: this.clientServer.certFingerprint }, 'certificates reloaded');
  }

  /** Stops taking connections, lets open streams finish for up to graceMs, then closes. */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.handoffs.close();
      const graceMs = opts.graceMs ?? 2000;
      for (const c of [...this.#clients.values()]) void c.proto.close('shutting_down', 'the auth server is shutting down');
      for (const h of [...this.#hosts.values()]) void h.proto.close('shutting_down', 'the auth server is shutting down');
      await Promise.all([this.clientServer.close({ graceMs }), this.hostServer.close({ graceMs }), this.adminServer?.close({ graceMs: 0 })]);
      await this.#persistence?.flush();
      await this.#cluster?.close();
      this.logger.info('auth server stopped');
    })();
    return this.#closing;
  }

  /**
   * @internal Set while this node is one of several and does not run the matchmaker: the client
   * endpoint sends queue requests (and claims of sessions another node runs) through it.
   */
  get forward(): ForwardingOps | undefined {
    const c = this.#cluster;
    if (!c || c.isLeader) return undefined;
    return {
      enqueue: (req, displayNames) => c.enqueue({ req, displayNames }),
      cancel: async (ticketId, playerId) => {
        await c.call(c.leaderOrThrow(), 'cancel', [ticketId, playerId]);
        c.forgetPlayer(playerId);
      },
      accept: async (matchId, playerId, offer) => void (await c.call(c.leaderOrThrow(), 'accept', [matchId, playerId, offer ?? null])),
      decline: async (matchId, playerId) => void (await c.call(c.leaderOrThrow(), 'decline', [matchId, playerId])),
    };
  }

  /**
   * @internal `lobby.start` (from a member here, or forwarded by another node). Refused with
   * `lobby.member_in_session` while a member is still in a live game session or in a match whose
   * session is being set up: that start could only fail at its session's creation (the member is
   * busy), and the owner is better told at once who holds it up. Also while a member has a ticket
   * of its own in the queue (this node's matchmaker): the lobby's game would not take it out.
   */
  async startLobby(lobbyId: string, by: string): Promise<void> {
    const members = this.lobbies.get(lobbyId)?.members.map((m) => m.playerId) ?? [];
    const live = await this.sessions.liveSessionByPlayer(members);
    const busy = new Map<string, string>();
    for (const p of members) {
      const session = live.get(p);
      const setUp = this.matchmaker.settingUpOf(p);
      // (the lobby's own party ticket is no hold-up: the start takes it out of the queue)
      const ticket = this.matchmaker.ticketOf(p);
      const queued = ticket && this.parties.lobbyOfTicket(ticket.id) !== lobbyId ? ticket : undefined;
      if (session !== undefined) busy.set(p, `game session ${session}`);
      else if (setUp !== undefined) busy.set(p, `match ${setUp}, whose game session is still being set up`);
      // its own ticket would stay queued beside the lobby's game (and could be matched into another)
      else if (queued !== undefined) busy.set(p, `the matchmaking queue (ticket ${queued.id}; it can leave the queue)`);
    }
    this.lobbies.start(lobbyId, by, Date.now(), busy);
  }

  /**
   * @internal A player confirms a match; a 1.3 player's `offer` (its public key and address)
   * claims its seat when the match starts. The offer is made first: the last confirmation starts
   * the hand-off at once.
   */
  confirmMatch(matchId: string, playerId: string, offer: Offer | undefined, now: number): void {
    if (offer) this.handoffs.offer(playerId, matchId, offer);
    try {
      this.matchmaker.accept(matchId, playerId, now);
    } catch (err) {
      if (offer) this.handoffs.withdrawOffer(playerId, matchId);
      throw err;
    }
  }

  /** @internal A claim of a session whose hand-off another node runs (it sent the player's session.ready), sent there. */
  claimElsewhere(playerId: string, sessionId: string, publicKey: Uint8Array | undefined, address: string): Promise<unknown> | undefined {
    const c = this.#cluster;
    if (!c?.runsElsewhere(sessionId)) return undefined;
    return c.call(c.sessionNode(sessionId), 'claim', [playerId, sessionId, publicKey ?? null, address]);
  }

  /** @internal The node running a lobby that is not here (cluster only; the store says where each lobby lives). */
  async lobbyElsewhere(key: { lobbyId: string } | { code: string }): Promise<string | undefined> {
    const store = this.options.stores?.lobbies;
    if (!this.#cluster || !store) return undefined;
    const node = await store.nodeOf(key);
    return node !== undefined && node !== this.options.name ? node : undefined;
  }

  /** @internal A lobby request of a player connected here, run on the lobby's node; remembered so a disconnect leaves it there. */
  async forwardLobby(node: string, op: 'join' | LobbyOp, args: unknown[]): Promise<LobbyView | undefined> {
    const view = (await this.#cluster!.call(node, 'lobby', [op, ...args])) as LobbyView | null;
    const playerId = op === 'join' ? (args[1] as { playerId: string }).playerId : (args[1] as string);
    if (op === 'join' && view) this.#remoteLobby.set(playerId, { lobbyId: view.id, node });
    if (op === 'leave') this.#remoteLobby.delete(playerId);
    return view ?? undefined;
  }

  /**
   * A lobby's game is over. It ended: the lobby closes (its members are told, lobby.closed). It
   * failed before it ran, or was lost with its host (`reopen` says why): the lobby is open again, so
   * its members may start again together. In a cluster the session's end, failure or loss may be
   * seen on a node other than the lobby's: that node asks the lobby's node to do it.
   */
  #lobbyAfterGame(lobbyId: string, reopen?: string): void {
    if (this.lobbies.get(lobbyId)) return void this.#lobbyAfterGameHere(lobbyId, reopen ?? null);
    this.lobbyElsewhere({ lobbyId })
      .then((node) => node && this.#cluster?.call(node, 'lobbyEnded', [lobbyId, reopen ?? null]))
      .catch((err: unknown) =>
        this.logger.warn({ err: errInfo(err), lobbyId }, 'could not have the lobby of a session that is over closed or reopened on its node'),
      );
  }

  async #lobbyAfterGameHere(lobbyId: string, reopen: string | null): Promise<void> {
    try {
      const lobby = this.lobbies.get(lobbyId);
      if (!lobby) return;
      if (reopen === null) return this.lobbies.close(lobbyId);
      // every node that saw the host die says so, at its own time: a lobby started again meanwhile,
      // whose new game already runs, stays as it is
      if ((await this.sessions.liveSessionByPlayer(lobby.members.map((m) => m.playerId))).size > 0) return;
      this.lobbies.reopen(lobbyId, reopen, Date.now());
    } catch (err) {
      this.logger.warn({ err: errInfo(err), lobbyId }, 'could not close or reopen the lobby of a session that is over');
    }
  }

  /** A request another node forwarded here: the same domain calls its own clients would cause. */
  async #perform(op: ClusterOp, args: unknown[], from: string): Promise<unknown> {
    const now = Date.now();
    switch (op) {
      case 'enqueue': {
        const t = args[0] as ForwardedTicket;
        for (const [p, name] of Object.entries(t.displayNames)) this.#remoteNames.set(p, name);
        this.logger.debug({ from, players: t.req.players }, 'ticket queued by another node');
        // the sessions are looked up here, where the ticket is matched (the shared records say)
        const heldBy = await this.sessions.liveSessionsOf(t.req.players);
        const { heldBy: _theirs, ...req } = t.req;
        return { id: this.matchmaker.enqueue(heldBy.length > 0 ? { ...req, heldBy } : req, Date.now()).id };
      }
      case 'cancel': {
        const [ticketId, playerId] = args as [string, string];
        const t = this.matchmaker.ticketOf(playerId);
        if (!t || t.id !== ticketId) throw matchmakingError.as('refused', 'mm.unknown_ticket', `ticket ${ticketId} is not yours`);
        this.matchmaker.cancel(ticketId, now);
        return {};
      }
      case 'cancelFor':
        this.matchmaker.cancelFor(args[0] as string, now);
        return {};
      case 'accept': {
        const [matchId, playerId, offer] = args as [string, string, Offer | null | undefined];
        this.confirmMatch(matchId, playerId, offer ?? undefined, now);
        return {};
      }
      case 'decline':
        this.matchmaker.decline(args[0] as string, args[1] as string, now);
        return {};
      case 'claim': {
        const [playerId, sessionId, publicKey, address] = args as [string, string, Uint8Array | null, string];
        return this.handoffs.claim(playerId, sessionId, publicKey ?? undefined, address);
      }
      case 'lobbyEnded': {
        // the lobby's game ended (close), or failed or was lost (reopen: why), as the node that forwarded this saw
        const [lobbyId, reopen] = args as [string, string | null | undefined];
        await this.#lobbyAfterGameHere(lobbyId, reopen ?? null);
        return {};
      }
      case 'lobby': {
        const [what, ...rest] = args as [string, ...unknown[]];
        if (what === 'join') return this.lobbies.join(rest[0] as JoinTarget, rest[1] as Joiner, now);
        if (what === 'leave') return this.lobbies.leave(rest[0] as string, rest[1] as string, now) ?? null;
        if (what === 'setReady') return this.lobbies.setReady(rest[0] as string, rest[1] as string, rest[2] as boolean, now);
        if (what === 'start') return this.startLobby(rest[0] as string, rest[1] as string).then(() => null);
        if (what === 'kick') return this.lobbies.kick(rest[0] as string, rest[1] as string, rest[2] as string, now) ?? null;
        if (what === 'setOwner') return this.lobbies.setOwner(rest[0] as string, rest[1] as string, rest[2] as string, now);
        throw authError('cluster_failed', `unknown forwarded lobby request ${String(what)}`);
      }
      default:
        throw authError('cluster_failed', `unknown forwarded request ${String(op)}`);
    }
  }

  // ---- called by the endpoints -----------------------------------------------------------------

  /** @internal */
  clientLoggedIn(link: ClientLink): void {
    const id = link.playerId;
    const old = this.#clients.get(id);
    if (old && old !== link) {
      this.#clients.delete(id);
      old.kick('logged_in_elsewhere', 'this account logged in on another connection');
    }
    this.#clients.set(id, link);
  }

  /** @internal */
  clientLoggedOut(link: ClientLink): void {
    const id = link.account?.playerId;
    if (id === undefined || this.#clients.get(id) !== link) return;
    this.#clients.delete(id);
    const now = Date.now();
    try {
      this.matchmaker.cancelFor(id, now);
      this.handoffs.withdrawOffer(id);
      if (this.#cluster && !this.#cluster.isLeader) {
        this.#cluster.forgetPlayer(id);
        const leader = this.#cluster.bus.leader();
        if (leader) this.#cluster.call(leader, 'cancelFor', [id]).catch(() => undefined);
      }
      const lobby = this.lobbies.lobbyOf(id);
      if (lobby) this.lobbies.leave(lobby.id, id, now);
      const remote = this.#remoteLobby.get(id);
      if (remote) this.forwardLobby(remote.node, 'leave', [remote.lobbyId, id]).catch(() => undefined);
    } catch (err) {
      this.logger.warn({ err: errInfo(err) }, 'cleanup after a client left failed');
    }
  }

  /** @internal */
  clientGone(link: ClientLink): void {
    this.clientLoggedOut(link);
  }

  /** @internal A player logged in: re-announce a session it is part of (same hand-off on claim). */
  async resumeFor(link: ClientLink): Promise<void> {
    try {
      const st = await this.sessions.statusOf(link.playerId);
      if (st.state === 'none') return;
      link.notify('session.ready', this.handoffs.readyFor(link.playerId, st.sessionId, st.state === 'handed-off' ? st.handOff.transport : undefined));
    } catch (err) {
      this.logger.warn({ err: errInfo(err) }, 'could not resume a session for a player');
    }
  }

  /** @internal */
  hostRegistered(link: HostLink): void {
    // a host that registers without saying it drains is a new process (a rolling deploy's next version)
    if (!link.registeredDraining && this.#drained.delete(link.name)) {
      const view = this.registry.get(link.name);
      if (view) this.registry.heartbeat(link.name, { active: view.active, draining: false }, Date.now());
    }
    const old = this.#hosts.get(link.name);
    this.#hosts.set(link.name, link);
    if (old && old !== link) old.close();
    this.emit('host-registered', link.name);
  }

  /** @internal The control connection is gone: no new sessions until it registers again. */
  hostGone(link: HostLink): void {
    if (this.#hosts.get(link.name) !== link) return;
    this.#hosts.delete(link.name);
    const view = this.registry.get(link.name);
    if (view?.state === 'alive') this.registry.heartbeat(link.name, { active: view.active, draining: true }, Date.now());
  }

  /**
   * @internal Results from a host; idempotent (a lost ack means a resend). Refused (typed
   * SESSION_ERRORS) unless the session is known and runs on that host, or is unknown and the host
   * is registered and alive (we restarted; it kept them): then adopted, within a bound per host.
   */
  async recordResults(
    hostName: string,
    body: { sessionId: string; endedAt: number; reason: string; results: Array<{ playerId: string }>; ext?: unknown },
  ): Promise<void> {
    const {
      session: record,
      duplicate,
      adopted,
    } = await this.sessions.hostEnded(
      hostName,
      body.sessionId,
      (r) => {
        // results name seats; map them back to account player ids
        const bySeat = new Map(r.players.map((p) => [seatIdOf(p), p]));
        return { ...body, results: body.results.map((x) => ({ ...x, playerId: bySeat.get(x.playerId) ?? x.playerId })) };
      },
      Date.now(),
      this.registry.get(hostName)?.state === 'alive' ? { players: body.results.map((x) => x.playerId) } : undefined,
    );
    if (duplicate) return;
    // results are kept once per session id: a node that finds them stored already (a resend that
    // raced, or went through another node sharing the database) treats them as the duplicate they are
    const results = this.options.stores?.results;
    if (results && !(await results.record({ sessionId: body.sessionId, host: hostName, recordedAt: Date.now(), results: record.results }))) return;
    if (adopted) this.logger.warn({ sessionId: body.sessionId, host: hostName }, 'results for a session this server did not create recorded as reported');
    this.logger.info({ sessionId: body.sessionId, host: hostName, reason: body.reason, players: body.results.length }, 'session results recorded');
    this.ops.result({
      sessionId: record.id,
      host: hostName,
      ...(record.mode !== undefined ? { mode: record.mode } : {}),
      endedAt: record.endedAt ?? body.endedAt,
      reason: body.reason,
      players: record.players.slice(0, 1024),
      results: record.results,
    });
    if (record.origin?.kind === 'lobby') this.#lobbyAfterGame(record.origin.id);
    this.emit('session-ended', record);
  }

  /**
   * @internal Telemetry from a host, stored on each session it names. `id` (hostctl 1.1) names the
   * host's outbox item: a batch resent after a lost acknowledgement is stored once. Entries beyond
   * the per-session cap are dropped with a warning; a session that is unknown or runs on another
   * host is refused (the first such refusal is thrown, after the rest of the batch is stored).
   */
  async recordTelemetry(hostName: string, entries: Array<{ sessionId?: string | undefined }>, ext: unknown, id?: string): Promise<void> {
    const bySession = new Map<string, unknown[]>();
    for (const e of entries) if (e.sessionId) (bySession.get(e.sessionId) ?? bySession.set(e.sessionId, []).get(e.sessionId)!).push(e);
    let refused: unknown;
    for (const [sessionId, list] of bySession) {
      const item: TelemetryItem = { host: hostName, entries: list, ...(ext !== undefined ? { ext } : {}), ...(id !== undefined ? { id } : {}) };
      try {
        const out = await this.sessions.hostTelemetry(hostName, sessionId, item);
        if (out.dropped > 0)
          this.logger.warn({ sessionId, host: hostName, stored: out.stored, dropped: out.dropped }, 'telemetry over the per-session cap dropped');
      } catch (err) {
        refused ??= err;
      }
    }
    if (refused !== undefined) throw refused;
  }

  /** The telemetry stored for a session (empty when it has none or is unknown), for operators and tests. */
  async telemetryOf(sessionId: string): Promise<TelemetryItem[]> {
    const t = (await this.sessions.store.get(sessionId))?.telemetry;
    return Array.isArray(t) ? [...(t as TelemetryItem[])] : [];
  }

  // ---- domain events -> messages -----------------------------------------------------------------

  #wire(): void {
    const send = (playerId: string, type: ClientNotice, body: unknown) => this.notifyPlayer(playerId, 0, type, body);
    const guard = (what: string, fn: () => void | Promise<void>) => {
      try {
        const r = fn();
        if (r instanceof Promise) r.catch((err: unknown) => this.logger.error({ err: errInfo(err) }, `${what} failed`));
      } catch (err) {
        this.logger.error({ err: errInfo(err) }, `${what} failed`);
      }
    };

    // lobbies: every change goes to the members
    const updated = ({ lobby }: { lobby: LobbyView }) => {
      for (const m of lobby.members) send(m.playerId, 'lobby.updated', { lobby: lobbyInfo(lobby) });
    };
    this.domain.on('lobby', (e) => {
      switch (e.type) {
        case 'created':
          return;
        case 'joined':
        case 'ready-changed':
        case 'settings-changed':
          return updated(e);
        case 'left':
          updated(e);
          if (e.reason === 'kicked') send(e.playerId, 'lobby.kicked', { lobbyId: e.lobby.id, reason: 'kicked by the owner' });
          return;
        case 'owner-changed':
          for (const m of e.lobby.members) send(m.playerId, 'lobby.owner_changed', { lobbyId: e.lobby.id, ownerId: e.ownerId });
          // a departure already sent lobby.updated with the new owner; a hand-over did not
          if (e.reason === 'handed') updated(e);
          return;
        case 'closed':
          for (const m of e.lobby.members) send(m.playerId, 'lobby.closed', { lobbyId: e.lobby.id, reason: e.reason });
          return;
        case 'reopened':
          return updated(e);
        case 'started':
          return guard('lobby start', () => {
            updated(e);
            // a member who queues while this start is being set up is held, as after a match (rule 7)
            this.matchmaker.setUpStarted(
              e.lobby.id,
              e.members.map((m) => m.playerId),
              Date.now(),
            );
            const st = (e.lobby.settings ?? {}) as { region?: string; ext?: unknown };
            this.handoffs.start(
              {
                origin: { kind: 'lobby', id: e.lobby.id },
                players: e.members.map((m) => ({ playerId: m.playerId, displayName: m.displayName })),
                ...(e.lobby.mode !== undefined ? { mode: e.lobby.mode } : {}),
                ...(st.region ? { regions: [st.region] } : {}),
                ...(st.ext !== undefined ? { ext: st.ext } : {}),
              },
              Date.now(),
            );
          });
      }
    });

    // matchmaking
    this.domain.on('match', (e) => {
      switch (e.type) {
        case 'queued':
        case 'accepted':
          return;
        case 'proposed':
          for (const t of e.match.tickets) {
            for (const p of t.players) {
              send(p, 'match.found', {
                matchId: e.match.id,
                ticketId: t.id,
                mode: e.match.mode,
                playerCount: e.match.players.length,
                confirmBy: e.match.deadline,
                // (1.3) what the confirmation should carry; older clients drop these fields
                ...this.handoffs.confirmNeeds(e.match.mode),
              });
            }
          }
          return;
        case 'removed':
          // held too long while its players were still in a live session: every member hears why (1.2)
          if (e.reason === 'in_session') {
            const why = `still in game session ${e.ticket.heldBy?.join(', ') ?? ''}, whose end has not reached the Auth server; queue again once it has`;
            // 1.0/1.1 know no match.dequeued (and close on an unknown event): they get the event they
            // have for a ticket that left the queue for good, naming the ticket as a lobby's failed
            // start names the lobby; on another node too (the bus carries both)
            const older = { type: 'match.cancelled', body: { matchId: e.ticket.id, reason: `in_session: ${why}`, requeued: false } };
            for (const p of e.ticket.players) this.notifyPlayer(p, 2, 'match.dequeued', { ticketId: e.ticket.id, reason: why }, older);
            return;
          }
          // a party ticket cancelled while queued (no match yet): its 1.2 members hear it
          if (e.matchId !== undefined || e.ticket.players.length < 2) return; // a failed match says match.cancelled
          for (const p of e.ticket.players) this.notifyPlayer(p, 2, 'match.dequeued', { ticketId: e.ticket.id, reason: dequeuedReason(e.reason) });
          return;
        case 'failed':
          // the confirmations' keys were for this match only
          for (const p of e.match.players) this.handoffs.withdrawOffer(p, e.match.id);
          for (const t of e.removed) for (const p of t.players) send(p, 'match.cancelled', { matchId: e.match.id, reason: e.reason, requeued: false });
          for (const t of e.requeued) for (const p of t.players) send(p, 'match.cancelled', { matchId: e.match.id, reason: e.reason, requeued: true });
          return;
        case 'confirmed':
          return guard('match hand-off', () =>
            this.handoffs.start(
              {
                origin: { kind: 'match', id: e.match.id },
                players: e.match.players.map((p) => ({
                  playerId: p,
                  displayName: this.#clients.get(p)?.account?.displayName ?? this.#remoteNames.get(p) ?? p,
                })),
                mode: e.match.mode,
                ...(e.match.region ? { regions: [e.match.region] } : {}),
                ...(e.match.tickets[0]?.ext !== undefined ? { ext: e.match.tickets[0].ext } : {}),
              },
              Date.now(),
            ),
          );
      }
    });

    // hosts and sessions
    this.domain.on('host', (e) => {
      if (e.type !== 'dead') return;
      const { host } = e;
      guard('host loss', async () => {
        this.logger.warn({ host: host.name, lastSeen: host.lastSeen }, 'host missed its heartbeats; marked dead');
        this.emit('host-dead', host.name);
        // the hand-off first: its records of sessions still being set up must not be marked lost
        this.handoffs.hostLost(host.name);
        await this.sessions.hostLost(host.name, Date.now());
      });
    });
    this.domain.on('session', (e) => {
      switch (e.type) {
        case 'lost':
          // 1.1 clients get session.lost; a 1.0 client would close on it, so it gets the kick it knows
          // (code session_lost, the auth connection stays open)
          for (const p of e.players) {
            const link = this.#clients.get(p);
            if (link === undefined) continue;
            if (link.minor >= 1) link.notify('session.lost', { sessionId: e.session.id, reason: 'the game host stopped answering' });
            else link.notify('kick', { code: 'session_lost', reason: `the game host stopped answering; session ${e.session.id} is over` });
          }
          // its game is gone with the host: the lobby is open again, to start again together
          if (e.session.origin?.kind === 'lobby') this.#lobbyAfterGame(e.session.origin.id, 'the game host stopped answering');
          return;
        case 'failed':
          return guard('session failure', () => {
            this.registry.release(e.session.id);
            this.handoffs.forget(e.session.id, e.reason);
            // its game never ran: the lobby may be started again
            if (e.session.origin?.kind === 'lobby') this.#lobbyAfterGame(e.session.origin.id, `the game session failed: ${e.reason}`);
          });
        case 'ended':
          // its host slot is held from the pick until the session ends
          return this.registry.release(e.session.id);
        default:
          return;
      }
    });
  }
}

/** Refuses transports this server cannot hand off, before anything binds. */
function checkTransports(opts: AuthServerOptions): void {
  const wanted = [
    ['defaultTransport', opts.defaultTransport] as const,
    ...Object.entries(opts.modeTransports ?? {}).map(([m, t]) => [`mode "${m}"`, t] as const),
  ];
  for (const [where, t] of wanted) {
    // MQTT hand-offs carry a session certificate like QUIC ones: nothing more to check here
    if (t === undefined || t === 'quic' || t === 'mqtt') continue;
    if (t !== 'netcode')
      throw authError('transport_unsupported', `${where}: transport "${String(t)}" cannot be handed off by this server (quic, netcode or mqtt)`);
    if (!opts.netcode) {
      throw handoffError.as('usage', 'netcode_no_key', `${where} uses netcode, but no netcode key was given`, {
        hint: 'pass `netcode` (resolveNetcodeIssuer reads [netcode] and its key file)',
      });
    }
    if (opts.netcode.privateKey.length !== 32) throw authError('netcode_bad_key', `the netcode key must be 32 bytes, got ${opts.netcode.privateKey.length}`);
  }
}

function defaultRating(account: Account, mode: string): number | undefined {
  const ratings = (account.data as { ratings?: unknown } | undefined)?.ratings;
  if (typeof ratings !== 'object' || ratings === null) return undefined;
  const r = Object.hasOwn(ratings, mode) ? (ratings as Record<string, unknown>)[mode] : undefined;
  return typeof r === 'number' ? r : undefined;
}

/** A notice to a player connected here: `type` from protocol minor `minMinor`, `older` (if any) before it. */
function notifyLink(link: ClientLink, minMinor: number, type: ClientNotice, body: unknown, older: OlderNotice | undefined): void {
  if (link.minor >= minMinor) link.notify(type, body);
  else if (older) link.notify(older.type as ClientNotice, older.body);
}

function dequeuedReason(reason: string): string {
  return reason === 'cancelled' ? 'the party left the queue (cancelled, or the lobby changed)' : reason;
}

export function startAuthServer(opts: AuthServerOptions): Promise<AuthServer> {
  return AuthServer.start(opts);
}
