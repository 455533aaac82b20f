#!/usr/bin/env node
// The floors: what the QUIC library itself costs, measured raw (bench/quic-raw.js: @matrixai/quic
// server and client in separate child processes, mutual TLS with our CA checked natively, nothing of
// iyesmp on top). Every QUIC target of the other benches is a ratio against one of these:
//   - a mutual-TLS handshake (connect, then a forced close): server CPU per handshake, client p50/p99
//   - a 32-byte request/response on one open stream: server CPU per round trip, p50/p99
//   - idle connections with a short keep-alive: server CPU per datagram received (a PING, answered by
//     an ACK), both variants' connections open at once and measured over the same windows
// Both are measured for the installed package and for a scratch copy with our patch
// (patches/@matrixai+quic+*.patch) reverted or applied, interleaved round by round; the figures are
// medians over the rounds.
//
// Run after `npm run build`: node bench/quic-floor.bench.js   (BENCH_QUICK=1: a few seconds)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QUICK, f1, makePki, sleep } from './servers.js';
import { cpuAndRx, cpuOf, quicVariants, request, startRaw } from './quic-raw.js';

const ROUNDS = QUICK ? 2 : 5;
const HANDSHAKES = QUICK ? 20 : 100;
const ROUND_TRIPS = QUICK ? 300 : 2000;
// idle: N connections per variant, each PINGing every KEEP_ALIVE_MS (1,000 PINGs a second per variant)
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? (QUICK ? 200 : 1000));
const KEEP_ALIVE_MS = 1000;
// long enough that a client starved by the machine's load does not lose its connections
const IDLE_TIMEOUT_MS = 15_000;
const IDLE_WINDOW_MS = QUICK ? 2000 : 5000;

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length === 0 ? undefined : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pctOf = (xs, p) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** One phase against one variant: server CPU per op (ms) and the client's p50/p99 (ms). */
async function phase(v, op, n) {
  const before = await cpuOf(v.server);
  const { ms } = await request(v.client, { op, n });
  const cpu = (await cpuOf(v.server)) - before;
  return { cpu: cpu / 1000 / n, p50: pctOf(ms, 50), p99: pctOf(ms, 99) };
}

const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-floor-'));
const children = [];
try {
  const pki = await makePki(path.join(dir, 'pki'), []);
  const { installed, other } = quicVariants(path.join(dir, 'variant'));
  // the reference first: the ratio column is the second variant over it
  const variants = [installed, ...(other ? [other] : [])].sort((a) => (a.label === 'unpatched' || a.label === 'baseline' ? -1 : 1));
  for (const v of variants) {
    const s = await startRaw(['server', v.url, pki.dir]);
    const c = await startRaw(['client', v.url, pki.dir, String(s.first.port)]);
    children.push(s.child, c.child);
    Object.assign(v, { server: s.child, client: c.child, port: s.first.port, hs: [], rtt: [] });
    // warm-up: JIT and the first connection's setup
    await request(v.client, { op: 'hs', n: 5 });
    await request(v.client, { op: 'rtt', n: 100 });
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      v.hs.push(await phase(v, 'hs', HANDSHAKES));
      v.rtt.push(await phase(v, 'rtt', ROUND_TRIPS));
    }
  }
  // idle last: its connections stay open until the children exit. Every variant's PINGs come from
  // clients on one library (the patched one), so both servers get the same rate of the same packets
  const idleUrl = (variants.find((v) => v.label === 'patched') ?? variants[variants.length - 1]).url;
  await Promise.all(
    variants.map(async (v) => {
      const c = await startRaw(['client', idleUrl, pki.dir, String(v.port)]);
      children.push(c.child);
      const r = await request(c.child, { op: 'open', n: IDLE_CONNECTIONS, keepAliveMs: KEEP_ALIVE_MS, idleTimeoutMs: IDLE_TIMEOUT_MS, concurrency: 8 });
      v.idleOpen = r.open;
      v.idle = [];
    }),
  );
  await sleep(2 * KEEP_ALIVE_MS);
  for (let r = 0; r < ROUNDS; r++) {
    const a = await Promise.all(variants.map((v) => cpuAndRx(v.server)));
    await sleep(IDLE_WINDOW_MS);
    const b = await Promise.all(variants.map((v) => cpuAndRx(v.server)));
    variants.forEach((v, i) => v.idle.push({ cpu: (b[i].cpu - a[i].cpu) / 1000 / (b[i].rx - a[i].rx), rate: ((b[i].rx - a[i].rx) * 1000) / IDLE_WINDOW_MS }));
  }
  const rows = [
    ['handshake: server CPU per handshake (ms)', (v) => median(v.hs.map((x) => x.cpu))],
    ['handshake: p50 (ms)', (v) => median(v.hs.map((x) => x.p50))],
    ['handshake: p99 (ms)', (v) => median(v.hs.map((x) => x.p99))],
    ['32 B round trip: server CPU per round trip (ms)', (v) => median(v.rtt.map((x) => x.cpu))],
    ['32 B round trip: p50 (ms)', (v) => median(v.rtt.map((x) => x.p50))],
    ['32 B round trip: p99 (ms)', (v) => median(v.rtt.map((x) => x.p99))],
    ['idle: server CPU per keep-alive PING received (ms)', (v) => median(v.idle.map((x) => x.cpu))],
  ];
  const f3 = (x) => (x === undefined ? '-' : x.toFixed(3));
  console.log(`raw @matrixai/quic floors: ${ROUNDS} interleaved rounds of ${HANDSHAKES} handshakes and ${ROUND_TRIPS} round trips; medians over rounds`);
  const head = variants.map((v) => v.label.padStart(11)).join(' ');
  console.log(`${'figure'.padEnd(50)} ${head}${variants.length > 1 ? `  ${variants[1].label}/${variants[0].label}`.padStart(19) : ''}`);
  for (const [name, get] of rows) {
    const vals = variants.map(get);
    const ratio = variants.length > 1 ? `${f1((vals[1] / vals[0]) * 100)}%`.padStart(19) : '';
    console.log(`${name.padEnd(50)} ${vals.map((x) => f3(x).padStart(11)).join(' ')}${ratio}`);
  }
  console.log(
    `idle: ${variants.map((v) => `${v.label} ${v.idleOpen} connections, ${f1(median(v.idle.map((x) => x.rate)))} PINGs/s`).join('; ')} (keep-alive ${KEEP_ALIVE_MS} ms, ${ROUNDS} windows of ${IDLE_WINDOW_MS} ms)`,
  );
  if (!other) console.log('(no second variant: patches/@matrixai+quic+*.patch missing or not applicable)');
} finally {
  for (const c of children) c.kill();
  await rm(dir, { recursive: true, force: true });
}
