/**
 * A loopback UDP relay standing between a QUIC client and a server, for liveness tests: `freeze()`
 * makes the server look dead (every datagram dropped both ways, nothing closed), `retarget(port)`
 * points it at another server (a restarted one).
 */
import { createSocket, type Socket } from 'node:dgram';

export interface UdpRelay {
  port: number;
  /** datagrams relayed, both ways */
  relayed: number;
  freeze(): void;
  thaw(): void;
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startUdpRelay(targetPort: number, host = '127.0.0.1'): Promise<UdpRelay> {
  const front = createSocket('udp4');
  const upstreams = new Map<string, Socket>();
  let target = targetPort;
  let frozen = false;
  const relay: UdpRelay = {
    port: 0,
    relayed: 0,
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    retarget: (p) => void (target = p),
    close: async () => {
      for (const u of upstreams.values()) u.close();
      upstreams.clear();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
  front.on('message', (msg, from) => {
    if (frozen) return;
    const key = `${from.address}:${from.port}`;
    let up = upstreams.get(key);
    if (!up) {
      if (upstreams.size >= 64) return; // bounded: a test never needs more
      const sock = createSocket('udp4');
      sock.on('message', (back) => {
        if (frozen) return;
        relay.relayed++;
        front.send(back, from.port, from.address);
      });
      sock.on('error', () => undefined);
      sock.bind(0, host);
      upstreams.set(key, sock);
      up = sock;
    }
    relay.relayed++;
    up.send(msg, target, host);
  });
  front.on('error', () => undefined);
  await new Promise<void>((r) => front.bind(0, host, () => r()));
  relay.port = front.address().port;
  return relay;
}
