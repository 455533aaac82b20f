import { TypedEmitter } from '../../../events/emitter.js';
import { AddressAllowList } from '../../../transport/allow-list.js';
import { type NetcodeAddress, formatAddress } from '../../../netcode/address.js';
import type { DisconnectReason, ServerEvent } from '../../../netcode/server.js';
import {
  BEGIN_MESSAGE,
  MAX_GAME_BYTES,
  type SessionPhaseName,
  decodeClientMessage,
  encodeBye,
  encodeGame,
  encodeStatusPages,
} from '../../../netcode/session/messages.js';
import { type NetcodeClock, NetcodeUdpServer } from '../../../netcode/udp.js';
import { decodeSessionUserData, type SessionUserData } from '../../../netcode/user-data.js';
import type { HostSessionEvent } from '../../events.js';
import type { GameMessage } from '../../game.js';
import type { HostSessions } from '../../sessions.js';
import type { ActionResult, AdmissionRefusal, AdmissionResult, SourceAddress } from '../../types.js';
import { followAllowList } from '../source-filter.js';
import type { HostTransport, HostTransportEvent, HostTransportEvents, SeatRef, TransportEndpoint } from '../transport.js';
import type { NetcodeVersion } from '../../../netcode/constants.js';
import { decodeGameMessage, encodeGameMessage, type ReliableGameMessage } from '../../../netcode/session/game-messages.js';
import { ReliableChannel, type ReliableOptions } from '../../../netcode/session/reliable.js';
import { refusal } from '../../../protocol/stream-adapter.js';
import type { GameEndNotice } from '../transport.js';

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
  /**
   * The game's answer to a player's action (`game.action` on the reliable channel). Unset: actions
   * are refused with `not_supported`.
   */
  action?: (seat: SeatRef, ext: unknown) => Promise<unknown> | unknown;
  /** What `game.end` tells the players of a session that ended (results); unset: only the bye */
  endNotice?: (sessionId: string) => GameEndNotice;
  /** the reliable channel's resend interval, window and size limits */
  reliable?: ReliableOptions;
  /** actions one player may have waiting for the game's answer; default 8 */
  maxPendingActions?: number;
  /** how long a closing connection may take to deliver its `game.end` before the bye; default 2000 ms */
  endDeliveryMs?: number;
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
  /** game bytes (one unreliable datagram) from an admitted player */
  | { type: 'message'; sessionId: string; playerId: string; data: Uint8Array }
  /** a game message from the reliable channel (structured data, a channel or seq) from an admitted player */
  | { type: 'game_message'; sessionId: string; playerId: string; message: GameMessage }
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
  /** structured messages, actions and the end notice; made on first use */
  rel?: ReliableChannel;
  /** actions waiting for the game's answer */
  pendingActions: number;
  /** the session ended: the bye waits until the `game.end` is acknowledged (or this deadline) */
  byeAt?: { deadline: number; code: string; message: string };
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
  readonly #action: NetcodeHostTransportOptions['action'];
  readonly #endNotice: NetcodeHostTransportOptions['endNotice'];
  readonly #relOptions: ReliableOptions;
  readonly #maxPendingActions: number;
  readonly #endDeliveryMs: number;
  /** connections whose reliable channel has something to resend, acknowledge or finish */
  readonly #reliableBusy = new Set<Conn>();
  readonly #pump: ReturnType<typeof setInterval>;

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
    this.#action = o.action;
    this.#endNotice = o.endNotice;
    this.#relOptions = o.reliable ?? {};
    this.#maxPendingActions = o.maxPendingActions ?? 8;
    this.#endDeliveryMs = o.endDeliveryMs ?? 2000;
    // resends, acks and deferred byes; a fraction of the resend interval keeps the latency low
    this.#pump = setInterval(() => this.#guard(() => this.#pumpReliable()), Math.max(10, Math.floor((this.#relOptions.resendMs ?? 100) / 4)));
    this.#pump.unref?.();
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
    const c = this.#bySeat.get(seatKey(ref.sessionId, ref.playerId));
    if (!c || c.closing) return false;
    if (data instanceof Uint8Array) return this.server.sendPayload(c.clientIndex, encodeGame(data));
    // game bytes alone stay one unreliable datagram, as netcode games expect; anything structured
    // (state objects, a channel, a seq) goes on the reliable channel
    if (data.ext instanceof Uint8Array && data.channel === undefined && data.seq === undefined && data.ext.length <= MAX_GAME_BYTES) {
      return this.server.sendPayload(c.clientIndex, encodeGame(data.ext));
    }
    const m: ReliableGameMessage = { type: 'msg', ext: data.ext };
    if (data.channel !== undefined) m.channel = data.channel;
    if (data.seq !== undefined) m.seq = data.seq;
    return this.#sendReliable(c, m);
  }

  /** Game bytes to every connected player of a session, optionally but one; returns how many got them. */
  broadcast(sessionId: string, data: Uint8Array, opts: { except?: string } = {}): number {
    // (bytes only: structured messages go one seat at a time through send)
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
    clearInterval(this.#pump);
    for (const c of this.#byIndex.values()) {
      if (!c.closing) this.server.sendPayload(c.clientIndex, encodeBye('host_shutdown', 'the host is shutting down'));
      else if (c.byeAt) this.#finishClose(c);
    }
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
      pendingActions: 0,
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
    // a closing connection still takes the acks of its game.end
    if (c && c.clientId === e.clientId && c.byeAt && ReliableChannel.owns(e.payload)) return this.#onReliable(c, e.payload);
    if (!c || c.clientId !== e.clientId || c.closing) {
      this.stats.ignored++;
      return;
    }
    if (ReliableChannel.owns(e.payload)) return this.#onReliable(c, e.payload);
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
        if (e.reason === 'session_ended' && this.#endNotice) {
          // results first, on the reliable channel; the bye once the client has them (or after a bound)
          const n = this.#endNotice(e.sessionId);
          const end: ReliableGameMessage = { type: 'end', reason: n.reason, message: '', results: n.results, ...(n.ext !== undefined ? { ext: n.ext } : {}) };
          if (this.#sendReliable(c, end, true)) {
            c.byeAt = { deadline: this.#now() + this.#endDeliveryMs, code, message: closeMessage(code, e.sessionId) };
            return;
          }
        }
        this.server.sendPayload(c.clientIndex, encodeBye(code, closeMessage(code, e.sessionId)));
        this.server.disconnectClient(c.clientIndex);
        return;
      }
      default:
        return;
    }
  }

  // ---- the reliable channel: structured messages, actions, the end notice ----

  #onReliable(c: Conn, payload: Uint8Array): void {
    c.rel ??= new ReliableChannel(this.#relOptions);
    const r = c.rel.receive(payload);
    if (!r.ok) {
      this.stats.malformed++;
      this.disconnect(c, 'protocol_violation', 'a reliable message over the size limit');
      return;
    }
    for (const bytes of r.messages) {
      const m = decodeGameMessage(bytes);
      if (!m) {
        this.stats.malformed++;
        continue;
      }
      if (c.closing) continue; // only acks matter now
      if (m.type === 'msg') {
        const message: GameMessage = { ext: m.ext };
        if (m.channel !== undefined) message.channel = m.channel;
        if (m.seq !== undefined) message.seq = m.seq;
        this.#emit({ type: 'game_message', sessionId: c.sessionId, playerId: c.playerId, message });
      } else if (m.type === 'act') {
        this.#onAction(c, m.id, m.ext);
      } else {
        this.stats.malformed++; // host-bound messages only
      }
    }
    this.#flush(c);
  }

  #onAction(c: Conn, id: number, ext: unknown): void {
    const answer = (res: ReliableGameMessage): void => {
      c.pendingActions--;
      if (!c.closing) this.#sendReliable(c, res);
    };
    if (!this.#action) {
      this.#sendReliable(c, { type: 'res', id, ok: false, kind: 'usage', code: 'not_supported', message: 'this host takes no actions' });
      return;
    }
    if (c.pendingActions >= this.#maxPendingActions) {
      this.#sendReliable(c, {
        type: 'res',
        id,
        ok: false,
        kind: 'refused',
        code: 'busy',
        message: `at most ${this.#maxPendingActions} actions may wait for an answer`,
      });
      return;
    }
    c.pendingActions++;
    const seat = { sessionId: c.sessionId, playerId: c.playerId };
    Promise.resolve()
      .then(() => this.#action!(seat, ext))
      .then(
        (reply) => answer({ type: 'res', id, ok: true, ext: reply }),
        (err: unknown) => {
          // as on QUIC: the game's IyesmpError codes pass (also from another copy of the library), anything else is `internal`
          const r = refusal(err);
          answer({ type: 'res', id, ok: false, kind: r.code === 'internal' ? 'internal' : 'refused', code: r.code, message: r.message });
        },
      )
      .catch((err: unknown) => this.#emit({ type: 'warning', error: err instanceof Error ? err : new Error(String(err)) }));
  }

  /** Queues a message on the connection's reliable channel and sends what the window allows now. */
  #sendReliable(c: Conn, m: ReliableGameMessage, closing = false): boolean {
    if (c.closing && !closing) return false;
    c.rel ??= new ReliableChannel(this.#relOptions);
    if (!c.rel.send(encodeGameMessage(m))) {
      this.#emit({
        type: 'warning',
        error: new Error(`session ${c.sessionId}: a reliable message to ${c.playerId} was dropped (over the size limit or the queue is full)`),
      });
      return false;
    }
    this.#flush(c);
    return true;
  }

  #flush(c: Conn): void {
    if (!c.rel) return;
    for (const d of c.rel.poll(this.#now())) this.server.sendPayload(c.clientIndex, d);
    if (c.rel.idle && !c.byeAt) this.#reliableBusy.delete(c);
    else this.#reliableBusy.add(c);
  }

  #pumpReliable(): void {
    const now = this.#now();
    for (const c of this.#reliableBusy) {
      if (this.#byIndex.get(c.clientIndex) !== c) {
        this.#reliableBusy.delete(c);
        continue;
      }
      if (c.byeAt && (c.rel?.idle || now >= c.byeAt.deadline)) {
        this.#finishClose(c);
        continue;
      }
      this.#flush(c);
    }
  }

  /** The deferred bye of a connection whose session ended. */
  #finishClose(c: Conn): void {
    const bye = c.byeAt;
    if (!bye) return;
    c.byeAt = undefined;
    this.#reliableBusy.delete(c);
    this.server.sendPayload(c.clientIndex, encodeBye(bye.code, bye.message));
    this.server.disconnectClient(c.clientIndex);
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
    case 'game_message':
      return { type: 'message', sessionId: e.sessionId, playerId: e.playerId, message: e.message };
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
