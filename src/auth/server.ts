import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import type { ResolvedNetcodeIssuer } from '../netcode/config.js';
import type { FastSessionMinter } from '../pki/index.js';
import type { KeyAlgorithm, PeerVerifier } from '../pki/types.js';
import type { GameVersionCheck } from '../protocol/index.js';
import { ALPN, createQuicServer, type PemSource, type QuicServer, type ServerLimits } from '../transport/index.js';
import { AccountService, GuestProvider, banUntil, type Account, type Ban, type BanTarget } from './accounts/index.js';
import { AuthLimits } from './limits.js';
import { acceptClient, lobbyInfo, type ClientEndpointContext, type ClientLink, type ClientNotice } from './client-endpoint.js';
import { errInfo } from './err-info.js';
import { authError, handoffError } from './errors.js';
import { HandoffDriver, seatIdOf, type HandoffTransportKind } from './handoff/index.js';
import { acceptHost, type HostEndpointContext, type HostLink } from './host-endpoint.js';
import { AuthDomain } from './domain.js';
import type { HostRegistry } from './host-registry.js';
import type { Lobbies, LobbyView } from './lobbies.js';
import type { Matchmaker, MatchmakerOptions } from './matchmaking.js';
import type { PartyQueue } from './parties.js';
import { MemorySessionStore, type SessionRecord, type SessionStore, type Sessions, type TelemetryItem } from './sessions.js';

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
  logger?: Logger;
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

type Resolved = Required<Pick<AuthServerOptions, 'name' | 'gameVersion' | 'keyDelivery' | 'sessionTtlSeconds' | 'matchSize' | 'tickIntervalMs'>> &
  AuthServerOptions;

export interface AuthServerEvents {
  /** results (and possibly telemetry) of a session arrived from its host */
  'session-ended': [SessionRecord];
  'host-registered': [string];
  'host-dead': [string];
}

export class AuthServer extends EventEmitter<AuthServerEvents> implements ClientEndpointContext, HostEndpointContext {
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

  readonly #clients = new Map<string, ClientLink>();
  readonly #hosts = new Map<string, HostLink>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
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
    };
    this.logger = opts.logger ?? pino({ name: 'iyesmp-auth' });
    this.accounts = opts.accounts ?? new AccountService({ providers: [new GuestProvider()] });
    this.limits = opts.limits ?? new AuthLimits();
    const claimTimeoutMs = opts.claimTimeoutMs ?? 30_000;
    const hostAckTimeoutMs = opts.hostAckTimeoutMs ?? 15_000;
    // the domain's own ack deadline counts from creation, so it must cover the claims too
    const setupMs = claimTimeoutMs + hostAckTimeoutMs + 5_000;
    this.domain = new AuthDomain({
      matchmaker: opts.matchmaker ?? {},
      registry: {
        ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
        ...(opts.missedHeartbeats !== undefined ? { missedHeartbeats: opts.missedHeartbeats } : {}),
        // a slot held for a session being set up outlives its setup, so it is never freed early
        reservationTtlMs: setupMs + 10_000,
      },
      sessions: {
        hostAckTimeoutMs: setupMs,
        store: opts.sessionStore ?? new MemorySessionStore(opts.finishedSessionsKept !== undefined ? { maxFinished: opts.finishedSessionsKept } : {}),
        ...(opts.telemetryPerSession !== undefined ? { telemetryPerSession: opts.telemetryPerSession } : {}),
        ...(opts.sessionRetentionMs !== undefined ? { retentionMs: opts.sessionRetentionMs } : {}),
        ...(opts.adoptedResultsPerHost !== undefined ? { adoptPerHost: opts.adoptedResultsPerHost } : {}),
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
      minter: opts.minter,
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
      notifyPlayer: (playerId, type, body) => this.#clients.get(playerId)?.notify(type, body),
      notifyWaiting: (playerId, body) => {
        const link = this.#clients.get(playerId);
        if (link && link.minor >= 1) link.notify('session.waiting', body);
      },
    });
    this.#wire();
  }

  /** Binds both endpoints and starts the driver timer. */
  static async start(opts: AuthServerOptions): Promise<AuthServer> {
    checkTransports(opts);
    const s = new AuthServer(opts);
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
    } catch (err) {
      await s.clientServer.close({ graceMs: 0 });
      throw err;
    }
    s.clientPort = s.clientServer.port;
    s.hostPort = s.hostServer.port;
    s.clientServer.on('connection', (conn) => acceptClient(s, conn));
    s.hostServer.on('connection', (conn) => acceptHost(s, conn));
    for (const [which, srv] of [
      ['client', s.clientServer],
      ['host', s.hostServer],
    ] as const) {
      srv.on('refused', (r) => {
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
    s.logger.info({ clients: s.clientServer.port, hosts: s.hostServer.port, node: s.options.name }, 'auth server listening');
    return s;
  }

  /** bound ports (kept after close, for reports) */
  clientPort = 0;
  hostPort = 0;

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
    const r = this.options.ratingFor ? await this.options.ratingFor(account, mode) : defaultRating(account, mode);
    return typeof r === 'number' && Number.isFinite(r) ? r : undefined;
  }

  /** A logged-in player's account (undefined when not connected). */
  accountOf(playerId: string): Account | undefined {
    return this.#clients.get(playerId)?.account;
  }

  /** @internal Tells a logged-in player something, if it negotiated at least `minor`. */
  notifyPlayer(playerId: string, minMinor: number, type: ClientNotice, body: unknown): void {
    const link = this.#clients.get(playerId);
    if (link && link.minor >= minMinor) link.notify(type, body);
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
    const ban: Ban = { target: { playerId }, reason: o.reason, createdAt: Date.now(), expiresAt, ...(o.by !== undefined ? { by: o.by } : {}) };
    await this.accounts.bans.add(ban);
    const link = this.#clients.get(playerId);
    if (link) {
      this.logger.info({ playerId, until: expiresAt }, 'banned player kicked');
      link.kick('banned', `this account is banned ${banUntil(ban)}: ${ban.reason}`);
    }
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
      this.matchmaker.tick(now);
      this.registry.tick(now);
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
      await Promise.all([this.clientServer.close({ graceMs }), this.hostServer.close({ graceMs })]);
      this.logger.info('auth server stopped');
    })();
    return this.#closing;
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
      const lobby = this.lobbies.lobbyOf(id);
      if (lobby) this.lobbies.leave(lobby.id, id, now);
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
    if (adopted) this.logger.warn({ sessionId: body.sessionId, host: hostName }, 'results for a session this server did not create recorded as reported');
    this.logger.info({ sessionId: body.sessionId, host: hostName, reason: body.reason, players: body.results.length }, 'session results recorded');
    if (record.origin?.kind === 'lobby' && this.lobbies.get(record.origin.id)) {
      try {
        this.lobbies.close(record.origin.id); // its members are told (lobby.closed)
      } catch (err) {
        this.logger.warn({ err: errInfo(err) }, 'could not close the lobby of an ended session');
      }
    }
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
    const send = (playerId: string, type: ClientNotice, body: unknown) => this.#clients.get(playerId)?.notify(type, body);
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
        case 'started':
          return guard('lobby start', () => {
            updated(e);
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
              });
            }
          }
          return;
        case 'removed':
          // a party ticket cancelled while queued (no match yet): its 1.2 members hear it
          if (e.matchId !== undefined || e.ticket.players.length < 2) return; // a failed match says match.cancelled
          for (const p of e.ticket.players) this.notifyPlayer(p, 2, 'match.dequeued', { ticketId: e.ticket.id, reason: dequeuedReason(e.reason) });
          return;
        case 'failed':
          for (const t of e.removed) for (const p of t.players) send(p, 'match.cancelled', { matchId: e.match.id, reason: e.reason, requeued: false });
          for (const t of e.requeued) for (const p of t.players) send(p, 'match.cancelled', { matchId: e.match.id, reason: e.reason, requeued: true });
          return;
        case 'confirmed':
          return guard('match hand-off', () =>
            this.handoffs.start(
              {
                origin: { kind: 'match', id: e.match.id },
                players: e.match.players.map((p) => ({ playerId: p, displayName: this.#clients.get(p)?.account?.displayName ?? p })),
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
          return;
        case 'failed':
          return guard('session failure', () => {
            this.registry.release(e.session.id);
            this.handoffs.forget(e.session.id, e.reason);
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
    if (t === undefined || t === 'quic') continue;
    if (t !== 'netcode') throw authError('transport_unsupported', `${where}: transport "${String(t)}" cannot be handed off by this server (quic or netcode)`);
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

function dequeuedReason(reason: string): string {
  return reason === 'cancelled' ? 'the party left the queue (cancelled, or the lobby changed)' : reason;
}

export function startAuthServer(opts: AuthServerOptions): Promise<AuthServer> {
  return AuthServer.start(opts);
}
