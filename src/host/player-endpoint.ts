import { X509Certificate } from 'node:crypto';
import { IyesmpError } from '../errors.js';
import { ProtocolConnection, acceptBulkStream, hostFamily, type HostFamily } from '../protocol/index.js';
import type { VerifyPolicy } from '../pki/types.js';
import type { PeerConnection, PeerStream } from '../transport/index.js';
import type { HostServer } from './server.js';
import type { SessionView } from './session.js';
import type { PlayerView } from './types.js';

/** One admitted player's connection. */
export interface PlayerConn {
  connectionId: string;
  sessionId: string;
  playerId: string;
  conn: PeerConnection;
  proto: ProtocolConnection<HostFamily, 'listener'>;
}

const SESSION_URI = /URI:iyesmp:session\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/player\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})/;
const NO_SESSION = { kind: 'session', sessionId: 'no-such-session-here' } as const;

/**
 * TLS-time policy for a player's session certificate: the session it names must run here, the
 * player must be expected, and the cert must be the very one the Auth server announced
 * (fingerprint). Anything else is refused during the handshake, before any stream opens.
 */
export function sessionPolicy(server: HostServer) {
  return (chain: readonly Uint8Array[]): VerifyPolicy => {
    let m: RegExpExecArray | null = null;
    try {
      m = SESSION_URI.exec(new X509Certificate(chain[0]!).subjectAltName ?? '');
    } catch {
      return NO_SESSION;
    }
    if (!m) return NO_SESSION;
    const [, sessionId, playerId] = m as unknown as [string, string, string];
    const view = server.domain.sessions.session(sessionId);
    if (!view) return NO_SESSION;
    const player = view.players.find((p) => p.playerId === playerId);
    if (!player) return { kind: 'session', sessionId, playerId: `${playerId}.not-expected` };
    return { kind: 'session', sessionId, playerId, fingerprint: player.fingerprint };
  };
}

export function roster(players: readonly PlayerView[]) {
  return players.map((p) => ({ playerId: p.playerId, displayName: p.displayName, connected: p.status === 'connected' || p.status === 'ready', ready: p.status === 'ready' }));
}

function phaseState(v: SessionView): 'waiting' | 'playing' | 'ended' {
  return v.phase === 'readying' ? 'waiting' : v.phase === 'in_game' ? 'playing' : 'ended';
}

/** Binds a new player connection: first stream = control (hello = admission), later streams = bulk. */
export function acceptPlayer(server: HostServer, conn: PeerConnection, connectionId: string): void {
  const log = server.logger.child({ connectionId, remote: `${conn.remoteHost}:${conn.remotePort}`, playerId: conn.peer.playerId });
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
        const game = server.games.get(pc.sessionId);
        if (!game) {
          stream.cancel('no game running');
          return;
        }
        try {
          game.emit('stream', { playerId: pc.playerId, header, frames });
        } catch (err) {
          log.error({ message: (err as Error).message }, 'game stream listener failed');
        }
      },
      (err: unknown) => log.debug({ code: (err as IyesmpError).code }, 'bad bulk stream'),
    );
  });
  conn.on('close', () => {
    control?.close('normal', 'connection closed').catch(() => undefined);
    if (admitted) server.playerDisconnected(admitted);
  });

  function openControl(stream: PeerStream): ProtocolConnection<HostFamily, 'listener'> {
    const proto = ProtocolConnection.accept(hostFamily, stream, {
      gameVersion: server.options.version,
      ...(server.options.acceptGameVersion ? { acceptGameVersion: server.options.acceptGameVersion } : {}),
      onListenerError: (err) => log.error({ message: (err as Error).message }, 'player handler failed'),
      onHello: ({ body }) => {
        const peer = conn.peer;
        const refuse = (code: string, message: string): never => {
          log.info({ code }, `player refused: ${message}`);
          setTimeout(() => void conn.close(code).catch(() => undefined), 200).unref?.();
          throw new IyesmpError('refused', code, message);
        };
        if (body.sessionId !== peer.sessionId || body.playerId !== peer.playerId) {
          refuse('wrong_session', 'the hello names another session or player than the session certificate');
        }
        const r = server.domain.sessions.admit(
          { source: { ip: conn.remoteHost, port: conn.remotePort }, peer, connectionId },
          server.clock(),
        );
        if (!r.ok) return refuse(r.reason, r.message);
        admitted = { connectionId, sessionId: r.sessionId, playerId: r.playerId, conn, proto };
        server.playerAdmitted(admitted);
        log.info({ sessionId: r.sessionId, reconnect: r.reconnect }, 'player admitted');
        const view = server.domain.sessions.session(r.sessionId)!;
        return { sessionId: r.sessionId, state: phaseState(view), players: roster(view.players) };
      },
    });
    proto.handle('player.ready', (body) => {
      const now = server.clock();
      const r = body.ready ? server.domain.sessions.ready(connectionId, now) : server.domain.sessions.unready(connectionId, now);
      if (!r.ok) throw new IyesmpError('refused', r.reason, r.message);
      return {};
    });
    proto.handle('game.action', async (body) => {
      const pc = admitted!;
      const game = server.games.get(pc.sessionId);
      const handler = game?.actionHandler;
      if (!game || !handler) throw new IyesmpError('refused', 'wrong_phase', 'the game is not taking actions now');
      const ext = await handler(pc.playerId, body.ext);
      return ext === undefined ? {} : { ext };
    });
    proto.on('event', (ev) => {
      const pc = admitted;
      if (!pc) return;
      if (ev.type === 'game.msg') {
        const game = server.games.get(pc.sessionId);
        const { channel, seq, ext } = ev.body;
        game?.emit('message', { playerId: pc.playerId, ...(channel !== undefined ? { channel } : {}), ...(seq !== undefined ? { seq } : {}), ...(ext !== undefined ? { ext } : {}) });
      } else if (ev.type === 'player.leaving') {
        server.domain.sessions.leave(connectionId, server.clock());
      }
    });
    proto.on('protocol_error', (e) => log.debug(e, 'player protocol error'));
    void proto.closed.then(() => void conn.close('control stream closed').catch(() => undefined));
    return proto;
  }
}
