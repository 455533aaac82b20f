/**
 * Client connection options: a source address to bind (`localHost` on connectToAuth and joinHost:
 * the host's allow-list then sees the address the Auth server saw), and the Auth connection's
 * liveness defaults (a silent Auth server becomes `auth_lost` within seconds, not QUIC's 30 s).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions } from '../../src/client/index.js';
import { authLiveness } from '../../src/client/connect.js';
import type { AuthServer } from '../../src/auth/server.js';
import type { HostServer } from '../../src/host/server.js';
import { relayGame } from '../../src/serve/game.js';
import { makeFx, startAuth, startHost, until, type Fx } from '../servers/helpers.js';
import { startUdpRelay } from '../servers/udp-relay.js';

let fx: Fx;
let auth: AuthServer;
let host: HostServer;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fx = await makeFx();
  auth = await startAuth(fx);
  host = await startHost(fx, auth.hostPort, relayGame);
  await until(() => auth.connectedHosts().includes('host-1'), 'host registration');
}, 60_000);

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await host?.close({ graceMs: 0 });
  await auth?.close({ graceMs: 0 });
  await fx?.cleanup();
}, 30_000);

const options = (port: number, over: Partial<ConnectOptions> = {}): ConnectOptions => ({
  address: { host: '127.0.0.1', port },
  identity: { cert: fx.client.cert, key: fx.client.key },
  trust: { verifier: fx.verifier },
  gameVersion: '1.0.0',
  ...over,
});

async function connect(port: number, over: Partial<ConnectOptions> = {}): Promise<AuthClient> {
  const c = await connectToAuth(options(port, over));
  closers.push(() => c.close());
  return c;
}

describe('client source address', () => {
  it('connectToAuth and joinHost send from localHost; the host admits the address the Auth server saw', async () => {
    const players = await Promise.all([connect(auth.clientPort, { localHost: '127.0.0.2' }), connect(auth.clientPort, { localHost: '127.0.0.3' })]);
    await Promise.all(players.map((p, i) => p.login({ method: 'guest', displayName: `bind-${i}` })));
    const tickets = await Promise.all(players.map((p) => p.matchmake({ mode: 'bind', timeoutMs: 30_000 })));
    // the allow-list holds the bound addresses only (the Auth server saw them as the sources)
    const allowed = host.allowList.entries();
    expect(allowed).toEqual(expect.arrayContaining(['127.0.0.2', '127.0.0.3']));
    expect(allowed).not.toContain('127.0.0.1');
    // joinHost binds the Auth connection's address by default: the allow-list lets it through
    const games = await Promise.all(players.map((p, i) => p.joinHost(tickets[i]!, { connectTimeoutMs: 15_000 })));
    expect(games.map((g) => g.sessionId)).toEqual([tickets[0]!.sessionId, tickets[0]!.sessionId]);
    for (const g of games) closers.push(() => g.close());
    expect(host.allowList.stats().passed).toBeGreaterThan(0);
  }, 60_000);

  it('joinHost from an address the session does not expect is dropped by the allow-list', async () => {
    const players = await Promise.all([connect(auth.clientPort, { localHost: '127.0.0.4' }), connect(auth.clientPort, { localHost: '127.0.0.5' })]);
    await Promise.all(players.map((p) => p.login({ method: 'guest' })));
    const tickets = await Promise.all(players.map((p) => p.matchmake({ mode: 'bind', timeoutMs: 30_000 })));
    const before = host.allowList.stats().dropped;
    const err = await players[0]!.joinHost(tickets[0]!, { localHost: '127.0.0.9', connectTimeoutMs: 2_000 }).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    expect(err?.code).toBe('timeout');
    expect(host.allowList.stats().dropped).toBeGreaterThan(before);
    expect(host.allowList.stats().lastDroppedFrom).toMatch(/^127\.0\.0\.9:/);
  }, 60_000);
});

describe('auth connection liveness', () => {
  it('defaults: a 20 s idle timeout with a keep-alive every 10 s; explicit values win', () => {
    expect(authLiveness({})).toEqual({ idleTimeoutMs: 20_000, keepAliveMs: 10_000 });
    expect(authLiveness({ idleTimeoutMs: 4_000 })).toEqual({ idleTimeoutMs: 4_000, keepAliveMs: 1_000 });
    expect(authLiveness({ idleTimeoutMs: 4_000, keepAliveMs: 0 })).toEqual({ idleTimeoutMs: 4_000, keepAliveMs: 0 });
  });

  it('a silent Auth server ends the client with auth_lost within seconds (default options)', async () => {
    const relay = await startUdpRelay(auth.clientPort);
    closers.push(() => relay.close());
    const c = await connect(relay.port);
    await c.login({ method: 'guest' });
    const closed = c.next('close', { timeoutMs: 35_000 });
    relay.freeze();
    const ev = (await closed) as { error?: { code: string } };
    expect(ev.error?.code).toBe('auth_lost');
  }, 60_000);
});
