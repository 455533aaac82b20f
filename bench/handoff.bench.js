// Hand-off benchmark over real QUIC on loopback. The Auth server and the Host server each run in a
// child process (so "one auth process" is measured alone: its CPU time is read from the child);
// the players are real client-library clients in this process.
//
//  1. latency: match formed (first `match.found`) -> every player connected to the host and ready
//     (the host's `game.begin` reached the last player), p50/p99, for 2- and 8-player sessions,
//     one session at a time;
//  2. throughput: 200 clients queue, take hand-offs, join, play an instant game and queue again for
//     a fixed window: sessions handed off per second by one auth process, and its CPU per session;
//  3. baseline, same run: the raw session-cert mint rate of `createSessionMinter().mint` in one
//     thread, and the ratio (a hand-off mints one cert per player).
//
// Run after `npm run build`: node bench/handoff.bench.js   (bounded: about 60-80 s)
import { fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const MODES = { duel: 2, party: 8 };
const GAME_VERSION = '1.0.0';
const ROUNDS = { duel: 30, party: 10 };
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 12_000);
const WARMUP_MS = 2_000;
const MINT_MS = 2_000;
const TICK_MS = 250; // AuthServer's default tickIntervalMs, as `serve auth` runs it

// ---------------------------------------------------------------- child processes

async function silentLogger() {
  const { default: pino } = await import('pino');
  return pino({ level: 'silent' });
}

/** One Auth server; answers `cpu` requests with its process CPU time; exits with its parent. */
async function authChild(pkiDir) {
  const { openPki } = await import('../dist/pki/index.js');
  const { AuthServer } = await import('../dist/auth/server.js');
  const pki = await openPki(pkiDir);
  const auth = await AuthServer.start({
    clients: { host: '127.0.0.1', port: 0 },
    hosts: { host: '127.0.0.1', port: 0 },
    cert: await pki.chainPem('auth'),
    key: pki.path(pki.get('auth').keyFile),
    verifier: await pki.verifier(),
    minter: await pki.sessionMinter(),
    gameVersion: GAME_VERSION,
    matchSize: 2,
    modeSizes: MODES,
    logger: await silentLogger(),
  });
  let handedOff = 0;
  auth.on('session-ended', () => handedOff++);
  process.on('message', (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage(), ended: handedOff });
    if (m === 'hosts') process.send({ hosts: auth.connectedHosts() });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ clientPort: auth.clientPort, hostPort: auth.hostPort });
}

/** One Host server running an instant game: it ends (a draw) as soon as it begins. */
async function hostChild(pkiDir, authHostPort) {
  const { openPki } = await import('../dist/pki/index.js');
  const { HostServer } = await import('../dist/host/server.js');
  const pki = await openPki(pkiDir);
  const game = {
    begin(s) {
      setImmediate(() => s.end({ outcomes: Object.fromEntries(s.players.map((p) => [p.playerId, { result: 'draw' }])) }));
    },
  };
  await HostServer.start(
    {
      name: 'host-1',
      publicAddress: '127.0.0.1',
      listen: { host: '127.0.0.1', port: 0 },
      cert: await pki.chainPem('host-1'),
      key: pki.path(pki.get('host-1').keyFile),
      verifier: await pki.verifier(),
      authServers: [{ host: '127.0.0.1', port: authHostPort }],
      capacity: { sessions: 10_000 },
      version: GAME_VERSION,
      reconnectInitialMs: 100,
      reconnectMaxMs: 1000,
      logger: await silentLogger(),
    },
    game,
  );
  process.on('message', (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

// ---------------------------------------------------------------- main

function spawnChild(args) {
  const child = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${args[0]} child exited with ${code}`)));
  });
  return { child, first };
}

function ask(child, what) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(what);
  });
}

const pct = (xs, p) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const f1 = (x) => x.toFixed(1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BENCH_T0 = Date.now();
const progress = (what) => process.stderr.write(`  [${f1((Date.now() - BENCH_T0) / 1000)} s] ${what}\n`);

async function main() {
  const started = Date.now();
  const { initPki, createSessionMinter } = await import('../dist/pki/index.js');
  const { connectToAuth } = await import('../dist/client/index.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-bench-handoff-'));
  const children = [];
  const hardStop = setTimeout(() => {
    console.error('handoff bench: over its time bound; stopping');
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  }, 88_000);
  hardStop.unref();
  try {
    const pkiDir = path.join(dir, 'pki');
    const pki = await initPki({
      dir: pkiDir,
      allowUnencryptedCaKeys: true,
      unencryptedSessionAuthKey: true,
      authDnsNames: ['localhost'],
      authIpAddresses: ['127.0.0.1'],
      hosts: [{ name: 'host-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }],
    });

    // -- baseline: raw mint rate, one thread (public keys made beforehand, as clients send them)
    const minter = await createSessionMinter({
      certPem: await pki.certPem('sessionauth'),
      keyPem: await readFile(pki.path(pki.get('sessionauth').keyFile), 'utf8'),
    });
    const keys = Array.from({ length: 64 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    let mints = 0;
    const m0 = performance.now();
    while (performance.now() - m0 < MINT_MS) {
      await minter.mint({ publicKey: new Uint8Array(keys[mints % keys.length]), sessionId: `bench-${mints}`, playerId: `p${mints}` });
      mints++;
    }
    const mintRate = mints / ((performance.now() - m0) / 1000);

    progress(`minted ${mints} certs`);
    // -- servers
    const a = spawnChild(['auth', pkiDir]);
    children.push(a.child);
    const ports = await a.first;
    const h = spawnChild(['host', pkiDir, String(ports.hostPort)]);
    children.push(h.child);
    await h.first;
    for (let i = 0; ; i++) {
      if ((await ask(a.child, 'hosts')).hosts.includes('host-1')) break;
      if (i > 200) throw new Error('the host did not register');
      await sleep(50);
    }

    const clientEntry = pki.list().find((e) => e.role === 'client');
    const connectOptions = {
      address: `127.0.0.1:${ports.clientPort}`,
      identity: { cert: pki.path(clientEntry.certFile), key: pki.path(clientEntry.keyFile) },
      trust: { caPem: pki.path(pki.get('master').certFile) },
      gameVersion: GAME_VERSION,
      connectTimeoutMs: 30_000,
      requestTimeoutMs: 30_000,
    };
    const clients = [];
    const connectMore = async (n) => {
      const t0 = performance.now();
      while (clients.length < n) {
        const batch = Array.from({ length: Math.min(20, n - clients.length) }, async () => {
          const c = await connectToAuth(connectOptions);
          await c.login({ method: 'guest', displayName: `bench${clients.length}` });
          return c;
        });
        clients.push(...(await Promise.all(batch)));
      }
      return performance.now() - t0;
    };

    /** One player's whole cycle; returns the times of `match.found`, the ticket and `game.begin`. */
    const cycle = async (client, mode, signal) => {
      const t = { start: performance.now() };
      const ticket = await client.matchmake({
        mode,
        timeoutMs: 30_000,
        ...(signal ? { signal } : {}),
        onStatus: (s) => {
          if (s.phase === 'found') t.found = performance.now();
        },
      });
      t.ticket = performance.now();
      t.sessionId = ticket.sessionId;
      const game = await client.joinHost(ticket);
      const began = new Promise((resolve) => game.once('begin', () => resolve(performance.now())));
      const end = game.result.catch(() => undefined);
      await game.ready();
      t.begin = await began;
      await end;
      t.end = performance.now();
      await game.close().catch(() => undefined);
      return t;
    };

    progress('servers up');
    // -- 1. latency, one session at a time
    await connectMore(8);
    const latency = {};
    for (const [mode, size] of Object.entries(MODES)) {
      const samples = [];
      for (let r = 0; r < ROUNDS[mode]; r++) {
        const ts = await Promise.all(clients.slice(0, size).map((c) => cycle(c, mode)));
        samples.push(Math.max(...ts.map((t) => t.begin)) - Math.min(...ts.map((t) => t.found)));
      }
      latency[mode] = { p50: pct(samples, 50), p99: pct(samples, 99), n: samples.length };
      progress(`latency ${mode} done`);
    }

    // -- 2. throughput with 200 clients, 2-player sessions
    const connectMs = await connectMore(CLIENTS);
    progress(`${CLIENTS} clients connected`);
    const tickets = new Map(); // sessionId -> ticket times
    const cycles = []; // one player's cycle, ticket inside the window
    let stop = false;
    const stopping = new AbortController(); // leaves the queue: the odd player out stops waiting
    setMaxListeners(0, stopping.signal); // one listener per client, by design
    const t0 = performance.now();
    const from = t0 + WARMUP_MS;
    const to = from + WINDOW_MS;
    const cpuNow = async () => ({ auth: (await ask(a.child, 'cpu')).cpu, host: (await ask(h.child, 'cpu')).cpu, clients: process.cpuUsage() });
    let cpuFrom;
    setTimeout(async () => {
      cpuFrom = await cpuNow();
    }, WARMUP_MS);
    const loops = clients.map(async (c) => {
      while (!stop) {
        try {
          const t = await cycle(c, 'duel', stopping.signal);
          const list = tickets.get(t.sessionId) ?? [];
          list.push(t.ticket);
          tickets.set(t.sessionId, list);
          if (t.ticket >= from && t.ticket < to) cycles.push(t);
        } catch {
          if (!stop) await sleep(100);
        }
      }
    });
    await sleep(WARMUP_MS + WINDOW_MS);
    const cpuTo = await cpuNow();
    stop = true;
    stopping.abort();
    await Promise.race([Promise.all(loops), sleep(5_000)]);
    progress('throughput done');
    let inWindow = 0;
    for (const list of tickets.values()) {
      const last = Math.max(...list);
      if (list.length === 2 && last >= from && last < to) inWindow++;
    }
    const rate = inWindow / (WINDOW_MS / 1000);
    const cpuOf = (k) => (cpuTo[k].user - cpuFrom[k].user + (cpuTo[k].system - cpuFrom[k].system)) / 1000;
    const cpuMs = cpuOf('auth');
    const busy = (k) => `${f1((cpuOf(k) / WINDOW_MS) * 100)}%`;
    const cpuPerSession = cpuMs / Math.max(1, inWindow);

    // -- report
    console.log(`hand-off over QUIC on loopback, auth tick ${TICK_MS} ms, p256 session certs`);
    console.log('latency, match formed -> every player connected to the host and ready (one session at a time; p99 of so few is about the max):');
    for (const [mode, size] of Object.entries(MODES)) {
      const l = latency[mode];
      console.log(`  ${size} players: p50 ${f1(l.p50)} ms   p99 ${f1(l.p99)} ms   (${l.n} sessions)`);
    }
    console.log(`throughput, ${CLIENTS} clients (connected and logged in in ${f1(connectMs / 1000)} s), 2-player sessions, ${WINDOW_MS / 1000} s window:`);
    console.log(`  ${f1(rate)} sessions/s handed off by one auth process (full cycle: queue, match, claim, host ack, join, instant game, result)`);
    console.log(`  auth process CPU: ${f1(cpuPerSession)} ms per session -> ~${f1(1000 / cpuPerSession)} sessions/s per core if the auth were alone`);
    console.log(
      `  CPU use in the window (100% = one core): auth ${busy('auth')}, host ${busy('host')}, the ${CLIENTS} clients ${busy('clients')}; ${os.availableParallelism()} cores`,
    );
    const mean = (f) => f1(cycles.reduce((n, t) => n + f(t), 0) / Math.max(1, cycles.length));
    console.log(
      `  one player's cycle, mean ms: queue->found ${mean((t) => t.found - t.start)}, found->hand-off ${mean((t) => t.ticket - t.found)}, hand-off->begin ${mean((t) => t.begin - t.ticket)}, begin->result ${mean((t) => t.end - t.begin)}`,
    );
    console.log(`baseline, same run: createSessionMinter().mint ${f1(mintRate)} certs/s in one thread = ${f1(mintRate / 2)} 2-player sessions/s`);
    console.log(
      `ratio: hand-off rate / mint-only rate = ${(rate / (mintRate / 2)).toFixed(4)}; auth CPU ceiling / mint-only = ${(1000 / cpuPerSession / (mintRate / 2)).toFixed(4)}`,
    );
    console.log(
      `  (minting 2 certs is ${f1(((2 * 1000) / mintRate / cpuPerSession) * 100)}% of the auth's CPU per session: the rest is QUIC/TLS, messages and bookkeeping)`,
    );
    console.log(`(bench took ${f1((Date.now() - started) / 1000)} s)`);
    await Promise.race([Promise.all(clients.map((c) => c.close().catch(() => undefined))), sleep(3_000)]);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
  // a client socket still closing must not keep the bench alive
  process.exit(0);
}

// dispatch last: the helpers above must be initialised first
const role = process.argv[2];
if (role === 'auth') await authChild(process.argv[3]);
else if (role === 'host') await hostChild(process.argv[3], Number(process.argv[4]));
else await main();
