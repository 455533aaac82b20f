/**
 * The game's connection to its host after the hand-off: the roster and its readiness, the start,
 * game messages both ways, host-judged actions, and the end with results. One API whatever the
 * transport: a `HostDriver` speaks `iyesmp-host/1` over QUIC (here) or iyesmp's netcode.io session
 * messages (netcode-host.ts) and hands this class events in the `iyesmp-host/1` shapes.
 * A connection that ends before the end of the game is reported as `host_lost`, never thrown.
 */
import type { z } from 'zod';
import { IyesmpError } from '../errors.js';
import {
  hostFamily,
  ProtocolConnection,
  type EventBody,
  type GameVersionCheck,
  type HelloBody,
  type HostFamily,
  type HostTransportKind as WireTransportKind,
  type StreamPair,
} from '../protocol/index.js';
import { dialOptions } from './dial-options.js';
import { TypedEmitter } from '../events/emitter.js';
import { helloError, hostLost, requestError, clientError } from './errors.js';

type Ev<K extends keyof HostFamily['events'], Ext> = EventBody<HostFamily, K, Ext>;

export type PlayerStatus = Ev<'players.status', unknown>['players'][number];
export type GameBegin<Ext = unknown> = Ev<'game.begin', Ext>;
export type GameMessage<Ext = unknown> = Ev<'game.msg', Ext>;
export type GameEnd<Ext = unknown> = Ev<'game.end', Ext>;
export type SessionState = HelloBody<HostFamily, 'listener'>['state'];

export interface GameSessionEvents<Ext> {
  /** the players' connection and readiness changed (the whole roster) */
  status: PlayerStatus[];
  /** everyone is ready: the game starts; `order` is the seat/turn order */
  begin: GameBegin<Ext>;
  /** game data from the host (or relayed from another player: see `from`) */
  message: GameMessage<Ext>;
  /** the game is over, with results */
  end: GameEnd<Ext>;
  /** the connection ended; `error` (code `host_lost`...) unless the game ended or `close()`/`leave()` was called */
  close: { error?: IyesmpError };
}

/** The transports a GameSession drives: QUIC, netcode.io, and MQTT (turn-based, mqtt-host.ts). */
export type HostTransportKind = WireTransportKind;

/** What the session knows when a driver reports the end of its connection. */
export interface CloseContext {
  ended: boolean;
  /** `close()` or `leave()` was called */
  closing: boolean;
}

/** Where a driver delivers what the host says. */
export interface DriverSink {
  /** an `iyesmp-host/1` event: `players.status`, `game.begin`, `game.msg` or `game.end` */
  event(ev: { type: string; body: unknown }): void;
  /** the connection ended; `error` says what the game should be told, given the session's state */
  close(error: (ctx: CloseContext) => IyesmpError | undefined): void;
}

/**
 * One host transport under a GameSession. Errors a driver throws from `ready`/`action` pass
 * through `requestError`; code `closed` is replaced by the session's own close error.
 * @internal
 */
export interface HostDriver<Ext> {
  readonly transport: HostTransportKind;
  /** starts delivering to `sink` (events received before that are kept and delivered first) */
  attach(sink: DriverSink): void;
  ready(ready: boolean, timeoutMs: number): Promise<void>;
  action(ext: Ext, timeoutMs: number): Promise<Ext | undefined>;
  /** throws when the message cannot be sent (invalid, too large, not supported on this transport) */
  send(ext: Ext, opts: { channel?: string; seq?: number }): void;
  /** tells the host this player leaves (best effort); `close` follows */
  leave(reason: string | undefined): Promise<void>;
  close(): Promise<void>;
}

/** What the session starts with: the host's welcome (QUIC) or first roster (netcode). */
export interface SessionStart {
  sessionId: string;
  playerId: string;
  state: SessionState;
  players: PlayerStatus[];
  hostGameVersion: string;
  reconnectSecret?: string;
}

export interface GameSessionOptions<Ext = unknown> {
  gameVersion: string;
  extSchema?: z.ZodType<Ext>;
  /** the game's rule for the host's game version */
  acceptServerVersion?: GameVersionCheck;
  /** extra proof in the hello, for deployments that want one */
  proof?: Uint8Array<ArrayBuffer>;
  /** hello `ext` (e.g. the player's loadout) */
  helloExt?: Ext;
  /**
   * QUIC: the `reconnectSecret` of this seat's last GameSession. A host refuses a second connection
   * to a seat whose connection is still open (`seat_taken`) unless it presents this secret, and then
   * closes the old one; when the old connection is gone the seat is taken back without it.
   */
  reconnectSecret?: string;
  requestTimeoutMs?: number;
  onListenerError?: (err: unknown) => void;
}

export class GameSession<Ext = unknown> extends TypedEmitter<GameSessionEvents<Ext>> {
  readonly sessionId: string;
  readonly playerId: string;
  /** the host's game version (QUIC); empty on netcode, which has no hello */
  readonly hostGameVersion: string;
  /** how this session reaches its host: `quic` (iyesmp-host/1) or `netcode` (netcode.io datagrams) */
  readonly transport: HostTransportKind;
  state: SessionState;
  players: PlayerStatus[];
  /** set when the game began */
  begun: GameBegin<Ext> | undefined;
  /** set when the game ended */
  ended: GameEnd<Ext> | undefined;
  /**
   * QUIC: what proves a later connection of this player is this client (`joinHost` option
   * `reconnectSecret`); secret, never log it. Undefined on netcode and from a 1.0 host.
   */
  readonly reconnectSecret: string | undefined;
  /** resolves with the end of the game; rejects with `host_lost` if the connection ends first */
  readonly result: Promise<GameEnd<Ext>>;

  readonly #driver: HostDriver<Ext>;
  readonly #opts: GameSessionOptions<Ext>;
  #closed = false;
  #closing = false;
  #closeError: IyesmpError | undefined;
  #resolveResult!: (e: GameEnd<Ext>) => void;
  #rejectResult!: (e: IyesmpError) => void;

  private constructor(driver: HostDriver<Ext>, start: SessionStart, opts: GameSessionOptions<Ext>) {
    super();
    this.#driver = driver;
    this.#opts = opts;
    this.transport = driver.transport;
    this.sessionId = start.sessionId;
    this.playerId = start.playerId;
    this.state = start.state;
    this.players = start.players;
    this.hostGameVersion = start.hostGameVersion;
    this.reconnectSecret = start.reconnectSecret;
    this.result = new Promise((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
    this.result.catch(() => {}); // games that only listen to events must not see an unhandled rejection
    this.setListenerErrorHandler(opts.onListenerError ?? (() => {}));
  }

  /**
   * A session over any driver (joinHost uses it for netcode).
   * @internal
   */
  static fromDriver<Ext>(driver: HostDriver<Ext>, start: SessionStart, opts: GameSessionOptions<Ext>): GameSession<Ext> {
    const game = new GameSession<Ext>(driver, start, opts);
    driver.attach({ event: (ev) => game.#onEvent(ev), close: (error) => game.#onClose(error) });
    return game;
  }

  /** Speaks `iyesmp-host/1` on an open stream (joinHost dials QUIC and calls this). */
  static async open<Ext = unknown>(
    stream: StreamPair,
    seat: { sessionId: string; playerId: string },
    opts: GameSessionOptions<Ext>,
    endLink: () => Promise<void> = async () => {},
  ): Promise<GameSession<Ext>> {
    const proto = ProtocolConnection.dial<HostFamily, Ext>(hostFamily, stream, {
      ...dialOptions(opts),
      hello: {
        sessionId: seat.sessionId,
        playerId: seat.playerId,
        ...(opts.proof === undefined ? {} : { proof: opts.proof }),
        ...(opts.reconnectSecret === undefined ? {} : { reconnectSecret: opts.reconnectSecret }),
        ...(opts.helloExt === undefined ? {} : { ext: opts.helloExt }),
      } as HelloBody<HostFamily, 'dialer', Ext>,
    });
    const driver = new QuicDriver<Ext>(proto, endLink);
    let ready;
    try {
      ready = await proto.ready;
    } catch (err) {
      await endLink().catch(() => undefined);
      throw helloError(err, 'host', opts.gameVersion);
    }
    const w = ready.peerHello;
    return GameSession.fromDriver(
      driver,
      {
        sessionId: w.sessionId,
        state: w.state,
        players: w.players,
        hostGameVersion: ready.peerGameVersion,
        playerId: seat.playerId,
        ...(w.reconnectSecret === undefined ? {} : { reconnectSecret: w.reconnectSecret }),
      },
      opts,
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Tells the host this player is ready (or not any more). The game begins when everyone is. */
  async ready(ready = true): Promise<void> {
    await this.#request(() => this.#driver.ready(ready, this.#opts.requestTimeoutMs ?? 15_000), 'ready');
  }

  /**
   * Sends an action the host must judge; resolves with its answer, rejects with its refusal.
   * On netcode it travels on the reliable channel next to the datagrams (docs/netcode.md).
   */
  async action(ext: Ext, opts: { timeoutMs?: number } = {}): Promise<Ext | undefined> {
    return this.#request(() => this.#driver.action(ext, opts.timeoutMs ?? this.#opts.requestTimeoutMs ?? 15_000), 'the action');
  }

  /**
   * Sends game data to the host (one-way). Throws if the connection is closed or the data is
   * invalid. On netcode a bare `Uint8Array` goes as one datagram (it may be lost); anything else reliably.
   */
  send(ext: Ext, opts: { channel?: string; seq?: number } = {}): void {
    if (this.#closed) throw this.#closeError ?? hostLost('the session is closed');
    try {
      this.#driver.send(ext, opts);
    } catch (err) {
      throw requestError(err, 'sending the game message');
    }
  }

  /** Waits for the game to begin (at once if it already has). */
  async waitForBegin(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<GameBegin<Ext>> {
    if (this.begun) return this.begun;
    return this.next('begin', {
      ...opts,
      failWith: () => this.#closeError ?? (this.#closed ? hostLost('the session is closed') : undefined),
      what: 'waiting for the game to begin',
    });
  }

  /** Tells the host this player leaves, then closes. */
  async leave(reason?: string): Promise<void> {
    if (this.#closed || this.#closing) return;
    // closing from here on: the host's answer to leaving (netcode: a bye, then the disconnect) is no error
    this.#closing = true;
    await this.#driver.leave(reason).catch(() => undefined);
    await this.#driver.close();
  }

  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    await this.#driver.close();
  }

  /**
   * Ends the session here with `error`, without waiting for the connection to notice (the login
   * server said the host died: `session_lost`).
   * @internal
   */
  abandon(error: IyesmpError): void {
    if (this.#closed) return;
    this.#onClose(({ ended }) => (ended ? undefined : error));
    void this.#driver.close().catch(() => undefined);
  }

  async #request<T>(fn: () => Promise<T>, what: string): Promise<T> {
    if (this.#closed) throw this.#closeError ?? hostLost('the session is closed');
    try {
      return await fn();
    } catch (err) {
      if (this.#closeError && err instanceof IyesmpError && err.code === 'closed') throw this.#closeError;
      throw requestError(err, what);
    }
  }

  #onEvent(ev: { type: string; body: unknown }): void {
    if (this.#closed) return;
    switch (ev.type) {
      case 'players.status': {
        const b = ev.body as Ev<'players.status', Ext>;
        this.players = b.players;
        this.emit('status', b.players);
        return;
      }
      case 'game.begin':
        if (this.begun) return; // netcode repeats begin
        this.begun = ev.body as GameBegin<Ext>;
        this.state = 'playing';
        this.emit('begin', this.begun);
        return;
      case 'game.msg':
        this.emit('message', ev.body as GameMessage<Ext>);
        return;
      case 'game.end':
        if (this.ended) return;
        this.ended = ev.body as GameEnd<Ext>;
        this.state = 'ended';
        this.#resolveResult(this.ended);
        this.emit('end', this.ended);
        return;
    }
  }

  #onClose(reason: (ctx: CloseContext) => IyesmpError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = reason({ ended: this.ended !== undefined, closing: this.#closing });
    this.#closeError = error;
    if (error) this.#rejectResult(error);
    else if (!this.ended) this.#rejectResult(clientError.as('conflict', 'closed', 'the game session was closed before the game ended'));
    this.emit('close', error ? { error } : {});
  }
}

/** `iyesmp-host/1` over one control stream (QUIC). */
class QuicDriver<Ext> implements HostDriver<Ext> {
  readonly transport = 'quic' as const;
  readonly #proto: ProtocolConnection<HostFamily, 'dialer', Ext>;
  readonly #endLink: () => Promise<void>;
  /** events that follow the welcome at once arrive before the session object exists */
  #early: { type: string; body: unknown }[] | undefined = [];
  #sink: DriverSink | undefined;
  #closing = false;

  constructor(proto: ProtocolConnection<HostFamily, 'dialer', Ext>, endLink: () => Promise<void>) {
    this.#proto = proto;
    this.#endLink = endLink;
    proto.on('event', (ev) => (this.#sink ? this.#sink.event(ev) : this.#early?.push(ev)));
    proto.on('close', (info) => this.#sink && this.#onClose(info));
  }

  attach(sink: DriverSink): void {
    this.#sink = sink;
    for (const ev of this.#early ?? []) sink.event(ev);
    this.#early = undefined;
    // a close that happened before the session existed
    if (this.#proto.session.state === 'closed' && this.#proto.session.closeInfo) this.#onClose(this.#proto.session.closeInfo);
  }

  async ready(ready: boolean, timeoutMs: number): Promise<void> {
    await this.#proto.request('player.ready', { ready }, { timeoutMs });
  }

  async action(ext: Ext, timeoutMs: number): Promise<Ext | undefined> {
    return (await this.#proto.request('game.action', { ext }, { timeoutMs })).ext;
  }

  send(ext: Ext, opts: { channel?: string; seq?: number }): void {
    this.#proto.notify('game.msg', {
      ext,
      ...(opts.channel === undefined ? {} : { channel: opts.channel }),
      ...(opts.seq === undefined ? {} : { seq: opts.seq }),
    });
  }

  async leave(reason: string | undefined): Promise<void> {
    try {
      this.#proto.notify('player.leaving', reason === undefined ? {} : { reason });
    } catch {
      // already closing: leaving is implied
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#proto.close('normal', 'player closed');
    await this.#proto.flushed().catch(() => undefined);
    await this.#endLink().catch(() => undefined);
  }

  #onClose(info: { code: string; reason: string; by: string }): void {
    const why = info.reason ? `${info.code}: ${info.reason}` : info.code;
    this.#sink?.close(({ ended, closing }) => {
      if (ended || (closing && info.by === 'local')) return undefined;
      if (info.by === 'local' && info.code !== 'normal') {
        return clientError('bad_server_data', `the game host sent data this client cannot accept (${why}); the connection was closed`, {
          hint: 'the host may run an incompatible version of the game',
        });
      }
      return hostLost(info.by === 'peer' ? `the host closed it (${why})` : why);
    });
    if (!this.#closing) void this.#endLink().catch(() => undefined);
  }
}
