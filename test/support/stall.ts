/**
 * A stalled event loop (CPU starvation, a long GC) as tests make one: this thread blocks while
 * another sends it datagrams, which wait in the socket's receive buffer until the loop polls again.
 */
import { Worker } from 'node:worker_threads';

/**
 * Blocks this thread's event loop for `ms`, as a busy process's is, while other threads run; first
 * runs `before` (e.g. tell a peer to send). The block runs in a `setImmediate` callback, as the work
 * of a busy server runs in I/O and immediate callbacks: the loop's next phase is then its timers,
 * before it polls the sockets again. (A block inside a timer callback would be followed by a poll:
 * libuv runs timers at the end of an iteration, after the poll and check phases.)
 */
export function stall(ms: number, before: () => void = () => undefined): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      before();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      resolve();
    }),
  );
}

/**
 * A thread that sends `payload` to 127.0.0.1:`port`, `delayMs` after `go()`: call `go()` just
 * before blocking (`stall(ms, peer.go)`), and the datagram arrives while this thread is blocked. Resolves once its socket
 * is bound; `close()` ends the thread.
 */
export async function datagramLater(port: number, payload: string, delayMs: number): Promise<{ go(): void; close(): Promise<number> }> {
  const worker = new Worker(
    `const dgram = require('node:dgram');
     const { workerData: w, parentPort } = require('node:worker_threads');
     const s = dgram.createSocket('udp4');
     s.bind(0, '127.0.0.1', () => parentPort.postMessage('ready'));
     parentPort.on('message', () => setTimeout(() => s.send(w.payload, w.port, '127.0.0.1'), w.delayMs));`,
    { eval: true, workerData: { port, payload, delayMs } },
  );
  await new Promise((r) => worker.once('message', r));
  return { go: () => worker.postMessage('go'), close: () => worker.terminate() };
}
