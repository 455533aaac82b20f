// Shared by the load, fuzz and idle-flood benches (not a bench itself: bench/run.js runs *.bench.js only).
// A dev PKI made with the library, and the Auth and Host servers each in a child process of this
// file (`fork`), on loopback, playing test/e2e/ttt-game.mjs; the bench's clients are the e2e
// scripts (test/e2e/players.mjs, fuzzer.mjs) as further child processes, so no load generator
// shares a process with a server. A server child answers the message `stats` with its RSS, the
// number of error lines it logged (and the first few), and its connection stats.
//
//   node bench/servers.js auth <pkiDir> '<AuthServer options JSON>'
//   node bench/servers.js host <pkiDir> <name> <authHostPort> <sessions>
import { fork, spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { countDatagrams } from './datagram-count.js';
import { traceLoop } from './loop-trace.js';
import { profileOnRequest } from './profiler.js';

const SELF = fileURLToPath(import.meta.url);
export const ROOT = path.resolve(path.dirname(SELF), '..');
const E2E = path.join(ROOT, 'test/e2e');
const GAME_VERSION = '1.0.0';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const f1 = (x) => (x === undefined ? '-' : x.toFixed(1));
export const mb = (bytes) => `${f1(bytes / 1024 / 1024)} MB`;
export const pct = (xs, p) => {
  if (xs.length === 0) return undefined;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
/** `BENCH_QUICK=1`: a small run to check a bench works (figures are then only indicative). */
export const QUICK = process.env.BENCH_QUICK === '1';

/** Master, Auth, SessionAuth, a ClientAuth with its client cert, and the named hosts, all on 127.0.0.1. */
export async function makePki(dir, hosts) {
  const { initPki } = await import('../dist/pki/index.js');
  const pki = await initPki({
    dir,
    allowUnencryptedCaKeys: true,
    unencryptedSessionAuthKey: true,
    authDnsNames: ['localhost'],
    authIpAddresses: ['127.0.0.1'],
    hosts: hosts.map((name) => ({ name, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })),
  });
  const client = pki.list().find((e) => e.role === 'client');
  return {
    dir,
    ca: pki.path(pki.get('master').certFile),
    client: { cert: pki.path(client.certFile), key: pki.path(client.keyFile) },
    host: (name) => ({ cert: pki.path(pki.get(name).certFile), key: pki.path(pki.get(name).keyFile) }),
  };
}

/** A server child of this file; `first` is its first message (its ports, or `ready`). */
export function startServer(args, execArgv = []) {
  const child = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const first = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${args[0]} child exited with ${code}`)));
  });
  return { child, first };
}

export function ask(child, what) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`the child exited (${child.exitCode ?? child.signalCode})`));
    child.once('message', resolve);
    child.send(what);
  });
}

/** Waits until the Auth child lists every named host as registered. */
export async function hostsRegistered(auth, names) {
  for (let i = 0; ; i++) {
    const { hosts } = await ask(auth, 'stats');
    if (names.every((n) => hosts.includes(n))) return;
    if (i > 400) throw new Error(`hosts not registered: ${names.filter((n) => !hosts.includes(n)).join(', ')}`);
    await sleep(50);
  }
}

/** One of test/e2e's client scripts as a child process; resolves with its JSON lines once it exits. */
export function runScript(script, cfg) {
  const child = spawn(process.execPath, [path.join(E2E, script), JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let partial = '';
  child.stdout.on('data', (d) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop();
    for (const l of parts) {
      try {
        lines.push(JSON.parse(l));
      } catch {
        // not a JSON line
      }
    }
  });
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, lines })));
  return { child, lines, done };
}

// ---------------------------------------------------------------- server children

/** A pino logger that drops info and counts (and keeps the first few) error and fatal lines. */
async function countingLogger() {
  const { default: pino } = await import('pino');
  const errors = { count: 0, first: [] };
  const sink = new Writable({
    write(chunk, _enc, cb) {
      const line = JSON.parse(chunk.toString());
      if (line.level >= 50) {
        errors.count++;
        if (errors.first.length < 5) errors.first.push(line.msg);
      }
      cb();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), errors };
}

async function authChild(pkiDir, extra) {
  const { openPki } = await import('../dist/pki/index.js');
  const { AuthServer } = await import('../dist/auth/server.js');
  const pki = await openPki(pkiDir);
  const { logger, errors } = await countingLogger();
  const datagrams = countDatagrams();
  const auth = await AuthServer.start({
    clients: { host: '127.0.0.1', port: 0 },
    hosts: { host: '127.0.0.1', port: 0 },
    cert: await pki.chainPem('auth'),
    key: pki.path(pki.get('auth').keyFile),
    verifier: await pki.verifier(),
    minter: await pki.sessionMinter(),
    gameVersion: GAME_VERSION,
    logger,
    ...extra,
  });
  process.on('message', (m) => {
    if (m === 'stats')
      process.send({
        rss: process.memoryUsage().rss,
        errors,
        quic: auth.clientServer.stats(),
        hosts: auth.connectedHosts(),
        cpu: process.cpuUsage(),
        datagrams: { ...datagrams },
      });
    // a settled heap, for memory per connection (needs --expose-gc)
    if (m === 'gc') {
      globalThis.gc?.();
      process.send({ rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed });
    }
    // a heap snapshot (BENCH_HEAP_DIR in the scale bench), to see what each player holds
    if (m?.heapSnapshot) {
      writeHeapSnapshot(m.heapSnapshot);
      process.send({ written: m.heapSnapshot });
    }
  });
  await profileOnRequest(); // BENCH_PROF_DIR: a CPU profile of one phase (bench/profiler.js)
  traceLoop('auth'); // BENCH_TRACE_LOOP=1 (bench/loop-trace.js)
  if (process.env.BENCH_TRACE_MM === '1') {
    let last = process.cpuUsage();
    let lastT = performance.now();
    setInterval(() => {
      const st = auth.matchmaker.stats;
      if (st.queuedTickets + st.pendingMatches + auth.handoffs.pendingCount === 0) return;
      const c = process.cpuUsage();
      const t = performance.now();
      const cpu = ((c.user + c.system - last.user - last.system) / 1000 / (t - lastT)) * 100;
      last = c;
      lastT = t;
      process.stderr.write(
        `[mm] t=${Date.now() - Number(process.env.BENCH_TRACE_EPOCH ?? 0)} queued=${st.queuedTickets} proposed=${st.pendingMatches} handingOff=${auth.handoffs.pendingCount} waitingHost=${auth.handoffs.waitingForHost} cpu=${cpu.toFixed(0)}%\n`,
      );
    }, 1000).unref();
  }
  process.on('disconnect', () => process.exit(0));
  process.send({ clientPort: auth.clientPort, hostPort: auth.hostPort });
}

async function hostChild(pkiDir, name, authHostPort, sessions) {
  const { openPki } = await import('../dist/pki/index.js');
  const { HostServer } = await import('../dist/host/server.js');
  const { game } = await import(pathToFileURL(path.join(E2E, 'ttt-game.mjs')).href);
  const pki = await openPki(pkiDir);
  const { logger, errors } = await countingLogger();
  const host = await HostServer.start(
    {
      name,
      publicAddress: '127.0.0.1',
      listen: { host: '127.0.0.1', port: 0 },
      cert: await pki.chainPem(name),
      key: pki.path(pki.get(name).keyFile),
      verifier: await pki.verifier(),
      authServers: [{ host: '127.0.0.1', port: authHostPort }],
      capacity: { sessions },
      version: GAME_VERSION,
      logger,
    },
    game,
  );
  process.on('message', (m) => {
    if (m === 'stats') process.send({ rss: process.memoryUsage().rss, errors, stats: host.stats() });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ playerPort: host.playerPort });
}

if (process.argv[1] === SELF) {
  const [role, ...a] = process.argv.slice(2);
  if (role === 'auth') await authChild(a[0], JSON.parse(a[1] ?? '{}'));
  else if (role === 'host') await hostChild(a[0], a[1], Number(a[2]), Number(a[3]));
  else throw new Error(`bench/servers.js: unknown role ${role}`);
}
