// Hand-off benchmark over real QUIC on loopback. The Auth server, the Host server (an instant game)
// and the players each run in their own processes (players: bench/handoff-players.js), so the
// servers' CPU is read from their children and no load generator shares an event loop with them.
//
//  1. latency: ROUNDS 2-player sessions one at a time, match found (first `match.found`) -> both
//     players connected to the host and ready (`game.begin`), p50/p99; interleaved round by round
//     with the baseline: two raw @matrixai/quic mutual-TLS handshakes at once (bench/quic-raw.js,
//     two client processes, the slower of the pair). Target: hand-off p99 <= 2x the pair's p99.
//  2. throughput: players in THROUGHPUT_WORKERS processes cycle (queue, match, hand-off, join,
//     instant game) for a window: sessions/s and Auth CPU per session (target <= 3 ms).
//
// Run after `npm run build`: node bench/handoff.bench.js   (BENCH_QUICK=1: 20 rounds, a short window)
// BENCH_DG_TRACE=1 (or =sizes, with the bodies, binary fields as their sizes): prints the last latency
// round as the Auth saw it, each datagram in and out and each protocol frame (see traceAuth).
// BENCH_PROF_DIR=<dir>: writes <dir>/window.cpuprofile, the Auth's CPU profile of the throughput window.
// BENCH_RESULT_DELAY_MS=<ms>: in the throughput window, the Auth takes each host report of a session's
// end that much later (a slow host link, a busy Auth), so players who queue again the moment their
// result arrives reach the Auth while it still sees them in their session: the re-queue race, made
// frequent. Failed cycles are counted by reason (`live_session`: a match cancelled because a player
// was still in its session).
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countDatagrams } from './datagram-count.js';
import { profileOnRequest } from './profiler.js';

const SELF = fileURLToPath(import.meta.url);
const PLAYERS = path.join(path.dirname(SELF), 'handoff-players.js');
const QUICK = process.env.BENCH_QUICK === '1';
const MODES = { duel: 2 };
const GAME_VERSION = '1.0.0';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 20 : 200));
const THROUGHPUT_WORKERS = 4;
const PER_WORKER = QUICK ? 10 : 25;
const WINDOW_MS = QUICK ? 4_000 : 12_000;
const TICK_MS = 250; // AuthServer's default tickIntervalMs, as `serve auth` runs it

// ---------------------------------------------------------------- child processes

async function silentLogger() {
  const { default: pino } = await import('pino');
  return pino({ level: 'silent' });
}

/**
 * BENCH_DG_TRACE=1: the Auth records each datagram (direction, bytes, peer port) and each protocol
 * frame its sessions take in or put out (kind, type), in order, so one latency round's datagrams can
 * be told apart by purpose (the bench prints the last round's trace).
 */
const TRACE = [];
async function traceAuth() {
  const dgram = (await import('node:dgram')).default;
  const { decode } = await import('@msgpack/msgpack');
  const { ProtocolSession } = await import('../dist/protocol/session.js');
  const t0 = performance.now();
  const at = () => (performance.now() - t0).toFixed(2);
  const proto = dgram.Socket.prototype;
  const send = proto.send;
  proto.send = function (msg, ...rest) {
    const len = Array.isArray(msg) ? msg.reduce((n, b) => n + b.length, 0) : msg.length;
    const port = rest.find((x) => typeof x === 'number' && x > 1000);
    TRACE.push(`${at()} dg-out ${len} B -> :${port} (local :${this.address().port})`);
    return send.call(this, msg, ...rest);
  };
  const emit = proto.emit;
  proto.emit = function (name, ...args) {
    if (name === 'message') TRACE.push(`${at()} dg-in  ${args[0].length} B <- :${args[1].port} (local :${this.address().port})`);
    return emit.call(this, name, ...args);
  };
  const rest = new WeakMap(); // a session's bytes of a frame not complete yet
  const frame = (chunk, session) => {
    const before = session ? rest.get(session) : undefined;
    const bytes = before ? Buffer.concat([before, chunk]) : chunk;
    const out = [];
    for (let o = 0; o + 4 <= bytes.length; ) {
      const n = new DataView(bytes.buffer, bytes.byteOffset + o).getUint32(0);
      if (session && o + 4 + n > bytes.length) {
        rest.set(session, bytes.subarray(o));
        out.push(`(part of a ${n} B frame)`);
        return out.join(', ');
      }
      try {
        const v = decode(bytes.subarray(o + 4, o + 4 + n));
        const sizes =
          process.env.BENCH_DG_TRACE === 'sizes' && v.body
            ? ` ${JSON.stringify(v.body, (_k, x) => (x?.type === 'Buffer' || x instanceof Uint8Array ? `<${x.length ?? x.data.length} B>` : x))}`
            : '';
        out.push(`${v.kind}${v.type ? ` ${v.type}` : ''}${v.id ? ` #${v.id}` : ''} (${n} B)${sizes}`);
      } catch {
        out.push(`? (${n} B)`);
      }
      o += 4 + n;
    }
    if (session) rest.delete(session);
    return out.join(', ');
  };
  const receive = ProtocolSession.prototype.receive;
  ProtocolSession.prototype.receive = function (chunk) {
    TRACE.push(`${at()}   rx ${this.family?.name ?? ''} ${frame(chunk, this)}`);
    return receive.call(this, chunk);
  };
  const take = ProtocolSession.prototype.takeOutput;
  ProtocolSession.prototype.takeOutput = function () {
    const out = take.call(this);
    if (out.length > 0) TRACE.push(`${at()}   tx ${this.family?.name ?? ''} ${out.map(frame).join(' | ')}`);
    return out;
  };
}

/** One Auth server; answers `cpu` requests with its process CPU time; exits with its parent. */
async function authChild(pkiDir) {
  const { openPki } = await import('../dist/pki/index.js');
  const { AuthServer } = await import('../dist/auth/server.js');
  const pki = await openPki(pkiDir);
  const datagrams = countDatagrams();
  if (process.env.BENCH_DG_TRACE) await traceAuth();
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
  let resultDelay = 0;
  const record = auth.recordResults.bind(auth);
  auth.recordResults = async (hostName, body) => {
    if (resultDelay > 0) await sleep(resultDelay);
    return record(hostName, body);
  };
  let handedOff = 0;
  auth.on('session-ended', () => handedOff++);
  process.on('message', (m) => {
    if (m === 'trace') process.send({ trace: TRACE.splice(0) });
    if (m === 'cpu') process.send({ cpu: process.cpuUsage(), ended: handedOff, datagrams: { ...datagrams } });
    if (m === 'hosts') process.send({ hosts: auth.connectedHosts() });
    if (typeof m === 'object' && m.resultDelayMs !== undefined) {
      resultDelay = m.resultDelayMs;
      process.send({ resultDelayMs: resultDelay });
    }
  });
  await profileOnRequest(); // BENCH_PROF_DIR: a CPU profile of one phase (bench/profiler.js)
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

function spawnChild(args, script = SELF, execArgv = []) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
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
const cpuMs = (a, b) => (b.user - a.user + (b.system - a.system)) / 1000;

async function main() {
  const started = Date.now();
  const { initPki } = await import('../dist/pki/index.js');
  const { quicVariants, startRaw, request } = await import('./quic-raw.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-bench-handoff-'));
  const children = [];
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

    // -- servers: Auth and Host, each in its own process
    // BENCH_PROFILE_AUTH=<dir>: a CPU profile of the Auth process, written when the bench ends
    const profile = process.env.BENCH_PROFILE_AUTH;
    const a = spawnChild(['auth', pkiDir], SELF, profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []);
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
    // -- the baseline: the raw library's server and two raw clients, in their own processes
    const { installed } = quicVariants(path.join(dir, 'variant'));
    const raw = await startRaw(['server', installed.url, pkiDir]);
    children.push(raw.child);
    const rawClients = [];
    for (let i = 0; i < 2; i++) {
      const c = await startRaw(['client', installed.url, pkiDir, String(raw.first.port)]);
      children.push(c.child);
      rawClients.push(c.child);
    }

    // -- players: one per worker process for the latency rounds, THROUGHPUT_WORKERS more for throughput
    const clientEntry = pki.list().find((e) => e.role === 'client');
    const creds = {
      auth: `127.0.0.1:${ports.clientPort}`,
      ca: await readFile(pki.path(pki.get('master').certFile), 'utf8'),
      cert: await readFile(pki.path(clientEntry.certFile), 'utf8'),
      key: await readFile(pki.path(clientEntry.keyFile), 'utf8'),
    };
    const players = async (count, worker) => {
      const p = spawnChild([JSON.stringify({ ...creds, count, prefix: `w${worker}-`, worker })], PLAYERS);
      children.push(p.child);
      await p.first;
      await ask(p.child, { op: 'login' });
      return p.child;
    };
    const duo = [await players(1, 0), await players(1, 1)];
    progress('servers and players up');

    // warm-up: JIT, caches, the first session on the host
    for (let r = 0; r < 3; r++) await Promise.all(duo.map((p) => ask(p, { op: 'cycle', mode: 'duel' })));
    for (let r = 0; r < 3; r++) await Promise.all(rawClients.map((c) => request(c, { op: 'hs', n: 1 })));

    // -- 1. latency: one 2-player session at a time, interleaved with a pair of raw handshakes
    const handoffs = [];
    const rawPairs = [];
    const phases = [];
    let authCpuRounds = 0;
    const dgRounds = { sent: 0, received: 0 };
    const dgAdd = (into, a0, a1) => {
      into.sent += a1.datagrams.sent - a0.datagrams.sent;
      into.received += a1.datagrams.received - a0.datagrams.received;
    };
    for (let r = 0; r < ROUNDS; r++) {
      const s0 = await ask(a.child, 'cpu');
      const got = await Promise.all(duo.map((p) => ask(p, { op: 'cycle', mode: 'duel' })));
      const s1 = await ask(a.child, 'cpu');
      authCpuRounds += cpuMs(s0.cpu, s1.cpu);
      dgAdd(dgRounds, s0, s1);
      const ts = got.flatMap((g) => g.cycles);
      handoffs.push(Math.max(...ts.map((t) => t.begin)) - Math.min(...ts.map((t) => t.found)));
      phases.push({
        toTicket: Math.max(...ts.map((t) => t.ticket)) - Math.min(...ts.map((t) => t.found)),
        toBegin: Math.max(...ts.map((t) => t.begin - t.ticket)),
        toJoined: Math.max(...ts.map((t) => t.joined - t.ticket)),
      });
      if (process.env.BENCH_DG_TRACE && r === ROUNDS - 1) {
        await sleep(500); // the last ACKs of the round
        const { trace } = await ask(a.child, 'trace');
        console.log(`trace of the last latency round (Auth, ms since start):\n${trace.join('\n')}`);
      } else if (process.env.BENCH_DG_TRACE) await ask(a.child, 'trace');
      const pair = await Promise.all(rawClients.map((c) => request(c, { op: 'hs', n: 1 })));
      rawPairs.push(Math.max(...pair.map((x) => x.ms[0])));
      if ((r + 1) % 50 === 0) progress(`${r + 1} rounds`);
    }

    // -- 2. throughput: THROUGHPUT_WORKERS processes of players cycling for a window
    const crowd = [];
    for (let w = 0; w < THROUGHPUT_WORKERS; w++) crowd.push(await players(PER_WORKER, 10 + w));
    progress(`${THROUGHPUT_WORKERS * PER_WORKER} players for throughput up`);
    const resultDelayMs = Number(process.env.BENCH_RESULT_DELAY_MS ?? 0);
    if (resultDelayMs > 0) await ask(a.child, { resultDelayMs });
    if (process.env.BENCH_PROF_DIR) await ask(a.child, { prof: 'start' });
    const t0 = performance.now();
    const w0 = await ask(a.child, 'cpu');
    const loops = await Promise.all(crowd.map((p) => ask(p, { op: 'loop', mode: 'duel', ms: WINDOW_MS })));
    const w1 = await ask(a.child, 'cpu');
    if (process.env.BENCH_PROF_DIR) await ask(a.child, { prof: 'stop', name: 'window' });
    const [c0, c1] = [w0.cpu, w1.cpu];
    const dgWindow = { sent: 0, received: 0 };
    dgAdd(dgWindow, w0, w1);
    const wall = performance.now() - t0;
    const sessions = loops.reduce((n, l) => n + l.cycles.length, 0) / 2;
    const failed = loops.reduce((n, l) => n + l.failed, 0);
    const reasons = {};
    for (const l of loops) for (const [k, n] of Object.entries(l.reasons ?? {})) reasons[k] = (reasons[k] ?? 0) + n;
    const why = Object.entries(reasons)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    const perSession = cpuMs(c0, c1) / Math.max(1, sessions);

    // -- report
    const hp99 = pct(handoffs, 99);
    const rp99 = pct(rawPairs, 99);
    console.log(`hand-off over QUIC on loopback, 2-player sessions, players in worker processes, auth tick ${TICK_MS} ms`);
    console.log(`latency, match found -> both players on the host and ready, ${ROUNDS} rounds, one session at a time;`);
    console.log('baseline, interleaved in the same rounds: two raw @matrixai/quic mutual-TLS handshakes at once from two processes (the slower of the two)');
    console.log(`${''.padEnd(28)} ${'hand-off'.padStart(10)} ${'2 raw hs'.padStart(10)} ${'ratio'.padStart(8)}`);
    for (const p of [50, 99]) {
      const hv = pct(handoffs, p);
      const rv = pct(rawPairs, p);
      console.log(`${`p${p} (ms)`.padEnd(28)} ${f1(hv).padStart(10)} ${f1(rv).padStart(10)} ${`${(hv / rv).toFixed(2)}x`.padStart(8)}`);
    }
    console.log(
      `  of which: found -> both tickets p50 ${f1(
        pct(
          phases.map((p) => p.toTicket),
          50,
        ),
      )} ms, p99 ${f1(
        pct(
          phases.map((p) => p.toTicket),
          99,
        ),
      )} ms; ` +
        `ticket -> on the host and ready p50 ${f1(
          pct(
            phases.map((p) => p.toBegin),
            50,
          ),
        )} ms, p99 ${f1(
          pct(
            phases.map((p) => p.toBegin),
            99,
          ),
        )} ms ` +
        `(ticket -> joined, i.e. connected and welcomed: p50 ${f1(
          pct(
            phases.map((p) => p.toJoined),
            50,
          ),
        )} ms)`,
    );
    console.log(`target: hand-off p99 <= 2x the raw pair's p99: ${hp99 <= 2 * rp99 ? 'met' : 'not met'} (${(hp99 / rp99).toFixed(2)}x)`);
    console.log(`Auth CPU per 2-player cycle in the latency rounds (queue, match, confirm with the key, host ack, result): ${f1(authCpuRounds / ROUNDS)} ms`);
    console.log(`Auth datagrams per 2-player cycle in the latency rounds: ${f1(dgRounds.sent / ROUNDS)} sent, ${f1(dgRounds.received / ROUNDS)} received`);
    console.log(
      `throughput: ${THROUGHPUT_WORKERS * PER_WORKER} players in ${THROUGHPUT_WORKERS} processes, ${f1(wall / 1000)} s: ${f1(sessions / (wall / 1000))} sessions/s, ` +
        `Auth CPU ${f1(perSession)} ms per session (target <= 3 ms: ${perSession <= 3 ? 'met' : 'not met'}) -> ~${f1(1000 / perSession)} sessions/s per core; ${failed} cycles failed${why ? ` (${why})` : ''}` +
        (resultDelayMs > 0 ? `; host reports of ended sessions delayed ${resultDelayMs} ms at the Auth` : ''),
    );
    console.log(
      `  Auth datagrams per session in the window: ${f1(dgWindow.sent / Math.max(1, sessions))} sent, ${f1(dgWindow.received / Math.max(1, sessions))} received`,
    );
    console.log(`(bench took ${f1((Date.now() - started) / 1000)} s)`);
  } finally {
    if (process.env.BENCH_PROFILE_AUTH && children[0]) {
      // a clean exit writes the profile
      const exited = new Promise((r) => children[0].once('exit', r));
      children[0].disconnect();
      await Promise.race([exited, sleep(10_000)]);
    }
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

// dispatch last: the helpers above must be initialised first
const role = process.argv[2];
if (role === 'auth') await authChild(process.argv[3]);
else if (role === 'host') await hostChild(process.argv[3], Number(process.argv[4]));
else await main();
