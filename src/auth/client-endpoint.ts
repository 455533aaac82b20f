import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { formatHostPort } from '../net/address.js';
import { ProtocolConnection, RequestHandlers, authFamily, type AuthFamily } from '../protocol/index.js';
import type { PeerConnection, PeerStream } from '../transport/index.js';
import type { GameVersionCheck } from '../protocol/index.js';
import { PasswordProvider, usernameKey, type Account, type AccountService, type Credentials } from './accounts/index.js';
import { normalizeCode, type Lobbies, type LobbyView } from './lobbies.js';
import type { Matchmaker, Ticket } from './matchmaking.js';
import type { PartyQueue } from './parties.js';
import type { Sessions } from './sessions.js';
import { errInfo } from './err-info.js';
import { accountError, authError, lobbyError, matchmakingError } from './errors.js';
import { acceptControlStream } from './control-stream.js';
import type { AuthLimits } from './limits.js';
import type { HandoffDriver } from './handoff/index.js';
import type { ForwardingOps, LobbyOp } from './cluster.js';

/** What a client connection needs from the server around it (AuthServer implements it). */
export interface ClientEndpointContext {
  readonly logger: Logger;
  readonly options: {
    name: string;
    gameVersion: string;
    acceptGameVersion?: GameVersionCheck;
    motd?: string;
    allowRegistration?: boolean;
    /** what is checked of the bodies sent (SessionOptions.checkOutgoing) */
    checkOutgoing?: boolean | 'strict';
  };
  readonly accounts: Pick<AccountService, 'authenticate' | 'provider'>;
  readonly lobbies: Pick<Lobbies, 'create' | 'list' | 'join' | 'leave' | 'setReady' | 'kick' | 'setOwner' | 'get'>;
  readonly matchmaker: Pick<Matchmaker, 'enqueue' | 'ticketOf' | 'cancel' | 'decline'>;
  readonly parties: Pick<PartyQueue, 'members' | 'enqueue'>;
  /** live sessions a queueing player is still in: its ticket is held until they end */
  readonly sessions: Pick<Sessions, 'liveSessionsOf'>;
  readonly handoffs: Pick<HandoffDriver, 'claim'>;
  /** set while another Auth node runs the matchmaker (cluster.ts): queue requests and claims go there */
  readonly forward?: ForwardingOps | undefined;
  /** when another node runs this session's hand-off: the claim sent there (undefined: it runs here) */
  claimElsewhere?(playerId: string, sessionId: string, publicKey: Uint8Array | undefined, address: string): Promise<unknown> | undefined;
  /** the Auth node running a lobby that is not here (its owner's node), if any */
  lobbyElsewhere?(key: { lobbyId: string } | { code: string }): Promise<string | undefined>;
  /** a lobby request for a player of this node, run on the lobby's node */
  forwardLobby?(node: string, op: 'join' | LobbyOp, args: unknown[]): Promise<LobbyView | undefined>;
  readonly limits: Pick<AuthLimits, 'admit'>;
  accountOf(playerId: string): Account | undefined;
  /** the owner starts a lobby: refused while a member is still in a game or queued alone (`lobby.member_in_session`) */
  startLobby(lobbyId: string, by: string): Promise<void>;
  /** a player confirms a match; a 1.3 player's offer (key, address) claims its seat when the match starts */
  confirmMatch(matchId: string, playerId: string, offer: { publicKey?: Uint8Array; address: string } | undefined, now: number): void;
  ratingOf(account: Account, mode: string): Promise<number | undefined>;
  matchSizeFor(mode: string): number;
  notifyPlayer(playerId: string, minMinor: number, type: ClientNotice, body: unknown): void;
  clientLoggedIn(link: ClientLink): void;
  clientLoggedOut(link: ClientLink): void;
  clientGone(link: ClientLink): void;
  /** re-announce a session the player is part of */
  resumeFor(link: ClientLink): Promise<void>;
  /** a refused login, for the operator's recent refusals */
  noteRefusal?(endpoint: string, reason: string, message: string, remote?: string): void;
  /** a claim answered or refused after `ms`, for the operator's hand-off figures */
  noteHandoff?(ms: number, ok: boolean): void;
  /** a login ended: `ok`, or the error code it was refused with (metrics) */
  loginOutcome?(method: string, outcome: string): void;
}

/** Clock of the request handlers. */
const now = (): number => Date.now();

/** The events a client can be sent. */
export type ClientNotice = Parameters<ProtocolConnection<AuthFamily, 'listener'>['notify']>[0];

/**
 * One game client's connection to the Auth server: the `iyesmp-auth/1` control stream, the login,
 * and the mapping of each request to the domain (accounts, lobbies, matchmaking, claims).
 * Every handler refuses with an IyesmpError code; nothing a client sends can reach past its connection.
 */
export class ClientLink {
  readonly proto: ProtocolConnection<AuthFamily, 'listener'>;
  account: Account | undefined;
  readonly address: string;
  /** The address the connection came from, as the logger is bound to it (the peer may migrate later). */
  readonly #remotePort: number;
  readonly #via: { host: string; port: number } | undefined;
  #closed = false;
  /** A login or registration is running: a second one is refused, not raced against it. */
  #loggingIn = false;
  /** (1.4) The issuer chain of the last `session.handoff` sent with one: a later push with the same chain leaves it out. */
  #lastChain: readonly Uint8Array[] | undefined;
  static readonly #handlers = ClientLink.#makeHandlers();

  constructor(
    readonly server: ClientEndpointContext,
    readonly conn: PeerConnection,
    stream: PeerStream,
  ) {
    this.address = conn.remoteHost;
    this.#remotePort = conn.remotePort;
    this.#via = conn.viaProxy;
    const o = server.options;
    this.proto = ProtocolConnection.accept(authFamily, stream, {
      gameVersion: o.gameVersion,
      ...(o.acceptGameVersion ? { acceptGameVersion: o.acceptGameVersion } : {}),
      ...(o.checkOutgoing !== undefined ? { checkOutgoing: o.checkOutgoing } : {}),
      onHello: () => {
        conn.admission.helloReceived();
        return { serverName: o.name, time: Date.now(), ...(o.motd ? { motd: o.motd } : {}) };
      },
      onListenerError: (err) => this.log.error({ err: errInfo(err) }, 'client handler failed'),
      onProtocolError: (e) => this.log.debug(e, 'client protocol error'),
    });
    this.proto.handleWith(ClientLink.#handlers, this);
    void this.proto.closed.then((info) => {
      this.log.debug({ code: info.code, reason: info.reason }, 'client control stream closed');
      this.close();
    });
  }

  /**
   * This client's logger: the server's, bound to the client's name and address (and its proxy's).
   * Made for each use and not kept: a player logs a line or two in its life (its login, its close),
   * and a kept child logger with its bindings was ~0.3 KB per idle player.
   */
  get log(): Logger {
    const via = this.#via;
    return this.server.logger.child({
      client: this.conn.peer.name,
      remote: formatHostPort(this.address, this.#remotePort),
      ...(via ? { via: formatHostPort(via.host, via.port) } : {}),
    });
  }

  /** The iyesmp-auth/1 minor agreed with this client: 1.1 clients get session.lost, session.waiting, joinCode. */
  get minor(): number {
    return this.proto.session.negotiated?.minor ?? 0;
  }

  /**
   * (1.4) A pushed hand-off without the issuer chain this connection already carried: at about
   * 580 bytes it is what made the push two datagrams (and two acknowledgements) instead of one.
   * The body is copied, never changed: a relayed one is the cluster's.
   */
  #chainOnce(body: PushedHandoff): PushedHandoff {
    const t = body.handoff?.transport;
    if (t === undefined || !('chain' in t) || !Array.isArray(t.chain) || t.chain.length === 0) return body;
    const last = this.#lastChain;
    if (last !== undefined && sameChain(last, t.chain)) return { ...body, handoff: { ...body.handoff, transport: { ...t, chain: [] } }, sameChain: true };
    this.#lastChain = t.chain;
    return body;
  }

  /** The logged-in player id; refuses requests before login. */
  get playerId(): string {
    if (!this.account) throw authError('login_required', 'log in first (account.login)');
    return this.account.playerId;
  }

  notify(type: ClientNotice, body: unknown): void {
    if (type === 'session.handoff' && this.minor >= 4) body = this.#chainOnce(body as PushedHandoff);
    try {
      this.proto.notify(type, body as never);
    } catch (err) {
      this.log.debug({ type, err: errInfo(err) }, 'could not notify client');
    }
  }

  /** Tell the client why, then close. */
  kick(code: string, reason: string): void {
    // the event's reason is at most 1,024 characters: a ban's reason of that length plus its expiry would not be sent at all
    this.notify('kick', { code, reason: reason.length > 1024 ? `${reason.slice(0, 1023)}…` : reason });
    void this.proto.close(code, reason).finally(() => this.conn.close(reason).catch(() => undefined));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.server.clientGone(this);
    void this.conn.close('bye').catch(() => undefined);
  }

  /**
   * The request handlers, made once for every client link (each runs with `this` set to the
   * link): a closure per handler per connection was about 2 KB per idle player.
   */
  static #makeHandlers(): RequestHandlers<AuthFamily, 'listener', ClientLink> {
    const t = new RequestHandlers<AuthFamily, 'listener', ClientLink>();

    // one login or registration at a time per connection; each is answered for what it did
    const exclusive = <B, R>(fn: (this: ClientLink, body: B) => Promise<R>) =>
      async function (this: ClientLink, body: B): Promise<R> {
        if (this.#loggingIn) throw accountError('auth.login_in_progress', 'a login or registration is already running on this connection; wait for its answer');
        this.#loggingIn = true;
        try {
          return await fn.call(this, body);
        } finally {
          this.#loggingIn = false;
        }
      };

    t.on(
      'account.login',
      exclusive(async function (body) {
        const s = this.server;
        if (this.account) throw authError('already_logged_in', 'this connection is already logged in; log out first');
        const { ext, ...rest } = body as Record<string, unknown>;
        const credentials: Credentials = { ...(rest as { method: string }), ...(ext !== undefined ? { ext } : {}) };
        // password logins cost a hash: limited per address and per account before any is run
        let account: Account;
        try {
          if (body.method === 'password') s.limits.admit('login', { address: this.address, account: usernameKey(body.username) }, now());
          account = await s.accounts.authenticate(credentials, { now: now(), remoteAddress: this.address });
          // the account's connection limit can still refuse it
          this.#trust(account.playerId);
        } catch (err) {
          s.noteRefusal?.('login', (err as { code?: string }).code ?? 'refused', (err as Error).message ?? String(err), this.address);
          s.loginOutcome?.(String(body.method), (err as { code?: string }).code ?? 'error');
          throw err;
        }
        s.loginOutcome?.(String(body.method), 'ok');
        this.account = account;
        s.clientLoggedIn(this);
        this.log.info({ playerId: account.playerId, method: account.method }, 'login');
        void s.resumeFor(this);
        return { accountId: account.playerId, displayName: account.displayName, isNew: false };
      }),
    );

    // (1.2) password registration, when the server offers it; the new account is logged in at once
    t.on(
      'account.register',
      exclusive(async function (body) {
        const s = this.server;
        if (this.account) throw authError('already_logged_in', 'this connection is already logged in; log out first');
        const provider = s.accounts.provider('password');
        if (!s.options.allowRegistration || !(provider instanceof PasswordProvider)) {
          throw accountError('auth.registration_disabled', 'this server does not take new accounts', { hint: 'log in with an existing account' });
        }
        s.limits.admit('register', { address: this.address }, now());
        const account = await provider.register(
          { username: body.username, password: body.password, ...(body.displayName !== undefined ? { displayName: body.displayName } : {}) },
          { now: now(), remoteAddress: this.address },
        );
        this.#trust(account.playerId);
        this.account = body.ext !== undefined ? { ...account, ext: body.ext } : account;
        s.clientLoggedIn(this);
        this.log.info({ playerId: account.playerId }, 'registered');
        return { accountId: account.playerId, displayName: account.displayName, isNew: true };
      }),
    );

    t.on('account.logout', function () {
      const s = this.server;
      if (this.account) {
        s.clientLoggedOut(this);
        // logged out, the connection is a stranger again: it must log in anew in time, if it has room to wait
        if (!this.conn.admission.distrust())
          setTimeout(() => this.kick('too_many_connections', 'too many connections from this source are not logged in'), 200).unref();
      }
      this.account = undefined;
      return {};
    });

    // ---- lobbies
    t.on('lobby.create', function (body) {
      const s = this.server;
      const me = this.#joiner();
      const lobby = s.lobbies.create(
        {
          owner: me,
          name: body.name,
          maxPlayers: body.maxPlayers,
          private: body.visibility === 'private',
          ...(body.mode !== undefined ? { mode: body.mode } : {}),
          ...(body.password !== undefined ? { password: body.password } : {}),
          settings: { region: body.region, ext: body.ext },
        },
        now(),
      );
      // a private lobby is joined by code: only its creator learns it, in the reply's ext
      if (!lobby.code) return { lobby: lobbyInfo(lobby) };
      // 1.1 clients read joinCode; 1.0 clients only knew ext.joinCode (ext breaks clients with an ext schema)
      return { lobby: lobbyInfo(lobby), joinCode: lobby.code, ...(this.minor >= 1 ? {} : { ext: { joinCode: lobby.code } }) };
    });
    t.on('lobby.list', function (body) {
      const s = this.server;
      this.playerId;
      const all = s.lobbies.list({
        ...(body.mode !== undefined ? { mode: body.mode } : {}),
        ...(body.region !== undefined ? { where: (st) => (st as { region?: string } | undefined)?.region === body.region } : {}),
        limit: body.limit ?? 50,
      });
      return { lobbies: all.map((l) => summary(l)) };
    });
    t.on('lobby.join', async function (body) {
      const s = this.server;
      const me = this.#joiner();
      // joinCode (1.1); a code sent as password (1.0) is told apart from a password by the domain
      const password = body.password !== undefined ? { password: body.password } : {};
      const target = body.joinCode !== undefined ? { code: body.joinCode, ...password } : { lobbyId: body.lobbyId, ...password };
      try {
        return { lobby: lobbyInfo(s.lobbies.join(target, me, now())) };
      } catch (err) {
        // not here: it may live on another Auth node of the deployment (made there), which runs the join
        if ((err as { code?: string }).code !== 'lobby.not_found' || !s.lobbyElsewhere || !s.forwardLobby) throw err;
        const node = await s.lobbyElsewhere('code' in target ? { code: normalizeCode(target.code) } : { lobbyId: target.lobbyId });
        if (node === undefined) throw err;
        return { lobby: lobbyInfo((await s.forwardLobby(node, 'join', [target, me]))!) };
      }
    });
    t.on('lobby.leave', async function (body) {
      const s = this.server;
      if (await this.#lobbyElsewhere(body.lobbyId, 'leave', [body.lobbyId, this.playerId])) return {};
      s.lobbies.leave(body.lobbyId, this.playerId, now());
      return {};
    });
    t.on('lobby.ready', async function (body) {
      const s = this.server;
      if (await this.#lobbyElsewhere(body.lobbyId, 'setReady', [body.lobbyId, this.playerId, body.ready])) return {};
      s.lobbies.setReady(body.lobbyId, this.playerId, body.ready, now());
      return {};
    });
    t.on('lobby.start', async function (body) {
      const s = this.server;
      if (await this.#lobbyElsewhere(body.lobbyId, 'start', [body.lobbyId, this.playerId])) return {};
      await s.startLobby(body.lobbyId, this.playerId);
      return {};
    });
    t.on('lobby.kick', async function (body) {
      const s = this.server;
      if (await this.#lobbyElsewhere(body.lobbyId, 'kick', [body.lobbyId, this.playerId, body.accountId])) return {};
      s.lobbies.kick(body.lobbyId, this.playerId, body.accountId, now());
      return {};
    });
    t.on('lobby.set_owner', async function (body) {
      const s = this.server;
      if (await this.#lobbyElsewhere(body.lobbyId, 'setOwner', [body.lobbyId, this.playerId, body.accountId])) return {};
      s.lobbies.setOwner(body.lobbyId, this.playerId, body.accountId, now());
      return {};
    });

    // ---- matchmaking
    // ratings come from the server (ratingFor), never from the client
    t.on('match.queue', async function (body) {
      const s = this.server;
      const me = this.playerId;
      const lobbyId = body.lobbyId;
      // The same queueing again is answered with the ticket it made: a client that gave up waiting
      // for our answer during a burst (older clients wait 15 s) and asks again then follows it,
      // instead of being refused while its ticket is matched without it.
      const mine = lobbyId === undefined ? s.matchmaker.ticketOf(me) : undefined;
      if (mine && sameQueueing(mine, body)) return { ticketId: mine.id };
      // (1.2) the owner queues the whole lobby as one party
      const players = lobbyId === undefined ? [me] : s.parties.members(lobbyId, me);
      const accounts = players.map((id) => s.accountOf(id));
      if (accounts.some((a) => a === undefined)) throw matchmakingError('mm.party_offline', 'a lobby member is not connected');
      // the node that runs the matchmaker looks up live sessions itself (forwarded: the leader)
      const fwd = lobbyId === undefined ? s.forward : undefined;
      const [ratings, heldBy] = await Promise.all([Promise.all(accounts.map((a) => s.ratingOf(a!, body.mode))), fwd ? [] : s.sessions.liveSessionsOf(players)]);
      const rating = ratings.every((r) => r !== undefined) ? ratings.reduce((a, b) => a + b, 0) / ratings.length : undefined;
      const req = {
        players,
        mode: body.mode,
        matchSize: s.matchSizeFor(body.mode),
        ...(rating !== undefined ? { rating } : {}),
        ...(body.regions ? { regions: body.regions } : {}),
        ...(body.ext !== undefined ? { ext: body.ext } : {}),
        // a player whose result reached it before the host's report reached us is still in its
        // session here: its ticket is held until that session ends, not matched into one that cannot start
        ...(heldBy.length > 0 ? { heldBy } : {}),
      };
      if (fwd) return { ticketId: (await fwd.enqueue(req, { [me]: this.account!.displayName })).id };
      if (lobbyId === undefined) return queuedReply(s.matchmaker.enqueue(req, now()));
      // the lobby may have changed while ratings were looked up: check again, synchronously with the enqueue
      const again = s.parties.members(lobbyId, me);
      if (again.length !== players.length || again.some((p, i) => p !== players[i])) {
        throw lobbyError('lobby.changed', 'the lobby changed while queueing; queue again');
      }
      const ticket = s.parties.enqueue(lobbyId, req);
      for (const p of players) if (p !== me) s.notifyPlayer(p, 2, 'match.queued', { ticketId: ticket.id, mode: ticket.mode, lobbyId, byAccountId: me });
      return queuedReply(ticket);
    });
    t.on('match.cancel', async function (body) {
      const s = this.server;
      const fwd = s.forward;
      if (fwd && !s.matchmaker.ticketOf(this.playerId)) {
        await fwd.cancel(body.ticketId, this.playerId);
        return {};
      }
      const t = s.matchmaker.ticketOf(this.playerId);
      if (!t || t.id !== body.ticketId) throw matchmakingError.as('refused', 'mm.unknown_ticket', `ticket ${body.ticketId} is not yours`);
      s.matchmaker.cancel(body.ticketId, now());
      return {};
    });
    t.on('match.confirm', async function (body) {
      const s = this.server;
      const fwd = s.forward;
      // (1.3) a confirm that asks for it (claim, or a key) claims the seat when the match starts,
      // and the hand-off is pushed (`session.handoff`); others claim it after `session.ready`
      const claims = this.minor >= 3 && (body.claim === true || body.publicKey !== undefined);
      const offer = claims ? { address: this.address, ...(body.publicKey ? { publicKey: body.publicKey } : {}) } : undefined;
      if (fwd && !s.matchmaker.ticketOf(this.playerId)) await fwd.accept(body.matchId, this.playerId, offer);
      else s.confirmMatch(body.matchId, this.playerId, offer, now());
      return {};
    });
    t.on('match.decline', async function (body) {
      const s = this.server;
      const fwd = s.forward;
      if (fwd && !s.matchmaker.ticketOf(this.playerId)) await fwd.decline(body.matchId, this.playerId);
      else s.matchmaker.decline(body.matchId, this.playerId, now());
      return {};
    });

    // ---- hand-off
    t.on('session.claim', async function (body) {
      const s = this.server;
      const t0 = performance.now();
      try {
        // another node runs this session's hand-off: the claim goes there
        const remote = s.claimElsewhere?.(this.playerId, body.sessionId, body.publicKey, this.address);
        const h = await (remote
          ? (remote as ReturnType<HandoffDriver['claim']>)
          : s.handoffs.claim(this.playerId, body.sessionId, body.publicKey, this.address));
        s.noteHandoff?.(performance.now() - t0, true);
        return h;
      } catch (err) {
        s.noteHandoff?.(performance.now() - t0, false);
        throw err;
      }
    });
    return t;
  }

  /** The server's connection limits per account; refuses the login when this account has its share. */
  #trust(playerId: string): void {
    const t = this.conn.admission.trust(playerId);
    if (!t.ok) throw authError(t.reason, t.message, { hint: 'close another connection of this account first' });
  }

  /** Runs a lobby request on the lobby's node when it lives on another one; false when it is here (or nowhere). */
  async #lobbyElsewhere(lobbyId: string, op: LobbyOp, args: unknown[]): Promise<boolean> {
    const s = this.server;
    if (s.lobbies.get(lobbyId) || !s.lobbyElsewhere || !s.forwardLobby) return false;
    const node = await s.lobbyElsewhere({ lobbyId });
    if (node === undefined) return false;
    await s.forwardLobby(node, op, args);
    return true;
  }

  #joiner(): { playerId: string; displayName: string } {
    return { playerId: this.playerId, displayName: this.account!.displayName };
  }
}

/** Domain lobby -> wire lobby. Owner-only join codes are never in here. */
export function lobbyInfo(l: LobbyView) {
  const st = (l.settings ?? {}) as { region?: string };
  return {
    lobbyId: l.id,
    name: l.name || l.id,
    ownerId: l.ownerId,
    visibility: l.private ? ('private' as const) : ('public' as const),
    state: l.state === 'started' ? ('in_game' as const) : ('open' as const),
    ...(l.mode !== undefined ? { mode: l.mode } : {}),
    ...(typeof st.region === 'string' ? { region: st.region } : {}),
    maxPlayers: l.maxPlayers,
    hasPassword: l.hasPassword,
    members: l.members.map((m) => ({ accountId: m.playerId, displayName: m.displayName, ready: m.ready, isOwner: m.playerId === l.ownerId })),
  };
}

function summary(l: LobbyView) {
  const { members, ...rest } = lobbyInfo(l);
  return { ...rest, playerCount: members.length };
}

/** Accepts a client's first stream as its control stream; later streams are refused. */
export function acceptClient(server: ClientEndpointContext, conn: PeerConnection): void {
  acceptControlStream(conn, 'auth', (stream) => new ClientLink(server, conn, stream));
}

/** Whether a solo `match.queue` asks for what this ticket already is (mode, regions, ext). */
function sameQueueing(t: Ticket, body: { mode: string; regions?: string[] | undefined; ext?: unknown }): boolean {
  const regions = [...new Set(body.regions ?? [])];
  return (
    t.players.length === 1 &&
    t.mode === body.mode &&
    t.regions.length === regions.length &&
    t.regions.every((r, i) => r === regions[i]) &&
    JSON.stringify(t.ext) === JSON.stringify(body.ext)
  );
}

/** The `match.queue` reply: the ticket, and the matchmaker's rough wait when it has one. */
function queuedReply(t: Ticket): { ticketId: string; estimatedWaitMs?: number } {
  return t.estimatedWaitMs === undefined ? { ticketId: t.id } : { ticketId: t.id, estimatedWaitMs: t.estimatedWaitMs };
}

/** What ClientLink reads of a `session.handoff` body (built by the hand-off core, or relayed by the cluster). */
interface PushedHandoff {
  handoff?: { transport?: { kind: string; chain?: readonly Uint8Array[] } };
  [k: string]: unknown;
}

function sameChain(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Buffer.from(a[i]!.buffer, a[i]!.byteOffset, a[i]!.byteLength).equals(b[i]!)) return false;
  return true;
}
