/**
 * A loopback UDP proxy speaking PROXY protocol v2, as a DDoS-protection service in front of an Auth
 * server would: clients send to its front socket; each client gets its own upstream socket (bound on
 * `upstreamHost`, the address the server sees), and every datagram it relays upstream carries a v2
 * header naming the client. Replies come back on that upstream socket and go to the client as they are.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parseIp } from '../../src/net/address.js';
import { encodeProxyV2 } from '../../src/transport/proxy-protocol.js';

export interface ProxyV2Relay {
  port: number;
  /** datagrams relayed client -> server and server -> client */
  up: number;
  down: number;
  close(): Promise<void>;
}

export async function startProxyV2Relay(opts: { frontHost: string; upstreamHost: string; target: { host: string; port: number } }): Promise<ProxyV2Relay> {
  const front = createSocket('udp4');
  const upstreams = new Map<string, Socket>();
  const ip = (text: string) => {
    const r = parseIp(text);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const relay: ProxyV2Relay = {
    port: 0,
    up: 0,
    down: 0,
    close: async () => {
      for (const u of upstreams.values()) u.close();
      upstreams.clear();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let up = upstreams.get(key);
    if (!up) {
      if (upstreams.size >= 64) return; // bounded: a test never needs more
      const sock = createSocket('udp4');
      sock.on('message', (back) => {
        relay.down++;
        front.send(back, from.port, from.address);
      });
      sock.on('error', () => undefined);
      sock.bind(0, opts.upstreamHost);
      upstreams.set(key, sock);
      up = sock;
    }
    const header = encodeProxyV2({ ip: ip(from.address), port: from.port }, { ip: ip(opts.frontHost), port: relay.port });
    relay.up++;
    up.send(Buffer.concat([header, msg]), opts.target.port, opts.target.host);
  });
  front.on('error', () => undefined);
  await new Promise<void>((r) => front.bind(0, opts.frontHost, () => r()));
  relay.port = front.address().port;
  return relay;
}
