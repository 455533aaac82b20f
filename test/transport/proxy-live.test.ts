/**
 * A QUIC server behind a PROXY protocol v2 UDP proxy, over real sockets: QUIC sees each client at
 * its real address (also on a dual-stack socket), replies reach it through the proxy, and the
 * per-address admission limits and the allow-list judge the real client, not the proxy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectQuicOptions, type PeerConnection, type QuicServerOptions } from '../../src/transport/index.js';
import { transportSuite, authServerOpts, authClientOpts, connect, echo, roundTrip, startServer } from './helpers.js';
import { failureOf } from '../support/assert.js';
import { startProxyV2Relay, type ProxyV2Relay } from '../support/proxy-v2-relay.js';

const relays: ProxyV2Relay[] = [];
// after-hooks run last-registered first: the relays close after the helpers' servers and clients
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});
const f = transportSuite();

const T = 30_000;

const serverOpts = (extra: Partial<QuicServerOptions> = {}): QuicServerOptions => authServerOpts(f, { trustedProxies: ['127.0.0.2/32'], ...extra });
const clientOpts = (port: number, extra: Partial<ConnectQuicOptions> = {}): ConnectQuicOptions => authClientOpts(f, port, extra);
async function proxyTo(port: number): Promise<ProxyV2Relay> {
  const r = await startProxyV2Relay({ frontHost: '127.0.0.1', upstreamHost: '127.0.0.2', target: { host: '127.0.0.1', port } });
  relays.push(r);
  return r;
}
const accepted = (server: { once(e: 'connection', fn: (c: PeerConnection) => void): unknown }) =>
  new Promise<PeerConnection>((r) => server.once('connection', r));

describe('QUIC server behind a PROXY protocol v2 proxy', () => {
  it(
    'a dual-stack server sees the client as IPv4-mapped, like a direct one, and replies through the proxy',
    async () => {
      const server = await startServer(serverOpts({ host: '::' }));
      echo(server);
      const proxy = await proxyTo(server.port);
      const seen = accepted(server);
      const client = await connect(clientOpts(proxy.port, { localHost: '127.0.0.3' }));
      const conn = await seen;
      expect(conn.remoteHost).toBe('::ffff:127.0.0.3');
      expect(conn.remotePort).toBe(client.localPort);
      expect(conn.viaProxy).toEqual({ host: '::ffff:127.0.0.2', port: expect.any(Number) });
      expect((await roundTrip(client, Buffer.from('through'))).toString()).toBe('through');
      expect(proxy.down).toBeGreaterThan(0);
      expect(server.stats().proxies).toMatchObject({ relayed: proxy.up, dropped: {}, routes: 1 });
    },
    T,
  );

  it(
    'per-address limits count real clients: two behind one proxy both get in, a second from one is refused',
    async () => {
      const server = await startServer(serverOpts({ trustAt: 'login', limits: { maxUnauthenticatedPerAddress: 1 } }));
      echo(server);
      const proxy = await proxyTo(server.port);
      await connect(clientOpts(proxy.port, { localHost: '127.0.0.3' }));
      await connect(clientOpts(proxy.port, { localHost: '127.0.0.4' }));
      const e = await failureOf(connect(clientOpts(proxy.port, { localHost: '127.0.0.3' })), 'a second stranger from 127.0.0.3');
      expect(e.code).toBe('too_many_connections');
      expect(server.stats().refused.too_many_from_address).toBe(1);
      expect(server.connections.map((c) => c.remoteHost).sort()).toEqual(['127.0.0.3', '127.0.0.4']);
    },
    T,
  );

  it(
    'the allow-list judges the real client, not the proxy',
    async () => {
      const server = await startServer(serverOpts({ allowList: ['127.0.0.3'] }));
      echo(server);
      const proxy = await proxyTo(server.port);
      const ok = await connect(clientOpts(proxy.port, { localHost: '127.0.0.3' }));
      expect((await roundTrip(ok, Buffer.from('allowed'))).toString()).toBe('allowed');
      await failureOf(connect(clientOpts(proxy.port, { localHost: '127.0.0.4', timeoutMs: 1_500 })), 'a client the list does not name');
      expect(server.allowList!.stats().lastDroppedFrom).toMatch(/^127\.0\.0\.4:/);
    },
    T,
  );
});
