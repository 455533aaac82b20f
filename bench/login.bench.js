#!/usr/bin/env node
// Auth CPU per login against the raw mutual-TLS handshake it contains, interleaved round by round
// (issue 14 target: at most 1.5x). Each round: ROUND_SIZE raw handshakes against bench/quic-raw.js's
// server (the library alone, connections kept open), then ROUND_SIZE client-library players
// connecting and logging in as guests (bench/scale-clients.js, one at a time) against one Auth
// process (bench/servers.js), once with the login sent in the hello (pipelined, connectToAuth's
// `login`) and once after the welcome (connect, then login(): what older clients do), the order of
// the two alternating by round; the server CPU of each from process.cpuUsage(), and the Auth's
// datagrams both ways (bench/datagram-count.js). Connections stay open, so the end also reports
// idle CPU for all of them beside the library's for as many.
//
// Run after `npm run build`: node bench/login.bench.js   (BENCH_QUICK=1: 2 rounds of 30)
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUICK, ask, f1, makePki, sleep, startServer } from './servers.js';
import { cpuOf, quicVariants, request, startRaw } from './quic-raw.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { AUTH_IDLE_TIMEOUT_MS, AUTH_KEEP_ALIVE_MS } = await import('../dist/client/index.js');
const ROUNDS = QUICK ? 2 : 7;
const ROUND_SIZE = QUICK ? 30 : 60;
const IDLE_MS = QUICK ? 3_000 : 10_000;
const OPEN = { idleTimeoutMs: AUTH_IDLE_TIMEOUT_MS, keepAliveMs: AUTH_KEEP_ALIVE_MS, concurrency: 1 };
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-bench-login-'));
const children = [];
try {
  const pki = await makePki(path.join(dir, 'pki'), ['host-1']);
  // BENCH_PROFILE_AUTH=<dir>: a CPU profile of the Auth process, written when the bench ends
  const profile = process.env.BENCH_PROFILE_AUTH;
  const a = startServer(['auth', pki.dir, JSON.stringify({ matchSize: 2 })], profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profile)}`] : []);
  children.push(a.child);
  const { clientPort } = await a.first;
  const { installed } = quicVariants(path.join(dir, 'variant'));
  const raw = await startRaw(['server', installed.url, pki.dir]);
  children.push(raw.child);
  const rawClient = (await startRaw(['client', installed.url, pki.dir, String(raw.first.port)])).child;
  children.push(rawClient);
  const creds = {
    auth: `127.0.0.1:${clientPort}`,
    ca: await readFile(pki.ca, 'utf8'),
    cert: await readFile(pki.client.cert, 'utf8'),
    key: await readFile(pki.client.key, 'utf8'),
  };
  const players = fork(path.join(here, 'scale-clients.js'), [JSON.stringify({ ...creds, count: ROUND_SIZE, prefix: 'p', worker: 0, concurrency: 1 })], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(players);
  await new Promise((r) => players.once('message', r));
  const authCpu = async () => {
    const { cpu } = await ask(a.child, 'stats');
    return cpu.user + cpu.system;
  };
  const authDatagrams = async () => (await ask(a.child, 'stats')).datagrams;

  // warm-up (JIT, caches), then closed again
  await request(rawClient, { op: 'open', n: 10, ...OPEN });
  await request(rawClient, { op: 'closeAll' });
  await ask(players, 'login');
  await ask(players, 'close');
  // closed connections' last packets arrive for a while: let them pass before datagrams are counted
  await sleep(3_000);

  const rawMs = [];
  const rawSent = [];
  const rawReceived = [];
  const modes = { pipelined: { op: 'login-pipelined', ms: [], sent: [], received: [] }, after: { op: 'login', ms: [], sent: [], received: [] } };
  let failed = 0;
  let firstError;
  const loginRound = async (m) => {
    const d0 = await authDatagrams();
    const a0 = await authCpu();
    const res = await ask(players, m.op);
    m.ms.push((await authCpu()) - a0);
    const d1 = await authDatagrams();
    m.sent.push((d1.sent - d0.sent) / ROUND_SIZE);
    m.received.push((d1.received - d0.received) / ROUND_SIZE);
    failed += res.failed;
    firstError ??= res.firstError;
  };
  // Datagrams per login with nothing else connected (in the rounds, the keep-alives of the
  // connections kept open count too): one pass of each, closed again.
  const quiet = {};
  for (const m of [modes.after, modes.pipelined]) {
    const d0 = await authDatagrams();
    await ask(players, m.op);
    const d1 = await authDatagrams();
    quiet[m.op] = [(d1.sent - d0.sent) / ROUND_SIZE, (d1.received - d0.received) / ROUND_SIZE];
    await ask(players, 'close');
    await sleep(3_000);
  }
  const q0 = await request(raw.child, 'cpu');
  await request(rawClient, { op: 'open', n: ROUND_SIZE, ...OPEN });
  const q1 = await request(raw.child, 'cpu');
  const quietRaw = [(q1.datagrams.sent - q0.datagrams.sent) / ROUND_SIZE, (q1.datagrams.received - q0.datagrams.received) / ROUND_SIZE];
  await request(rawClient, { op: 'closeAll' });
  await sleep(500);

  for (let r = 0; r < ROUNDS; r++) {
    const r0 = await request(raw.child, 'cpu');
    await request(rawClient, { op: 'open', n: ROUND_SIZE, ...OPEN });
    const r1 = await request(raw.child, 'cpu');
    rawMs.push(r1.cpu.user + r1.cpu.system - r0.cpu.user - r0.cpu.system);
    rawSent.push((r1.datagrams.sent - r0.datagrams.sent) / ROUND_SIZE);
    rawReceived.push((r1.datagrams.received - r0.datagrams.received) / ROUND_SIZE);
    const order = r % 2 === 0 ? [modes.pipelined, modes.after] : [modes.after, modes.pipelined];
    for (const m of order) await loginRound(m);
  }
  const per = (us) => us / 1000 / ROUND_SIZE;
  const n = ROUNDS * ROUND_SIZE;
  const i0 = [await cpuOf(raw.child), await authCpu()];
  await sleep(IDLE_MS);
  const i1 = [await cpuOf(raw.child), await authCpu()];
  const pctCore = (us) => f1(us / 10 / IDLE_MS);

  console.log(`login (connect + guest login, one at a time) vs the raw mutual-TLS handshake, ${ROUNDS} interleaved rounds of ${ROUND_SIZE}`);
  console.log(`raw handshake, server CPU (ms):        ${rawMs.map((x) => per(x).toFixed(2)).join(' ')}`);
  const dg = ([s, r]) => `${s.toFixed(1)} sent, ${r.toFixed(1)} received`;
  console.log(
    `datagrams per connection with nothing else open: raw handshake ${dg(quietRaw)}; login pipelined ${dg(quiet['login-pipelined'])}; login after the welcome ${dg(quiet.login)}`,
  );
  console.log(`  datagrams per raw handshake in the rounds: ${median(rawSent).toFixed(1)} sent, ${median(rawReceived).toFixed(1)} received`);
  for (const [name, m] of Object.entries(modes)) {
    const ratios = m.ms.map((l, i) => l / rawMs[i]);
    console.log(`login ${name.padEnd(9)}, Auth CPU (ms):     ${m.ms.map((x) => per(x).toFixed(2)).join(' ')}`);
    console.log(
      `  median: login ${per(median(m.ms)).toFixed(2)} ms beside raw ${per(median(rawMs)).toFixed(2)} ms; login / handshake ${median(ratios).toFixed(2)}x ` +
        `(median of the rounds' ratios; target <= 1.5x: ${median(ratios) <= 1.5 ? 'met' : 'not met'}); ` +
        `Auth datagrams per login in the rounds (keep-alives of the open connections included) ${median(m.sent).toFixed(1)} sent, ${median(m.received).toFixed(1)} received`,
    );
  }
  const pr = modes.pipelined.ms.map((p, i) => p / modes.after.ms[i]);
  console.log(
    `pipelined / after the welcome, Auth CPU: ${median(pr).toFixed(2)} (median of the rounds' ratios); ${failed} logins failed${firstError ? ` (${firstError})` : ''}`,
  );
  console.log(`idle, ${n} connections for ${IDLE_MS / 1000} s: Auth ${pctCore(i1[1] - i0[1])}% of a core, the library alone ${pctCore(i1[0] - i0[0])}%`);
} finally {
  if (process.env.BENCH_PROFILE_AUTH) {
    // the profile is written as the process exits on its own (servers.js exits when disconnected)
    const exited = new Promise((r) => children[0].once('exit', r));
    children[0].disconnect();
    await Promise.race([exited, sleep(10_000)]);
  }
  for (const c of children) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
