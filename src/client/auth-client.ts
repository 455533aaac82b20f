/**
 * The game's connection to the Auth server: log in, use lobbies or matchmaking, and get the
 * hand-off to a game host. One long-lived `iyesmp-auth/1` control stream; server events become
 * typed events, and the flows a game needs most (matchmake, wait for the hand-off) are one call.
 */
import type { z } from 'zod';
import { IyesmpError } from '../errors.js';
import {
  authFamily,
  ProtocolConnection,
  type AuthFamily,
  type EventBody,
  type GameVersionCheck,
  type RequestBody,
  type ResponseBody,
  type StreamPair,
} from '../protocol/index.js';
import type { KeyAlgorithm } from '../pki/types.js';
import { dialOptions } from './dial-options.js';
import { TypedEmitter } from '../events/emitter.js';
import { setDeadline } from '../events/timeout.js';
import type { GameSession, GameSessionOptions } from './game-session.js';
import { joinHost, type JoinHostOptions } from './join-host.js';
import type { ClientTrust } from './trust.js';
import { authLost, helloError, requestError, clientError } from './errors.js';
import {
  certifiedKey,
  ConfirmedKeys,
  MemoryKeyStore,
  newSessionKey,
  sessionKeyFromPem,
  ticketFromHandoff,
  type HostTicket,
  type SessionKey,
  type SessionKeyStore,
  type WireHandoff,
} from './handoff.js';

type Body<K extends keyof AuthFamily['requests'], Ext> = RequestBody<AuthFamily, K, Ext>;
type Reply<K extends keyof AuthFamily['requests'], Ext> = ResponseBody<AuthFamily, K, Ext>;
type Ev<K extends keyof AuthFamily['events'], Ext> = EventBody<AuthFamily, K, Ext>;

export type LoginCredentials<Ext = unknown> = Body<'account.login', Ext>;
/** A new password account: `register()` creates it and logs in as it (iyesmp-auth 1.2 servers). */
export type Registration<Ext = unknown> = Body<'account.register', Ext>;
/** The owner of this player's lobby queued the lobby as a party (1.2). */
export type MatchQueued<Ext = unknown> = Ev<'match.queued', Ext>;
export type LoginResult<Ext = unknown> = Reply<'account.login', Ext>;
export type Lobby = Reply<'lobby.create', unknown>['lobby'];
export type LobbySummary = Reply<'lobby.list', unknown>['lobbies'][number];
export type SessionReady<Ext = unknown> = Ev<'session.ready', Ext>;
export type MatchFound<Ext = unknown> = Ev<'match.found', Ext>;
/** (1.3) The key sent with `match.confirm` was refused; `session.ready` follows to claim the seat with a fresh one. */
export type SessionKeyRefused<Ext = unknown> = Ev<'session.key_refused', Ext>;
/** (1.3) The hand-off of a seat claimed with `match.confirm` arrived: `waitForHandoff` returns its ticket. */
export interface SessionHandoff {
  matchId: string;
  sessionId: string;
}
/** (1.3) A pushed hand-off with the key its match was confirmed with. */
interface PushedHandoff<Ext> {
  matchId: string;
  handoff: WireHandoff<Ext>;
  key?: SessionKey;
}
/** A lobby as its creator gets it back: with the join code when it is private. */
export type CreatedLobby = Lobby & { joinCode?: string };

/** The game host of a session died; the session is over (from `session.lost`, or a 1.0 server's `kick`). */
export interface SessionLost {
  /** absent only when a 1.0 server's kick did not name it */
  sessionId?: string;
  reason: string;
}

/** The server has a match or a started lobby but no free game host yet, and keeps trying. */
export interface SessionWaiting {
  matchId?: string;
  lobbyId?: string;
  /** when the server started looking, ms since the epoch (server clock) */
  since: number;
  /** tries so far */
  attempt: number;
  /** when it will give up (then `match.cancelled`, "no host available") */
  giveUpAt?: number;
  reason?: string;
}

/** Progress of `matchmake`, also emitted as the `matchmaking` event. */
export type MatchmakingStatus =
  | { phase: 'queued'; ticketId: string; estimatedWaitMs?: number }
  | { phase: 'found'; matchId: string; playerCount: number }
  | { phase: 'confirmed'; matchId: string }
  /** the match fell through (a player declined, no host was available...) and the server keeps looking */
  | { phase: 'requeued'; matchId: string; reason: string }
  /**
   * the seat is being claimed (`session.claim`); with a 1.3 server, which claims it with the
   * confirmation, reported when its hand-off arrives
   */
  | { phase: 'claiming'; sessionId: string }
  /**
   * confirmed, but no session yet. With a 1.1 server, each `session.waiting` it sends (no free game
   * host yet, it keeps trying: `noHost`); until the first one, and with 1.0 servers, every
   * `waitingNoticeMs` after confirming (the other players may not have confirmed yet)
   */
  | {
      phase: 'waiting';
      matchId: string;
      waitedMs: number;
      /** set when the server itself said it is looking for a free game host (`session.waiting`) */
      noHost?: { attempt: number; giveUpAt?: number; reason?: string };
    }
  /** the match was cancelled and this client is out of the queue */
  | { phase: 'cancelled'; matchId: string; reason: string }
  /** (1.2) the party ticket left the queue before a match was found (a member cancelled, or the lobby changed) */
  | { phase: 'dequeued'; ticketId: string; reason: string };

export interface AuthClientEvents<Ext> {
  /** a lobby this client is in changed (members, ready flags, state) */
  lobby: Lobby;
  lobbyOwnerChanged: Ev<'lobby.owner_changed', Ext>;
  /** this client was removed from a lobby */
  lobbyKicked: Ev<'lobby.kicked', Ext>;
  lobbyClosed: Ev<'lobby.closed', Ext>;
  matchFound: MatchFound<Ext>;
  /** (1.2) the owner of this player's lobby queued the lobby as a party; `match.found` follows for every member */
  matchQueued: MatchQueued<Ext>;
  /** (1.2) this player's party ticket left the queue before a match was found (cancelled, or the lobby changed) */
  matchDequeued: Ev<'match.dequeued', Ext>;
  matchCancelled: Ev<'match.cancelled', Ext>;
  matchmaking: MatchmakingStatus;
  /** a game session has a seat for this client: `claim(ready)` or `waitForHandoff()` */
  sessionReady: SessionReady<Ext>;
  /** (1.3) the seat claimed with the match confirmation was handed off: `waitForHandoff()` returns its ticket */
  sessionHandoff: SessionHandoff;
  /** (1.3) the key sent with the match confirmation was refused; the seat is claimed again after `session.ready` */
  sessionKeyRefused: SessionKeyRefused<Ext>;
  /**
   * the server is about to close the connection (banned, logged in elsewhere, update required),
   * or (1.0 servers), with code `session_lost`, tells that the game host of this player's session
   * died; that case is also reported as `sessionLost`
   */
  kick: Ev<'kick', Ext>;
  /** the game host of this player's session died: the session is over (a joined GameSession closes with `session_lost`) */
  sessionLost: SessionLost;
  /** a match or lobby start is still looking for a free game host */
  sessionWaiting: SessionWaiting;
  /** the connection ended; `error` is absent after `close()` */
  close: { error?: IyesmpError };
}

export interface AuthClientOptions<Ext = unknown> {
  /** this game build's version, checked by the server */
  gameVersion: string;
  /** zod schema of the game's `ext` data; checks every `ext` sent and received */
  extSchema?: z.ZodType<Ext>;
  /** the game's rule for the server's game version (default: accept any) */
  acceptServerVersion?: GameVersionCheck;
  locale?: string;
  platform?: string;
  /** per-request timeout, default 15 s */
  requestTimeoutMs?: number;
  /**
   * how long a seat claim may wait for the other players and the host, default 60 s (or until
   * claimBy + 30 s). With a 1.3 server the seat is claimed with the match confirmation: the
   * hand-off is then awaited this long after the match's confirmation deadline.
   */
  claimTimeoutMs?: number;
  /** where session private keys are kept (default: memory; FileKeyStore survives a restart) */
  keyStore?: SessionKeyStore;
  /** session key algorithm, default p256 */
  keyAlgorithm?: KeyAlgorithm;
  /**
   * Speak at most this minor of iyesmp-auth/1 (default: the newest this library knows). For
   * tests and for servers that mishandle a newer minor: 2 keeps `session.ready` + `session.claim`.
   */
  maxProtocolMinor?: number;
  /** told about exceptions thrown by the game's own event listeners */
  onListenerError?: (err: unknown) => void;
  /**
   * Logs in with the hello: the credentials go in the same flight as the hello, and the server
   * answers both at once (one round trip and about a quarter of the login's datagrams fewer; a
   * server that predates this takes the login right after its welcome instead). The client is
   * returned logged in (`account` set); a refused login closes it and rejects with the error
   * `login()` would throw. Leave it out to log in (or register) later on the open connection.
   */
  login?: LoginCredentials<Ext>;
  /** what `joinHost` trusts (connectToAuth passes the verifier it used for the Auth server) */
  hostTrust?: ClientTrust;
  /**
   * Source address `joinHost` binds by default. connectToAuth passes its own `localHost`, so the
   * game host sees the address the Auth server saw (and allow-listed); the port is left free.
   */
  hostLocalHost?: string;
}

/** What `matchmake` and `followParty` do once queued. */
export interface FollowOptions<Ext = unknown> {
  /** decide on a found match; default: accept */
  confirm?: (found: MatchFound<Ext>) => boolean | Promise<boolean>;
  onStatus?: (s: MatchmakingStatus) => void;
  /** after confirming, report `waiting` at this interval until the session is ready; default 5 s */
  waitingNoticeMs?: number;
  /**
   * How long to wait for a ticket. Once the server says it is looking for a game host for our
   * match (`session.waiting` with its give-up time), the wait lasts at least until then plus a
   * host's acknowledgement, so a player learns the server's verdict (`no_host_available`) rather
   * than a bare `timeout`.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WelcomeInfo {
  serverName: string;
  /** the server's clock at the welcome, ms since the epoch */
  time: number;
  motd?: string;
  serverGameVersion: string;
}

export class AuthClient<Ext = unknown> extends TypedEmitter<AuthClientEvents<Ext>> {
  readonly welcome: WelcomeInfo;
  /** set by a successful login */
  account: LoginResult<Ext> | undefined;

  readonly #proto: ProtocolConnection<AuthFamily, 'dialer', Ext>;
  readonly #opts: AuthClientOptions<Ext>;
  readonly #endLink: () => Promise<void>;
  readonly #keyStore: SessionKeyStore;
  /** (1.3) the keys sent with match confirmations, in the key store until their hand-off comes */
  readonly #confirmedKeys: ConfirmedKeys;
  /** session.ready events not yet claimed, oldest first */
  readonly #ready: SessionReady<Ext>[] = [];
  /** recent final cancellations (a lobby start that failed may be told before anyone waits) */
  readonly #cancelled: Ev<'match.cancelled', Ext>[] = [];
  /** recent party queueings (1.2) and match offers, so `followParty` may start after them */
  readonly #partyQueued: MatchQueued<Ext>[] = [];
  readonly #found: MatchFound<Ext>[] = [];
  /** (1.3) matches confirmed with the seat claimed: the key sent, and how long its hand-off may take */
  readonly #preclaims = new Map<string, { key?: SessionKey; deadline?: number }>();
  /** (1.3) pushed hand-offs not taken by waitForHandoff yet, oldest first */
  readonly #pushed: PushedHandoff<Ext>[] = [];
  /** sessions recently turned into tickets: a late push of one (claimed after a re-login) is not a new hand-off */
  readonly #ticketed: string[] = [];
  /** waits watching those deadlines, told when one is added or moved */
  readonly #preclaimWatchers = new Set<() => void>();
  #closeError: IyesmpError | undefined;
  #closed = false;
  #closing = false;
  /** (1.4) The issuer chain of the last pushed hand-off that carried one: a push marked `sameChain` has it. */
  #pushedChain: Uint8Array[] = [];
  #kick: Ev<'kick', Ext> | undefined;
  /** game sessions joined through this client, to tell them when auth says their host died */
  readonly #games = new Map<string, GameSession<Ext>>();
  /** each session's latest reconnect secret from its host, presented when joining that session again */
  readonly #reconnectSecrets = new Map<string, string>();

  private constructor(proto: ProtocolConnection<AuthFamily, 'dialer', Ext>, welcome: WelcomeInfo, opts: AuthClientOptions<Ext>, endLink: () => Promise<void>) {
    super();
    this.#proto = proto;
    this.welcome = welcome;
    this.#opts = opts;
    this.#endLink = endLink;
    this.#keyStore = opts.keyStore ?? new MemoryKeyStore();
    this.#confirmedKeys = new ConfirmedKeys(this.#keyStore);
    this.setListenerErrorHandler(opts.onListenerError ?? (() => {}));
  }

  /**
   * Speaks `iyesmp-auth/1` on an open stream (connectToAuth dials QUIC and calls this). Rejects
   * with a clear IyesmpError when the server refuses (version too old/new...).
   */
  static async open<Ext = unknown>(stream: StreamPair, opts: AuthClientOptions<Ext>, endLink: () => Promise<void> = async () => {}): Promise<AuthClient<Ext>> {
    const max = opts.maxProtocolMinor;
    // an older minor announced in the hello: the server then uses only what that minor has
    const family =
      max === undefined || max >= authFamily.version.minor
        ? authFamily
        : ({ ...authFamily, version: { major: 1, minor: Math.max(0, max) } } as unknown as AuthFamily);
    const proto = ProtocolConnection.dial<AuthFamily, Ext>(family, stream, {
      ...dialOptions(opts),
      hello: {
        ...(opts.locale === undefined ? {} : { locale: opts.locale }),
        ...(opts.platform === undefined ? {} : { platform: opts.platform }),
      },
      // account.login is the same in every minor: no `minor` mark needed
      ...(opts.login === undefined ? {} : { early: [{ type: 'account.login', body: opts.login, timeoutMs: opts.requestTimeoutMs ?? 15_000 }] }),
    });
    // Events may follow the welcome at once: collect them until the client object exists.
    const early: Parameters<Parameters<typeof proto.on<'event'>>[1]>[0][] = [];
    const collect = (ev: (typeof early)[number]): void => void early.push(ev);
    proto.on('event', collect);
    let ready;
    try {
      ready = await proto.ready;
    } catch (err) {
      await endLink().catch(() => undefined);
      throw helloError(err, 'auth', opts.gameVersion);
    }
    const w = ready.peerHello;
    const client = new AuthClient<Ext>(
      proto,
      { serverName: w.serverName, time: w.time, ...(w.motd === undefined ? {} : { motd: w.motd }), serverGameVersion: ready.peerGameVersion },
      opts,
      endLink,
    );
    proto.off('event', collect);
    proto.on('event', (ev) => client.#onEvent(ev));
    proto.on('close', (info) => client.#onClose(info));
    for (const ev of early) client.#onEvent(ev);
    // a close that happened while collecting (listeners were not attached yet)
    if (proto.session.state === 'closed' && proto.session.closeInfo) client.#onClose(proto.session.closeInfo);
    if (opts.login !== undefined) await client.#pipelinedLogin(proto.early[0]!);
    return client;
  }

  /** The answer to the login sent with the hello; a refusal closes the client. */
  async #pipelinedLogin(answer: Promise<unknown>): Promise<void> {
    let r: LoginResult<Ext>;
    try {
      r = (await answer) as LoginResult<Ext>;
    } catch (err) {
      const error = this.#closeError && err instanceof IyesmpError && err.code === 'closed' ? this.#closeError : requestError(err, 'login');
      await this.close().catch(() => undefined);
      throw error;
    }
    this.account = r;
    await this.#pruneConfirmedKeys();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The protocol version agreed with the server (1.1 servers send `session.lost`, `session.waiting`, join codes). */
  get protocolVersion(): { major: number; minor: number } {
    return this.#proto.session.negotiated ?? { major: 1, minor: 0 };
  }

  // ---- accounts ----------------------------------------------------------------------------------

  /** Logs in; refusals reject with the server's code and reason (`login refused: ...`). */
  async login(credentials: LoginCredentials<Ext>): Promise<LoginResult<Ext>> {
    const r = await this.#request('account.login', credentials, 'login');
    this.account = r;
    await this.#pruneConfirmedKeys();
    return r;
  }

  /**
   * Creates a username + password account and logs in as it (`isNew: true`). Needs a server that
   * speaks iyesmp-auth 1.2 and allows registration; refusals carry the server's code
   * (`auth.username_taken`, `auth.weak_password`, `auth.password_too_long`, `auth.registration_disabled`,
   * `auth.invalid_request` for a username it does not allow).
   */
  async register(o: Registration<Ext>): Promise<LoginResult<Ext>> {
    this.#needMinor(2, 'registering an account');
    const r = await this.#request('account.register', o, 'registration');
    this.account = r;
    await this.#pruneConfirmedKeys();
    return r;
  }

  async logout(): Promise<void> {
    await this.#request('account.logout', {}, 'logout');
    this.account = undefined;
  }

  // ---- lobbies -----------------------------------------------------------------------------------

  readonly lobbies = {
    /** Creates a lobby; a private one comes back with its `joinCode` (give it to the players you invite). */
    create: async (o: Body<'lobby.create', Ext>): Promise<CreatedLobby> => {
      const r = await this.#request('lobby.create', o, 'creating the lobby');
      const code = r.joinCode ?? legacyJoinCode(r.ext);
      return code === undefined ? r.lobby : { ...r.lobby, joinCode: code };
    },
    list: async (o: Body<'lobby.list', Ext> = {}): Promise<{ lobbies: LobbySummary[]; cursor?: string }> => {
      const r = await this.#request('lobby.list', o, 'listing lobbies');
      return { lobbies: r.lobbies, ...(r.cursor === undefined ? {} : { cursor: r.cursor }) };
    },
    join: async (lobbyId: string, password?: string): Promise<Lobby> =>
      (await this.#request('lobby.join', { lobbyId, ...(password === undefined ? {} : { password }) }, 'joining the lobby')).lobby,
    /**
     * Joins a private lobby with the code its creator shared. The code also goes in `lobbyId`
     * (required by 1.0 servers) and in `password` (how 1.0 servers took codes); 1.1 servers read `joinCode`.
     * A lobby with a password needs it too (then only 1.1 servers can let this client in).
     */
    joinByCode: async (joinCode: string, password?: string): Promise<Lobby> =>
      (await this.#request('lobby.join', { lobbyId: joinCode, joinCode, password: password ?? joinCode }, 'joining the lobby')).lobby,
    leave: async (lobbyId: string): Promise<void> => void (await this.#request('lobby.leave', { lobbyId }, 'leaving the lobby')),
    ready: async (lobbyId: string, ready = true): Promise<void> => void (await this.#request('lobby.ready', { lobbyId, ready }, 'setting ready')),
    /** Owner only. The hand-off follows: `await client.waitForHandoff({ lobbyId })`. */
    start: async (lobbyId: string): Promise<void> => void (await this.#request('lobby.start', { lobbyId }, 'starting the lobby')),
    kick: async (lobbyId: string, accountId: string, reason?: string): Promise<void> =>
      void (await this.#request('lobby.kick', { lobbyId, accountId, ...(reason === undefined ? {} : { reason }) }, 'kicking the player')),
    setOwner: async (lobbyId: string, accountId: string): Promise<void> =>
      void (await this.#request('lobby.set_owner', { lobbyId, accountId }, 'changing the owner')),
  };

  // ---- matchmaking -------------------------------------------------------------------------------

  /**
   * Joins the queue. With `lobbyId` (the lobby's owner, iyesmp-auth 1.2) every member of the lobby
   * is queued as one party: they are matched together, and each gets `match.found`. Any change to
   * the lobby, or any member's `cancelQueue`, takes the party out of the queue.
   */
  async queue(
    mode: string,
    regions?: string[],
    ext?: Ext,
    o: {
      lobbyId?: string;
      /**
       * How long to wait for the server's answer (default: `requestTimeoutMs`, 15 s). An answer that
       * comes after we gave up still queued us, without our knowing the ticket: a busy server is
       * better waited for.
       */
      timeoutMs?: number;
    } = {},
  ): Promise<Reply<'match.queue', Ext>> {
    // a 1.1 server would drop lobbyId and queue this player alone: refuse here instead
    if (o.lobbyId !== undefined) this.#needMinor(2, 'queueing a lobby as a party');
    return this.#request(
      'match.queue',
      { mode, ...(regions ? { regions } : {}), ...(o.lobbyId === undefined ? {} : { lobbyId: o.lobbyId }), ...(ext === undefined ? {} : { ext }) },
      'joining the queue',
      o.timeoutMs,
    );
  }
  async cancelQueue(ticketId: string): Promise<void> {
    await this.#request('match.cancel', { ticketId }, 'leaving the queue');
  }
  /**
   * Confirms a found match. With a 1.3 server the seat is claimed with it: a fresh session key
   * pair is made now when `match.found` asked for one, its public key goes with the confirmation,
   * and the hand-off is pushed once the host took the session (`waitForHandoff` returns it).
   */
  async confirmMatch(matchId: string): Promise<void> {
    if (this.protocolVersion.minor < 3) {
      await this.#request('match.confirm', { matchId }, 'confirming the match');
      return;
    }
    const found = this.#found.find((f) => f.matchId === matchId);
    const key = found?.needsPublicKey === true ? newSessionKey(this.#opts.keyAlgorithm) : undefined;
    // the hand-off comes after every player confirmed (by confirmBy) and the host took the session
    const deadline = Math.max(Date.now(), found?.confirmBy ?? 0) + (this.#opts.claimTimeoutMs ?? 60_000);
    // stored before it is sent, as a claim's key is: a client restarted before the hand-off came
    // finds it when the server offers the seat again (FileKeyStore)
    if (key) await this.#confirmedKeys.add(matchId, key.keyPem, deadline + CONFIRMED_KEY_TTL_MS);
    this.#preclaims.set(matchId, { ...(key ? { key } : {}), deadline });
    while (this.#preclaims.size > 16) this.#preclaims.delete(this.#preclaims.keys().next().value!);
    for (const w of this.#preclaimWatchers) w();
    try {
      await this.#request('match.confirm', { matchId, claim: true, ...(key ? { publicKey: key.publicKeyDer } : {}) }, 'confirming the match');
    } catch (err) {
      this.#preclaims.delete(matchId);
      if (key) this.#forgetConfirmedKey(matchId);
      throw err;
    }
  }
  async declineMatch(matchId: string): Promise<void> {
    await this.#request('match.decline', { matchId }, 'declining the match');
  }

  /**
   * Queues, confirms the match when one is found (unless `confirm` says no), waits for the session
   * and claims the seat: one call from "play" to a ticket for `joinHost`. A match that falls
   * through (a player declined, no host free yet) is retried by the server; progress arrives as
   * `matchmaking` events and through `onStatus`. Aborting or timing out leaves the queue.
   */
  async matchmake(
    o: {
      mode: string;
      regions?: string[];
      ext?: Ext;
      /** queue this lobby as a party (its owner only; 1.2 servers); the other members call `followParty` */
      lobbyId?: string;
    } & FollowOptions<Ext>,
  ): Promise<HostTicket<Ext>> {
    // A burst of players queueing at once can keep the server from answering within the request
    // timeout, though it queues each of them; giving up then would leave a ticket nobody follows
    // (its matches time out unconfirmed). The connection's keep-alive tells a dead server apart, so
    // the answer is awaited as long as the whole matchmake may take (`timeoutMs`, else
    // QUEUE_REPLY_MIN_MS), never less than the request timeout.
    const timeoutMs = Math.max(this.#opts.requestTimeoutMs ?? 15_000, o.timeoutMs ?? QUEUE_REPLY_MIN_MS);
    return this.#follow(() => this.queue(o.mode, o.regions, o.ext, { ...(o.lobbyId === undefined ? {} : { lobbyId: o.lobbyId }), timeoutMs }), o);
  }

  /**
   * For a member of a lobby whose owner queued it as a party (1.2): waits for the party's ticket
   * (`matchQueued`; one received already counts, or pass `ticketId`), then does what `matchmake`
   * does after queueing: confirms the found match, waits for the session and claims the seat.
   */
  async followParty(o: { ticketId?: string; lobbyId?: string } & FollowOptions<Ext> = {}): Promise<HostTicket<Ext>> {
    let ticketId = o.ticketId;
    if (ticketId === undefined) {
      const fits = (q: MatchQueued<Ext>): boolean => o.lobbyId === undefined || q.lobbyId === o.lobbyId;
      const known = this.#partyQueued.find(fits);
      ticketId = (
        known ??
        (await this.next('matchQueued', {
          filter: fits,
          ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
          ...(o.signal ? { signal: o.signal } : {}),
          failWith: () => this.#closeError ?? (this.#closed ? authLost('the client was closed') : undefined),
          what: 'waiting for the lobby owner to queue the party',
        }))
      ).ticketId;
    }
    const id = ticketId;
    // taken: a later followParty waits for the owner's next queueing
    removeFirst(this.#partyQueued, (q) => q.ticketId === id);
    return this.#follow(async () => ({ ticketId: id }), o);
  }

  async #follow(queue: () => Promise<Reply<'match.queue', Ext>>, o: FollowOptions<Ext>): Promise<HostTicket<Ext>> {
    const status = (s: MatchmakingStatus): void => {
      this.emit('matchmaking', s);
      try {
        o.onStatus?.(s);
      } catch (err) {
        this.#opts.onListenerError?.(err);
      }
    };
    const matches = new Set<string>();
    let failure: IyesmpError | undefined;
    let ticketId: string | undefined;
    // Until the server says it is looking for a host (`session.waiting`, 1.1), a local timer tells
    // the game that time passes; the server's notices replace it for the match they name.
    let notice: ReturnType<typeof setInterval> | undefined;
    const serverTold = new Set<string>();
    const startNotice = (matchId: string): void => {
      clearInterval(notice);
      if (serverTold.has(matchId)) return;
      const since = Date.now();
      notice = setInterval(() => status({ phase: 'waiting', matchId, waitedMs: Date.now() - since }), o.waitingNoticeMs ?? 5_000);
      notice.unref?.();
    };
    // our own deadline, moved past the server's promise by its `session.waiting` notices
    const limit = o.timeoutMs === undefined ? undefined : new ExtendableDeadline(o.timeoutMs, 'waiting for the game session');
    // What the server sends after a confirmation (session.waiting, match.cancelled, the hand-off) may
    // arrive in the same read as its answer: those phases (and our return) wait until 'confirmed'
    // was reported, so the phases keep their order
    let confirmReported: Promise<void> = Promise.resolve();
    const afterConfirmed = (report: () => void): void => void confirmReported.then(report);
    const onWaiting = (w: SessionWaiting): void => {
      const matchId = w.matchId;
      if (matchId === undefined || !matches.has(matchId)) return;
      serverTold.add(matchId);
      if (w.giveUpAt !== undefined) limit?.extendTo(Date.now() + Math.max(0, w.giveUpAt - w.since) + CLAIM_MARGIN_MS);
      afterConfirmed(() => {
        clearInterval(notice);
        status({
          phase: 'waiting',
          matchId,
          // the server's clock may differ from ours: never report a negative wait
          waitedMs: Math.max(0, Date.now() - w.since),
          noHost: {
            attempt: w.attempt,
            ...(w.giveUpAt === undefined ? {} : { giveUpAt: w.giveUpAt }),
            ...(w.reason === undefined ? {} : { reason: w.reason }),
          },
        });
      });
    };
    // match.found may arrive in the same read as the queue reply, before `ticketId` is known here
    const early: MatchFound<Ext>[] = [];
    const onFound = (f: MatchFound<Ext>): void => {
      if (ticketId === undefined) return void early.push(f);
      if (f.ticketId !== ticketId) return;
      matches.add(f.matchId);
      status({ phase: 'found', matchId: f.matchId, playerCount: f.playerCount });
      void (async () => {
        try {
          const yes = o.confirm ? await o.confirm(f) : true;
          if (yes) {
            const confirmed = (async () => {
              await this.confirmMatch(f.matchId);
              // (1.3) the seat is claimed with the confirmation: the hand-off's own deadline applies,
              // as a claim's does once session.ready came
              const pre = this.#preclaims.get(f.matchId);
              if (pre?.deadline !== undefined) limit?.extendTo(pre.deadline);
              status({ phase: 'confirmed', matchId: f.matchId });
              startNotice(f.matchId);
            })();
            confirmReported = confirmed.catch(() => undefined);
            await confirmed;
          } else {
            await this.declineMatch(f.matchId);
          }
        } catch (err) {
          // the match may have been cancelled meanwhile; a later event tells what happens next
          this.#opts.onListenerError?.(err);
        }
      })();
    };
    const onCancelled = (c: Ev<'match.cancelled', Ext>): void => {
      // before 1.2 a ticket removed from the queue (held too long, rule 7) is told this way, naming the ticket
      if (!matches.has(c.matchId) && (c.matchId !== ticketId || c.requeued)) return;
      if (!c.requeued) failure = cancelledError(c.reason);
      afterConfirmed(() => {
        clearInterval(notice);
        if (c.requeued) return status({ phase: 'requeued', matchId: c.matchId, reason: c.reason });
        status({ phase: 'cancelled', matchId: c.matchId, reason: c.reason }); // also wakes the wait below
      });
    };
    const onDequeued = (d: Ev<'match.dequeued', Ext>): void => {
      if (d.ticketId !== ticketId) return;
      clearInterval(notice);
      failure = clientError('party_dequeued', `the party left the queue: ${d.reason}`, { hint: 'queue again', details: { reason: d.reason } });
      status({ phase: 'dequeued', ticketId: d.ticketId, reason: d.reason }); // also wakes the wait below
    };
    this.on('matchFound', onFound);
    let queued: Reply<'match.queue', Ext>;
    try {
      queued = await queue();
    } catch (err) {
      this.off('matchFound', onFound);
      throw err;
    }
    ticketId = queued.ticketId;
    status({ phase: 'queued', ticketId, ...(queued.estimatedWaitMs === undefined ? {} : { estimatedWaitMs: queued.estimatedWaitMs }) });
    for (const f of early.splice(0)) onFound(f);
    // a party member may start following after the match was found: a live offer for its ticket counts
    for (const f of this.#found) if (f.ticketId === ticketId && f.confirmBy > Date.now() && !matches.has(f.matchId)) onFound(f);
    this.on('matchCancelled', onCancelled);
    this.on('matchDequeued', onDequeued);
    this.on('sessionWaiting', onWaiting);
    try {
      const signals = [o.signal, limit?.signal].filter((x): x is AbortSignal => x !== undefined);
      return await this.waitForHandoff({
        filter: (r) => r.lobbyId === undefined,
        ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) } : {}),
        failWith: () => failure,
        onClaim: (sessionId) => {
          afterConfirmed(() => {
            clearInterval(notice);
            status({ phase: 'claiming', sessionId });
          });
        },
      });
    } catch (err) {
      // a cancelled match already took the ticket out of the queue
      if (!this.#closed && failure === undefined) {
        await this.cancelQueue(queued.ticketId).catch(() => undefined);
      }
      // our deadline aborted the wait: say so, not "aborted"
      throw limit?.error ?? err;
    } finally {
      // the phases deferred by `afterConfirmed` are reported before we return
      await confirmReported;
      limit?.stop();
      clearInterval(notice);
      this.off('matchFound', onFound);
      this.off('matchCancelled', onCancelled);
      this.off('matchDequeued', onDequeued);
      this.off('sessionWaiting', onWaiting);
    }
  }

  // ---- hand-off ----------------------------------------------------------------------------------

  /** Session offers received and not claimed yet (for example after logging in again mid-game). */
  get pendingSessions(): readonly SessionReady<Ext>[] {
    return this.#ready;
  }

  /**
   * Waits for a `session.ready` (one already received counts) and claims it. After a lobby start
   * pass `{ lobbyId }`; after logging in again during a live game, the server offers the same
   * session again and this returns the same hand-off. With a 1.3 server, a match confirmed through
   * `confirmMatch` needs no claim: this returns the hand-off the server pushes (`session.handoff`),
   * and fails when that match is cancelled or its hand-off does not come in time (`claimTimeoutMs`
   * after the confirmation deadline, moved later by the server's `session.waiting`).
   */
  async waitForHandoff(
    o: {
      lobbyId?: string;
      filter?: (r: SessionReady<Ext>) => boolean;
      timeoutMs?: number;
      signal?: AbortSignal;
      failWith?: () => IyesmpError | undefined;
      onClaim?: (sessionId: string) => void;
    } = {},
  ): Promise<HostTicket<Ext>> {
    const fits = (r: SessionReady<Ext>): boolean => (o.lobbyId === undefined || r.lobbyId === o.lobbyId) && (o.filter?.(r) ?? true);
    // a pushed hand-off is a match's (never a lobby's); the filter sees it as the offer it replaces
    const fitsPushed = (p: PushedHandoff<Ext>): boolean =>
      o.lobbyId === undefined &&
      (o.filter?.({
        sessionId: p.handoff.sessionId,
        transport: p.handoff.transport.kind,
        needsPublicKey: false,
        matchId: p.matchId,
        claimBy: p.handoff.expiresAt,
      } as SessionReady<Ext>) ??
        true);
    let ready = this.#ready.find(fits);
    let pushed = ready === undefined ? this.#pushed.find(fitsPushed) : undefined;
    if (ready === undefined && pushed === undefined) {
      // A lobby's session that cannot be set up (no host in time, host refused) is cancelled with
      // the lobby id in `matchId`.
      // consumed: a later start of the same lobby must not fail on this old news
      const told = o.lobbyId === undefined ? undefined : removeFirst(this.#cancelled, (c) => c.matchId === o.lobbyId);
      let failure: IyesmpError | undefined = told ? cancelledError(told.reason) : undefined;
      const onCancelled = (c: Ev<'match.cancelled', Ext>): void => {
        if (c.requeued) return;
        if (o.lobbyId !== undefined && c.matchId === o.lobbyId) failure = cancelledError(c.reason);
        // (1.3) a match whose seat was claimed with the confirmation: no session.ready will come
        if (o.lobbyId === undefined && this.#preclaims.has(c.matchId)) failure = cancelledError(c.reason);
      };
      this.on('matchCancelled', onCancelled);
      const stop = new AbortController();
      const pre = o.lobbyId === undefined ? this.#watchPreclaims(stop) : undefined;
      const common = {
        ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
        signal: o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal,
        failWith: () => failure ?? o.failWith?.() ?? this.#closeError ?? (this.#closed ? authLost('the client was closed') : undefined),
        what: 'waiting for the game session',
      };
      const onReady = this.next('sessionReady', { ...common, filter: fits }).then((r) => ({ r }));
      const onPushed = this.next('sessionHandoff', { ...common, filter: (h) => this.#pushed.some((p) => p.matchId === h.matchId && fitsPushed(p)) }).then(
        () => ({ r: undefined }),
      );
      try {
        ready = (await Promise.race([onReady, onPushed])).r;
      } catch (err) {
        // our own hand-off deadline stopped the wait
        throw pre?.error ?? err;
      } finally {
        stop.abort();
        pre?.stop();
        onReady.catch(() => undefined);
        onPushed.catch(() => undefined);
        this.off('matchCancelled', onCancelled);
      }
      if (ready === undefined) pushed = this.#pushed.find(fitsPushed);
    }
    if (ready !== undefined) {
      o.onClaim?.(ready.sessionId);
      return this.claim(ready);
    }
    const p = pushed!;
    removeFirst(this.#pushed, (x) => x === p);
    o.onClaim?.(p.handoff.sessionId);
    return this.#pushedTicket(p);
  }

  /** (1.3) A pushed hand-off as a ticket; its key is kept in the key store until the session ends, as a claim's is. */
  async #pushedTicket(p: PushedHandoff<Ext>): Promise<HostTicket<Ext>> {
    // the key the match was confirmed with: in memory, or (after a restart) in the key store
    const candidates = p.key ? [p.key] : [];
    const stored = await this.#confirmedKeys.adopt(p.matchId, p.handoff.sessionId);
    if (stored !== undefined && stored !== p.key?.keyPem) candidates.push(sessionKeyFromPem(stored));
    // with one key there is nothing to choose: ticketFromHandoff checks it anyway (a certificate
    // parsed once per hand-off, not twice)
    const own = candidates.length === 1 ? candidates[0] : (certifiedKey(p.handoff, candidates) ?? p.key);
    const ticket = ticketFromHandoff(p.handoff, own);
    const keyPem = ticket.credentials?.keyPem;
    if (keyPem !== undefined && keyPem !== stored) await this.#keyStore.set(ticket.sessionId, keyPem);
    this.#tookTicket(ticket.sessionId);
    return ticket;
  }

  /**
   * A session became a ticket: its other offers go. After a re-login while the host was still being
   * asked, the seat is both offered again (`session.ready`) and pushed; a later wait must not get it again.
   */
  #tookTicket(sessionId: string): void {
    removeFirst(this.#ready, (r) => r.sessionId === sessionId);
    removeFirst(this.#pushed, (x) => x.handoff.sessionId === sessionId);
    if (!this.#ticketed.includes(sessionId)) pushCapped(this.#ticketed, sessionId, 16);
  }

  /** Drops the confirmed keys whose time is up; a store that fails only keeps them longer. */
  async #pruneConfirmedKeys(): Promise<void> {
    await this.#confirmedKeys.prune().catch(() => undefined);
  }

  /** A confirmed match's key is no longer needed (cancelled, refused, or its hand-off did not come). */
  #forgetConfirmedKey(matchId: string): void {
    void this.#confirmedKeys.remove(matchId).catch(() => undefined);
  }

  /**
   * (1.3) While waiting, the hand-offs of matches confirmed with their seat claimed have a
   * deadline each (moved by `session.waiting`): when one passes, the wait fails with `timeout`
   * (`error`) and `stop` is aborted.
   */
  #watchPreclaims(stop: AbortController): { readonly error: IyesmpError | undefined; stop(): void } {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let error: IyesmpError | undefined;
    let stopped = false;
    // deadlines that passed before this wait began belong to no one waiting: forgotten
    for (const [id, x] of this.#preclaims) if (x.deadline !== undefined && x.deadline <= Date.now()) this.#preclaims.delete(id);
    const arm = (): void => {
      clearTimeout(timer);
      if (stopped) return;
      const now = Date.now();
      let next = Infinity;
      for (const [id, x] of this.#preclaims) {
        if (x.deadline === undefined) continue;
        if (x.deadline > now) {
          next = Math.min(next, x.deadline);
          continue;
        }
        this.#preclaims.delete(id);
        this.#forgetConfirmedKey(id);
        error = clientError('timeout', `the game session of match ${id} was not handed over in time after confirming it`, {
          hint: 'the other players or the game host did not answer: queue again',
        });
      }
      if (error) return stop.abort();
      if (next === Infinity) return;
      // after a stall, a `session.waiting` or hand-off already in the socket moves or ends it first
      timer = setDeadline(arm, next - now);
      timer.unref?.();
    };
    arm();
    this.#preclaimWatchers.add(arm);
    return {
      get error() {
        return error;
      },
      stop: () => {
        stopped = true;
        clearTimeout(timer);
        this.#preclaimWatchers.delete(arm);
      },
    };
  }

  /**
   * Claims a seat: makes the session key pair (or reuses the stored one for this session), sends
   * the public key, checks the certificate that comes back, and keeps the private key in the key
   * store until the session ends. Without `needsPublicKey` the server makes the key (seed design).
   */
  async claim(
    ready: Pick<SessionReady<Ext>, 'sessionId' | 'needsPublicKey'> & { claimBy?: number; matchId?: string; lobbyId?: string },
  ): Promise<HostTicket<Ext>> {
    // A key stored for this session is reused: after a reconnect the server returns the very same
    // hand-off, whose certificate names that key (and then it asks for no public key).
    const stored = await this.#keyStore.get(ready.sessionId);
    // (1.3) or the key its match was confirmed with: a seat claimed with it is offered again without needsPublicKey
    const confirmed = ready.matchId === undefined ? undefined : this.#preclaims.get(ready.matchId)?.key;
    let key: SessionKey | undefined = stored === undefined ? confirmed : sessionKeyFromPem(stored);
    let fresh = false;
    // (1.3) after a restart that key is only in the key store, named by its match, and the offer
    // (a re-login's) does not name the match: the certificate in the answer tells which key it is.
    // Also with needsPublicKey: offered again before the confirmed key was certified, the seat may
    // still end up certified for it (the server's certificate for the confirmation can come last).
    const kept = key === undefined && this.protocolVersion.minor >= 3 ? await this.#confirmedKeys.all() : [];
    if (key === undefined && ready.needsPublicKey) {
      key = newSessionKey(this.#opts.keyAlgorithm);
      fresh = true;
      await this.#keyStore.set(ready.sessionId, key.keyPem);
    }
    // The server answers a claim once every player claimed and the host accepted the session.
    const untilClaimBy = ready.claimBy === undefined ? 0 : ready.claimBy - Date.now();
    const h = await this.#claimRequest(ready, key, Math.max(this.#opts.claimTimeoutMs ?? 60_000, untilClaimBy + 30_000));
    let adopted: string | undefined;
    if (
      kept.length > 0 &&
      h.transport.kind !== 'netcode' &&
      h.transport.privateKey === undefined &&
      (key === undefined || certifiedKey(h, [key]) === undefined)
    ) {
      const candidates = kept.flatMap((e) => {
        try {
          return [{ matchId: e.matchId, key: sessionKeyFromPem(e.keyPem) }];
        } catch {
          return []; // a damaged entry: not this session's key
        }
      });
      const found = certifiedKey(
        h,
        candidates.map((c) => c.key),
      );
      adopted = candidates.find((c) => c.key === found)?.matchId;
      key = found ?? key;
    }
    const ticket = ticketFromHandoff(h, key);
    if (ticket.serverMadeKey && ticket.credentials) await this.#keyStore.set(ticket.sessionId, ticket.credentials.keyPem);
    // a confirmed key is kept under the session id from now on, as a claim's fresh one is
    else if (key !== undefined && stored === undefined && (!fresh || adopted !== undefined) && ticket.credentials)
      await this.#keyStore.set(ticket.sessionId, key.keyPem);
    const matchOfKey = adopted ?? (confirmed !== undefined && key === confirmed ? ready.matchId : undefined);
    if (matchOfKey !== undefined) await this.#confirmedKeys.remove(matchOfKey).catch(() => undefined);
    this.#tookTicket(ready.sessionId);
    return ticket;
  }

  /**
   * `session.claim`, waiting as long as the server says it looks for a host: each `session.waiting`
   * naming the claim's match or lobby moves our deadline past the server's own give-up time, so the
   * server's answer (`no_host_available` when it gave up) always comes first.
   */
  async #claimRequest(
    ready: { sessionId: string; needsPublicKey: boolean; matchId?: string; lobbyId?: string },
    key: SessionKey | undefined,
    timeoutMs: number,
  ): Promise<Reply<'session.claim', Ext>> {
    const what = 'claiming the game session';
    let deadline = Date.now() + timeoutMs;
    const onWaiting = (w: SessionWaiting): void => {
      const ours = (ready.matchId !== undefined && w.matchId === ready.matchId) || (ready.lobbyId !== undefined && w.lobbyId === ready.lobbyId);
      // relative to our clock (the server's may differ): its wait, plus a host's ack after it
      if (ours && w.giveUpAt !== undefined) deadline = Math.max(deadline, Date.now() + Math.max(0, w.giveUpAt - w.since) + CLAIM_MARGIN_MS);
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const expired = new Promise<never>((_, reject) => {
      const arm = (): void => {
        if (settled) return;
        const left = deadline - Date.now();
        if (left <= 0) return reject(requestError(clientError('timeout', 'no answer'), what));
        // after a stall, the answer (or a `session.waiting` moving the deadline) in the socket goes first
        timer = setDeadline(arm, left);
        timer.unref?.();
      };
      arm();
    });
    this.on('sessionWaiting', onWaiting);
    const answer = this.#request(
      'session.claim',
      { sessionId: ready.sessionId, ...(key && ready.needsPublicKey ? { publicKey: key.publicKeyDer } : {}) },
      what,
      Math.max(timeoutMs, CLAIM_REQUEST_CAP_MS),
    );
    answer.catch(() => undefined); // when our own deadline wins
    try {
      return await Promise.race([answer, expired]);
    } catch (err) {
      // the server gave up finding a host for the session: the same answer as for a start that found none
      if (err instanceof IyesmpError && err.code === 'session_failed' && /no host/i.test(err.message)) throw noHostAvailable(err.message);
      throw err;
    } finally {
      settled = true;
      clearTimeout(timer);
      this.off('sessionWaiting', onWaiting);
    }
  }

  /**
   * Joins the game host of a hand-off with this client's game version, ext schema and trust.
   * `options` may override them (and must give `trust` when this client was not made by connectToAuth).
   * Joining a session again (after a network change) presents the reconnect secret its host gave
   * the last time, so the host moves the seat even if it still holds the old connection.
   */
  async joinHost(ticket: HostTicket<Ext>, options: Partial<JoinHostOptions<Ext>> = {}): Promise<GameSession<Ext>> {
    const o = this.#opts;
    const trust = options.trust ?? o.hostTrust;
    if (trust === undefined && ticket.transport === 'quic') {
      throw clientError('no_trust', 'joinHost needs `trust` (the PKI Master certificate) to check the game host');
    }
    const defaults: GameSessionOptions<Ext> & Pick<JoinHostOptions<Ext>, 'localHost'> = {
      gameVersion: o.gameVersion,
      ...(o.extSchema ? { extSchema: o.extSchema } : {}),
      ...(o.acceptServerVersion ? { acceptServerVersion: o.acceptServerVersion } : {}),
      ...(o.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: o.requestTimeoutMs }),
      ...(o.onListenerError ? { onListenerError: o.onListenerError } : {}),
      ...(o.hostLocalHost === undefined ? {} : { localHost: o.hostLocalHost }),
    };
    const secret = options.reconnectSecret ?? this.#reconnectSecrets.get(ticket.sessionId);
    const game = await joinHost<Ext>(ticket, {
      ...defaults,
      ...options,
      ...(trust === undefined ? {} : { trust }),
      ...(secret === undefined ? {} : { reconnectSecret: secret }),
    });
    if (game.reconnectSecret !== undefined) this.#reconnectSecrets.set(ticket.sessionId, game.reconnectSecret);
    // the key and the secret are no longer needed once the game is over
    game.once('end', () => {
      this.#reconnectSecrets.delete(ticket.sessionId);
      void this.#keyStore.delete(ticket.sessionId).catch(() => undefined);
    });
    this.#games.set(ticket.sessionId, game);
    game.once('close', () => {
      if (this.#games.get(ticket.sessionId) === game) this.#games.delete(ticket.sessionId);
    });
    return game;
  }

  /** Forgets a finished session's private key. */
  async forgetSession(sessionId: string): Promise<void> {
    this.#reconnectSecrets.delete(sessionId);
    await this.#keyStore.delete(sessionId);
  }

  // ---- lifetime ----------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    await this.#proto.close('normal', 'client closed');
    await this.#proto.flushed().catch(() => undefined);
    await this.#endLink().catch(() => undefined);
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  /** Refuses locally what an older server would misread or not know. */
  #needMinor(minor: number, what: string): void {
    if (this.protocolVersion.minor >= minor) return;
    const v = this.protocolVersion;
    throw clientError.as('refused', 'not_supported', `${what} needs a login server speaking iyesmp-auth 1.${minor}; this one speaks ${v.major}.${v.minor}`, {
      hint: 'update the Auth server',
    });
  }

  async #request<K extends keyof AuthFamily['requests'] & string>(
    type: K,
    body: Body<K, Ext>,
    what: string,
    timeoutMs = this.#opts.requestTimeoutMs ?? 15_000,
  ): Promise<Reply<K, Ext>> {
    if (this.#closed) throw this.#closeError ?? authLost('the client was closed');
    try {
      return (await this.#proto.request(type as never, body as never, { timeoutMs })) as Reply<K, Ext>;
    } catch (err) {
      if (this.#closeError && err instanceof IyesmpError && err.code === 'closed') throw this.#closeError;
      throw requestError(err, what);
    }
  }

  #onEvent(ev: { type: string; body: unknown }): void {
    const b = ev.body as never;
    switch (ev.type) {
      case 'lobby.updated': {
        const lobby = (b as { lobby: Lobby }).lobby;
        // a new start of a lobby whose earlier start fell through (the server opened it again):
        // that start's cancellation is old news for the waits of this one
        if (lobby.state === 'in_game') while (removeFirst(this.#cancelled, (c) => c.matchId === lobby.lobbyId));
        this.emit('lobby', lobby);
        return;
      }
      case 'lobby.owner_changed':
        this.emit('lobbyOwnerChanged', b);
        return;
      case 'lobby.kicked':
        this.emit('lobbyKicked', b);
        return;
      case 'lobby.closed':
        this.emit('lobbyClosed', b);
        return;
      case 'match.found':
        pushCapped(this.#found, b, 16);
        this.emit('matchFound', b);
        return;
      case 'match.queued': {
        const q = b as MatchQueued<Ext>;
        // the newest queueing of a lobby replaces an older one
        removeFirst(this.#partyQueued, (x) => x.lobbyId === q.lobbyId);
        this.#partyQueued.unshift(q);
        if (this.#partyQueued.length > 8) this.#partyQueued.pop();
        this.emit('matchQueued', q);
        return;
      }
      case 'match.dequeued': {
        const d = b as Ev<'match.dequeued', Ext>;
        removeFirst(this.#partyQueued, (x) => x.ticketId === d.ticketId);
        this.emit('matchDequeued', d);
        return;
      }
      case 'match.cancelled': {
        const c = b as Ev<'match.cancelled', Ext>;
        if (!c.requeued) {
          pushCapped(this.#cancelled, c, 16);
          // its session's offer is void (a lobby may be started again: a wait must not claim it)
          while (removeFirst(this.#ready, (r) => (r.lobbyId ?? r.matchId) === c.matchId));
        }
        this.emit('matchCancelled', c);
        // after the listeners: a wait for its pushed hand-off learns from this entry that it is over
        this.#preclaims.delete(c.matchId);
        // requeued or not, this match will not be handed off: its key is not needed
        this.#forgetConfirmedKey(c.matchId);
        return;
      }
      case 'session.handoff': {
        const h = withPushedChain(b as Ev<'session.handoff', Ext>, this.#pushedChain);
        if (!h.sameChain && 'chain' in h.handoff.transport) this.#pushedChain = h.handoff.transport.chain;
        const pre = this.#preclaims.get(h.matchId);
        this.#preclaims.delete(h.matchId);
        removeFirst(this.#pushed, (x) => x.handoff.sessionId === h.handoff.sessionId);
        if (!this.#ticketed.includes(h.handoff.sessionId))
          pushCapped(this.#pushed, { matchId: h.matchId, handoff: h.handoff as WireHandoff<Ext>, ...(pre?.key ? { key: pre.key } : {}) }, 16);
        // the key now belongs to the session: kept under its id, as a claim's, even before waitForHandoff takes it
        void this.#confirmedKeys.adopt(h.matchId, h.handoff.sessionId).catch(() => undefined);
        this.emit('sessionHandoff', { matchId: h.matchId, sessionId: h.handoff.sessionId });
        return;
      }
      case 'session.key_refused': {
        const r = b as SessionKeyRefused<Ext>;
        // the seat is claimed the 1.2 way now (session.ready follows), with a fresh key
        this.#preclaims.delete(r.matchId);
        this.#forgetConfirmedKey(r.matchId);
        this.emit('sessionKeyRefused', r);
        return;
      }
      case 'session.ready': {
        const r = b as SessionReady<Ext>;
        // (1.3) a seat offered for claiming after all: the claim's own deadline applies (the key is kept for it)
        const pre = r.matchId === undefined ? undefined : this.#preclaims.get(r.matchId);
        if (pre) delete pre.deadline;
        // a repeated offer of the same session replaces the older one
        removeFirst(this.#ready, (x) => x.sessionId === r.sessionId);
        pushCapped(this.#ready, r, 16);
        this.emit('sessionReady', r);
        return;
      }
      case 'kick': {
        const k = b as Ev<'kick', Ext>;
        // `session_lost` (1.0 servers) announces a game whose host died; the auth connection stays open
        if (k.code !== 'session_lost') this.#kick = k;
        this.emit('kick', k);
        if (k.code === 'session_lost') {
          const named = /\bsession (\S+) is over\b/.exec(k.reason)?.[1];
          this.#sessionLost({ ...(named === undefined ? {} : { sessionId: named }), reason: k.reason });
        }
        return;
      }
      case 'session.lost': {
        const l = b as Ev<'session.lost', Ext>;
        this.#sessionLost({ sessionId: l.sessionId, reason: l.reason });
        return;
      }
      case 'session.waiting': {
        const w = b as Ev<'session.waiting', Ext>;
        // (1.3) a confirmed match's hand-off waits as long as the server looks for a host, plus a host's ack
        const pre = w.matchId === undefined ? undefined : this.#preclaims.get(w.matchId);
        if (pre?.deadline !== undefined && w.giveUpAt !== undefined) {
          pre.deadline = Math.max(pre.deadline, Date.now() + Math.max(0, w.giveUpAt - w.since) + CLAIM_MARGIN_MS);
          for (const watch of this.#preclaimWatchers) watch();
        }
        this.emit('sessionWaiting', {
          since: w.since,
          attempt: w.attempt,
          ...(w.matchId === undefined ? {} : { matchId: w.matchId }),
          ...(w.lobbyId === undefined ? {} : { lobbyId: w.lobbyId }),
          ...(w.giveUpAt === undefined ? {} : { giveUpAt: w.giveUpAt }),
          ...(w.reason === undefined ? {} : { reason: w.reason }),
        });
        return;
      }
    }
  }

  /** A dead host's session: forget its offer and key, tell the game, and end a joined GameSession. */
  #sessionLost(lost: SessionLost): void {
    const id = lost.sessionId;
    if (id !== undefined) {
      removeFirst(this.#ready, (r) => r.sessionId === id);
      void this.#keyStore.delete(id).catch(() => undefined);
    }
    this.emit('sessionLost', lost);
    const game = id === undefined ? undefined : this.#games.get(id);
    if (game && !game.closed) {
      game.abandon(
        clientError('session_lost', `the game host stopped answering and the login server ended the session: ${lost.reason}`, {
          hint: 'the game is over; queue again for a new one',
          details: { sessionId: id },
        }),
      );
    }
  }

  #onClose(info: { code: string; reason: string; by: string }): void {
    if (this.#closed) return;
    this.#closed = true;
    let error: IyesmpError | undefined;
    if (this.#kick) {
      error = new IyesmpError('refused', this.#kick.code, `the login server closed the connection: ${this.#kick.reason}`);
    } else if (info.by === 'local' && info.code === 'normal') {
      error = undefined;
    } else if (info.by === 'peer' && (info.code === 'version_too_old' || info.code === 'update_required')) {
      error = helloError(new IyesmpError('refused', info.code, `closed before the hello finished: ${info.reason}`), 'auth', this.#opts.gameVersion);
    } else {
      const why = info.reason ? `${info.code}: ${info.reason}` : info.code;
      error = authLost(info.by === 'peer' ? `the server closed it (${why})` : why);
      if (info.by === 'local' && info.code !== 'normal') {
        // we closed because the server broke the protocol (malformed data, too many errors...)
        error = clientError('bad_server_data', `the login server sent data this client cannot accept (${why}); the connection was closed`, {
          hint: 'the server may run an incompatible version',
        });
      }
    }
    this.#closeError = error;
    this.emit('close', error ? { error } : {});
    if (!this.#closing) void this.#endLink().catch(() => undefined);
  }
}

/** How 1.0 servers returned a private lobby's code: `ext.joinCode` of the create reply. */
function legacyJoinCode(ext: unknown): string | undefined {
  if (typeof ext !== 'object' || ext === null) return undefined;
  const code = (ext as { joinCode?: unknown }).joinCode;
  return typeof code === 'string' && code.length > 0 && code.length <= 64 ? code : undefined;
}

/**
 * How long a confirmed match's key is kept after its hand-off deadline, for a client restarted
 * before the hand-off came: the default session certificate lifetime (past it the seat is void).
 */
const CONFIRMED_KEY_TTL_MS = 3_600_000;

/** A claim's wait beyond the server's give-up time: room for one more host acknowledgement. */
const CLAIM_MARGIN_MS = 30_000;
/** How long `matchmake` waits for the queue's answer when it has no `timeoutMs` of its own. */
const QUEUE_REPLY_MIN_MS = 120_000;
/** The protocol's own limit on a claim request; our deadline (extended by session.waiting) normally ends it first. */
const CLAIM_REQUEST_CAP_MS = 10 * 60_000;

/**
 * A timeout that can be pushed later: aborts `signal` when it passes, and `error` then says it was
 * the timeout (not the caller's own signal).
 */
class ExtendableDeadline {
  readonly #ac = new AbortController();
  readonly #what: string;
  readonly #start = Date.now();
  #at: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  error: IyesmpError | undefined;

  constructor(ms: number, what: string) {
    this.#what = what;
    this.#at = this.#start + ms;
    this.#arm();
  }
  get signal(): AbortSignal {
    return this.#ac.signal;
  }
  extendTo(at: number): void {
    this.#at = Math.max(this.#at, at);
  }
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
  #arm(): void {
    if (this.#stopped) return;
    const left = this.#at - Date.now();
    if (left > 0) {
      // after a stall, the awaited answer (or an extension) waiting in the socket goes first
      this.#timer = setDeadline(() => this.#arm(), left);
      this.#timer.unref?.();
      return;
    }
    this.error = clientError('timeout', `${this.#what}: no answer within ${Date.now() - this.#start} ms`, {
      hint: 'the server found no game in time: queue again',
    });
    this.#ac.abort();
  }
}

/** The server waited for a free game host and gave up. */
function noHostAvailable(reason: string): IyesmpError {
  return clientError('no_host_available', 'no game host is available right now: try again in a moment', {
    hint: 'the server waited for a free host and gave up; queue again (or start the lobby again)',
    details: { reason },
  });
}

/** A match or lobby start that the server gave up on. */
function cancelledError(reason: string): IyesmpError {
  if (/no host/i.test(reason)) return noHostAvailable(reason);
  return clientError('match_cancelled', `the match was cancelled: ${reason}`, { hint: 'queue again', details: { reason } });
}

/** Removes the first item that matches and returns it. */
function removeFirst<T>(list: T[], matches: (item: T) => boolean): T | undefined {
  const i = list.findIndex(matches);
  return i >= 0 ? list.splice(i, 1)[0] : undefined;
}

/** Appends, dropping the oldest beyond `cap`: these lists keep only recent server news. */
function pushCapped<T>(list: T[], item: T, cap: number): void {
  list.push(item);
  if (list.length > cap) list.shift();
}

/** (1.4) A push marked `sameChain` with the chain it left out put back (the body is copied). */
function withPushedChain<H extends { sameChain?: true; handoff: { transport: { kind: string } | { kind: string; chain: Uint8Array[] } } }>(
  h: H,
  chain: Uint8Array[],
): H {
  if (!h.sameChain || !('chain' in h.handoff.transport)) return h;
  return { ...h, handoff: { ...h.handoff, transport: { ...h.handoff.transport, chain } } };
}
