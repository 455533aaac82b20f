/** Loopback ports for tests that must name a port up front (configs, subprocesses). */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A UDP port on 127.0.0.1 that was free a moment ago (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (listened on, read, released). */
export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
