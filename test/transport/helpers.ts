/** Shared helpers for transport tests: start/stop tracking so no socket outlives a test file. */
import {
  createQuicServer,
  connectQuic,
  type QuicServer,
  type QuicServerOptions,
  type ConnectQuicOptions,
  type PeerConnection,
  type PeerStream,
} from '../../src/transport/index.js';

const servers = new Set<QuicServer>();
const clients = new Set<PeerConnection>();

export async function startServer(opts: QuicServerOptions): Promise<QuicServer> {
  const s = await createQuicServer(opts);
  servers.add(s);
  return s;
}

export async function connect(opts: ConnectQuicOptions): Promise<PeerConnection> {
  const c = await connectQuic(opts);
  clients.add(c);
  return c;
}

export async function closeAll(): Promise<void> {
  await Promise.all([...clients].map((c) => c.close('test over', { force: true }).catch(() => undefined)));
  clients.clear();
  await Promise.all([...servers].map((s) => s.close({ graceMs: 100 }).catch(() => undefined)));
  servers.clear();
}

/** Reads a whole stream to its end. */
export async function readAll(readable: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return Buffer.concat(parts);
}

/** Server side: echo every stream back, then end it. */
export function echo(server: QuicServer): void {
  server.on('connection', (conn) => {
    conn.on('stream', (s) => {
      void s.readable.pipeTo(s.writable).catch(() => undefined);
    });
  });
}

/** Client side: one request/response on a new stream. */
export async function roundTrip(conn: PeerConnection, payload: Uint8Array): Promise<Buffer> {
  const s: PeerStream = conn.openStream();
  const w = s.writable.getWriter();
  await w.write(payload);
  await w.close();
  return readAll(s.readable);
}

export function once<T>(emitter: { once(name: string, fn: (v: T) => void): unknown }, name: string): Promise<T> {
  return new Promise((resolve) => emitter.once(name, resolve));
}
