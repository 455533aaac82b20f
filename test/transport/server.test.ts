/**
 * Server behaviour on loopback: the source allow-list in front of QUIC, graceful drain, idle
 * timeout and keep-alive, IPv6, connection and stream limits, and certificate reload.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AddressAllowList, type PeerConnection, type QuicServerOptions, type ConnectQuicOptions, type CloseInfo } from '../../src/transport/index.js';
import { IyesmpError } from '../../src/errors.js';
import { transportSuite, authServerOpts, authClientOpts, connect, echo, once, readAll, roundTrip, startServer } from './helpers.js';
import { freeUdpPort } from '../support/net.js';
import { failureOf } from '../support/assert.js';

const f = transportSuite();

const T = 60_000;

const serverOpts = (extra: Partial<QuicServerOptions> = {}): QuicServerOptions => authServerOpts(f, extra);
const clientOpts = (port: number, extra: Partial<ConnectQuicOptions> = {}): ConnectQuicOptions => authClientOpts(f, port, extra);

const failure = (p: Promise<unknown>): Promise<IyesmpError> => failureOf(p, 'expected a failure');

/**
 * A connect from a fixed local port that is expected to fail: binding that port may fail for a
 * moment (`socket_failed`) while the previous client's socket on it is still closing, or another
 * test's socket holds it; try again then, so only the server's answer is asserted.
 */
async function failureFrom(opts: ConnectQuicOptions): Promise<IyesmpError> {
  for (let i = 0; ; i++) {
    const e = await failure(connect(opts));
    if (e.code !== 'socket_failed' || i >= 10) return e;
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('allow-list in front of QUIC', () => {
  it(
    'drops datagrams from an unlisted address before QUIC; adding the address lets the same client in',
    async () => {
      const server = await startServer(serverOpts({ allowList: [] }));
      echo(server);
      let events = 0;
      server.on('connection', () => events++);
      server.on('refused', () => events++);
      const e = await failure(connect(clientOpts(server.port, { timeoutMs: 2000 })));
      expect(e.code).toBe('timeout');
      const st = server.stats().allowList!;
      expect(st.dropped).toBeGreaterThan(0);
      expect(st.passed).toBe(0);
      expect(st.lastDroppedFrom).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(events).toBe(0);

      server.allowList!.add('127.0.0.1');
      const conn = await connect(clientOpts(server.port));
      expect((await roundTrip(conn, Buffer.from('let in'))).toString()).toBe('let in');
      expect(server.stats().allowList!.passed).toBeGreaterThan(0);
    },
    T,
  );

  it(
    'address:port entries admit only that source port, and can be removed at run time',
    async () => {
      const list = new AddressAllowList();
      const server = await startServer(serverOpts({ allowList: list }));
      echo(server);
      const localPort = await freeUdpPort();
      list.add(`127.0.0.1:${localPort === 65535 ? 1 : localPort + 1}`);
      const e = await failureFrom(clientOpts(server.port, { localPort, timeoutMs: 2000 }));
      expect(e.code).toBe('timeout');
      const droppedBefore = list.stats().dropped;
      expect(droppedBefore).toBeGreaterThan(0);

      list.add(`127.0.0.1:${localPort}`);
      const conn = await connect(clientOpts(server.port, { localPort }));
      expect((await roundTrip(conn, Buffer.from('port ok'))).toString()).toBe('port ok');
      await conn.close('done', { force: true });

      expect(list.remove(`127.0.0.1:${localPort}`)).toBe(true);
      const e2 = await failureFrom(clientOpts(server.port, { localPort, timeoutMs: 2000 }));
      expect(e2.code).toBe('timeout');
      expect(list.stats().dropped).toBeGreaterThan(droppedBefore);
    },
    T,
  );
});

describe('graceful shutdown', () => {
  it(
    'drains: a stream open when close() starts still completes, new connections are not answered',
    async () => {
      const server = await startServer(serverOpts());
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const requestRead = new Promise<string>((resolveRead) => {
        server.on('connection', (conn) => {
          conn.on('stream', async (s) => {
            const req = await readAll(s.readable);
            resolveRead(req.toString());
            await released;
            const w = s.writable.getWriter();
            await w.write(Buffer.concat([Buffer.from('reply to '), req]));
            await w.close();
          });
        });
      });
      const conn = await connect(clientOpts(server.port));
      const clientClosed = conn.closed;
      const reply = roundTrip(conn, Buffer.from('slow request'));
      expect(await requestRead).toBe('slow request');

      const closing = server.close({ graceMs: 30_000 });
      const late = await failure(connect(clientOpts(server.port, { timeoutMs: 1500 })));
      expect(late.code).toBe('timeout');
      release();
      expect((await reply).toString()).toBe('reply to slow request');
      await closing;
      const info: CloseInfo = await clientClosed;
      expect(info.code).toBe('shutting_down');
      expect(info.byPeer).toBe(true);
    },
    T,
  );

  it(
    'forces streams that outlive the grace period',
    async () => {
      const server = await startServer(serverOpts());
      const got = new Promise<void>((resolve) => {
        server.on('connection', (conn) => conn.on('stream', () => resolve())); // never answers
      });
      const conn = await connect(clientOpts(server.port));
      const s = conn.openStream();
      const w = s.writable.getWriter();
      await w.write(Buffer.from('hello?'));
      await got;
      const readP = readAll(s.readable).then(
        () => 'ended',
        () => 'reset',
      );
      await server.close({ graceMs: 300 });
      expect(await readP).toBe('reset');
      expect((await conn.closed).code).toBe('shutting_down');
    },
    T,
  );
});

describe('timeouts', () => {
  it(
    'idle timeout closes an idle connection on both sides',
    async () => {
      const server = await startServer(serverOpts({ limits: { idleTimeoutMs: 1000 } }));
      const serverConn = once<PeerConnection>(server, 'connection');
      const conn = await connect(clientOpts(server.port, { keepAliveMs: 0 }));
      const sc = await serverConn;
      expect((await sc.closed).code).toBe('idle_timeout');
      expect((await conn.closed).code).toBe('idle_timeout');
      expect(server.connections).toHaveLength(0);
    },
    T,
  );

  it(
    'a connection that goes quiet after traffic idles out one idle timeout after its last packet',
    async () => {
      // The patched library leaves its connection timer armed when traffic pushes quiche's deadline
      // back, and arms it again for the rest when it fires early: the timeout must still come, and
      // not before its time
      const server = await startServer(serverOpts({ limits: { idleTimeoutMs: 1500 } }));
      echo(server);
      const serverConn = once<PeerConnection>(server, 'connection');
      const conn = await connect(clientOpts(server.port, { keepAliveMs: 0 }));
      const sc = await serverConn;
      // longer than the idle timeout in all, so the deadline moves past the timer's first expiry
      for (let i = 0; i < 8; i++) {
        expect((await roundTrip(conn, Buffer.from(`ping ${i}`))).toString()).toBe(`ping ${i}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const quietSince = Date.now() - 250;
      expect((await sc.closed).code).toBe('idle_timeout');
      expect(Date.now() - quietSince).toBeGreaterThanOrEqual(1300);
      expect((await conn.closed).code).toBe('idle_timeout');
    },
    T,
  );

  it(
    'a chunk read from a stream holds only its own bytes, not a slab of the buffer pool',
    async () => {
      // An idle player's control stream keeps its last chunk until the next message arrives; the
      // patched library copies each chunk into a buffer of its own (Buffer.from would slice Node's
      // 8 KiB pool and keep the whole slab alive for that long)
      const server = await startServer(serverOpts({}));
      echo(server);
      const conn = await connect(clientOpts(server.port));
      const s = conn.openStream();
      const w = s.writable.getWriter();
      await w.write(Buffer.from('a small message'));
      await w.close();
      const reader = s.readable.getReader();
      const chunks: Uint8Array[] = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      expect(Buffer.concat(chunks).toString()).toBe('a small message');
      for (const c of chunks) expect(c.buffer.byteLength).toBe(c.byteLength);
    },
    T,
  );

  it(
    'keep-alive keeps a quiet connection open past the idle timeout',
    async () => {
      const server = await startServer(serverOpts({ limits: { idleTimeoutMs: 3000 } }));
      echo(server);
      const conn = await connect(clientOpts(server.port, { keepAliveMs: 400 }));
      await new Promise((r) => setTimeout(r, 7000));
      expect(conn.isClosed).toBe(false);
      expect((await roundTrip(conn, Buffer.from('still here'))).toString()).toBe('still here');
    },
    T,
  );
});

describe('IPv6 and limits', () => {
  it(
    'works over IPv6 loopback (::1), allow-list included',
    async () => {
      const server = await startServer(serverOpts({ host: '::1', allowList: ['::1'] }));
      echo(server);
      const seen = once<PeerConnection>(server, 'connection');
      const conn = await connect(clientOpts(server.port, { host: '::1' }));
      expect((await roundTrip(conn, Buffer.from('v6'))).toString()).toBe('v6');
      expect((await seen).remoteHost).toBe('::1');
    },
    T,
  );

  it(
    'a dual-stack server (::) matches an IPv4 client against an IPv4 allow-list entry',
    async () => {
      const server = await startServer(serverOpts({ host: '::', allowList: ['127.0.0.1'] }));
      echo(server);
      const conn = await connect(clientOpts(server.port, { host: '127.0.0.1' }));
      expect((await roundTrip(conn, Buffer.from('v4 on v6'))).toString()).toBe('v4 on v6');
      expect(server.stats().allowList!.dropped).toBe(0);
    },
    T,
  );

  it(
    'refuses connections beyond maxConnections with server_full',
    async () => {
      const server = await startServer(serverOpts({ limits: { maxConnections: 1 } }));
      echo(server);
      const first = await connect(clientOpts(server.port));
      const e = await failure(connect(clientOpts(server.port)));
      expect(e.code).toBe('server_full');
      expect(server.stats().refused.server_full).toBe(1);
      expect((await roundTrip(first, Buffer.from('first still fine'))).toString()).toBe('first still fine');
    },
    T,
  );

  it(
    'limits concurrent streams per connection; credit comes back as streams finish',
    async () => {
      const server = await startServer(serverOpts({ limits: { maxStreamsPerConnection: 2 } }));
      echo(server);
      const conn = await connect(clientOpts(server.port));
      expect(conn.streamsLeft).toBe(2);
      const held = [conn.openStream(), conn.openStream()];
      const writers = held.map((s) => s.writable.getWriter());
      await Promise.all(writers.map((w, i) => w.write(Buffer.from(`held ${i}`))));
      expect(conn.streamsLeft).toBe(0);
      expect(() => conn.openStream()).toThrowError(expect.objectContaining({ code: 'stream_limit' }));

      // finish both streams in both directions; the server then grants new ones
      await Promise.all(writers.map((w) => w.close()));
      expect((await Promise.all(held.map((s) => readAll(s.readable)))).map(String)).toEqual(['held 0', 'held 1']);
      for (let i = 0; i < 200 && conn.streamsLeft === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(conn.streamsLeft).toBeGreaterThan(0);
      expect((await roundTrip(conn, Buffer.from('next'))).toString()).toBe('next');
    },
    T,
  );
});

describe('certificate reload', () => {
  it(
    'reload() serves a new cert to new connections; open ones keep working; a bad set is refused',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-reload-'));
      try {
        const certFile = path.join(dir, 'server.pem');
        const keyFile = path.join(dir, 'server.key');
        await writeFile(certFile, f.auth.cert);
        await writeFile(keyFile, await readFile(f.auth.key));
        const server = await startServer(serverOpts({ cert: certFile, key: keyFile }));
        echo(server);
        const before = await connect(clientOpts(server.port));
        const oldFp = before.peer.fingerprint;
        expect(server.certFingerprint).toBe(oldFp);

        await writeFile(certFile, f.auth2.cert);
        await writeFile(keyFile, await readFile(f.auth2.key));
        await server.reload();
        const after = await connect(clientOpts(server.port));
        expect(after.peer.fingerprint).not.toBe(oldFp);
        expect(after.peer.fingerprint).toBe(server.certFingerprint);
        expect((await roundTrip(before, Buffer.from('old conn'))).toString()).toBe('old conn');

        const kept = server.certFingerprint;
        await expect(server.reload({ cert: f.auth.cert })).rejects.toMatchObject({ code: 'tls_key_mismatch' });
        expect(server.certFingerprint).toBe(kept);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    'setVerifier: new handshakes are checked against the new trust data',
    async () => {
      const server = await startServer(serverOpts({ verifier: f.foreignVerifier }));
      echo(server);
      const e = await failure(connect(clientOpts(server.port)));
      expect(e.code).toBe('unknown_issuer');
      server.setVerifier(f.verifier);
      const conn = await connect(clientOpts(server.port));
      expect((await roundTrip(conn, Buffer.from('trusted now'))).toString()).toBe('trusted now');
    },
    T,
  );

  it(
    'watch: replacing the files reloads without a call',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-watch-'));
      try {
        const certFile = path.join(dir, 'server.pem');
        const keyFile = path.join(dir, 'server.key');
        await writeFile(certFile, f.auth.cert);
        await writeFile(keyFile, await readFile(f.auth.key));
        const server = await startServer(serverOpts({ cert: certFile, key: keyFile, watch: true }));
        const oldFp = server.certFingerprint;
        const reloaded = new Promise<string>((resolve) => {
          server.on('reload', ({ fingerprint }) => {
            if (fingerprint !== oldFp) resolve(fingerprint);
          });
        });
        // write to temp names then rename, as deploy tools do
        await writeFile(path.join(dir, 'k.tmp'), await readFile(f.auth2.key));
        await writeFile(path.join(dir, 'c.tmp'), f.auth2.cert);
        const { rename } = await import('node:fs/promises');
        await rename(path.join(dir, 'k.tmp'), keyFile);
        await rename(path.join(dir, 'c.tmp'), certFile);
        const fp = await reloaded;
        const conn = await connect(clientOpts(server.port));
        expect(conn.peer.fingerprint).toBe(fp);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    T,
  );
});
