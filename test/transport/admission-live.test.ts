/**
 * Connection admission over real QUIC: deadlines close connections that never open a stream, and
 * limits on unauthenticated connections refuse a flood from one address or one certificate while
 * others still get in.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ALPN, type CloseInfo, type ConnectQuicOptions, type QuicServerOptions, type ServerRefusal } from '../../src/transport/index.js';
import { IyesmpError } from '../../src/errors.js';
import type { Creds } from './fixture.js';
import { transportSuite, authServerOpts, authClientOpts, connect, echo, roundTrip, startServer } from './helpers.js';
import { failureOf } from '../support/assert.js';
import { pollUntil } from '../support/wait.js';

const until = <V>(fn: () => V, what: string) => pollUntil(fn, what, 5_000, 20);

const f = transportSuite();
let other: Creds;
beforeAll(async () => {
  const issued = await f.pki.issueClient({ name: 'client-other', clientAuthId: 2, validityDays: 30, now: new Date(Date.now() - 86_400_000) });
  other = { cert: issued.chainPem, key: issued.keyPath };
}, 120_000);

const T = 30_000;

const serverOpts = (extra: Partial<QuicServerOptions> = {}): QuicServerOptions => authServerOpts(f, extra);
const clientOpts = (port: number, extra: Partial<ConnectQuicOptions> = {}): ConnectQuicOptions => authClientOpts(f, port, extra);

describe('admission deadlines', () => {
  it(
    'closes a connection that never opens a stream, and keeps one that did',
    async () => {
      const server = await startServer(serverOpts({ limits: { firstStreamTimeoutMs: 300 } }));
      echo(server);
      const idle = await connect(clientOpts(server.port));
      const busy = await connect(clientOpts(server.port));
      expect((await roundTrip(busy, Buffer.from('hi'))).toString()).toBe('hi');
      const closed: CloseInfo = await idle.closed;
      expect(closed).toMatchObject({ code: 'deadline', message: 'stream_timeout', byPeer: true });
      expect(server.stats().refused.stream_timeout).toBe(1);
      await new Promise((r) => setTimeout(r, 400));
      expect(busy.isClosed).toBe(false);
      expect((await roundTrip(busy, Buffer.from('still'))).toString()).toBe('still');
    },
    T,
  );
});

describe('admission limits', () => {
  // trusted only by an endpoint's login, so every connection here stays a stranger
  const strict = { trustAt: 'login' as const };

  it(
    'refuses a third stranger from one address, and lets another address in',
    async () => {
      const server = await startServer(serverOpts({ ...strict, limits: { maxUnauthenticatedPerAddress: 2 } }));
      echo(server);
      const from2 = clientOpts(server.port, { localHost: '127.0.0.2' });
      await connect(from2);
      await connect(from2);
      const e = await failureOf(connect(from2), 'a third connection from 127.0.0.2');
      expect(e).toBeInstanceOf(IyesmpError);
      expect(e.code).toBe('too_many_connections');
      expect(e.message).toContain('too_many_from_address');
      expect(server.stats().refused.too_many_from_address).toBe(1);
      const ok = await connect(clientOpts(server.port));
      expect((await roundTrip(ok, Buffer.from('in'))).toString()).toBe('in');
    },
    T,
  );

  it(
    'refuses a third stranger with one certificate, and lets another certificate in',
    async () => {
      const server = await startServer(serverOpts({ ...strict, limits: { maxUnauthenticatedPerCert: 2 } }));
      echo(server);
      await connect(clientOpts(server.port));
      await connect(clientOpts(server.port));
      const e = await failureOf(connect(clientOpts(server.port)), 'a third connection with one cert');
      expect(e.code).toBe('too_many_connections');
      expect(server.stats().refused.too_many_for_certificate).toBe(1);
      await connect(clientOpts(server.port, other));
      expect(server.stats()).toMatchObject({ connections: 3, unauthenticated: 3 });
    },
    T,
  );

  it(
    'keeps the rest of maxConnections for trusted connections',
    async () => {
      const server = await startServer(serverOpts({ ...strict, limits: { maxConnections: 5, maxUnauthenticated: 2 } }));
      // this endpoint trusts a connection when it sends its first stream's bytes
      server.on('connection', (conn) =>
        conn.on('stream', (s) => {
          conn.admission.trust(undefined);
          void s.readable.pipeTo(s.writable).catch(() => undefined);
        }),
      );
      const players = [await connect(clientOpts(server.port)), await connect(clientOpts(server.port))];
      for (const p of players) await roundTrip(p, Buffer.from('login'));
      expect(server.stats().unauthenticated).toBe(0);
      await connect(clientOpts(server.port, other));
      await connect(clientOpts(server.port, other));
      const e = await failureOf(connect(clientOpts(server.port, other)), 'a third stranger');
      expect(e.code).toBe('too_many_connections');
      expect(server.stats().refused.too_many_unauthenticated).toBe(1);
      for (const p of players) expect((await roundTrip(p, Buffer.from('play'))).toString()).toBe('play');
    },
    T,
  );
});

describe('wrong ALPN', () => {
  it(
    'is refused and reported with the address and the ALPN the client offered',
    async () => {
      const server = await startServer(serverOpts());
      const refusals: ServerRefusal[] = [];
      server.on('refused', (r) => refusals.push(r));
      const e = await failureOf(connect(clientOpts(server.port, { alpn: ALPN.host, timeoutMs: 3000 })), 'a connection with the wrong ALPN');
      expect(e.code).toBe('wrong_alpn');
      await until(() => refusals.length > 0, 'the refusal event');
      expect(refusals[0]).toMatchObject({ reason: 'wrong_alpn', offeredAlpn: [ALPN.host], remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
      expect(refusals[0]!.message).toContain(ALPN.host);
      expect(server.stats().refused.wrong_alpn).toBe(1);
    },
    T,
  );
});
