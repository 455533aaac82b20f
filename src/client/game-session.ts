/**
 * The game's connection to its host after the hand-off (`iyesmp-host/1`): the roster and its
 * readiness, the start, game messages both ways, host-judged actions, and the end with results.
 * A connection that ends before `game.end` is reported as `host_lost`, never thrown.
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
  type StreamPair,
} from '../protocol/index.js';
import { TypedEmitter } from './emitter.js';
import { helloError, hostLost, requestError } from './errors.js';

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

export interface GameSessionOptions<Ext = unknown> {
  gameVersion: string;
  extSchema?: z.ZodType<Ext>;
  /** the game's rule for the host's game version */
  acceptServerVersion?: GameVersionCheck;
  /** extra proof in the hello, for deployments that want one */
  proof?: Uint8Array<ArrayBuffer>;
  /** hello `ext` (e.g. the player's loadout) */
  helloExt?: Ext;
  requestTimeoutMs?: number;
  onListenerError?: (err: unknown) => void;
}

export class GameSession<Ext = unknown> extends TypedEmitter<GameSessionEvents<Ext>> {
  readonly sessionId: string;
  readonly playerId: string;
  /** the host's game version */
  readonly hostGameVersion: string;
  state: SessionState;
  players: PlayerStatus[];
  /** set when the game began */
  begun: GameBegin<Ext> | undefined;
  /** set when the game ended */
  ended: GameEnd<Ext> | undefined;
  /** resolves with the end of the game; rejects with `host_lost` if the connection ends first */
  readonly result: Promise<GameEnd<Ext>>;

  readonly #proto: ProtocolConnection<HostFamily, 'dialer', Ext>;
  readonly #opts: GameSessionOptions<Ext>;
  readonly #endLink: () => Promise<void>;
  #closed = false;
  #closing = false;
  #closeError: IyesmpError | undefined;
  #resolveResult!: (e: GameEnd<Ext>) => void;
  #rejectResult!: (e: IyesmpError) => void;

  private constructor(
    proto: ProtocolConnection<HostFamily, 'dialer', Ext>,
    welcome: { sessionId: string; state: SessionState; players: PlayerStatus[]; hostGameVersion: string; playerId: string },
    opts: GameSessionOptions<Ext>,
    endLink: () => Promise<void>,
  ) {
    super();
    this.#proto = proto;
    this.#opts = opts;
    this.#endLink = endLink;
    this.sessionId = welcome.sessionId;
    this.playerId = welcome.playerId;
    this.state = welcome.state;
    this.players = welcome.players;
    this.hostGameVersion = welcome.hostGameVersion;
    this.result = new Promise((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
    this.result.catch(() => {}); // games that only listen to events must not see an unhandled rejection
    this.setListenerErrorHandler(opts.onListenerError ?? (() => {}));
  }

  /** Speaks `iyesmp-host/1` on an open stream (joinHost dials QUIC and calls this). */
  static async open<Ext = unknown>(
    stream: StreamPair,
    seat: { sessionId: string; playerId: string },
    opts: GameSessionOptions<Ext>,
    endLink: () => Promise<void> = async () => {},
  ): Promise<GameSession<Ext>> {
    const proto = ProtocolConnection.dial<HostFamily, Ext>(hostFamily, stream, {
      gameVersion: opts.gameVersion,
      ...(opts.extSchema ? { extSchema: opts.extSchema } : {}),
      ...(opts.acceptServerVersion ? { acceptGameVersion: opts.acceptServerVersion } : {}),
      ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
      ...(opts.onListenerError ? { onListenerError: opts.onListenerError } : {}),
      hello: {
        sessionId: seat.sessionId,
        playerId: seat.playerId,
        ...(opts.proof === undefined ? {} : { proof: opts.proof }),
        ...(opts.helloExt === undefined ? {} : { ext: opts.helloExt }),
      } as HelloBody<HostFamily, 'dialer', Ext>,
    });
    const early: { type: string; body: unknown }[] = [];
    const collect = (ev: { type: string; body: unknown }): void => void early.push(ev);
    proto.on('event', collect);
    let ready;
    try {
      ready = await proto.ready;
    } catch (err) {
      await endLink().catch(() => undefined);
      throw helloError(err, 'host', opts.gameVersion);
    }
    const w = ready.peerHello;
    const game = new GameSession<Ext>(
      proto,
      { sessionId: w.sessionId, state: w.state, players: w.players, hostGameVersion: ready.peerGameVersion, playerId: seat.playerId },
      opts,
      endLink,
    );
    proto.off('event', collect);
    proto.on('event', (ev) => game.#onEvent(ev));
    proto.on('close', (info) => game.#onClose(info));
    for (const ev of early) game.#onEvent(ev);
    if (proto.session.state === 'closed' && proto.session.closeInfo) game.#onClose(proto.session.closeInfo);
    return game;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Tells the host this player is ready (or not any more). The game begins when everyone is. */
  async ready(ready = true): Promise<void> {
    await this.#request(() => this.#proto.request('player.ready', { ready }, this.#timeout()), 'ready');
  }

  /** Sends an action the host must judge; resolves with its answer, rejects with its refusal. */
  async action(ext: Ext, opts: { timeoutMs?: number } = {}): Promise<Ext | undefined> {
    const r = await this.#request(
      () => this.#proto.request('game.action', { ext }, { timeoutMs: opts.timeoutMs ?? this.#opts.requestTimeoutMs ?? 15_000 }),
      'the action',
    );
    return r.ext;
  }

  /** Sends game data to the host (one-way). Throws if the connection is closed or the data is invalid. */
  send(ext: Ext, opts: { channel?: string; seq?: number } = {}): void {
    if (this.#closed) throw this.#closeError ?? hostLost('the session is closed');
    try {
      this.#proto.notify('game.msg', { ext, ...(opts.channel === undefined ? {} : { channel: opts.channel }), ...(opts.seq === undefined ? {} : { seq: opts.seq }) });
    } catch (err) {
      throw requestError(err, 'sending the game message');
    }
  }

  /** Waits for the game to begin (at once if it already has). */
  async waitForBegin(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<GameBegin<Ext>> {
    if (this.begun) return this.begun;
    return this.next('begin', { ...opts, failWith: () => this.#closeError ?? (this.#closed ? hostLost('the session is closed') : undefined), what: 'waiting for the game to begin' });
  }

  /** Tells the host this player leaves, then closes. */
  async leave(reason?: string): Promise<void> {
    if (!this.#closed) {
      try {
        this.#proto.notify('player.leaving', reason === undefined ? {} : { reason });
      } catch {
        // already closing: leaving is implied
      }
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    await this.#proto.close('normal', 'player closed');
    await this.#proto.flushed().catch(() => undefined);
    await this.#endLink().catch(() => undefined);
  }

  #timeout(): { timeoutMs: number } {
    return { timeoutMs: this.#opts.requestTimeoutMs ?? 15_000 };
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
    switch (ev.type) {
      case 'players.status': {
        const b = ev.body as Ev<'players.status', Ext>;
        this.players = b.players;
        this.emit('status', b.players);
        return;
      }
      case 'game.begin':
        this.begun = ev.body as GameBegin<Ext>;
        this.state = 'playing';
        this.emit('begin', this.begun);
        return;
      case 'game.msg':
        this.emit('message', ev.body as GameMessage<Ext>);
        return;
      case 'game.end':
        this.ended = ev.body as GameEnd<Ext>;
        this.state = 'ended';
        this.#resolveResult(this.ended);
        this.emit('end', this.ended);
        return;
    }
  }

  #onClose(info: { code: string; reason: string; by: string }): void {
    if (this.#closed) return;
    this.#closed = true;
    const why = info.reason ? `${info.code}: ${info.reason}` : info.code;
    let error: IyesmpError | undefined;
    if (this.ended || (this.#closing && info.by === 'local')) {
      error = undefined;
    } else if (info.by === 'local' && info.code !== 'normal') {
      error = new IyesmpError('input', 'bad_server_data', `the game host sent data this client cannot accept (${why}); the connection was closed`, {
        hint: 'the host may run an incompatible version of the game',
      });
    } else {
      error = hostLost(info.by === 'peer' ? `the host closed it (${why})` : why);
    }
    this.#closeError = error;
    if (error) this.#rejectResult(error);
    else if (!this.ended) this.#rejectResult(new IyesmpError('conflict', 'closed', 'the game session was closed before the game ended'));
    this.emit('close', error ? { error } : {});
    if (!this.#closing) void this.#endLink().catch(() => undefined);
  }
}
