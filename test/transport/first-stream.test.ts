/**
 * The confirmation folded into the first stream (`confirm: 'first-stream'`, confirm.ts) over real
 * QUIC: the server hands a new client's protocol stream to the application only once admitted, a
 * refused client gets exactly the error an `accepted`-mode client gets, older clients still work
 * beside new ones, and a peer that opens more than its one stream before admission is closed.
 */
import { describe, expect, it } from 'vitest';
import { QUICClient, events as quicEvents, type QUICConnection } from '@matrixai/quic';
import { ALPN, type ConnectQuicOptions, type PeerConnection, type PeerStream, type QuicServer, type QuicServerOptions } from '../../src/transport/index.js';
import { loadCredentials } from '../../src/transport/credentials.js';
import { clientCrypto, quicLogger } from '../../src/transport/quic-runtime.js';
import { AppClose } from '../../src/transport/refusal.js';
import { IyesmpError } from '../../src/errors.js';
import type { Creds } from './fixture.js';
import { transportSuite, authServerOpts, authClientOpts, connect, roundTrip, startServer } from './helpers.js';
import { failureOf } from '../support/assert.js';
import { pollUntil } from '../support/wait.js';

const f = transportSuite();

const T = 60_000;

const serverOpts = (extra: Partial<QuicServerOptions> = {}): QuicServerOptions => authServerOpts(f, extra);
const clientOpts = (port: number, extra: Partial<ConnectQuicOptions> = {}): ConnectQuicOptions => authClientOpts(f, port, extra);

/** What the server application saw: connections and the bytes of every stream it was handed. */
function watch(server: QuicServer): { connections: PeerConnection[]; streams: number[]; bytes: number } {
  const seen = { connections: [] as PeerConnection[], streams: [] as number[], bytes: 0 };
  server.on('connection', (conn) => {
    seen.connections.push(conn);
    conn.on('stream', (s) => {
      seen.streams.push(s.id);
      void (async () => {
        const reader = s.readable.getReader();
        const writer = s.writable.getWriter();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          seen.bytes += value.byteLength;
          await writer.write(value); // the echo is this test's "welcome"
        }
        await writer.close();
      })().catch(() => undefined);
    });
  });
  return seen;
}

/**
 * A `first-stream` client as the client library does it: connect, open the protocol stream at once,
 * say hello, and let the first answer confirm the connection.
 */
async function helloFirst(opts: ConnectQuicOptions, hello = 'hello'): Promise<{ conn: PeerConnection; stream: PeerStream; welcome: string }> {
  const conn = await connect({ ...opts, confirm: 'first-stream' });
  const stream = conn.openStream();
  const welcome = await conn.confirmedBy(echo(stream, hello));
  return { conn, stream, welcome };
}

/** Says `hello` on the stream and reads the first answer (the echo server's welcome). */
async function echo(stream: PeerStream, hello: string): Promise<string> {
  const w = stream.writable.getWriter();
  await w.write(Buffer.from(hello));
  w.releaseLock();
  const r = stream.readable.getReader();
  const { value, done } = await r.read();
  r.releaseLock();
  if (done) throw new Error('the stream ended before the welcome');
  return Buffer.from(value).toString();
}

/** The error's identity as a caller sees it. */
const shape = (e: IyesmpError) => ({ kind: e.kind, code: e.code, message: e.message });

describe('first-stream confirmation', () => {
  it(
    'the hello goes out at once; the server hands over the connection with that stream first, and its answer confirms',
    async () => {
      const server = await startServer(serverOpts());
      const seen = watch(server);
      const { conn, welcome } = await helloFirst(clientOpts(server.port), 'hi there');
      expect(welcome).toBe('hi there');
      expect(conn.awaitingConfirmation).toBe(false);
      expect(seen.connections).toHaveLength(1);
      expect(seen.streams).toEqual([0]);
      expect(server.stats()).toMatchObject({ connections: 1, confirming: 0, accepted: 1, acceptedLegacy: 0 });
      // after the confirmation the connection is an ordinary one: more streams, both ways
      expect((await roundTrip(conn, Buffer.from('more'))).toString()).toBe('more');
      expect(seen.streams).toEqual([0, 4]);
    },
    T,
  );

  it(
    'before the answer only the first stream may be opened (the server would refuse a second)',
    async () => {
      const server = await startServer(serverOpts());
      watch(server);
      const conn = await connect(clientOpts(server.port, { confirm: 'first-stream' }));
      conn.openStream();
      expect(() => conn.openStream()).toThrow(expect.objectContaining({ code: 'stream_limit' }) as Error);
    },
    T,
  );

  it(
    'an older client (HELLO on a unidirectional stream, then ACCEPTED) works beside a new one on the same server',
    async () => {
      const server = await startServer(serverOpts());
      const seen = watch(server);
      const old = await connect(clientOpts(server.port)); // confirm: 'accepted', the default
      const fresh = await helloFirst(clientOpts(server.port));
      expect((await roundTrip(old, Buffer.from('old'))).toString()).toBe('old');
      expect(fresh.welcome).toBe('hello');
      expect(seen.connections).toHaveLength(2);
      expect(server.stats()).toMatchObject({ connections: 2, confirming: 0, accepted: 2, acceptedLegacy: 1 });
      expect(server.stats().refused).toEqual({});
    },
    T,
  );
});

describe('refusals reach a first-stream client as they reach an accepted-mode client', () => {
  const dialBoth = async (port: number, extra: Partial<ConnectQuicOptions>): Promise<[IyesmpError, IyesmpError]> => {
    const fresh = await failureOf(helloFirst(clientOpts(port, extra)), 'a first-stream client was let in');
    const old = await failureOf(connect(clientOpts(port, extra)), 'an accepted-mode client was let in');
    return [fresh, old];
  };

  it(
    'a retired ClientAuth, a wrong role, a certificate of another PKI: the same refused errors, nothing handed over',
    async () => {
      const server = await startServer(serverOpts());
      const seen = watch(server);
      for (const [creds, code] of [
        [f.retiredClient, 'retired_clientauth'],
        [f.host, 'wrong_role'],
        [f.foreignClient, 'unknown_issuer'],
      ] as [Creds, string][]) {
        const [fresh, old] = await dialBoth(server.port, creds);
        expect(fresh.code).toBe(code);
        expect(shape(fresh)).toEqual(shape(old));
      }
      expect(fresh0(seen)).toEqual({ connections: 0, bytes: 0 });
    },
    T,
  );

  it(
    'server_full: the same error; the refused client hello never reaches the application',
    async () => {
      const server = await startServer(serverOpts({ limits: { maxConnections: 1 } }));
      const seen = watch(server);
      await helloFirst(clientOpts(server.port), 'first');
      const [fresh, old] = await dialBoth(server.port, {});
      expect(fresh.code).toBe('server_full');
      expect(shape(fresh)).toEqual(shape(old));
      expect(seen.connections).toHaveLength(1);
      expect(seen.bytes).toBe('first'.length);
      expect(server.stats().refused.server_full).toBe(2);
    },
    T,
  );

  it(
    'too_many_connections: the same error, with the limit that refused',
    async () => {
      const server = await startServer(serverOpts({ trustAt: 'login', limits: { maxUnauthenticatedPerAddress: 1 } }));
      const seen = watch(server);
      await helloFirst(clientOpts(server.port));
      const [fresh, old] = await dialBoth(server.port, {});
      expect(fresh.code).toBe('too_many_connections');
      expect(fresh.message).toContain('too_many_from_address');
      expect(shape(fresh)).toEqual(shape(old));
      expect(seen.connections).toHaveLength(1);
    },
    T,
  );

  it(
    'deadline: a server that closes the connection for a missed stage while the client waits for its welcome',
    async () => {
      // the endpoint never reports the hello, so the hello deadline passes
      const server = await startServer(serverOpts({ trustAt: 'login', limits: { helloTimeoutMs: 200 } }));
      server.on('connection', (conn) => conn.on('stream', () => undefined));
      const e = await failureOf(helloFirst(clientOpts(server.port)), 'welcomed without a welcome');
      expect(e).toBeInstanceOf(IyesmpError);
      expect(e.code).toBe('deadline');
      expect(e.message).toContain('hello_timeout');
    },
    T,
  );

  it(
    'no answer within timeoutMs: timeout, as when ACCEPTED never comes',
    async () => {
      const server = await startServer(serverOpts());
      server.on('connection', (conn) => conn.on('stream', () => undefined));
      const e = await failureOf(helloFirst(clientOpts(server.port, { timeoutMs: 800 })), 'welcomed without a welcome');
      expect(e.code).toBe('timeout');
      expect(e.message).toBe(`no QUIC answer from 127.0.0.1:${server.port} within 800 ms`);
    },
    T,
  );
});

/** The echo exchange of `watch` through `openConfirmed`: what a client library does, counted. */
async function openEcho(conn: PeerConnection, hello = 'hello', streams: number[] = []): Promise<{ welcome: string; streams: number[] }> {
  const welcome = await conn.openConfirmed((stream) => {
    streams.push(stream.id);
    return echo(stream, hello);
  });
  return { welcome, streams };
}

describe('a new client against an older server (one that confirms only the accepted way)', () => {
  it(
    'the server resets stream 0; the client confirms the older way on the same connection and says hello again on a new stream',
    async () => {
      const server = await startServer(serverOpts({ onlyAccepted: true }));
      const seen = watch(server);
      const conn = await connect(clientOpts(server.port, { confirm: 'first-stream' }));
      // the client before this failed here (`closed`, after waiting 1 s for a close that never came)
      const { welcome, streams } = await openEcho(conn, 'hi there');
      expect(welcome).toBe('hi there');
      expect(streams).toEqual([0, 4]);
      expect(conn.awaitingConfirmation).toBe(false);
      expect(seen.streams).toEqual([4]);
      expect(server.stats()).toMatchObject({ connections: 1, confirming: 0, accepted: 1, acceptedLegacy: 1, refused: {} });
      // then an ordinary connection: another request on another stream
      expect((await roundTrip(conn, Buffer.from('more'))).toString()).toBe('more');
      expect(conn.isClosed).toBe(false);
    },
    T,
  );

  it(
    'a refusal is still the refusal, tried once: a retired ClientAuth, a wrong role, a full server',
    async () => {
      for (const onlyAccepted of [true, false]) {
        const server = await startServer(serverOpts({ onlyAccepted, limits: { maxConnections: 1 } }));
        const seen = watch(server);
        for (const [creds, code] of [
          [f.retiredClient, 'retired_clientauth'],
          [f.host, 'wrong_role'],
        ] as [Creds, string][]) {
          const conn = await connect(clientOpts(server.port, { ...creds, confirm: 'first-stream' })).catch((e: unknown) => e as IyesmpError);
          const e = conn instanceof IyesmpError ? conn : await failureOf(openEcho(conn), 'a refused client was let in');
          expect(e.code).toBe(code);
        }
        await openEcho(await connect(clientOpts(server.port, { confirm: 'first-stream' })), 'first');
        const full = await connect(clientOpts(server.port, { confirm: 'first-stream' }));
        const streams: number[] = [];
        const e = await failureOf(openEcho(full, 'hello', streams), 'a full server let a client in');
        expect(e.code).toBe('server_full');
        expect(streams).toEqual([0]);
        expect(seen.connections).toHaveLength(1);
        expect(server.stats()).toMatchObject({ accepted: 1, acceptedLegacy: onlyAccepted ? 1 : 0 });
      }
    },
    T,
  );

  it(
    'a server of this release that resets stream 0 after the hand-over is no older server: the failure is reported, not retried',
    async () => {
      const server = await startServer(serverOpts());
      server.on('connection', (conn) => conn.on('stream', (s) => s.cancel(new Error('no'))));
      const conn = await connect(clientOpts(server.port, { confirm: 'first-stream' }));
      const streams: number[] = [];
      const e = await openEcho(conn, 'hello', streams).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(Error); // the exchange's own error: no close said more
      expect(streams).toEqual([0]);
      expect(server.stats()).toMatchObject({ accepted: 1, acceptedLegacy: 0 });
      expect(conn.isClosed).toBe(true);
    },
    T,
  );
});

function fresh0(seen: { connections: PeerConnection[]; bytes: number }): { connections: number; bytes: number } {
  return { connections: seen.connections.length, bytes: seen.bytes };
}

/** A client that follows no rules: the QUIC library with a valid client certificate. */
async function stranger(port: number): Promise<{ conn: QUICConnection; closeCode: Promise<number | undefined>; destroy: () => Promise<void> }> {
  const creds = await loadCredentials(f.client);
  const client = await QUICClient.createQUICClient(
    {
      host: '127.0.0.1',
      port,
      localHost: '0.0.0.0',
      crypto: clientCrypto,
      logger: quicLogger('stranger'),
      config: {
        cert: creds.cert,
        key: creds.key,
        verifyPeer: true,
        verifyCallback: async () => undefined,
        applicationProtos: [ALPN.auth],
        initialMaxStreamsUni: 1,
      },
    },
    { timer: 10_000 },
  );
  const conn = client.connection;
  const closeCode = new Promise<number | undefined>((resolve) =>
    conn.addEventListener(quicEvents.EventQUICConnectionStopped.name, () => resolve(conn.getConnectionError()?.errorCode), { once: true }),
  );
  return { conn, closeCode, destroy: () => client.destroy({ force: true }).catch(() => undefined) };
}

async function send(writable: WritableStream<Uint8Array>, bytes: Uint8Array, end = true): Promise<void> {
  const w = writable.getWriter();
  await w.write(bytes);
  if (end) await w.close();
  w.releaseLock();
}

describe('a hostile peer before admission', () => {
  // no timer of the server's closes these connections: only what the peer does
  const patient = { limits: { confirmTimeoutMs: 120_000, firstStreamTimeoutMs: 120_000 } };
  it(
    'a first stream other than 0 or 2 closes the connection with confirm_failed; nothing is handed over',
    async () => {
      const server = await startServer(serverOpts(patient));
      const seen = watch(server);
      const s = await stranger(server.port);
      s.conn.newStream('bidi'); // id 0, never written: the server never hears of it
      const fourth = s.conn.newStream('bidi');
      void send(fourth.writable as unknown as WritableStream<Uint8Array>, Buffer.from('not the first')).catch(() => undefined);
      expect(await s.closeCode).toBe(AppClose.confirm_failed);
      await s.destroy();
      expect(server.stats().refused.confirm_failed).toBe(1);
      expect(fresh0(seen)).toEqual({ connections: 0, bytes: 0 });
    },
    T,
  );

  it(
    'a flood of streams while the old-mode HELLO is unfinished: closed at the first extra stream, none handed over',
    async () => {
      const server = await startServer(serverOpts(patient));
      const seen = watch(server);
      const s = await stranger(server.port);
      // half a HELLO and no end: the server waits for the rest (the only stream it holds)
      const hello = s.conn.newStream('uni');
      void send(hello.writable as unknown as WritableStream<Uint8Array>, Uint8Array.of(0x49, 0x59), false).catch(() => undefined);
      await pollUntil(() => server.stats().confirming === 1, 'the server holding the connection');
      for (let i = 0; i < 50; i++) {
        const b = s.conn.newStream('bidi');
        void send(b.writable as unknown as WritableStream<Uint8Array>, Buffer.alloc(16_384, i)).catch(() => undefined);
      }
      expect(await s.closeCode).toBe(AppClose.confirm_failed);
      await s.destroy();
      await pollUntil(() => server.stats().confirming === 0, 'the server letting go of it');
      expect(server.stats().connections).toBe(0);
      expect(server.stats().refused.confirm_failed).toBe(1);
      expect(fresh0(seen)).toEqual({ connections: 0, bytes: 0 });
    },
    T,
  );

  it(
    'bytes on the first stream wait in its flow-control window: a peer cannot push more than that before anyone reads',
    async () => {
      const server = await startServer(serverOpts());
      let handed: PeerConnection | undefined;
      server.on('connection', (conn) => (handed = conn)); // admitted, but nobody reads the stream
      const s = await stranger(server.port);
      const first = s.conn.newStream('bidi');
      const w = (first.writable as unknown as WritableStream<Uint8Array>).getWriter();
      let accepted = 0;
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pushing = (async () => {
        for (let i = 0; i < 128; i++) {
          await w.write(chunk); // resolves once the library took it under the peer's flow control
          accepted += chunk.byteLength;
        }
      })();
      pushing.catch(() => undefined);
      await pollUntil(() => handed, 'the hand-over');
      // stalled: poll until the count stops growing over several steps
      let last = -1;
      let still = 0;
      await pollUntil(
        () => {
          still = accepted === last ? still + 1 : 0;
          last = accepted;
          return still >= 10;
        },
        'the writes to stall',
        20_000,
        50,
      );
      expect(accepted).toBeGreaterThan(0);
      // the server's stream window (the library's 1 MiB default) plus what sits in the client's own buffers
      expect(accepted).toBeLessThanOrEqual(2 * 1024 * 1024);
      expect(accepted).toBeLessThan(128 * chunk.byteLength);
      await s.destroy();
    },
    T,
  );
});
