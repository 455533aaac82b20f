#!/usr/bin/env node
// QUIC transport on loopback, next to plain UDP (node:dgram) as the physical baseline, both measured
// in this run against a server in a child process (so client and server do not share one event loop):
//   - handshakes per second: connectQuic (mutual TLS + PKI verify on both sides + confirmation) + close,
//     vs UDP request/response round trips per second
//   - round-trip latency p50/p99 of a 32-byte message echoed on one long-lived stream, vs a 32-byte UDP echo
//   - throughput in MB/s of one stream sending 64 KiB chunks, vs 1200-byte UDP datagrams with a
//     64-datagram window acknowledged by the receiver
// Needs `npm run build` (imports ../dist). Bounded: each phase stops after its time budget.
import { createSocket } from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childQuicServer, withServerChild } from './quic-bench.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { connectQuic, ALPN } = await import(path.join(here, '../dist/transport/index.js'));

const PHASE_MS = 3000;
const SMALL = 32;
const DGRAM = 1200;

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const fmt = (n, d = 1) => n.toFixed(d);

// ---------------------------------------------------------------- child: the servers
if (process.argv[2] === 'server') {
  const server = await childQuicServer(ALPN.auth);
  server.on('connection', (conn) => {
    conn.on('stream', async (s) => {
      // first byte chooses: 'e' echo every chunk back; 's' sink: count bytes, answer the total at the end
      const reader = s.readable.getReader();
      const writer = s.writable.getWriter();
      let mode;
      let total = 0;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          let chunk = value;
          if (mode === undefined) {
            mode = chunk[0];
            chunk = chunk.subarray(1);
          }
          if (mode === 0x65) {
            if (chunk.byteLength) await writer.write(chunk);
          } else total += chunk.byteLength;
        }
        if (mode !== 0x65) await writer.write(Buffer.from(String(total)));
        await writer.close();
      } catch {
        /* client went away */
      }
    });
  });
  const udp = createSocket('udp4');
  udp.on('message', (msg, r) => {
    // 'A' datagrams are throughput data: acknowledge with 4 bytes; anything else is echoed
    udp.send(msg[0] === 0x41 ? msg.subarray(0, 4) : msg, r.port, r.address);
  });
  await new Promise((r) => udp.bind(0, '127.0.0.1', r));
  process.send({ quicPort: server.port, udpPort: udp.address().port });
  process.on('message', async (m) => {
    if (m === 'stop') {
      udp.close();
      await server.close({ graceMs: 500 });
      process.exit(0);
    }
  });
} else {
  await main();
}

async function main() {
  await withServerChild(fileURLToPath(import.meta.url), 'iyesmp-bench-', async ({ ready: { quicPort, udpPort }, verifier, client }) => {
    const dial = () => connectQuic({ host: '127.0.0.1', port: quicPort, alpn: ALPN.auth, ...client, verifier, serverPolicy: { kind: 'auth-server' } });

    const udp = createSocket('udp4');
    await new Promise((r) => udp.bind(0, '127.0.0.1', r));
    udp.connect(udpPort, '127.0.0.1');
    await new Promise((r) => udp.once('connect', r));
    const udpRtt = (payload) =>
      new Promise((resolve) => {
        udp.once('message', resolve);
        udp.send(payload);
      });

    // warm up both paths (JIT, PKI caches)
    for (let i = 0; i < 3; i++) await (await dial()).close('warm-up', { force: true });
    for (let i = 0; i < 50; i++) await udpRtt(Buffer.alloc(SMALL, 1));

    // -------------------------------------------------------- handshakes
    // connections are closed in the background (QUIC's close waits out a draining period)
    let n = 0;
    const hsMs = [];
    const closing = [];
    let t0 = performance.now();
    while (performance.now() - t0 < PHASE_MS && n < 500) {
      const a = performance.now();
      const c = await dial();
      hsMs.push(performance.now() - a);
      closing.push(c.close('bench', { force: true }));
      n++;
    }
    const hsPerSec = n / ((performance.now() - t0) / 1000);
    const hsCount = n;
    await Promise.all(closing);
    hsMs.sort((x, y) => x - y);
    n = 0;
    t0 = performance.now();
    while (performance.now() - t0 < PHASE_MS / 3) {
      await udpRtt(Buffer.alloc(SMALL, 1));
      n++;
    }
    const udpRttPerSec = n / ((performance.now() - t0) / 1000);

    // -------------------------------------------------------- latency
    const conn = await dial();
    const s = conn.openStream();
    const w = s.writable.getWriter();
    const r = s.readable.getReader();
    await w.write(Buffer.from('e'));
    const quicLat = [];
    t0 = performance.now();
    const msg = Buffer.alloc(SMALL, 7);
    while (performance.now() - t0 < PHASE_MS && quicLat.length < 20_000) {
      const a = performance.now();
      await w.write(msg);
      let got = 0;
      while (got < SMALL) got += (await r.read()).value.byteLength;
      quicLat.push(performance.now() - a);
    }
    await w.close();
    const udpLat = [];
    t0 = performance.now();
    while (performance.now() - t0 < PHASE_MS && udpLat.length < 20_000) {
      const a = performance.now();
      await udpRtt(msg);
      udpLat.push(performance.now() - a);
    }
    quicLat.sort((x, y) => x - y);
    udpLat.sort((x, y) => x - y);

    // -------------------------------------------------------- throughput
    const ts = conn.openStream();
    const tw = ts.writable.getWriter();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    await tw.write(Buffer.from('s'));
    let sent = 0;
    t0 = performance.now();
    while (performance.now() - t0 < PHASE_MS) {
      await tw.write(chunk);
      sent += chunk.byteLength;
    }
    await tw.close();
    const reader = ts.readable.getReader();
    let answer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      answer += Buffer.from(value).toString();
    }
    const quicSecs = (performance.now() - t0) / 1000;
    if (Number(answer) !== sent) throw new Error(`server counted ${answer} bytes, sent ${sent}`);
    const quicMBs = sent / quicSecs / 1e6;
    await conn.close('bench done');

    const udpMBs = await udpThroughput(udp);
    udp.close();

    const rows = [
      ['handshakes/s (mTLS + confirm) vs UDP round trips/s', fmt(hsPerSec), fmt(udpRttPerSec), `${fmt(hsPerSec / udpRttPerSec, 3)}x`],
      ['handshake p50 (ms) vs UDP round trip p50 (ms)', fmt(pct(hsMs, 50), 2), fmt(pct(udpLat, 50), 3), `${fmt(pct(hsMs, 50) / pct(udpLat, 50), 0)}x`],
      ['round trip p50 (ms), 32 B', fmt(pct(quicLat, 50), 3), fmt(pct(udpLat, 50), 3), `${fmt(pct(quicLat, 50) / pct(udpLat, 50), 2)}x`],
      ['round trip p99 (ms), 32 B', fmt(pct(quicLat, 99), 3), fmt(pct(udpLat, 99), 3), `${fmt(pct(quicLat, 99) / pct(udpLat, 99), 2)}x`],
      ['throughput (MB/s), one stream', fmt(quicMBs), fmt(udpMBs), `${fmt(quicMBs / udpMBs, 2)}x`],
    ];
    console.log('transport on loopback: QUIC (@matrixai/quic) vs plain UDP (node:dgram); ratio = QUIC / UDP');
    console.log(`${'figure'.padEnd(54)} ${'QUIC'.padStart(10)} ${'UDP'.padStart(10)} ${'ratio'.padStart(9)}`);
    for (const [name, q, u, ratio] of rows) console.log(`${name.padEnd(54)} ${q.padStart(10)} ${u.padStart(10)} ${ratio.padStart(9)}`);
    console.log(`(samples: ${hsCount} handshakes; ${quicLat.length} QUIC / ${udpLat.length} UDP round trips; ${(sent / 1e6).toFixed(1)} MB over QUIC)`);
  });
}

/** Windowed UDP: up to 64 datagrams in flight, each acknowledged; lost ones are written off after 50 ms. */
function udpThroughput(udp) {
  return new Promise((resolve) => {
    const payload = Buffer.alloc(DGRAM, 0x41);
    const WINDOW = 64;
    let inflight = 0;
    let acked = 0;
    let lastProgress = performance.now();
    const t0 = performance.now();
    let finished = false;
    const pump = () => {
      while (!finished && inflight < WINDOW) {
        inflight++;
        udp.send(payload);
      }
    };
    const onMsg = () => {
      inflight--;
      acked++;
      lastProgress = performance.now();
      if (performance.now() - t0 >= PHASE_MS) return finish();
      pump();
    };
    const stall = setInterval(() => {
      if (performance.now() - lastProgress > 50) {
        inflight = 0; // the rest were dropped by a full socket buffer
        lastProgress = performance.now();
        pump();
      }
      if (performance.now() - t0 >= PHASE_MS + 1000) finish();
    }, 25);
    function finish() {
      if (finished) return;
      finished = true;
      clearInterval(stall);
      udp.off('message', onMsg);
      setTimeout(() => resolve((acked * DGRAM) / ((performance.now() - t0) / 1000) / 1e6), 100);
    }
    udp.on('message', onMsg);
    pump();
  });
}
