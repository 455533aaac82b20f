import { TypedEmitter } from '../../../events/emitter.js';
import { AddressAllowList } from '../../../transport/allow-list.js';
import { type NetcodeAddress, formatAddress } from '../../../netcode/address.js';
import type { DisconnectReason, ServerEvent } from '../../../netcode/server.js';
import { BEGIN_MESSAGE, type SessionPhaseName, decodeClientMessage, encodeBye, encodeGame, encodeStatusPages } from '../../../netcode/session/messages.js';
import { type NetcodeClock, NetcodeUdpServer } from '../../../netcode/udp.js';
import { decodeSessionUserData, type SessionUserData } from '../../../netcode/user-data.js';
import { hostError } from '../../errors.js';
import type { HostSessionEvent } from '../../events.js';
import type { GameMessage } from '../../game.js';
import type { HostSessions } from '../../sessions.js';
import type { ActionResult, AdmissionRefusal, AdmissionResult, SourceAddress } from '../../types.js';
import { followAllowList } from '../source-filter.js';
import type { HostTransport, HostTransportEvent, HostTransportEvents, SeatRef, TransportEndpoint } from '../transport.js';
import type { NetcodeVersion } from '../../../netcode/constants.js';

export interface NetcodeHostTransportOptions {
  /** the host's session table (HostDomain.sessions); shared with the other transports */
  sessions: HostSessions;
  /** the 32-byte key shared with the Auth servers */
  privateKey: Uint8Array;
  protocolId: bigint;
  /** where to listen, e.g. "0.0.0.0:40000" */
  bind: NetcodeAddress | string;
  /** how tokens name this host (their internal address list); default the bound address */
  address?: NetcodeAddress | string;
  maxClients: number;
  /**
   * Drop every datagram whose source IP the Auth servers did not announce for a live session on this
   * host, before netcode parses or decrypts it (`allowList`, fed by the session table). Default true.
   * `false` is the explicit opt-out for players whose address changes between the hand-off and the
   * connection (mobile networks, carrier NAT rebinding): then any source may make the host decrypt a
   * connection request, and the connect token is the only credential.
   */
  dropUnannounced?: boolean;
  /**
   * After the token is authenticated, also require that its seat is used from the IP the Auth server
   * announced for that seat (the per-seat match QUIC seats always get). Default false: with
   * `dropUnannounced` the source is already an announced address, and the token is bound to its seat
   * by the client id sealed in it; this refuses a token used from another announced player's address.
   */
  enforceAddress?: boolean;
  /** the session table's clock in milliseconds; must be the one the host ticks the table with. Default performance.now */
  nowMs?: () => number;
  /** netcode's clocks (tests move them to time clients out) */
  clock?: NetcodeClock;
  tickMs?: number;
  socketBufferBytes?: number;
  /** netcode wire version; default 1.02 */
  version?: NetcodeVersion;
}

/** Why a netcode client was refused: the domain's reasons in netcode words, plus the checks before it. */
export type NetcodeRefusal =
  | Exclude<AdmissionRefusal, 'not_session_cert' | 'wrong_fingerprint'>
  /** the token's user data does not follow iyesmp's session layout */
  | 'not_session_token'
  /** the session exists but runs on another transport */
  | 'wrong_transport';

export type NetcodeHostEvent =
  | ({
      type: 'admitted';
      reconnect: boolean;
      /** game bytes from the token's user data */
      ext: Uint8Array;
    } & NetcodeConnectionInfo)
  | { type: 'refused'; reason: NetcodeRefusal; message: string; clientId: bigint; address: string; sessionId?: string; playerId?: string }
  /** a control message from an admitted player and what the session table made of it */
  | { type: 'control'; action: 'ready' | 'unready' | 'leave'; sessionId: string; playerId: string; result: ActionResult }
  /** game bytes from an admitted player */
  | { type: 'message'; sessionId: string; playerId: string; data: Uint8Array }
  | { type: 'disconnected'; sessionId: string; playerId: string; connectionId: string; clientId: bigint; reason: DisconnectReason }
  | { type: 'warning'; error: Error };

/** `netcode`: everything the transport sees, in netcode terms (tests and operators); `event`: the host's view. */
export interface NetcodeHostTransportEvents extends HostTransportEvents {
  netcode: NetcodeHostEvent;
}

export interface NetcodeConnectionInfo {
  sessionId: string;
  playerId: string;
  connectionId: string;
  clientId: bigint;
  clientIndex: number;
  address: string;
}

interface Conn extends NetcodeConnectionInfo {
  /** the table already forgot it (close_connection) or we are disconnecting it: do not report a loss */
  closing: boolean;
}

/** Unambiguous (length-prefixed) and cheaper than JSON: it runs on every send. */
const seatKey = (sessionId: string, playerId: string): string => `${sessionId.length}:${sessionId}${playerId}`;

/**
 * netcode.io as a Host transport. A `NetcodeUdpServer` accepts any client with an authentic,
 * unexpired token naming this host; this class then maps the client to its seat (session id and
 * player id from the token's user data, client id checked against the seat) and asks the session
 * table to admit it. Refused clients get a `bye` with the reason and are disconnected. Control
 * messages (ready, unready, leave) go to the table; game bytes come out as `message` events; the
 * table's status changes, game begin and connection closes go back to the clients. A seat is
 * proven by the token's client id (`SeatCredential` kind `netcode`); the seal is the proof that
 * the Auth server issued it. Datagrams from sources no live session expects are dropped before
 * netcode sees them (`allowList`, as QUIC's socket does), unless `dropUnannounced` is false.
 */
export class NetcodeHostTransport extends TypedEmitter<NetcodeHostTransportEvents> implements HostTransport {
  readonly kind = 'netcode' as const;
  /** counters for operators: payloads from unknown slots, undecodable payloads */
  readonly stats = { admitted: 0, refused: 0, ignored: 0, malformed: 0 };
  /**
   * The socket's source filter, following the session table: its counters (`stats()`) say how many
   * datagrams were dropped before parsing. Not consulted when `dropUnannounced` is false.
   */
  readonly allowList: AddressAllowList;
  readonly dropsUnannounced: boolean;
  readonly server: NetcodeUdpServer;
  readonly #sessions: HostSessions;
  readonly #enforceAddress: boolean;
  readonly #now: () => number;
  readonly #byIndex = new Map<number, Conn>();
  readonly #byConnection = new Map<string, Conn>();
  readonly #bySeat = new Map<string, Conn>();
  readonly #onSession = (e: HostSessionEvent): void => this.#guard(() => this.#onTable(e));
  readonly #unfollow: () => void;
  /** the bound address keeps connection ids apart when one table has several netcode sockets (IPv4 and IPv6) */
  readonly #idPrefix: string;
  /** set while a control message is handled: did the table's events already answer the sender's session? */
  #answered: string | undefined;
  #seq = 0;
  #closed = false;

  private constructor(server: NetcodeUdpServer, o: NetcodeHostTransportOptions, allowList: AddressAllowList) {
    super();
    this.server = server;
    this.allowList = allowList;
    this.dropsUnannounced = o.dropUnannounced ?? true;
    // seeded here, in the same turn as the socket's bind: no table event can come in between
    this.#unfollow = followAllowList(o.sessions, allowList);
    this.#sessions = o.sessions;
    this.#enforceAddress = o.enforceAddress ?? false;
    this.#now = o.nowMs ?? (() => performance.now());
    this.#idPrefix = `netcode:${formatAddress(server.boundAddress)}#`;
    server.on('connect', (e) => this.#guard(() => this.#onConnect(e)));
    server.on('disconnect', (e) => this.#guard(() => this.#onDisconnect(e)));
    server.on('payload', (e) => this.#guard(() => this.#onPayload(e)));
    server.on('warning', (error) => this.#emit({ type: 'warning', error }));
    o.sessions.on('session', this.#onSession);
  }

  static async listen(o: NetcodeHostTransportOptions): Promise<NetcodeHostTransport> {
    const allowList = new AddressAllowList();
    const server = await NetcodeUdpServer.listen({
      bind: o.bind,
      ...(o.address !== undefined ? { address: o.address } : {}),
      privateKey: o.privateKey,
      protocolId: o.protocolId,
      maxClients: o.maxClients,
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
      ...(o.socketBufferBytes !== undefined ? { socketBufferBytes: o.socketBufferBytes } : {}),
      ...(o.version ? { version: o.version } : {}),
      ...((o.dropUnannounced ?? true) ? { filter: allowList } : {}),
    });
    try {
      return new NetcodeHostTransport(server, o, allowList);
    } catch (err) {
      await server.close();
      throw err;
    }
  }

  /** the socket's address (with the real port when bound to port 0) */
  get boundAddress(): NetcodeAddress {
    return this.server.boundAddress;
  }

  /** the address tokens must list in their private part to reach this host */
  get tokenAddress(): NetcodeAddress {
    return this.server.core.address;
  }

  /** What the host registers with the Auth servers (hostctl `HostTransport`): the address tokens must name. */
  endpoint(): Extract<TransportEndpoint, { kind: 'netcode' }> {
    const a = this.server.core.address;
    return { kind: 'netcode', address: { host: a.host, port: a.port } };
  }

  connections(): NetcodeConnectionInfo[] {
    return [...this.#bySeat.values()].map(info);
  }

  connection(ref: SeatRef): NetcodeConnectionInfo | undefined {
    const c = this.#bySeat.get(seatKey(ref.sessionId, ref.playerId));
    return c && info(c);
  }

  /**
   * Game bytes (at most 1199) to one player; false when the player has no open connection here.
   * netcode carries the game's bytes only: a game message must be `ext = Uint8Array`, without
   * channel or seq (one datagram per message).
   */
  send(ref: SeatRef, data: Uint8Array | GameMessage): boolean {
    if (!(data instanceof Uint8Array)) {
      if (!(data.ext instanceof Uint8Array)) {
        throw hostError('netcode_bytes_only', `session ${ref.sessionId} runs on netcode: send the message as ext = Uint8Array (at most 1199 bytes)`);
      }
      data = data.ext;
    }
    const c = this.#bySeat.get(seatKey(ref.sessionId, ref.playerId));
    if (!c || c.closing) return false;
    return this.server.sendPayload(c.clientIndex, encodeGame(data));
  }

  /** Game bytes to every connected player of a session, optionally but one; returns how many got them. */
  broadcast(sessionId: string, data: Uint8Array, opts: { except?: string } = {}): number {
    const payload = encodeGame(data);
    let n = 0;
    for (const c of this.#sessionConns(sessionId)) if (c.playerId !== opts.except && this.server.sendPayload(c.clientIndex, payload)) n++;
    return n;
  }

  /**
   * Closes a player's connection (with a `bye` carrying `code`). The table treats it as a lost
   * connection, so the player may come back within the reconnect grace; to remove a player for good
   * call `sessions.removePlayer`, which closes the connection through the table's events.
   */
  disconnect(ref: SeatRef, code = 'disconnected', message = 'the host closed the connection'): boolean {
    const c = this.#bySeat.get(seatKey(ref.sessionId, ref.playerId));
    if (!c || c.closing) return false;
    this.server.sendPayload(c.clientIndex, encodeBye(code, message));
    return this.server.disconnectClient(c.clientIndex);
  }

  /** Disconnects every client (the table hears of each lost connection), then closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#byIndex.values()) if (!c.closing) this.server.sendPayload(c.clientIndex, encodeBye('host_shutdown', 'the host is shutting down'));
    await this.server.close();
    this.#sessions.off('session', this.#onSession);
    this.#unfollow();
  }

  // ---- netcode server events ----

  #onConnect(e: Extract<ServerEvent, { type: 'connect' }>): void {
    const address = formatAddress(e.address);
    const ud = decodeSessionUserData(e.userData);
    if (!ud) return this.#refuse(e, address, 'not_session_token', 'the connect token does not name an iyesmp session and player');
    const view = this.#sessions.session(ud.sessionId);
    if (view && view.transport !== 'netcode')
      return this.#refuse(e, address, 'wrong_transport', `session ${ud.sessionId} uses ${view.transport}, not netcode`, ud);
    const expected = view?.players.find((p) => p.playerId === ud.playerId);
    // the source passed the allow-list (an announced address) unless that is off; the per-seat match only when asked
    const source: SourceAddress =
      this.#enforceAddress || !expected
        ? { ip: e.address.host, port: e.address.port }
        : { ip: expected.address.ip, port: expected.address.port ?? e.address.port };
    const conn: Conn = {
      sessionId: ud.sessionId,
      playerId: ud.playerId,
      connectionId: `${this.#idPrefix}${++this.#seq}`,
      clientId: e.clientId,
      clientIndex: e.clientIndex,
      address,
      closing: false,
    };
    // registered before admission so the status broadcast the admission causes reaches this client too
    this.#byIndex.set(e.clientIndex, conn);
    this.#byConnection.set(conn.connectionId, conn);
    let result: AdmissionResult;
    try {
      const claim = { sessionId: ud.sessionId, playerId: ud.playerId, credential: { kind: 'netcode' as const, clientId: e.clientId } };
      result = this.#sessions.admit({ source, peer: claim, connectionId: conn.connectionId }, this.#now());
    } catch (err) {
      this.#forget(conn);
      this.server.disconnectClient(e.clientIndex);
      throw err;
    }
    if (!result.ok) {
      this.#forget(conn);
      return this.#refuse(e, address, translate(result.reason), result.message, ud);
    }
    this.#bySeat.set(seatKey(conn.sessionId, conn.playerId), conn);
    this.stats.admitted++;
    this.#emit({
      type: 'admitted',
      sessionId: conn.sessionId,
      playerId: conn.playerId,
      connectionId: conn.connectionId,
      clientId: conn.clientId,
      clientIndex: conn.clientIndex,
      address,
      reconnect: result.reconnect,
      ext: ud.ext ?? new Uint8Array(0),
    });
  }

  #refuse(e: Extract<ServerEvent, { type: 'connect' }>, address: string, reason: NetcodeRefusal, message: string, ud?: SessionUserData): void {
    this.stats.refused++;
    // best effort: on most paths the bye arrives before the disconnect packets and tells the client why
    this.server.sendPayload(e.clientIndex, encodeBye(reason, message));
    this.server.disconnectClient(e.clientIndex);
    this.#emit({
      type: 'refused',
      reason,
      message,
      clientId: e.clientId,
      address,
      ...(ud ? { sessionId: ud.sessionId, playerId: ud.playerId } : {}),
    });
  }

  #onDisconnect(e: Extract<ServerEvent, { type: 'disconnect' }>): void {
    const c = this.#byIndex.get(e.clientIndex);
    if (!c || c.clientId !== e.clientId) return; // a refused client: never admitted
    this.#forget(c);
    if (!c.closing) this.#sessions.connectionClosed(c.connectionId, this.#now());
    this.#emit({ type: 'disconnected', sessionId: c.sessionId, playerId: c.playerId, connectionId: c.connectionId, clientId: c.clientId, reason: e.reason });
  }

  #onPayload(e: Extract<ServerEvent, { type: 'payload' }>): void {
    const c = this.#byIndex.get(e.clientIndex);
    if (!c || c.clientId !== e.clientId || c.closing) {
      this.stats.ignored++;
      return;
    }
    const m = decodeClientMessage(e.payload);
    if (!m) {
      this.stats.malformed++;
      return;
    }
    if (m.type === 'game') {
      this.#emit({ type: 'message', sessionId: c.sessionId, playerId: c.playerId, data: m.data });
      return;
    }
    const now = this.#now();
    this.#answered = undefined;
    const result =
      m.type === 'ready'
        ? this.#sessions.ready(c.connectionId, now)
        : m.type === 'unready'
          ? this.#sessions.unready(c.connectionId, now)
          : this.#sessions.leave(c.connectionId, now);
    const answered = this.#answered === c.sessionId;
    this.#answered = undefined;
    this.#emit({ type: 'control', action: m.type, sessionId: c.sessionId, playerId: c.playerId, result });
    // control messages are resent by clients until they see the effect: answer a repeat with the state
    if (!answered && !c.closing) this.#sendState(c);
  }

  // ---- session table events ----

  #onTable(e: HostSessionEvent): void {
    switch (e.type) {
      case 'player_status': {
        const view = this.#sessions.session(e.sessionId);
        if (!view) return; // ended: its connections are being closed with a bye
        this.#sendPages(this.#sessionConns(e.sessionId), view.phase, e.roster);
        this.#answered = e.sessionId;
        return;
      }
      case 'game_begin':
        for (const c of this.#sessionConns(e.sessionId)) this.server.sendPayload(c.clientIndex, BEGIN_MESSAGE);
        this.#answered = e.sessionId;
        return;
      case 'close_connection': {
        const c = this.#byConnection.get(e.connectionId);
        if (!c || c.closing) return;
        c.closing = true;
        const departure = this.#sessions.session(e.sessionId)?.players.find((p) => p.playerId === e.playerId)?.departure;
        const code = e.reason === 'departed' ? (departure ?? 'departed') : e.reason;
        this.server.sendPayload(c.clientIndex, encodeBye(code, closeMessage(code, e.sessionId)));
        this.server.disconnectClient(c.clientIndex);
        return;
      }
      default:
        return;
    }
  }

  /** What a client that repeated a control message should see: begin once the game is on, else the roster. */
  #sendState(c: Conn): void {
    const view = this.#sessions.session(c.sessionId);
    if (!view) return;
    if (view.phase === 'in_game') this.server.sendPayload(c.clientIndex, BEGIN_MESSAGE);
    else this.#sendPages([c], view.phase, view.players);
  }

  #sendPages(
    conns: Iterable<Conn>,
    phase: SessionPhaseName,
    roster: ReadonlyArray<{ playerId: string; status: 'expected' | 'connected' | 'ready' | 'left'; displayName: string }>,
  ): void {
    const targets = [...conns];
    if (targets.length === 0) return;
    const pages = encodeStatusPages(
      phase,
      roster.map((p) => ({ playerId: p.playerId, status: p.status, displayName: p.displayName })),
    );
    for (const c of targets) for (const page of pages) this.server.sendPayload(c.clientIndex, page);
  }

  *#sessionConns(sessionId: string): Generator<Conn> {
    for (const c of this.#byIndex.values()) if (c.sessionId === sessionId && !c.closing) yield c;
  }

  #forget(c: Conn): void {
    if (this.#byIndex.get(c.clientIndex) === c) this.#byIndex.delete(c.clientIndex);
    if (this.#byConnection.get(c.connectionId) === c) this.#byConnection.delete(c.connectionId);
    const k = seatKey(c.sessionId, c.playerId);
    if (this.#bySeat.get(k) === c) this.#bySeat.delete(k);
  }

  /** Every event in netcode terms, and the host's view of those it has one for. */
  #emit(e: NetcodeHostEvent): void {
    this.emit('netcode', e);
    const h = hostView(e);
    if (h) this.emit('event', h);
  }

  /** Handlers run inside socket callbacks: a throw there would take the host down. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#emit({ type: 'warning', error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
}

/** The host's view of a netcode event: joins, departures, refusals and game bytes as game messages. */
function hostView(e: NetcodeHostEvent): HostTransportEvent | undefined {
  switch (e.type) {
    case 'admitted':
      return { type: 'joined', sessionId: e.sessionId, playerId: e.playerId, connectionId: e.connectionId, reconnect: e.reconnect, remote: e.address };
    case 'disconnected':
      return { type: 'left', sessionId: e.sessionId, playerId: e.playerId, connectionId: e.connectionId, reason: e.reason };
    case 'refused':
      return {
        type: 'refused',
        reason: e.reason,
        message: e.message,
        remote: e.address,
        ...(e.sessionId !== undefined ? { sessionId: e.sessionId } : {}),
        ...(e.playerId !== undefined ? { playerId: e.playerId } : {}),
      };
    case 'message':
      return { type: 'message', sessionId: e.sessionId, playerId: e.playerId, message: { ext: e.data } };
    case 'warning':
      return e;
    case 'control':
      return undefined;
  }
}

/** The domain's refusals in netcode words; the certificate ones cannot follow from a netcode claim. */
function translate(r: AdmissionRefusal): NetcodeRefusal {
  if (r === 'wrong_fingerprint') return 'wrong_client_id';
  if (r === 'not_session_cert') return 'not_session_token';
  return r;
}

function closeMessage(code: string, sessionId: string): string {
  switch (code) {
    case 'session_ended':
      return `session ${sessionId} has ended`;
    case 'replaced':
      return 'a newer connection of this player took over';
    case 'ready_timeout':
      return 'did not confirm ready in time';
    case 'removed':
      return `removed from session ${sessionId}`;
    case 'left':
      return `left session ${sessionId}`;
    default:
      return `no longer in session ${sessionId}`;
  }
}

function info(c: Conn): NetcodeConnectionInfo {
  return { sessionId: c.sessionId, playerId: c.playerId, connectionId: c.connectionId, clientId: c.clientId, clientIndex: c.clientIndex, address: c.address };
}
