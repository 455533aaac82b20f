import { TypedEmitter } from '../../../events/emitter.js';
import { formatHostPort } from '../../../net/address.js';
import type { PeerVerifier } from '../../../pki/types.js';
import { hostFamily, openBulkStream, type BulkHeader, type GameVersionCheck } from '../../../protocol/index.js';
import { ALPN, AddressAllowList, createQuicServer, type PemSource, type QuicServer, type ServerLimits } from '../../../transport/index.js';
import { transportError } from '../../../transport/errors.js';
import type { HostSessionEvent } from '../../events.js';
import type { GameMessage } from '../../game.js';
import { followAllowList } from '../source-filter.js';
import type { BulkStreamWriter, GameEndNotice, HostTransport, HostTransportContext, HostTransportEvents, SeatRef, TransportEndpoint } from '../transport.js';
import { acceptPlayer, roster, sessionPolicy, type PlayerConn, type PlayerEndpointContext } from './player-endpoint.js';

export interface QuicHostTransportOptions {
  /** bind address and port (0 = any) */
  listen?: { host?: string; port?: number };
  /** address players dial (an IP or DNS name in the host cert), and the TLS name they check */
  publicAddress: string;
  tlsName: string;
  cert: PemSource;
  key: PemSource;
  verifier: PeerVerifier;
  idleTimeoutMs?: number;
  maxStreams?: number;
  /**
   * Connection limits and deadlines. A player's connection is trusted once its hello is admitted to
   * a seat; until then it must open its stream and say hello in time, and it counts against limits
   * per address and per session certificate and against half of maxConnections, so expected seats
   * keep the other half. Defaults: SEAT_CONNECTION_LIMITS.
   */
  connections?: ServerLimits;
  /** hello: this build's version and the rule for clients' versions */
  gameVersion: string;
  acceptGameVersion?: GameVersionCheck;
}

/** The defaults of `connections`. */
export const SEAT_CONNECTION_LIMITS = {
  maxConnections: 1000,
  maxUnauthenticated: 500,
  maxUnauthenticatedPerAddress: 64,
  maxUnauthenticatedPerCert: 4,
  maxPerAccount: 2,
  firstStreamTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
} satisfies ServerLimits;

export type { GameEndNotice } from '../transport.js';

/** The QUIC endpoint's extra needs: the game's answers on the request/response and bulk streams, and the end notice. */
export interface QuicTransportContext extends HostTransportContext {
  action: PlayerEndpointContext['action'];
  stream: PlayerEndpointContext['stream'];
  endNotice(sessionId: string): GameEndNotice;
}

/**
 * QUIC (`iyesmp-host/1`) as a Host transport. A seat is proven by the session certificate of the
 * TLS handshake: the policy picks the announced fingerprint before verification, and the hello asks
 * the table to admit the verified peer. Raw datagrams from sources the table does not expect are
 * dropped by the socket's allow-list before QUIC sees them.
 */
export class QuicHostTransport extends TypedEmitter<HostTransportEvents> implements HostTransport {
  readonly kind = 'quic' as const;
  readonly allowList = new AddressAllowList([]);
  server!: QuicServer;
  readonly #ctx: QuicTransportContext;
  readonly #o: QuicHostTransportOptions;
  readonly #players = new Map<string, PlayerConn>();
  readonly #bySession = new Map<string, Map<string, PlayerConn>>();
  #detach: (() => void) | undefined;
  /** the port, kept after close */
  #port = 0;
  #connections = 0;

  private constructor(ctx: QuicTransportContext, o: QuicHostTransportOptions) {
    super();
    this.#ctx = ctx;
    this.#o = o;
    const unfollow = followAllowList(ctx.sessions, this.allowList);
    const onSession = (e: HostSessionEvent): void => {
      try {
        this.#onTable(e);
      } catch (err) {
        ctx.logger.error({ event: e.type, message: (err as Error).message }, 'session event handling failed');
      }
    };
    ctx.sessions.on('session', onSession);
    this.#detach = () => {
      unfollow();
      ctx.sessions.off('session', onSession);
    };
  }

  static async listen(ctx: QuicTransportContext, o: QuicHostTransportOptions): Promise<QuicHostTransport> {
    const t = new QuicHostTransport(ctx, o);
    try {
      t.server = await createQuicServer({
        host: o.listen?.host ?? '::',
        port: o.listen?.port ?? 0,
        alpn: ALPN.host,
        cert: o.cert,
        key: o.key,
        verifier: o.verifier,
        policy: sessionPolicy(ctx.sessions),
        allowList: t.allowList,
        limits: {
          idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
          ...(o.maxStreams ? { maxStreamsPerConnection: o.maxStreams } : {}),
          ...SEAT_CONNECTION_LIMITS,
          ...o.connections,
        },
        // trusted when the hello is admitted to a seat (player-endpoint.ts)
        trustAt: 'login',
      });
    } catch (err) {
      t.#detach?.();
      throw err;
    }
    t.#port = t.server.port;
    const endpoint = t.#endpointContext();
    t.server.on('connection', (conn) => acceptPlayer(endpoint, conn, `c${++t.#connections}`));
    // refused during the handshake: no session or player is known yet
    t.server.on('refused', (r) => {
      // a wrong ALPN is a misconfigured client or a port scan: the host logs warnings
      if (r.reason === 'wrong_alpn')
        t.emit('event', { type: 'warning', error: transportError('wrong_alpn', r.message, { details: { remote: r.remote, offeredAlpn: r.offeredAlpn } }) });
      else t.emit('event', { type: 'refused', reason: r.reason, message: r.message, ...(r.remote !== undefined ? { remote: r.remote } : {}) });
    });
    t.server.on('reloadError', (e) => ctx.logger.error({ code: e.code }, e.message));
    return t;
  }

  get port(): number {
    return this.#port;
  }

  endpoint(): TransportEndpoint {
    return { kind: 'quic', address: { host: this.#o.publicAddress, port: this.#port }, tlsName: this.#o.tlsName };
  }

  send(seat: SeatRef, msg: GameMessage): boolean {
    const pc = this.#bySession.get(seat.sessionId)?.get(seat.playerId);
    if (!pc) return false;
    try {
      pc.proto.notify('game.msg', msg as never);
      return true;
    } catch {
      return false;
    }
  }

  /** A bulk stream to a player; throws when the player is not connected here. */
  async openStream(seat: SeatRef, header: { purpose: string; channel?: string; ext?: unknown }): Promise<BulkStreamWriter> {
    const pc = this.#bySession.get(seat.sessionId)?.get(seat.playerId);
    if (!pc) throw new Error(`player ${seat.playerId} is not connected`);
    const stream = pc.conn.openStream();
    return openBulkStream(stream.writable, { family: hostFamily.name, sessionId: seat.sessionId, ...header });
  }

  disconnect(seat: SeatRef, code = 'disconnected', message = 'the host closed the connection'): boolean {
    const pc = this.#bySession.get(seat.sessionId)?.get(seat.playerId);
    if (!pc) return false;
    void pc.proto.close('normal', message).finally(() => pc.conn.close(code).catch(() => undefined));
    return true;
  }

  async reload(): Promise<string> {
    await this.server.reload();
    return this.server.certFingerprint;
  }

  async close(opts: { graceMs?: number } = {}): Promise<void> {
    this.#detach?.();
    this.#detach = undefined;
    await this.server.close({ graceMs: opts.graceMs ?? 1000 });
  }

  #endpointContext(): PlayerEndpointContext {
    const ctx = this.#ctx;
    return {
      sessions: ctx.sessions,
      now: () => ctx.now(),
      logger: ctx.logger,
      hello: { gameVersion: this.#o.gameVersion, ...(this.#o.acceptGameVersion ? { acceptGameVersion: this.#o.acceptGameVersion } : {}) },
      action: (seat, ext) => ctx.action(seat, ext),
      stream: (seat, header: BulkHeader, frames) => ctx.stream(seat, header, frames),
      message: (seat, message) => this.emit('event', { type: 'message', sessionId: seat.sessionId, playerId: seat.playerId, message }),
      admitted: (pc, reconnect) => {
        this.#players.set(pc.connectionId, pc);
        let m = this.#bySession.get(pc.sessionId);
        if (!m) this.#bySession.set(pc.sessionId, (m = new Map()));
        m.set(pc.playerId, pc);
        this.emit('event', {
          type: 'joined',
          sessionId: pc.sessionId,
          playerId: pc.playerId,
          connectionId: pc.connectionId,
          reconnect,
          remote: formatHostPort(pc.conn.remoteHost, pc.conn.remotePort),
        });
      },
      refused: (r) => this.emit('event', { type: 'refused', ...r }),
      disconnected: (pc) => {
        if (this.#players.get(pc.connectionId) !== pc) return;
        this.#forget(pc);
        ctx.sessions.connectionClosed(pc.connectionId, ctx.now());
        this.emit('event', { type: 'left', sessionId: pc.sessionId, playerId: pc.playerId, connectionId: pc.connectionId, reason: 'connection_closed' });
      },
    };
  }

  /** What the table's events mean for QUIC players: roster, begin, and closes (with `game.end` when the session ended). */
  #onTable(e: HostSessionEvent): void {
    switch (e.type) {
      case 'player_status': {
        const players = roster(e.roster);
        this.#broadcast(e.sessionId, (pc) => pc.proto.notify('players.status', { players }));
        return;
      }
      case 'game_begin': {
        const order = e.roster.filter((p) => p.status !== 'left').map((p) => p.playerId);
        this.#broadcast(e.sessionId, (pc) => pc.proto.notify('game.begin', { order }));
        return;
      }
      case 'close_connection': {
        const pc = this.#players.get(e.connectionId);
        if (!pc) return;
        this.#forget(pc);
        if (e.reason === 'session_ended') {
          try {
            pc.proto.notify('game.end', this.#ctx.endNotice(e.sessionId));
          } catch {
            // closing anyway
          }
        }
        void pc.proto.close('normal', e.reason).finally(() => pc.conn.close(e.reason).catch(() => undefined));
        return;
      }
      default:
        return;
    }
  }

  #forget(pc: PlayerConn): void {
    this.#players.delete(pc.connectionId);
    const m = this.#bySession.get(pc.sessionId);
    if (m?.get(pc.playerId) === pc) m.delete(pc.playerId);
    if (m && m.size === 0) this.#bySession.delete(pc.sessionId);
  }

  #broadcast(sessionId: string, fn: (pc: PlayerConn) => void): void {
    for (const pc of this.#bySession.get(sessionId)?.values() ?? []) {
      try {
        fn(pc);
      } catch {
        // a connection that is closing; its close handler cleans up
      }
    }
  }
}
