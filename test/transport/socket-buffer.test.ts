/**
 * A server's one UDP socket takes every client's datagrams. Under a crowd (handshakes, retries) its
 * event loop falls behind for a moment; what arrives meanwhile waits in the kernel's receive buffer,
 * and what does not fit is dropped. With Linux's default buffer (~208 KiB, ~90 full-size datagrams)
 * the Auth server dropped thousands of datagrams a minute at 400 players, and players whose
 * datagrams kept being dropped lost their control stream to a QUIC idle timeout (issue #9).
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AddressAllowList } from '../../src/transport/index.js';
import { transportSuite, authServerOpts, startServer } from './helpers.js';

const DATAGRAMS = 1000;
const SIZE = 1200;

/** Linux's cap on a socket's receive buffer; the burst needs room for ~DATAGRAMS x 2.3 KiB (the kernel's per-datagram cost). */
function rmemMax(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    return undefined;
  }
}
const roomy = (rmemMax() ?? 0) * 2 >= DATAGRAMS * 2304 * 1.5;

/** Counts the blaster's datagrams as they reach the socket's handler, and drops them there. */
class CountingAllowList extends AddressAllowList {
  seen = 0;
  override admit(host: string, port: number, bytes: number): boolean {
    if (host === '127.0.0.9' || host === '::ffff:127.0.0.9') {
      this.seen++;
      return false;
    }
    return super.admit(host, port, bytes);
  }
}

/** Sends `count` datagrams from another thread while this one is blocked, as a busy event loop is. */
function burstWhileBlocked(port: number, count: number): void {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const dgram = require('node:dgram');
     const { workerData: w } = require('node:worker_threads');
     const s = dgram.createSocket('udp4');
     s.bind(0, '127.0.0.9', () => {
       let left = w.count;
       const buf = Buffer.alloc(w.size, 1);
       for (let i = 0; i < w.count; i++) s.send(buf, w.port, '127.0.0.1', () => {
         if (--left === 0) { Atomics.store(w.flag, 0, 1); Atomics.notify(w.flag, 0); s.close(); }
       });
     });`,
    { eval: true, workerData: { port, count, size: SIZE, flag } },
  );
  Atomics.wait(flag, 0, 0, 10_000);
  void worker.terminate();
}

const f = transportSuite();

describe('the server socket', () => {
  it.skipIf(!roomy)(
    `keeps a burst of ${DATAGRAMS} datagrams that arrives while its event loop is busy`,
    async () => {
      const allowList = new CountingAllowList([]);
      const server = await startServer(authServerOpts(f, { allowList }));
      burstWhileBlocked(server.port, DATAGRAMS);
      const deadline = Date.now() + 5000;
      while (allowList.seen < DATAGRAMS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(allowList.seen).toBe(DATAGRAMS);
    },
    30_000,
  );
});
