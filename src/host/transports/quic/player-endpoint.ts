import type { Logger } from 'pino';
import type { IyesmpError } from '../../../errors.js';
import { formatHostPort } from '../../../net/address.js';
import { sessionIdentityOf } from '../../../pki/names.js';
import type { VerifyPolicy } from '../../../pki/types.js';
import { ProtocolConnection, acceptBulkStream, hostFamily, type BulkHeader, type GameVersionCheck, type HostFamily } from '../../../protocol/index.js';
import type { PeerConnection, PeerStream, PolicyResolver } from '../../../transport/index.js';
import { hostError, refusalError, type HostErrorCode } from '../../errors.js';
import type { GameMessage } from '../../game.js';
import type { HostSessions } from '../../sessions.js';
import type { SessionView } from '../../session.js';
import type { PlayerView } from '../../types.js';
import type { SeatRef } from '../transport.js';

/** One admitted player's connection. */
export interface PlayerConn {
  connectionId: string;
  sessionId: string;
  playerId: string;
  conn: PeerConnection;
  proto: ProtocolConnection<HostFamily, 'listener'>;
}

/** What one player connection needs: the table, the clock, the hello rules, and where its game traffic goes. */
export interface PlayerEndpointContext {
  readonly sessions: HostSessions;
  now(): number;
  readonly logger: Logger;
  readonly hello: { gameVersion: string; acceptGameVersion?: GameVersionCheck };
  /** the game's answer to `game.action`; throws a refusal when the game takes no actions now */
  action(seat: SeatRef, ext: unknown): Promise<unknown>;
  /** a player's bulk stream for the game; false when no game runs (the stream is cancelled) */
  stream(seat: SeatRef, header: BulkHeader, frames: AsyncIterable<Uint8Array>): boolean;
  message(seat: SeatRef, msg: GameMessage): void;
  admitted(pc: PlayerConn, reconnect: boolean): void;
  /** the hello was refused (the connection closes shortly) */
  refused(r: { reason: string; message: string; remote: string; sessionId?: string; playerId?: string }): void;
  disconnected(pc: PlayerConn): void;
}

/**
 * TLS-time policy for a player's session certificate: the session it names must run here, the
 * player must be expected on a certificate seat, and the cert must be the very one the Auth server
 * announced (fingerprint). Anything else is refused during the handshake, before any stream opens,
 * and the refusal says which (a certificate that does not verify is refused for that first).
 */
export function sessionPolicy(sessions: Pick<HostSessions, 'session'>): PolicyResolver {
  return (chain) => {
    const id = chain[0] && sessionIdentityOf(chain[0]);
    // not a session certificate: verification refuses it for its role
    if (!id) return { kind: 'session', sessionId: '' };
    const { sessionId, playerId } = id;
    const own: VerifyPolicy = { kind: 'session', sessionId, playerId };
    const view = sessions.session(sessionId);
    if (!view) return { policy: own, refuse: { reason: 'wrong_session', message: `session ${sessionId} does not run on this host` } };
    const player = view.players.find((p) => p.playerId === playerId);
    if (!player) return { policy: own, refuse: { reason: 'wrong_session', message: `player ${playerId} is not expected in session ${sessionId}` } };
    // a netcode seat has no certificate to match
    if (!player.fingerprint)
      return {
        policy: own,
        refuse: { reason: 'wrong_session', message: `player ${playerId} of session ${sessionId} joins over netcode, not with a certificate` },
      };
    return { ...own, fingerprint: player.fingerprint };
  };
}

export function roster(players: readonly PlayerView[]) {
  return players.map((p) => ({
    playerId: p.playerId,
    displayName: p.displayName,
    connected: p.status === 'connected' || p.status === 'ready',
    ready: p.status === 'ready',
  }));
}

function phaseState(v: SessionView): 'waiting' | 'playing' | 'ended' {
  return v.phase === 'readying' ? 'waiting' : v.phase === 'in_game' ? 'playing' : 'ended';
}

/** Binds a new player connection: first stream = control (hello = admission), later streams = bulk. */
export function acceptPlayer(ctx: PlayerEndpointContext, conn: PeerConnection, connectionId: string): void {
  const remote = formatHostPort(conn.remoteHost, conn.remotePort);
  const log = ctx.logger.child({ connectionId, remote, playerId: conn.peer.playerId });
  let control: ProtocolConnection<HostFamily, 'listener'> | undefined;
  let admitted: PlayerConn | undefined;

  conn.on('stream', (stream: PeerStream) => {
    if (!control) {
      control = openControl(stream);
      return;
    }
    if (!admitted) {
      stream.cancel('not admitted');
      return;
    }
    const pc = admitted;
    void acceptBulkStream(stream.readable, { family: hostFamily.name }).then(
      ({ header, frames }) => {
        try {
          if (!ctx.stream(pc, header, frames)) stream.cancel('no game running');
        } catch (err) {
          log.error({ message: (err as Error).message }, 'game stream listener failed');
        }
      },
      (err: unknown) => log.debug({ code: (err as IyesmpError).code }, 'bad bulk stream'),
    );
  });
  conn.on('close', () => {
    control?.close('normal', 'connection closed').catch(() => undefined);
    if (admitted) ctx.disconnected(admitted);
  });

  function openControl(stream: PeerStream): ProtocolConnection<HostFamily, 'listener'> {
    const proto = ProtocolConnection.accept(hostFamily, stream, {
      gameVersion: ctx.hello.gameVersion,
      ...(ctx.hello.acceptGameVersion ? { acceptGameVersion: ctx.hello.acceptGameVersion } : {}),
      onListenerError: (err) => log.error({ message: (err as Error).message }, 'player handler failed'),
      onHello: ({ body }) => {
        const peer = conn.peer;
        const refuse = (code: HostErrorCode, message: string): never => {
          ctx.refused({
            reason: code,
            message,
            remote,
            ...(peer.sessionId !== undefined ? { sessionId: peer.sessionId } : {}),
            ...(peer.playerId !== undefined ? { playerId: peer.playerId } : {}),
          });
          setTimeout(() => void conn.close(code).catch(() => undefined), 200).unref?.();
          throw hostError(code, message);
        };
        if (body.sessionId !== peer.sessionId || body.playerId !== peer.playerId) {
          refuse('wrong_session', 'the hello names another session or player than the session certificate');
        }
        // one seat's certificate may hold only a few connections, however many it opens
        const room = conn.admission.trust(`${peer.sessionId}/${peer.playerId}`);
        if (!room.ok) refuse(room.reason, room.message);
        const source = { ip: conn.remoteHost, port: conn.remotePort };
        const secret = body.reconnectSecret;
        const r = ctx.sessions.admit({ source, peer, connectionId, ...(secret !== undefined ? { reconnectSecret: secret } : {}) }, ctx.now());
        if (!r.ok) {
          // a refused copy of a seat's ticket must not hold the seat's connection share while it closes
          conn.admission.release();
          return refuse(r.reason, r.message);
        }
        admitted = { connectionId, sessionId: r.sessionId, playerId: r.playerId, conn, proto };
        ctx.admitted(admitted, r.reconnect);
        const view = ctx.sessions.session(r.sessionId)!;
        // the secret goes to this player alone, in the welcome; a 1.0 client drops it
        return { sessionId: r.sessionId, state: phaseState(view), players: roster(view.players), reconnectSecret: r.reconnectSecret };
      },
    });
    proto.handle('player.ready', (body) => {
      const now = ctx.now();
      const r = body.ready ? ctx.sessions.ready(connectionId, now) : ctx.sessions.unready(connectionId, now);
      if (!r.ok) throw refusalError(r);
      return {};
    });
    proto.handle('game.action', async (body) => {
      const ext = await ctx.action(admitted!, body.ext);
      return ext === undefined ? {} : { ext };
    });
    proto.on('event', (ev) => {
      const pc = admitted;
      if (!pc) return;
      if (ev.type === 'game.msg') {
        const { channel, seq, ext } = ev.body;
        ctx.message(pc, { ...(channel !== undefined ? { channel } : {}), ...(seq !== undefined ? { seq } : {}), ...(ext !== undefined ? { ext } : {}) });
      } else if (ev.type === 'player.leaving') {
        ctx.sessions.leave(connectionId, ctx.now());
      }
    });
    proto.on('protocol_error', (e) => log.debug(e, 'player protocol error'));
    void proto.closed.then(() => void conn.close('control stream closed').catch(() => undefined));
    return proto;
  }
}
