import { createSocket } from 'node:dgram';
import { demoError } from './errors.js';

/**
 * Free UDP ports on loopback for the demo servers (QUIC runs over UDP). Each is found by binding
 * port 0 and closing again; all sockets stay open until every port is known, so the picks differ.
 * Another program could still take one before the server binds it: the server then fails to
 * start and the demo says so (choose ports with the flags).
 */
export async function freeUdpPorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createSocket>>((resolve, reject) => {
          const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
          s.once('error', reject);
          s.bind(0, host, () => resolve(s));
        }),
    ),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Parses a port flag: an integer 1..65535. */
export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) {
    throw demoError('bad_port', `${flag} must be a port number from 1 to 65535, not "${value}"`);
  }
  return n;
}
