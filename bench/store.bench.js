#!/usr/bin/env node
// Store (issue #10): what keeping the Auth state in a database costs. The same workload, over real
// QUIC on loopback, against four deployments in the same run, interleaved and repeated (medians):
//
//   memory    one Auth node, state in memory (the baseline)
//   embedded  one Auth node, state in SQLite (better-sqlite3) in a temporary folder
//   pg-1      one Auth node on PostgreSQL (a database made for the run)
//   pg-2      two Auth nodes on one PostgreSQL database: half the players on each node, matched
//             across them by the leader (LISTEN/NOTIFY, advisory lock)
//
// Workload: BENCH_PLAYERS (default 24; QUICK 12) guest players from BENCH_GENERATORS (default 2)
// load-generator processes (test/e2e/players.mjs), each playing BENCH_ROUNDS (default 2; QUICK 1)
// rounds: connect, log in, matchmake, take the hand-off, play tic-tac-toe to its result. Each
// Auth node and the host run in their own child process. Printed per deployment: logins/s (logged-in
// rounds), matches/s (sessions played to their result) and hand-offs/s (players handed off) over
// the run's wall time, and each beside the in-memory figure of the same repeat. Every round logs
// in, is matched and is handed off, so the three move together: what differs between deployments
// is the store's cost on that path (ban lookup at login, tickets, session records, results, the
// session-cert log, the cross-node hops).
//
// Run after `npm run build`: node bench/store.bench.js   (about 2-4 min on 2 cores)
// Quick check: BENCH_QUICK=1 node bench/store.bench.js
import { mkdtemp, rm } from 'node:fs/promises';
import { fork } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { f1, makePki, QUICK, runScript, sleep } from './servers.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');
const PLAYERS = Number(process.env.BENCH_PLAYERS ?? (QUICK ? 12 : 24));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 2));
const GENERATORS = Number(process.env.BENCH_GENERATORS ?? 2);
const REPEATS = Number(process.env.BENCH_REPEATS ?? (QUICK ? 1 : 2));
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const GAME_VERSION = '1.0.0';
const CONFIGS = ['memory', 'embedded', 'pg-1', 'pg-2'];

// ---------------------------------------------------------------- child processes

async function quietLogger() {
  const { default: pino } = await import('pino');
  return pino({ level: 'error' }, pino.destination(2));
}

/** One Auth node: `engine` memory | sqlite | postgres, `where` its folder or URL, `cluster` for several nodes. */
async function authChild(pkiDir, engine, where, node, cluster) {
  const { openPki } = await import('../dist/pki/index.js');
  const { AuthServer } = await import('../dist/auth/server.js');
  const { AccountService, GuestProvider } = await import('../dist/auth/index.js');
  const pki = await openPki(pkiDir);
  const logger = await quietLogger();
  let stores;
  if (engine !== 'memory') {
    const { openAuthStores } = await import('../dist/store/index.js');
    stores = await openAuthStores(engine === 'sqlite' ? { path: where } : { url: where, migrate: true });
  }
  let bus;
  if (cluster === 'yes') {
    const { openPgCluster, clusterSecret } = await import('../dist/store/pg-cluster.js');
    bus = await openPgCluster({ url: where, node, logger, secret: await clusterSecret(pki.path(pki.get('sessionauth').keyFile)) });
  }
  const auth = await AuthServer.start({
    name: node,
    clients: { host: '127.0.0.1', port: 0 },
    hosts: { host: '127.0.0.1', port: 0 },
    cert: await pki.chainPem('auth'),
    key: pki.path(pki.get('auth').keyFile),
    verifier: await pki.verifier(),
    minter: await pki.sessionMinter(),
    gameVersion: GAME_VERSION,
    accounts: new AccountService({ providers: [new GuestProvider()], ...(stores ? { bans: stores.bans } : {}) }),
    ...(stores ? { stores } : {}),
    ...(bus ? { cluster: bus } : {}),
    logger,
  });
  process.on('message', (m) => {
    if (m === 'hosts') process.send({ hosts: auth.connectedHosts() });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ clientPort: auth.clientPort, hostPort: auth.hostPort });
}

/** The host, linked to every Auth node (as `auth.servers` lists them). */
async function hostChild(pkiDir, authPorts) {
  const { openPki } = await import('../dist/pki/index.js');
  const { HostServer } = await import('../dist/host/server.js');
  const { game } = await import(pathToFileURL(path.join(ROOT, 'test/e2e/ttt-game.mjs')).href);
  const pki = await openPki(pkiDir);
  const host = await HostServer.start(
    {
      name: 'host-1',
      publicAddress: '127.0.0.1',
      listen: { host: '127.0.0.1', port: 0 },
      cert: await pki.chainPem('host-1'),
      key: pki.path(pki.get('host-1').keyFile),
      verifier: await pki.verifier(),
      authServers: authPorts.split(',').map((p) => ({ host: '127.0.0.1', port: Number(p) })),
      capacity: { sessions: 64 },
      version: GAME_VERSION,
      logger: await quietLogger(),
    },
    game,
  );
  process.on('disconnect', () => process.exit(0));
  process.send({ playerPort: host.playerPort });
}

if (process.argv[1] === SELF && process.argv[2] === 'auth') {
  await authChild(...process.argv.slice(3));
} else if (process.argv[1] === SELF && process.argv[2] === 'host') {
  await hostChild(...process.argv.slice(3));
} else {
  await main();
}

// ---------------------------------------------------------------- the run

function child(args) {
  const c = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    c.once('message', resolve);
    c.once('exit', (code) => reject(new Error(`${args[0]} child exited with ${code}`)));
  });
  return { child: c, first };
}

function ask(c, what) {
  return new Promise((resolve) => {
    c.once('message', resolve);
    c.send(what);
  });
}

async function pgAdmin(sql) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** One deployment, the workload through it; resolves with its figures. */
async function runConfig(pki, config, scratch, repeat) {
  const kids = [];
  let dropDb;
  try {
    let engine = 'memory';
    let where = '-';
    if (config === 'embedded') {
      engine = 'sqlite';
      where = path.join(scratch, `db-${repeat}`);
    } else if (config.startsWith('pg')) {
      engine = 'postgres';
      const name = `iyesmp_bench_${process.pid}_${repeat}_${config.replace('-', '_')}`;
      await pgAdmin(`create database "${name}"`);
      dropDb = () => pgAdmin(`drop database if exists "${name}" with (force)`);
      const u = new URL(PG_URL);
      u.pathname = `/${name}`;
      where = u.toString();
    }
    const nodes = config === 'pg-2' ? ['auth-a', 'auth-b'] : ['auth-a'];
    const auths = [];
    for (const node of nodes) {
      const a = child(['auth', pki.dir, engine, where, node, nodes.length > 1 ? 'yes' : 'no']);
      kids.push(a.child);
      auths.push({ ...a, ports: await a.first });
    }
    const host = child(['host', pki.dir, auths.map((a) => a.ports.hostPort).join(',')]);
    kids.push(host.child);
    await host.first;
    for (let i = 0; ; i++) {
      const seen = await Promise.all(auths.map((a) => ask(a.child, 'hosts')));
      if (seen.every((s) => s.hosts.includes('host-1'))) break;
      if (i > 400) throw new Error(`${config}: the host did not register with every node`);
      await sleep(50);
    }
    if (nodes.length > 1) await sleep(2500); // the followers learn the leader
    const share = Math.ceil(PLAYERS / GENERATORS);
    const t0 = performance.now();
    const runs = [];
    for (let g = 0; g < GENERATORS; g++) {
      const count = Math.min(share, PLAYERS - g * share);
      if (count <= 0) break;
      const auth = auths[g % auths.length];
      runs.push(
        runScript('players.mjs', {
          auth: `127.0.0.1:${auth.ports.clientPort}`,
          ca: pki.ca,
          ...pki.client,
          count,
          rounds: ROUNDS,
          prefix: `${config}-${repeat}-g${g}-`,
          matchTimeoutMs: 60_000,
          maxMs: 170_000,
        }),
      );
    }
    const results = await Promise.all(runs.map((r) => r.done));
    if (process.env.BENCH_DEBUG) for (const l of results.flatMap((r) => r.lines).slice(0, 4)) process.stderr.write(JSON.stringify(l) + '\n');
    const seconds = (performance.now() - t0) / 1000;
    const lines = results.flatMap((r) => r.lines).filter((l) => l.ev === 'player');
    const ok = lines.filter((l) => l.ok).length;
    const sessions = new Set(lines.filter((l) => l.ok).map((l) => l.sessionId)).size;
    return { config, seconds, ok, failed: lines.length - ok, logins: ok / seconds, matches: sessions / seconds, handoffs: ok / seconds };
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    await sleep(300);
    await dropDb?.().catch(() => undefined);
  }
}

async function main() {
  const scratch = await mkdtemp(path.join(tmpdir(), 'iyesmp-store-bench-'));
  let pgOk = true;
  try {
    await pgAdmin('select 1');
  } catch (err) {
    pgOk = false;
    process.stdout.write(`PostgreSQL at ${PG_URL} unreachable (${err.message}): pg-1 and pg-2 skipped\n`);
  }
  const configs = CONFIGS.filter((c) => pgOk || !c.startsWith('pg'));
  try {
    const pki = await makePki(path.join(scratch, 'pki'), ['host-1']);
    const runs = Object.fromEntries(configs.map((c) => [c, []]));
    for (let r = 0; r < REPEATS; r++) {
      // interleaved, and the order turned each repeat, so drift on a shared machine spreads evenly
      const order = configs.map((_, i) => configs[(i + r) % configs.length]);
      for (const c of order) {
        const res = await runConfig(pki, c, scratch, r);
        runs[c].push(res);
        process.stderr.write(`  repeat ${r + 1}/${REPEATS} ${c}: ${res.ok} rounds in ${f1(res.seconds)} s (${res.failed} failed)\n`);
      }
    }
    const median = (xs) => {
      const s = xs.slice().sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    const fig = (c, k) => median(runs[c].map((x) => x[k]));
    process.stdout.write(
      `\n${PLAYERS} players x ${ROUNDS} rounds from ${GENERATORS} generators, median of ${REPEATS} interleaved repeat(s)${QUICK ? ' (QUICK: indicative only)' : ''}\n`,
    );
    process.stdout.write(`${'deployment'.padEnd(11)} ${'logins/s'.padStart(9)} ${'matches/s'.padStart(10)} ${'hand-offs/s'.padStart(12)}  vs memory  failed\n`);
    for (const c of configs) {
      const ratio = fig(c, 'handoffs') / fig('memory', 'handoffs');
      const failed = runs[c].reduce((n, x) => n + x.failed, 0);
      process.stdout.write(
        `${c.padEnd(11)} ${f1(fig(c, 'logins')).padStart(9)} ${f1(fig(c, 'matches')).padStart(10)} ${f1(fig(c, 'handoffs')).padStart(12)}  ${f1(ratio * 100).padStart(7)}%  ${failed}\n`,
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  process.exit(0);
}
