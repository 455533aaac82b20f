import { EventEmitter } from 'node:events';
import type { BulkHeader } from '../protocol/index.js';
import type { GameResults, PlayerStatus, PlayerView, SessionReport, TransportKind } from './types.js';

/**
 * What a game programmer writes for a Host server: one object whose `begin` is called when every
 * player of a session is ready. From then on the session is the game's until it calls `end()`.
 *
 * ```ts
 * const game: HostGame<Move> = {
 *   begin(s) {
 *     s.onAction((playerId, move) => applyMove(playerId, move));   // request/response moves
 *     s.on('message', ({ playerId, ext }) => s.broadcast({ ext }, { except: playerId }));
 *     s.on('player', ({ playerId, status }) => { if (status === 'left') s.end({ outcomes: {} }); });
 *   },
 * };
 * ```
 */
export interface HostGame<Ext = unknown> {
  begin(session: GameSession<Ext>): void | Promise<void>;
}

export interface GameMessage<Ext = unknown> {
  channel?: string;
  seq?: number;
  ext?: Ext;
}

export interface GameSessionEvents<Ext> {
  /** a `game.msg` from a player */
  message: [GameMessage<Ext> & { playerId: string }];
  /** a player's status changed (connected again, lost its connection, left) */
  player: [{ playerId: string; status: PlayerStatus; previous: PlayerStatus }];
  /** a player opened a bulk stream */
  stream: [{ playerId: string; header: BulkHeader<Ext>; frames: AsyncIterable<Uint8Array> }];
  /** the session is over (ended by the game, or aborted) */
  ended: [SessionReport];
  /** a listener of this session failed */
  error: [unknown];
}

/** The transport side a GameSession drives; implemented by the HostServer. */
export interface GameTransport<Ext> {
  send(sessionId: string, playerId: string, msg: GameMessage<Ext>): boolean;
  openStream(
    sessionId: string,
    playerId: string,
    header: { purpose: string; channel?: string; ext?: Ext },
  ): Promise<{ write(payload: Uint8Array): Promise<void>; close(): Promise<void> }>;
  end(sessionId: string, results: GameResults): void;
}

export type ActionHandler<Ext> = (playerId: string, ext: Ext | undefined) => Ext | undefined | Promise<Ext | undefined>;

export class GameSession<Ext = unknown> extends EventEmitter<GameSessionEvents<Ext>> {
  #action: ActionHandler<Ext> | undefined;
  #ended = false;

  /** @internal created by the HostServer at game begin */
  constructor(
    readonly id: string,
    /** the players when the game began (those still missing left as no-shows) */
    readonly players: readonly PlayerView[],
    /** the session's game settings, from the Auth server (lobby settings or ticket data) */
    readonly settings: unknown,
    private readonly transport: GameTransport<Ext>,
    /**
     * The players' transport. The API is the same on each; on `netcode` a bare Uint8Array `ext` is
     * one unreliable datagram (at most 1199 bytes), anything else goes reliably, and there are no
     * bulk streams.
     */
    readonly transportKind: TransportKind = 'quic',
  ) {
    // async listeners that reject land on 'error' (the server logs it) instead of crashing the process
    super({ captureRejections: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Sends a `game.msg` to one player; false if that player is not connected now. */
  send(playerId: string, msg: GameMessage<Ext>): boolean {
    return this.transport.send(this.id, playerId, msg);
  }

  /** Sends a `game.msg` to every connected player (optionally all but one). */
  broadcast(msg: GameMessage<Ext>, opts: { except?: string } = {}): void {
    for (const p of this.players) if (p.playerId !== opts.except) this.transport.send(this.id, p.playerId, msg);
  }

  /** Answers `game.action` requests; what it returns (or throws as IyesmpError) goes back to the player. */
  onAction(handler: ActionHandler<Ext>): void {
    this.#action = handler;
  }

  /** Opens a bulk stream to a player (large state, replays); frames are the game's own bytes. */
  openStream(playerId: string, header: { purpose: string; channel?: string; ext?: Ext }) {
    return this.transport.openStream(this.id, playerId, header);
  }

  /** Ends the session with results: players get `game.end`, the results go to the Auth server. */
  end(results: GameResults): void {
    if (this.#ended) return;
    this.transport.end(this.id, results);
  }

  /** @internal */
  get actionHandler(): ActionHandler<Ext> | undefined {
    return this.#action;
  }

  /** @internal */
  markEnded(report: SessionReport): void {
    if (this.#ended) return;
    this.#ended = true;
    this.emit('ended', report);
  }
}

export type WirePlayerResult = { playerId: string; rank?: number; score?: number; outcome?: 'win' | 'loss' | 'draw' | 'abandoned' };

/** Game outcomes -> the protocol's PlayerResult list (fields the protocol has no slot for stay in ext/report). */
export function toPlayerResults(outcomes: GameResults['outcomes']): WirePlayerResult[] {
  return Object.entries(outcomes).map(([playerId, o]) => ({
    playerId,
    ...(o.placement !== undefined && Number.isInteger(o.placement) && o.placement >= 0 ? { rank: o.placement } : {}),
    ...(typeof o.score === 'number' && Number.isFinite(o.score) ? { score: o.score } : {}),
    ...(o.result === 'win' || o.result === 'loss' || o.result === 'draw' || o.result === 'abandoned' ? { outcome: o.result } : {}),
  }));
}
