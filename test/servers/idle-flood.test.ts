/**
 * Idle connections must not deny service (issue #9, item 1): connections that never open a stream,
 * never say hello or never log in are closed at their deadlines, and a flood of them from one address
 * or with one certificate is refused at its limit while real players still log in and seats still join.
 */
import { describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { ProtocolConnection, authFamily } from '../../src/protocol/index.js';
import { ALPN, connectQuic, type PeerConnection } from '../../src/transport/index.js';
import type { HostGame } from '../../src/host/game.js';
import { authClient, derToPem, fxSuite, joinHost, sessionKeys, startAuth, startHost, until } from './helpers.js';

const suite = fxSuite();
const T = 60_000;

/** A QUIC connection to the Auth clients' port that says nothing, from `localHost`. */
async function stranger(port: number, localHost = '127.0.0.1'): Promise<PeerConnection> {
  const fx = suite.fx;
  const conn = await connectQuic({
    host: '127.0.0.1',
    port,
    localHost,
    alpn: ALPN.auth,
    ...fx.client,
    verifier: fx.verifier,
    serverPolicy: { kind: 'auth-server' },
  });
  suite.closers.push(() => conn.close('bye', { force: true }));
  return conn;
}

/** ... that says hello, then nothing. */
async function helloOnly(port: number, localHost = '127.0.0.1') {
  const conn = await stranger(port, localHost);
  const proto = ProtocolConnection.dial(authFamily, conn.openStream(), { gameVersion: '1.0.0', hello: {} });
  await proto.ready;
  return { conn, proto };
}

const noGame: HostGame = { begin: () => undefined };

describe('Auth: deadlines for the first stream, the hello and the login', () => {
  it(
    'closes connections that never open a stream or never log in, and keeps logged-in players',
    async () => {
      const auth = await startAuth(suite.fx, { clientConnections: { firstStreamTimeoutMs: 300, helloTimeoutMs: 300, loginTimeoutMs: 400 } });
      suite.closers.push(() => auth.close({ graceMs: 0 }));
      const player = await authClient(suite.fx, auth.clientPort);
      suite.closers.push(() => player.close());
      await player.proto.request('account.login', { method: 'guest', displayName: 'real' });

      const silent = await stranger(auth.clientPort);
      const { conn: mute } = await helloOnly(auth.clientPort);
      expect(await silent.closed).toMatchObject({ code: 'deadline', message: 'stream_timeout' });
      expect(await mute.closed).toMatchObject({ code: 'deadline', message: 'login_timeout' });
      expect(auth.clientServer.stats().refused).toMatchObject({ stream_timeout: 1, login_timeout: 1 });

      // the logged-in player outlives every deadline; logged out, it has the login deadline again
      expect(player.conn.isClosed).toBe(false);
      await player.proto.request('lobby.create', { name: 'still here', maxPlayers: 2, visibility: 'public' });
      await player.proto.request('account.logout', {});
      expect(await player.conn.closed).toMatchObject({ code: 'deadline', message: 'login_timeout' });
    },
    T,
  );
});

describe('Auth: limits on connections that have not logged in', () => {
  it(
    'refuses a flood from one address at its limit while a player from another address logs in and plays',
    async () => {
      const auth = await startAuth(suite.fx, { clientConnections: { maxUnauthenticatedPerAddress: 3 } });
      suite.closers.push(() => auth.close({ graceMs: 0 }));
      for (let i = 0; i < 3; i++) await helloOnly(auth.clientPort, '127.0.0.2');
      const refused = await stranger(auth.clientPort, '127.0.0.2').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(IyesmpError);
      expect((refused as IyesmpError).code).toBe('too_many_connections');
      expect(auth.clientServer.stats().refused.too_many_from_address).toBe(1);

      const player = await authClient(suite.fx, auth.clientPort);
      suite.closers.push(() => player.close());
      await player.proto.request('account.login', { method: 'guest', displayName: 'real' });
      const { lobby } = await player.proto.request('lobby.create', { name: 'open', maxPlayers: 2, visibility: 'public' });
      expect(lobby.members).toHaveLength(1);
      expect(auth.clientServer.stats().unauthenticated).toBe(3);
    },
    T,
  );
});

describe('Host: limits on connections that have not said hello', () => {
  it(
    "refuses a flood with one seat's own certificate at its limit while the other seat joins",
    async () => {
      const fx = suite.fx;
      const auth = await startAuth(fx);
      suite.closers.push(() => auth.close({ graceMs: 0 }));
      const host = await startHost(fx, auth.hostPort, noGame, { connections: { maxUnauthenticatedPerCert: 2, firstStreamTimeoutMs: 1_000 } });
      suite.closers.push(() => host.close({ graceMs: 0 }));
      await until(() => auth.connectedHosts().includes('host-1'), 'host registration');

      const pair = await Promise.all([authClient(fx, auth.clientPort), authClient(fx, auth.clientPort)]);
      for (const c of pair) suite.closers.push(() => c.close());
      await Promise.all(pair.map((c, i) => c.proto.request('account.login', { method: 'guest', displayName: `P${i}` })));
      await Promise.all(pair.map((c) => c.proto.request('match.queue', { mode: 'duel' })));
      const found = await Promise.all(pair.map((c) => c.inbox.next('match.found')));
      await Promise.all(pair.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
      const ready = await Promise.all(pair.map((c) => c.inbox.next('session.ready')));
      const keys = pair.map(() => sessionKeys());
      const [ha, hb] = await Promise.all(
        pair.map((c, i) =>
          c.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string, publicKey: keys[i]!.publicKey }, { timeoutMs: 30_000 }),
        ),
      );
      if (ha!.transport.kind !== 'quic') throw new Error('expected a quic hand-off');

      // seat A's own certificate, twice, saying nothing; a third is refused
      const chainA = derToPem(ha!.transport.sessionCert) + ha!.transport.chain.map(derToPem).join('');
      const dialA = () =>
        connectQuic({
          host: '127.0.0.1',
          port: host.playerPort,
          alpn: ALPN.host,
          cert: chainA,
          key: keys[0]!.privateKeyPem,
          verifier: fx.verifier,
          serverPolicy: { kind: 'host' },
          serverName: ha!.host.tlsName,
          timeoutMs: 5_000,
        });
      for (let i = 0; i < 2; i++) {
        const c = await dialA();
        suite.closers.push(() => c.close('bye', { force: true }));
      }
      const third = await dialA().catch((e: unknown) => e);
      expect((third as IyesmpError).code).toBe('too_many_connections');

      // seat B still joins; once the idle copies are gone, seat A joins too and the game begins
      const b = await joinHost(fx, hb!, keys[1]!.privateKeyPem);
      suite.closers.push(() => b.conn.close('bye', { force: true }));
      await b.proto.ready;
      await until(() => host.quic.server.stats().unauthenticated === 0, 'idle copies closed at their deadline', 5_000);
      const a = await joinHost(fx, ha!, keys[0]!.privateKeyPem);
      suite.closers.push(() => a.conn.close('bye', { force: true }));
      await a.proto.ready;
      await Promise.all([a, b].map((h) => h.proto.request('player.ready', { ready: true })));
      await Promise.all([a, b].map((h) => h.inbox.next('game.begin')));
    },
    T,
  );
});
