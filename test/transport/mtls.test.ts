/**
 * Mutual TLS on loopback with a real PKI: each policy accepts the right peer; each kind of wrong
 * certificate is refused during the handshake and the refused client gets the PKI's reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALPN, type QuicServer, type ServerRefusal } from '../../src/transport/index.js';
import { IyesmpError } from '../../src/errors.js';
import { makeFixture, type Fixture } from './fixture.js';
import { closeAll, connect, echo, once, readAll, roundTrip, startServer } from './helpers.js';
import { failureOf } from '../support/assert.js';

let f: Fixture;
let authServer: QuicServer;

beforeAll(async () => {
  f = await makeFixture();
  authServer = await startServer({
    host: '127.0.0.1',
    alpn: ALPN.auth,
    ...f.auth,
    verifier: f.verifier,
    policy: { kind: 'auth-client' },
  });
  echo(authServer);
}, 120_000);

afterAll(async () => {
  await closeAll();
  await f?.cleanup();
});

const T = 60_000;

const refusedWith = (p: Promise<unknown>): Promise<IyesmpError> => failureOf(p, 'connection succeeded but should have been refused');

describe('accepted peers', () => {
  it(
    'auth-client: a client of an active ClientAuth reaches the auth server; both sides see the verified peer',
    async () => {
      const seen = once<import('../../src/transport/index.js').PeerConnection>(authServer, 'connection');
      const conn = await connect({
        host: '127.0.0.1',
        port: authServer.port,
        alpn: ALPN.auth,
        ...f.client,
        verifier: f.verifier,
        serverPolicy: { kind: 'auth-server' },
        serverName: 'localhost',
      });
      expect(conn.peer.role).toBe('auth');
      const serverSide = await seen;
      expect(serverSide.peer.role).toBe('client');
      expect(serverSide.peer.clientAuthId).toBe(2);
      const reply = await roundTrip(conn, Buffer.from('ping over mTLS'));
      expect(reply.toString()).toBe('ping over mTLS');
    },
    T,
  );

  it(
    'host: a host cert is accepted by a hostctl server with the host policy',
    async () => {
      const s = await startServer({ host: '127.0.0.1', alpn: ALPN.hostctl, ...f.auth, verifier: f.verifier, policy: { kind: 'host' } });
      const seen = once<import('../../src/transport/index.js').PeerConnection>(s, 'connection');
      const conn = await connect({
        host: '127.0.0.1',
        port: s.port,
        alpn: ALPN.hostctl,
        ...f.host,
        verifier: f.verifier,
        serverPolicy: { kind: 'auth-server' },
      });
      const peer = (await seen).peer;
      expect(peer.role).toBe('host');
      expect(peer.name).toBe('host-1');
      expect(conn.peer.role).toBe('auth');
    },
    T,
  );

  it(
    'session: a player with the session cert reaches the host, which checks session and player',
    async () => {
      const s = await startServer({
        host: '127.0.0.1',
        alpn: ALPN.host,
        ...f.host,
        verifier: f.verifier,
        policy: { kind: 'session', sessionId: f.session.sessionId, playerId: f.session.playerId },
      });
      const seen = once<import('../../src/transport/index.js').PeerConnection>(s, 'connection');
      const conn = await connect({
        host: '127.0.0.1',
        port: s.port,
        alpn: ALPN.host,
        ...f.session,
        verifier: f.verifier,
        serverPolicy: { kind: 'host' },
      });
      const peer = (await seen).peer;
      expect(peer.role).toBe('session');
      expect(peer.sessionId).toBe(f.session.sessionId);
      expect(peer.playerId).toBe(f.session.playerId);
      expect(conn.peer.name).toBe('host-1');
    },
    T,
  );

  it(
    'a stream the server opens as soon as it accepts reaches the client',
    async () => {
      const s = await startServer({ host: '127.0.0.1', alpn: ALPN.auth, ...f.auth, verifier: f.verifier, policy: { kind: 'auth-client' } });
      s.on('connection', async (c) => {
        const w = c.openStream().writable.getWriter();
        await w.write(Buffer.from('welcome'));
        await w.close();
      });
      const conn = await connect({
        host: '127.0.0.1',
        port: s.port,
        alpn: ALPN.auth,
        ...f.client,
        verifier: f.verifier,
        serverPolicy: { kind: 'auth-server' },
      });
      const stream = await once<import('../../src/transport/index.js').PeerStream>(conn, 'stream');
      expect(stream.id % 4).toBe(1); // server-initiated bidirectional
      expect((await readAll(stream.readable)).toString()).toBe('welcome');
    },
    T,
  );
});

describe('refused peers: the client error names the reason', () => {
  const dial = (creds: { cert: string; key: string }, alpn: string = ALPN.auth) =>
    connect({
      host: '127.0.0.1',
      port: authServer.port,
      alpn,
      ...creds,
      verifier: f.verifier,
      serverPolicy: { kind: 'auth-server' },
      timeoutMs: 20_000,
    });

  it(
    'a certificate of another PKI: unknown_issuer, also reported by the server',
    async () => {
      const refused = once<ServerRefusal>(authServer, 'refused');
      const e = await refusedWith(dial(f.foreignClient));
      expect(e.kind).toBe('refused');
      expect(e.code).toBe('unknown_issuer');
      expect((await refused).reason).toBe('unknown_issuer');
    },
    T,
  );

  it(
    'an expired client cert: expired',
    async () => {
      const e = await refusedWith(dial(f.expiredClient));
      expect(e.code).toBe('expired');
    },
    T,
  );

  it(
    'a client cert that is not valid yet: not_yet_valid',
    async () => {
      const e = await refusedWith(dial(f.futureClient));
      expect(e.code).toBe('not_yet_valid');
    },
    T,
  );

  it(
    'a client of a retired ClientAuth: retired_clientauth, telling the player to update',
    async () => {
      const e = await refusedWith(dial(f.retiredClient));
      expect(e.code).toBe('retired_clientauth');
      expect(e.message).toMatch(/update the game/);
    },
    T,
  );

  it(
    'a host cert where a client cert is required: wrong_role',
    async () => {
      const e = await refusedWith(dial(f.host));
      expect(e.code).toBe('wrong_role');
    },
    T,
  );

  it(
    'a session cert for another session: wrong_session',
    async () => {
      const s = await startServer({
        host: '127.0.0.1',
        alpn: ALPN.host,
        ...f.host,
        verifier: f.verifier,
        policy: { kind: 'session', sessionId: 'another-session' },
      });
      const e = await refusedWith(
        connect({ host: '127.0.0.1', port: s.port, alpn: ALPN.host, ...f.session, verifier: f.verifier, serverPolicy: { kind: 'host' } }),
      );
      expect(e.code).toBe('wrong_session');
    },
    T,
  );

  it(
    'a session cert other than the one the host expects: wrong_fingerprint; the policy may be chosen per chain',
    async () => {
      const seenChains: number[] = [];
      const s = await startServer({
        host: '127.0.0.1',
        alpn: ALPN.host,
        ...f.host,
        verifier: f.verifier,
        policy: (chain) => {
          seenChains.push(chain.length);
          return { kind: 'session', sessionId: f.session.sessionId, fingerprint: 'ab'.repeat(32) };
        },
      });
      const e = await refusedWith(
        connect({ host: '127.0.0.1', port: s.port, alpn: ALPN.host, ...f.session, verifier: f.verifier, serverPolicy: { kind: 'host' } }),
      );
      expect(e.code).toBe('wrong_fingerprint');
      expect(seenChains.length).toBeGreaterThan(0);
      expect(seenChains[0]).toBeGreaterThanOrEqual(1);
    },
    T,
  );

  it(
    'a wrong ALPN: wrong_alpn',
    async () => {
      const e = await refusedWith(dial(f.client, ALPN.host));
      expect(e.kind).toBe('refused');
      expect(e.code).toBe('wrong_alpn');
      expect(e.message).toContain(ALPN.host);
    },
    T,
  );

  it(
    'the client refuses a server whose certificate has the wrong role',
    async () => {
      const s = await startServer({ host: '127.0.0.1', alpn: ALPN.auth, ...f.host, verifier: f.verifier, policy: { kind: 'auth-client' } });
      let serverSaw = 0;
      s.on('connection', () => serverSaw++);
      const e = await refusedWith(
        connect({ host: '127.0.0.1', port: s.port, alpn: ALPN.auth, ...f.client, verifier: f.verifier, serverPolicy: { kind: 'auth-server' } }),
      );
      expect(e.code).toBe('wrong_role');
      expect(e.message).toMatch(/refused the certificate of 127\.0\.0\.1:/);
      expect(serverSaw).toBe(0);
    },
    T,
  );

  it(
    'the client refuses a server certificate that does not carry the expected name',
    async () => {
      const e = await refusedWith(
        connect({
          host: '127.0.0.1',
          port: authServer.port,
          alpn: ALPN.auth,
          ...f.client,
          verifier: f.verifier,
          serverPolicy: { kind: 'auth-server' },
          serverName: 'auth.example.org',
        }),
      );
      expect(e.kind).toBe('refused');
      expect(e.message).toContain('auth.example.org');
    },
    T,
  );
});
