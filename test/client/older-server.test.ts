/**
 * A client of this release against an Auth server of the release before (one that confirms QUIC
 * connections only the `accepted` way, docs/transport.md): connectToAuth falls back on the same
 * connection in one attempt, and a refusal is still reported as that refusal; a Host of this release
 * registers with such an Auth server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectRetryInfo } from '../../src/client/index.js';
import { AuthServer, CLIENT_CONNECTION_LIMITS } from '../../src/auth/server.js';
import { acceptClient } from '../../src/auth/client-endpoint.js';
import { acceptHost } from '../../src/auth/host-endpoint.js';
import { HostServer } from '../../src/host/server.js';
import { ALPN, createQuicServer, type QuicServer } from '../../src/transport/index.js';
import { authAddress, authOptions, clientIdentity, devPki, hostOptions, idleGame, quickHost, silent, type DevPki } from '../support/live-servers.js';
import { failureOf } from '../support/assert.js';
import { pollUntil } from '../support/wait.js';

describe('an Auth server that confirms only the accepted way (as the release before did)', () => {
  let dev: DevPki;
  let auth: AuthServer;
  let older: QuicServer;
  let olderHostctl: QuicServer;
  let host: HostServer | undefined;
  const clients: AuthClient[] = [];

  beforeAll(async () => {
    dev = await devPki('iyesmp-older-');
    const opts = await authOptions(dev.pki, { logger: silent });
    auth = await AuthServer.start(opts);
    // the Auth server's client endpoint behind a QUIC server that behaves as the release before did
    older = await createQuicServer({
      host: '127.0.0.1',
      port: 0,
      alpn: ALPN.auth,
      cert: opts.cert,
      key: opts.key,
      verifier: opts.verifier,
      policy: { kind: 'auth-client' },
      trustAt: 'login',
      limits: CLIENT_CONNECTION_LIMITS,
      onlyAccepted: true,
    });
    older.on('connection', (conn) => acceptClient(auth, conn));
    olderHostctl = await createQuicServer({
      host: '127.0.0.1',
      port: 0,
      alpn: ALPN.hostctl,
      cert: opts.cert,
      key: opts.key,
      verifier: opts.verifier,
      policy: { kind: 'host' },
      onlyAccepted: true,
    });
    olderHostctl.on('connection', (conn) => acceptHost(auth, conn));
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await host?.close({ graceMs: 100 });
    await olderHostctl?.close({ graceMs: 100 });
    await older?.close({ graceMs: 100 });
    await auth?.close({ graceMs: 100 });
    await dev?.cleanup();
  }, 30_000);

  it('connects in one attempt (hello, then a login), confirmed the older way', async () => {
    const retries: ConnectRetryInfo[] = [];
    const client = await connectToAuth({
      ...authAddress(older.port, await clientIdentity(dev.pki), dev.masterPem),
      gameVersion: '1.0.0',
      onConnectRetry: (info) => retries.push(info),
    });
    clients.push(client);
    expect(retries).toEqual([]);
    const me = await client.login({ method: 'guest' });
    expect(me.accountId).toMatch(/^guest:/);
    expect(older.stats()).toMatchObject({ connections: 1, accepted: 1, acceptedLegacy: 1, refused: {} });
  }, 30_000);

  it('a refused certificate is reported as that refusal, never retried as an older server', async () => {
    const retries: ConnectRetryInfo[] = [];
    const before = older.stats().refused.wrong_role ?? 0;
    const e = await failureOf(
      connectToAuth({
        ...authAddress(older.port, { cert: await dev.pki.chainPem('host-1'), key: dev.pki.path(dev.pki.get('host-1').keyFile!) }, dev.masterPem),
        gameVersion: '1.0.0',
        onConnectRetry: (info) => retries.push(info),
      }),
      'a host certificate got in as a client',
    );
    expect(e.code).toBe('wrong_role');
    expect(retries).toEqual([]);
    expect(older.stats().refused.wrong_role).toBe(before + 1);
  }, 30_000);

  it('a Host of this release registers with it (its link hello goes again after the older confirmation)', async () => {
    host = await HostServer.start(await hostOptions(dev.pki, olderHostctl.port, { ...quickHost, logger: silent }), idleGame);
    await pollUntil(() => auth.connectedHosts().includes('host-1'), 'the host to register', 20_000, 50);
    expect(olderHostctl.stats()).toMatchObject({ connections: 1, accepted: 1, acceptedLegacy: 1, refused: {} });
  }, 30_000);
});
