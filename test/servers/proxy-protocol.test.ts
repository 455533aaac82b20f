/**
 * An Auth server behind a UDP proxy that speaks PROXY protocol v2 (issue 12): the server takes the
 * client's real address from trusted proxies' headers, so the host it hands the player to admits the
 * player's own address; a header from a source outside the trusted ranges is never honoured.
 *
 * Addresses: the proxy's front socket is on 127.0.0.1 (the address the Auth certificate names), it
 * relays from 127.0.0.2 (the trusted range), the proxied player sends from 127.0.0.3, a direct
 * player from 127.0.0.4, and an untrusted "proxy" relays from 127.0.0.5.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions } from '../../src/client/index.js';
import type { AuthServer } from '../../src/auth/server.js';
import type { HostServer } from '../../src/host/server.js';
import { relayGame } from '../../src/serve/game.js';
import { PROXY_V2_SIGNATURE } from '../../src/transport/proxy-protocol.js';
import { makeFx, startAuth, startHost, until, type Fx } from './helpers.js';
import { startProxyV2Relay } from '../support/proxy-v2-relay.js';

let fx: Fx;
let auth: AuthServer;
let host: HostServer;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fx = await makeFx();
  auth = await startAuth(fx, { clients: { host: '127.0.0.1', port: 0, trustedProxies: ['127.0.0.2/32'] } });
  host = await startHost(fx, auth.hostPort, relayGame);
  await until(() => auth.connectedHosts().includes('host-1'), 'host registration');
}, 60_000);

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await host?.close({ graceMs: 0 });
  await auth?.close({ graceMs: 0 });
  await fx?.cleanup();
}, 30_000);

async function connect(port: number, over: Partial<ConnectOptions> = {}): Promise<AuthClient> {
  const c = await connectToAuth({
    address: { host: '127.0.0.1', port },
    identity: { cert: fx.client.cert, key: fx.client.key },
    trust: { verifier: fx.verifier },
    gameVersion: '1.0.0',
    ...over,
  });
  closers.push(() => c.close());
  return c;
}

describe('Auth server behind a PROXY protocol v2 UDP proxy', () => {
  it('a player through the proxy is seen, announced and admitted at its own address', async () => {
    const proxy = await startProxyV2Relay({ frontHost: '127.0.0.1', upstreamHost: '127.0.0.2', target: { host: '127.0.0.1', port: auth.clientPort } });
    closers.push(() => proxy.close());
    const proxied = await connect(proxy.port, { localHost: '127.0.0.3' });
    const direct = await connect(auth.clientPort, { localHost: '127.0.0.4' });
    await Promise.all([proxied.login({ method: 'guest', displayName: 'via-proxy' }), direct.login({ method: 'guest', displayName: 'direct' })]);

    // the connection carries the real address, and the proxy's beside it
    const conns = auth.clientServer.connections;
    const viaProxy = conns.find((c) => c.remoteHost === '127.0.0.3');
    expect(viaProxy?.viaProxy).toEqual({ host: '127.0.0.2', port: expect.any(Number) });
    expect(conns.find((c) => c.remoteHost === '127.0.0.4')?.viaProxy).toBeUndefined();
    expect(conns.map((c) => c.remoteHost)).not.toContain('127.0.0.2');

    const tickets = await Promise.all([proxied, direct].map((p) => p.matchmake({ mode: 'proxy', timeoutMs: 30_000 })));
    // what the Auth server announced: the players' own addresses, never the proxy's
    const allowed = host.allowList.entries();
    expect(allowed).toEqual(expect.arrayContaining(['127.0.0.3', '127.0.0.4']));
    expect(allowed).not.toContain('127.0.0.2');
    // and the host lets the proxied player in from its own address
    const games = await Promise.all([proxied, direct].map((p, i) => p.joinHost(tickets[i]!, { connectTimeoutMs: 15_000 })));
    for (const g of games) closers.push(() => g.close());
    expect(games.map((g) => g.sessionId)).toEqual([tickets[0]!.sessionId, tickets[0]!.sessionId]);

    const stats = auth.clientServer.stats().proxies!;
    expect(stats.relayed).toBe(proxy.up);
    expect(proxy.down).toBeGreaterThan(0);
    expect(stats.dropped).toEqual({});
  }, 60_000);

  it('headers from a source outside the trusted ranges are dropped, never honoured', async () => {
    const rogue = await startProxyV2Relay({ frontHost: '127.0.0.1', upstreamHost: '127.0.0.5', target: { host: '127.0.0.1', port: auth.clientPort } });
    closers.push(() => rogue.close());
    const before = auth.clientServer.stats().proxies!.dropped.untrusted_header ?? 0;
    const err = await connect(rogue.port, { localHost: '127.0.0.6', connectTimeoutMs: 2_000 }).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    expect(err?.code).toBe('timeout');
    expect(auth.clientServer.stats().proxies!.dropped.untrusted_header).toBe(before + rogue.up);
    expect(rogue.down).toBe(0);
    expect(auth.clientServer.connections.map((c) => c.remoteHost)).not.toEqual(expect.arrayContaining(['127.0.0.5', '127.0.0.6']));
  }, 30_000);

  it('datagrams from a trusted proxy without a valid header are dropped and counted', async () => {
    const sock = createSocket('udp4');
    closers.push(() => new Promise<void>((r) => sock.close(() => r())));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
    const before = auth.clientServer.stats().proxies!.dropped;
    const send = (b: Uint8Array) => new Promise<void>((r, j) => sock.send(b, auth.clientPort, '127.0.0.1', (e) => (e ? j(e) : r())));
    await send(Uint8Array.from([0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8])); // a QUIC long header, no PROXY header
    await send(Uint8Array.from([...PROXY_V2_SIGNATURE, 0x20, 0x00, 0, 0])); // LOCAL: a health check
    await until(() => (auth.clientServer.stats().proxies!.dropped.local ?? 0) > (before.local ?? 0), 'drops counted');
    expect(auth.clientServer.stats().proxies!.dropped.no_header).toBe((before.no_header ?? 0) + 1);
  });
});
