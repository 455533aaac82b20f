#!/usr/bin/env node
// How one Auth process scales with idle players, from 1,000 to 10,000 (BENCH_QUICK=1: 100 and 300;
// BENCH_SCALE_SIZES=1000,3000 to choose). For each size N, in this run:
//   1. baseline: the QUIC library alone (bench/quic-raw.js) holding N idle mutual-TLS connections
//      with the client library's keep-alive and idle timeout: server memory per connection (RSS after
//      a GC) and idle CPU, and server CPU per handshake while they open;
//   2. one Auth process (bench/servers.js, with a Host of N/2 sessions) and N client-library players
//      in worker processes (bench/scale-clients.js) connecting and logging in as guests: logins/s,
//      login p50/p99, Auth CPU per login, then idle: Auth memory per logged-in player and idle CPU,
//      then all matchmake at once: time until every player holds its hand-off ticket.
// Memory per player and idle CPU are printed beside the baseline's (target: memory at most 1.25x the
// library's per connection, idle CPU under 5% of a core at 10,000).
// BENCH_SCALE_MM_CAP=<n>|off sets the Auth's [matchmaking] max_matches_in_flight (default: the
// server's); `off` proposes every match at once, as before issue 14, for a before/after of the burst.
// BENCH_SCALE_NO_BASELINE=1 skips the library baseline (its columns print NaN) when only the Auth
// figures are wanted. BENCH_SCALE_MATCH_TIMEOUT_MS sets each player's matchmake timeout (default 15
// minutes). The burst's stderr line counts players matched and connections idled out, and gives the time
// of the last ticket and the CPU the Auth and the players' 4 processes used until then. BENCH_PROF_DIR=<dir> writes a CPU profile of the Auth during each burst there
// (auth-burst-<N>.cpuprofile), and one of the players' processes' (players0-burst-<N>.cpuprofile);
// BENCH_TRACE_MM=1 prints its queue and CPU each second. BENCH_TRACE_LOOP=1 prints, each second and
// for the Auth and each players' process, CPU, event-loop lag and GC pauses (bench/loop-trace.js).
// BENCH_HEAP_DIR=<dir> writes heap snapshots of the Auth before the logins and once its players idle
// (auth-<N>-before.heapsnapshot, auth-<N>-idle.heapsnapshot).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { fork } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUICK, ask, f1, hostsRegistered, makePki, pct, sleep, startServer } from './servers.js';
import { cpuOf, quicVariants, request, startRaw } from './quic-raw.js';

// one clock for the children's BENCH_TRACE_MM / BENCH_TRACE_LOOP lines (milliseconds since the start)
process.env.BENCH_TRACE_EPOCH ??= String(Date.now());
const here = path.dirname(fileURLToPath(import.meta.url));
const defaults = await import('../dist/client/index.js');
// BENCH_KEEP_ALIVE_MS / BENCH_IDLE_TIMEOUT_MS: the players' (and the baseline's) keep-alive and idle timeout
const AUTH_KEEP_ALIVE_MS = Number(process.env.BENCH_KEEP_ALIVE_MS ?? defaults.AUTH_KEEP_ALIVE_MS);
const AUTH_IDLE_TIMEOUT_MS = Number(
  process.env.BENCH_IDLE_TIMEOUT_MS ?? (process.env.BENCH_KEEP_ALIVE_MS ? 3 * AUTH_KEEP_ALIVE_MS : defaults.AUTH_IDLE_TIMEOUT_MS),
);
const liveness =
  process.env.BENCH_KEEP_ALIVE_MS || process.env.BENCH_IDLE_TIMEOUT_MS ? { keepAliveMs: AUTH_KEEP_ALIVE_MS, idleTimeoutMs: AUTH_IDLE_TIMEOUT_MS } : {};
// the servers' own idle timeout (default 30 s) must not be the shorter one
const SERVER_IDLE_MS = Math.max(30_000, AUTH_IDLE_TIMEOUT_MS);
process.env.QUIC_RAW_SERVER_IDLE_MS = String(SERVER_IDLE_MS);
// BENCH_SCALE_SKIP_MATCH=1: measure logins and idle only
const SIZES = (process.env.BENCH_SCALE_SIZES ?? (QUICK ? '100,300' : '1000,10000')).split(',').map(Number);
const WORKERS = 4;
const IDLE_WINDOW_MS = Math.max(QUICK ? 10_500 : 20_500, 2 * AUTH_KEEP_ALIVE_MS + 500); // at least two keep-alive periods
const SETTLE_MS = 3_000;
const MM_CAP = process.env.BENCH_SCALE_MM_CAP;
const NO_BASELINE = process.env.BENCH_SCALE_NO_BASELINE === '1';
// BENCH_SCALE_MATCH_TIMEOUT_MS: each player's matchmake timeout (default 15 minutes); shorter when
// players idle out, so that the odd one left without a partner does not hold the run for 45 minutes
const MATCH_TIMEOUT_MS = process.env.BENCH_SCALE_MATCH_TIMEOUT_MS ? Number(process.env.BENCH_SCALE_MATCH_TIMEOUT_MS) : undefined;

function worker(cfg) {
  const child = fork(path.join(here, 'scale-clients.js'), [JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (c) => reject(new Error(`client worker exited with ${c}`)));
  });
  return { child, ready };
}
const split = (n) => Array.from({ length: WORKERS }, (_, w) => Math.floor(n / WORKERS) + (w < n % WORKERS ? 1 : 0));
const pctCpu = (us, ms) => (us / 1000 / ms) * 100;

/** The library alone: N idle connections. */
async function baseline(pki, n) {
  const { installed } = quicVariants(path.join(pki.dir, '..', `variant-${n}`));
  const server = await startRaw(['server', installed.url, pki.dir], ['--expose-gc']);
  const clients = [];
  try {
    for (let w = 0; w < WORKERS; w++) clients.push((await startRaw(['client', installed.url, pki.dir, String(server.first.port)])).child);
    const m0 = await request(server.child, 'mem');
    const c0 = await cpuOf(server.child);
    const parts = split(n);
    const opened = await Promise.all(
      clients.map((c, w) => request(c, { op: 'open', n: parts[w], keepAliveMs: AUTH_KEEP_ALIVE_MS, idleTimeoutMs: AUTH_IDLE_TIMEOUT_MS, concurrency: 8 })),
    );
    const open = opened.reduce((k, o) => k + o.open, 0);
    if (open < n) process.stderr.write(`(baseline N=${n}: ${n - open} connections did not open)\n`);
    const handshakeCpu = ((await cpuOf(server.child)) - c0) / 1000 / open;
    await sleep(SETTLE_MS);
    const m1 = await request(server.child, 'mem');
    const i0 = await cpuOf(server.child);
    await sleep(IDLE_WINDOW_MS);
    const idle = pctCpu((await cpuOf(server.child)) - i0, IDLE_WINDOW_MS);
    const stillOpen = (await Promise.all(clients.map((c) => request(c, { op: 'count' })))).reduce((k, o) => k + o.open, 0);
    return { open: stillOpen, memPer: (m1.rss - m0.rss) / open, heapPer: (m1.heap - m0.heap) / open, idle, handshakeCpu };
  } finally {
    for (const c of clients) c.kill();
    server.child.kill();
  }
}

/** One Auth process and N players. */
async function auth(pki, n) {
  // JSON has no Infinity: "off" is a cap no burst reaches
  const matchmaker = MM_CAP === undefined ? {} : { matchmaker: { maxMatchesInFlight: MM_CAP === 'off' ? 1e9 : Number(MM_CAP) } };
  const a = startServer(['auth', pki.dir, JSON.stringify({ matchSize: 2, idleTimeoutMs: SERVER_IDLE_MS, ...matchmaker })], ['--expose-gc']);
  const { clientPort, hostPort } = await a.first;
  const h = startServer(['host', pki.dir, 'host-1', String(hostPort), String(Math.ceil(n / 2) + 10)]);
  const workers = [];
  try {
    await h.first;
    await hostsRegistered(a.child, ['host-1']);
    const creds = {
      auth: `127.0.0.1:${clientPort}`,
      ca: await readFile(pki.ca, 'utf8'),
      cert: await readFile(pki.client.cert, 'utf8'),
      key: await readFile(pki.client.key, 'utf8'),
    };
    const parts = split(n);
    for (let w = 0; w < WORKERS; w++) {
      const wk = worker({ ...creds, count: parts[w], prefix: `w${w}-`, worker: w, concurrency: 8, ...liveness, matchTimeoutMs: MATCH_TIMEOUT_MS });
      workers.push(wk.child);
      await wk.ready;
    }
    const m0 = await ask(a.child, 'gc');
    const heapDir = process.env.BENCH_HEAP_DIR;
    if (heapDir) await ask(a.child, { heapSnapshot: path.join(heapDir, `auth-${n}-before.heapsnapshot`) });
    const c0 = (await ask(a.child, 'stats')).cpu;
    let t = performance.now();
    const logins = await Promise.all(workers.map((wk) => ask(wk, 'login')));
    const loginWall = performance.now() - t;
    const c1 = (await ask(a.child, 'stats')).cpu;
    const loginMs = logins.flatMap((l) => l.ms);
    const loggedIn = loginMs.length;
    const loginCpu = (c1.user + c1.system - c0.user - c0.system) / 1000 / Math.max(1, loggedIn);
    await sleep(SETTLE_MS);
    const m1 = await ask(a.child, 'gc');
    if (heapDir) await ask(a.child, { heapSnapshot: path.join(heapDir, `auth-${n}-idle.heapsnapshot`) });
    const i0 = (await ask(a.child, 'stats')).cpu;
    await sleep(IDLE_WINDOW_MS);
    const i1 = await ask(a.child, 'stats');
    const idle = pctCpu(i1.cpu.user + i1.cpu.system - i0.user - i0.system, IDLE_WINDOW_MS);
    // the Auth's CPU each second of the burst, read at the last ticket (not at the end of the burst:
    // a player left alone in the queue keeps it open until its matchmake timeout)
    const b0 = (await ask(a.child, 'stats')).cpu;
    const authCpu = [{ at: performance.now(), us: b0.user + b0.system }];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(1000);
        if (!sampling) break;
        const c = (await ask(a.child, 'stats')).cpu;
        authCpu.push({ at: performance.now(), us: c.user + c.system });
      }
    })();
    const prof = process.env.BENCH_PROF_DIR;
    if (prof) {
      await ask(a.child, { prof: 'start' });
      // and one player process's, to see what the players do meanwhile
      await ask(workers[0], { prof: 'start' });
    }
    t = performance.now();
    const skip = process.env.BENCH_SCALE_SKIP_MATCH === '1';
    const matches = skip ? [] : await Promise.all(workers.map((wk) => ask(wk, 'match')));
    const matchWall = performance.now() - t;
    sampling = false;
    await sampler;
    if (prof) {
      await ask(a.child, { prof: 'stop', name: `auth-burst-${n}` });
      await ask(workers[0], { prof: 'stop', name: `players0-burst-${n}` });
    }
    const matchMs = matches.flatMap((m) => m.ms);
    const failures = [...logins, ...matches].map((x) => x.firstError).filter(Boolean);
    const matchRetries = matches.reduce((k, m) => k + m.retries, 0);
    const idledOut = matches.reduce((k, m) => k + m.idledOut, 0);
    const lostOther = matches.reduce((k, m) => k + m.lostOther, 0);
    // CPU during the burst: the Auth's, and the players' processes' (the bench's own clients)
    const lastTicket = t + Math.max(0, ...matchMs);
    const atLast = authCpu.find((c) => c.at >= lastTicket) ?? authCpu.at(-1);
    const burstCpu = {
      auth: (atLast.us - authCpu[0].us) / 1e6,
      players: matches.reduce((k, m) => k + m.cpuUs, 0) / 1e6,
      lastTicketS: (lastTicket - t) / 1000,
    };
    return {
      loggedIn,
      loginFailed: n - loggedIn,
      loginsPerSec: loggedIn / (loginWall / 1000),
      loginP50: pct(loginMs, 50),
      loginP99: pct(loginMs, 99),
      loginCpu,
      memPer: (m1.rss - m0.rss) / Math.max(1, loggedIn),
      heapPer: (m1.heap - m0.heap) / Math.max(1, loggedIn),
      idle,
      connections: i1.quic.connections,
      matched: matchMs.length,
      allMatchedMs: skip ? undefined : matchWall,
      matchP99: pct(matchMs, 99),
      failures,
      matchRetries,
      idledOut,
      lostOther,
      authErrors: i1.errors.count,
      burstCpu,
    };
  } finally {
    for (const wk of workers) wk.kill();
    h.child.kill();
    a.child.kill();
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-scale-'));
try {
  const pki = await makePki(path.join(dir, 'pki'), ['host-1']);
  const kb = (b) => f1(b / 1024);
  console.log(
    `one Auth process with N idle players (client keep-alive ${AUTH_KEEP_ALIVE_MS / 1000} s, idle timeout ${AUTH_IDLE_TIMEOUT_MS / 1000} s), players in ${WORKERS} worker processes`,
  );
  console.log('baseline: the QUIC library alone holding N idle mutual-TLS connections, same keep-alive, same run');
  const head = [
    'N',
    'logged in',
    'logins/s',
    'login p50',
    'login p99',
    'Auth CPU/login',
    'raw CPU/handshake',
    'KB/player',
    'raw KB/conn',
    'ratio',
    'idle CPU %',
    'raw idle %',
    'all matched s',
  ];
  console.log(head.map((h) => h.padStart(12)).join(' '));
  // each size's row as soon as it is measured: the large sizes take long
  const rows = [];
  for (const n of SIZES) {
    const base = NO_BASELINE ? { memPer: NaN, heapPer: NaN, idle: NaN, handshakeCpu: NaN } : await baseline(pki, n);
    const au = await auth(pki, n);
    rows.push({ n, base, au });
    process.stderr.write(
      `(N=${n}: JS heap per player ${f1(au.heapPer / 1024)} KB, library per connection ${f1(base.heapPer / 1024)} KB; Auth errors logged: ${au.authErrors}; matchmakes tried again after a cancelled match: ${au.matchRetries}; players matched ${au.matched} of ${n}, connections idled out ${au.idledOut}, lost otherwise ${au.lostOther}; time to ticket p99 ${f1(au.matchP99 / 1000)} s; matches in flight at most ${MM_CAP ?? 'default'}; last ticket at ${f1(au.burstCpu.lastTicketS)} s; CPU from the burst's start to it: Auth ${f1(au.burstCpu.auth)} s, players' processes ${f1(au.burstCpu.players)} s)\n`,
    );
    if (au.failures.length) process.stderr.write(`(N=${n}: ${au.loginFailed} logins failed; first errors: ${au.failures.join(' | ')})\n`);
    const cells = [
      String(n),
      String(au.loggedIn),
      f1(au.loginsPerSec),
      `${f1(au.loginP50)} ms`,
      `${f1(au.loginP99)} ms`,
      `${f1(au.loginCpu)} ms`,
      `${f1(base.handshakeCpu)} ms`,
      kb(au.memPer),
      kb(base.memPer),
      `${(au.memPer / base.memPer).toFixed(2)}x`,
      f1(au.idle),
      f1(base.idle),
      // players that never got a ticket (3 cancelled matches) are counted beside the time
      au.allMatchedMs === undefined ? 'skipped' : `${f1(au.allMatchedMs / 1000)}${au.matched < au.loggedIn ? ` (${au.matched} of ${au.loggedIn})` : ''}`,
    ];
    console.log(cells.map((c) => c.padStart(12)).join(' '));
  }
  // idle CPU per player and keep-alive: what a keep-alive interval costs (CPU is linear in the PING rate)
  // per connection still open at the end of the idle window (on a starved machine some idle out)
  const perPing = (idlePct, n) => (((idlePct / 100) * AUTH_KEEP_ALIVE_MS) / n) * 1000;
  for (const { n, base, au } of rows) {
    console.log(
      `N=${n}: idle CPU per player per keep-alive ${f1(perPing(au.idle, au.connections))} us (library alone ${f1(perPing(base.idle, base.open))} us); ` +
        `JS heap per player ${f1(au.heapPer / 1024)} KB (library ${f1(base.heapPer / 1024)} KB); open after the idle window: Auth ${au.connections} of ${au.loggedIn} logged in, library ${base.open} of ${n}`,
    );
  }
  if (rows.length > 1) {
    const [a, b] = [rows[0], rows.at(-1)];
    const g = (x, y) => (x === undefined || y === undefined ? '-' : `${(y / x).toFixed(2)}x`);
    console.log(
      `growth ${a.n} -> ${b.n} (${b.n / a.n}x players): logins/s ${g(a.au.loginsPerSec, b.au.loginsPerSec)}, Auth CPU/login ${g(a.au.loginCpu, b.au.loginCpu)} (raw handshake ${g(a.base.handshakeCpu, b.base.handshakeCpu)}), ` +
        `memory/player ${g(a.au.memPer, b.au.memPer)} (raw ${g(a.base.memPer, b.base.memPer)}), idle CPU ${g(a.au.idle, b.au.idle)} (raw ${g(a.base.idle, b.base.idle)}), ` +
        `time until all matched ${g(a.au.allMatchedMs, b.au.allMatchedMs)}`,
    );
  }
  const last = rows.at(-1);
  const at10k = (pct, n) => (pct * 10_000) / n;
  console.log(
    `targets at N=${last.n}: memory/player ${(last.au.memPer / last.base.memPer).toFixed(2)}x the library's (goal <= 1.25x); idle CPU ${f1(last.au.idle)}% of a core, ` +
      `${f1(at10k(last.au.idle, last.au.connections))}% scaled to 10,000 open (library alone ${f1(at10k(last.base.idle, last.base.open))}%; goal < 5% at 10,000)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
