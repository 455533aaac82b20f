/** Shared helpers for transport tests: start/stop tracking so no socket outlives a test file. */
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  ALPN,
  createQuicServer,
  connectQuic,
  type QuicServer,
  type QuicServerOptions,
  type ConnectQuicOptions,
  type PeerConnection,
  type PeerStream,
} from '../../src/transport/index.js';
import { makeFixture, type Fixture } from './fixture.js';

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

/**
 * The usual life of a transport test file: the fixture made before its tests and removed after
 * them, and every server and connection these helpers started closed after each test. Call at the
 * file's top level; the view it returns reads the fixture (inside tests and hooks only).
 */
export function transportSuite(): Fixture {
  let made: Fixture | undefined;
  beforeAll(async () => {
    made = await makeFixture();
  }, 120_000);
  afterEach(async () => {
    await closeAll();
  });
  afterAll(async () => {
    await made?.cleanup();
  });
  return new Proxy({} as Fixture, {
    get(_t, k) {
      if (!made) throw new Error('the fixture is made in beforeAll; use it inside a test or hook');
      return made[k as keyof Fixture];
    },
  });
}

/** An Auth server's client port on loopback with the fixture's auth certificate; `extra` adds the rest. */
export function authServerOpts(f: Fixture, extra: Partial<QuicServerOptions> = {}): QuicServerOptions {
  return { host: '127.0.0.1', alpn: ALPN.auth, ...f.auth, verifier: f.verifier, policy: { kind: 'auth-client' }, ...extra };
}

/** The fixture's active client dialling that server on `port`; `extra` adds the rest. */
export function authClientOpts(f: Fixture, port: number, extra: Partial<ConnectQuicOptions> = {}): ConnectQuicOptions {
  return { host: '127.0.0.1', port, alpn: ALPN.auth, ...f.client, verifier: f.verifier, serverPolicy: { kind: 'auth-server' }, ...extra };
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
