/**
 * Retrying a connect (src/client/retry.ts): the policy sans-IO with an injected clock and dice, and
 * live, a client that a busy Auth server turns away (`too_many_connections`) and that gets in once
 * the server has room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectRetryInfo } from '../../src/client/index.js';
import { ConnectRetry, DEFAULT_CONNECT_RETRY, isTransientConnectError } from '../../src/client/retry.js';
import { clientError } from '../../src/client/errors.js';
import { IyesmpError } from '../../src/errors.js';
import { transportError } from '../../src/transport/errors.js';
import { ALPN, connectQuic, type PeerConnection } from '../../src/transport/index.js';
import { AuthServer } from '../../src/auth/server.js';
import { authAddress, authOptions, clientIdentity, devPki, silent, type DevPki } from '../support/live-servers.js';

const busy = transportError('too_many_connections', 'already 1 connections from 127.0.0.1 that have not logged in');
const retired = new IyesmpError('refused', 'retired_clientauth', "this game build's certificate was retired: update the game");

function policy(start: number, budgetMs: number, dice: number[], closedIsTransient = true): ConnectRetry {
  let i = 0;
  return new ConnectRetry({ policy: DEFAULT_CONNECT_RETRY, start, budgetMs, random: () => dice[i++ % dice.length]!, closedIsTransient });
}

describe('connect retry policy', () => {
  it('retries what a busy server says, never a refusal that cannot pass', () => {
    for (const code of ['timeout', 'too_many_connections', 'server_full', 'deadline', 'transport_error', 'confirm_failed', 'quic_failed'] as const) {
      expect(isTransientConnectError(transportError(code, code), { closedIsTransient: false })).toBe(true);
    }
    expect(isTransientConnectError(retired, { closedIsTransient: true })).toBe(false);
    expect(isTransientConnectError(transportError('wrong_alpn', 'x'), { closedIsTransient: true })).toBe(false);
    expect(isTransientConnectError(clientError('version_too_old', 'x'), { closedIsTransient: true })).toBe(false);
    expect(isTransientConnectError(new Error('boom'), { closedIsTransient: true })).toBe(false);
    const closed = clientError.as('io', 'closed', 'the login server refused the connection: stream failed: Peer closed with application code 6');
    expect(isTransientConnectError(closed, { closedIsTransient: true })).toBe(true);
    expect(isTransientConnectError(closed, { closedIsTransient: false })).toBe(false);
  });

  it('backs off exponentially with jitter between half and all of the step, capped', () => {
    const lows = policy(0, 600_000, [0]);
    const highs = policy(0, 600_000, [1]);
    const low = Array.from({ length: 7 }, () => lows.failed(busy, 0));
    const high = Array.from({ length: 7 }, () => highs.failed(busy, 0));
    expect(low.map((d) => (d.retry ? d.delayMs : -1))).toEqual([125, 250, 500, 1000, 2000, 2000, 2000]);
    expect(high.map((d) => (d.retry ? d.delayMs : -1))).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
    expect(low.map((d) => (d.retry ? d.attempt : -1))).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps every attempt and back-off inside the overall budget', () => {
    // by default an attempt may take all that is left
    const whole = policy(1_000, 30_000, [1]);
    expect(whole.attemptTimeout(1_000)).toBe(30_000);
    expect(whole.failed(transportError('timeout', 'x'), 11_000)).toEqual({ retry: true, delayMs: 250, attempt: 2 });
    expect(whole.attemptTimeout(11_250)).toBe(19_750);
    // with a cap per attempt
    let i = 0;
    const r = new ConnectRetry({
      policy: { ...DEFAULT_CONNECT_RETRY, attemptTimeoutMs: 10_000 },
      start: 1_000,
      budgetMs: 30_000,
      random: () => [1][i++ % 1]!,
      closedIsTransient: true,
    });
    expect(r.attemptTimeout(1_000)).toBe(10_000);
    // a timed-out attempt leaves 20 s: another full one
    expect(r.failed(transportError('timeout', 'x'), 11_000)).toEqual({ retry: true, delayMs: 250, attempt: 2 });
    expect(r.attemptTimeout(11_250)).toBe(10_000);
    // 9.75 s left: the next attempt gets what remains
    expect(r.failed(transportError('timeout', 'x'), 21_250)).toEqual({ retry: true, delayMs: 500, attempt: 3 });
    expect(r.attemptTimeout(21_750)).toBe(9_250);
    // not enough left for a back-off and a handshake
    expect(r.failed(busy, 30_500)).toEqual({ retry: false });
  });

  it('gives up at once on a permanent refusal', () => {
    const r = policy(0, 30_000, [0.5]);
    expect(r.failed(retired, 100)).toEqual({ retry: false });
  });
});

describe('connectToAuth against a busy Auth server', () => {
  let dev: DevPki;
  let auth: AuthServer;
  let identity: { cert: string; key: string };
  let stranger: PeerConnection | undefined;
  let client: AuthClient | undefined;

  beforeAll(async () => {
    dev = await devPki('iyesmp-retry-');
    identity = await clientIdentity(dev.pki);
    auth = await AuthServer.start(
      await authOptions(dev.pki, {
        logger: silent,
        // room for one stranger per address, closed if it opens no stream within 1.5 s
        clientConnections: { maxUnauthenticatedPerAddress: 1, firstStreamTimeoutMs: 1_500 },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await stranger?.close('', { force: true }).catch(() => undefined);
    await auth?.close({ graceMs: 100 });
    await dev?.cleanup();
  }, 30_000);

  it('is turned away while a stranger holds the address, retries, and logs in once it is gone', async () => {
    // the stranger: a confirmed connection that never opens a stream
    stranger = await connectQuic({
      host: '127.0.0.1',
      port: auth.clientPort,
      alpn: ALPN.auth,
      ...identity,
      verifier: await dev.pki.verifier(),
      serverPolicy: { kind: 'auth-server' },
    });
    const retries: ConnectRetryInfo[] = [];
    const t0 = Date.now();
    client = await connectToAuth({
      ...authAddress(auth.clientPort, identity, dev.masterPem),
      gameVersion: '1.0.0',
      connectTimeoutMs: 15_000,
      onConnectRetry: (info) => retries.push(info),
    });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]!.error.code).toBe('too_many_connections');
    expect(retries.map((r) => r.attempt)).toEqual(retries.map((_, i) => i + 2));
    // the stranger's deadline freed the address's place
    expect((await stranger.closed).code).toBe('deadline');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    await client.login({ method: 'guest' });
  }, 30_000);

  it('one attempt only with connectRetry: false', async () => {
    const again = await connectQuic({
      host: '127.0.0.1',
      port: auth.clientPort,
      alpn: ALPN.auth,
      ...identity,
      verifier: await dev.pki.verifier(),
      serverPolicy: { kind: 'auth-server' },
    });
    try {
      const err = await connectToAuth({ ...authAddress(auth.clientPort, identity, dev.masterPem), gameVersion: '1.0.0', connectRetry: false }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as IyesmpError).code).toBe('too_many_connections');
    } finally {
      await again.close('', { force: true });
    }
  }, 30_000);
});
