/**
 * A QUIC connection whose process stalls (CPU starvation, a long GC) must not be closed as idle for
 * packets its peer sent in time. After a stall libuv runs expired timers before it polls sockets: the
 * connection's timer fired, quiche compared its idle deadline with the clock and closed the
 * connection, while the peer's packets, which would have pushed that deadline back, sat unread in
 * the socket's receive buffer. Players lost their connections that way during the scale bench's burst
 * of matchmakes (docs/performance.md, "A burst of matchmakes").
 *
 * The stalled side is the server (as the Auth: no keep-alive of its own, its idle timer kept alive by
 * its clients' packets). The peer is a client in a worker thread, so it keeps sending while this
 * thread is blocked; it runs from dist/ (built when missing), as a worker cannot load TypeScript.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloseInfo, PeerConnection } from '../../src/transport/index.js';
import { transportSuite, authServerOpts, startServer } from './helpers.js';
import { pollUntil } from '../support/wait.js';
import { stall } from '../support/stall.js';
import { ensureBuilt, repoRoot } from '../support/build.js';

const f = transportSuite();
const peers: Worker[] = [];

const IDLE_MS = 1000;
/** the peer writes one byte this often (and sends nothing else: no keep-alive) */
const EVERY_MS = 500;
/**
 * Longer than the idle timeout, shorter than the idle timeout plus the peer's interval: the stalled
 * side's deadline (its last packet read plus IDLE_MS) passes during the stall, while the peer's
 * (its next write after the stalled side's last ACK, plus IDLE_MS) is still ~230 ms away after it.
 */
const STALL_MS = 1250;
/** junk datagrams ahead of the peer's in the server socket's receive buffer (~20 turns of the loop) */
const BACKLOG = 640;

/** A thread that sends `count` junk datagrams to `port` when told to (a crowd's traffic, for the socket's backlog). */
async function startBlaster(port: number, count: number): Promise<Worker> {
  const w = new Worker(
    `const dgram = require('node:dgram');
     const { workerData: w, parentPort } = require('node:worker_threads');
     const s = dgram.createSocket('udp4');
     s.bind(0, '127.0.0.9', () => parentPort.postMessage('ready'));
     parentPort.on('message', () => {
       const junk = Buffer.alloc(100, 0xc3);
       for (let i = 0; i < w.count; i++) s.send(junk, w.port, '127.0.0.1');
     });`,
    { eval: true, workerData: { port, count } },
  );
  peers.push(w);
  await new Promise((r) => w.once('message', r));
  return w;
}

/** A client in another thread: connects, opens a stream and writes a byte every EVERY_MS until terminated. */
function startPeer(port: number): Worker {
  return new Worker(
    `const { workerData: w, parentPort } = require('node:worker_threads');
     (async () => {
       const t = await import(w.transport);
       const pki = await import(w.pki);
       const verifier = await (await pki.openPki(w.pkiDir)).verifier();
       const conn = await t.connectQuic({
         host: '127.0.0.1', port: w.port, alpn: w.alpn, cert: w.cert, key: w.key, verifier,
         serverPolicy: { kind: 'auth-server' }, idleTimeoutMs: w.idleMs, keepAliveMs: 0,
       });
       const writer = conn.openStream().writable.getWriter();
       let n = 0;
       const timer = setInterval(() => void writer.write(Uint8Array.of(n++ & 255)).catch(() => undefined), w.everyMs);
       const info = await conn.closed;
       clearInterval(timer);
       parentPort.postMessage({ closed: info });
     })().catch((e) => parentPort.postMessage({ error: String(e) }));`,
    {
      eval: true,
      workerData: {
        transport: pathToFileURL(path.join(repoRoot, 'dist/transport/index.js')).href,
        pki: pathToFileURL(path.join(repoRoot, 'dist/pki/index.js')).href,
        pkiDir: path.join(f.dir, 'pki'),
        port,
        alpn: authServerOpts(f).alpn,
        cert: f.client.cert,
        key: f.client.key,
        idleMs: IDLE_MS,
        everyMs: EVERY_MS,
      },
    },
  );
}

interface Served {
  conn: PeerConnection;
  /** bytes read from the peer's stream, and when (performance.now()) */
  reads: number[];
  closed: CloseInfo | undefined;
  closedAt: number | undefined;
}

/** A server with the short idle timeout; resolves with the peer's connection once its stream is read. */
async function serveOnePeer(): Promise<{ served: Promise<Served>; peer: Worker; port: number }> {
  const server = await startServer(authServerOpts(f, { limits: { idleTimeoutMs: IDLE_MS } }));
  const served = new Promise<Served>((resolve) => {
    server.once('connection', (conn) => {
      const s: Served = { conn, reads: [], closed: undefined, closedAt: undefined };
      void conn.closed.then((info) => {
        s.closed = info;
        s.closedAt = performance.now();
      });
      conn.once('stream', (stream) => {
        resolve(s);
        void (async () => {
          const reader = stream.readable.getReader();
          for (;;) {
            const { done } = await reader.read();
            if (done) return;
            s.reads.push(performance.now());
          }
        })().catch(() => undefined);
      });
    });
  });
  const peer = startPeer(server.port);
  peers.push(peer);
  return { served, peer, port: server.port };
}

/** Resolves once the peer's next byte was read, and a little after: a stall then starts where this test wants it. */
async function afterNextRead(s: Served): Promise<void> {
  const n = s.reads.length;
  await pollUntil(() => s.reads.length > n, 'a byte from the peer', 5000, 1);
  // the ACK of that byte has gone out by now
  await new Promise((r) => setTimeout(r, 20));
}

beforeAll(() => ensureBuilt(['dist/transport/index.js', 'dist/pki/index.js'], ['src/transport', 'src/pki']), 200_000);
afterEach(async () => {
  await Promise.all(peers.splice(0).map((w) => w.terminate()));
});

describe('a stalled event loop', () => {
  it('does not close a connection as idle when the peer’s packets wait in the socket', async () => {
    const { served } = await serveOnePeer();
    const s = await served;
    // a few bytes first: the connection is up and both idle timers run on the peer's writes
    await pollUntil(() => s.reads.length >= 2, 'two bytes from the peer', 10_000);
    await afterNextRead(s);
    const before = s.reads.length;
    const stalledAt = performance.now();
    await stall(STALL_MS);
    const resumedAt = performance.now();
    expect(resumedAt - stalledAt).toBeGreaterThanOrEqual(STALL_MS - 5);
    // the peer goes on writing: the connection must live on past its idle timeout after the stall
    await new Promise((r) => setTimeout(r, IDLE_MS + EVERY_MS));
    expect(s.closed).toBeUndefined();
    expect(s.reads.length).toBeGreaterThanOrEqual(before + 4);
    // the bytes written during the stall were read once it ended
    expect(s.reads.filter((t) => t >= resumedAt).length).toBeGreaterThanOrEqual(4);
  }, 30_000);

  it('reads a backlog of other datagrams first, as a busy server’s socket has after a stall', async () => {
    const { served, port } = await serveOnePeer();
    const s = await served;
    // more than libuv reads from one socket in one turn of the loop (32), many times over
    const blaster = await startBlaster(port, BACKLOG);
    await pollUntil(() => s.reads.length >= 2, 'two bytes from the peer', 10_000);
    await afterNextRead(s);
    // the junk arrives first, the peer's bytes behind it
    await stall(STALL_MS, () => blaster.postMessage('go'));
    const resumedAt = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_MS + EVERY_MS));
    expect(s.closed).toBeUndefined();
    expect(s.reads.filter((t) => t >= resumedAt).length).toBeGreaterThanOrEqual(4);
  }, 30_000);

  it('still closes a connection whose peer went silent, promptly after the stall', async () => {
    const { served, peer } = await serveOnePeer();
    const s = await served;
    await pollUntil(() => s.reads.length >= 2, 'two bytes from the peer', 10_000);
    await afterNextRead(s);
    // the peer's thread ends without a word: its socket closes, nothing more is sent
    await peer.terminate();
    await stall(STALL_MS);
    const resumedAt = performance.now();
    const closed = await s.conn.closed;
    expect(closed.code).toBe('idle_timeout');
    // its deadline passed during the stall: at most a few turns of the loop after it
    expect(s.closedAt! - resumedAt).toBeLessThan(150);
  }, 30_000);
});

describe('a silent peer on a free event loop', () => {
  it('is closed as idle within its idle timeout and a small margin', async () => {
    const { served, peer } = await serveOnePeer();
    const s = await served;
    await pollUntil(() => s.reads.length >= 2, 'two bytes from the peer', 10_000);
    await afterNextRead(s);
    const lastRead = s.reads.at(-1)!;
    await peer.terminate();
    const closed = await s.conn.closed;
    expect(closed.code).toBe('idle_timeout');
    const after = s.closedAt! - lastRead;
    expect(after).toBeGreaterThanOrEqual(IDLE_MS - 5);
    expect(after).toBeLessThan(IDLE_MS + 150);
  }, 30_000);
});
