#!/usr/bin/env node
// Load (issue #9, "Done means"): BENCH_PLAYERS (default 1,000) players through login, matchmaking,
// hand-off and a game of tic-tac-toe against limited host capacity (BENCH_HOSTS x BENCH_SLOTS
// sessions, default 2 x 32 = 64 slots), over real QUIC on loopback. The Auth server and each Host
// run in their own child process; the players come from BENCH_GENERATORS (default 4) load-generator
// processes (test/e2e/players.mjs), their logins spread over BENCH_SPREAD_MS. Printed: players lost
// (failed), stuck (no result by the bound), failures by code (a bare `timeout` would be a bug), and
// p50/p99 of login time and of login-to-game time (to the game's first state), beside a baseline in
// the same run: 2 players alone.
//
// Run after `npm run build`: node bench/load.bench.js   (about 2-4 min on 2 cores)
// Quick check: BENCH_QUICK=1 node bench/load.bench.js   (100 players on 2 x 4 slots)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ask, f1, hostsRegistered, makePki, mb, pct, QUICK, runScript, startServer } from './servers.js';

const PLAYERS = Number(process.env.BENCH_PLAYERS ?? (QUICK ? 100 : 1000));
const HOSTS = Number(process.env.BENCH_HOSTS ?? 2);
const SLOTS = Number(process.env.BENCH_SLOTS ?? (QUICK ? 4 : 32));
const GENERATORS = Number(process.env.BENCH_GENERATORS ?? 4);
// ~40 logins/s: about what 2 cores handshake (mutual TLS); faster only measures the generators' backlog
const SPREAD_MS = Number(process.env.BENCH_SPREAD_MS ?? PLAYERS * 25);
const BOUND_MS = Number(process.env.BENCH_BOUND_MS ?? (QUICK ? 150_000 : 420_000));

const T0 = Date.now();
const progress = (what) => process.stderr.write(`  [${f1((Date.now() - T0) / 1000)} s] ${what}\n`);

/** Players of one phase, from `generators` processes; returns every player line. */
async function phase(pki, clientPort, players, generators, prefix) {
  const share = Math.ceil(players / generators);
  const runs = [];
  for (let g = 0; g < generators; g++) {
    const count = Math.min(share, players - g * share);
    if (count <= 0) break;
    runs.push(
      runScript('players.mjs', {
        auth: `127.0.0.1:${clientPort}`,
        ca: pki.ca,
        ...pki.client,
        count,
        prefix: `${prefix}${g}-`,
        // one source address per player, as a crowd comes from many
        addressPrefix: `127.1.${g}`,
        spreadMs: SPREAD_MS,
        matchTimeoutMs: BOUND_MS,
        maxMs: BOUND_MS,
      }).done,
    );
  }
  return (await Promise.all(runs)).flatMap((r) => r.lines.filter((l) => l.ev === 'player'));
}

function report(name, lines, ms) {
  const ok = lines.filter((l) => l.ok);
  const stuck = lines.filter((l) => !l.ok && l.stage === 'stuck');
  const lost = lines.filter((l) => !l.ok && l.stage !== 'stuck');
  const codes = {};
  for (const l of [...lost, ...stuck]) codes[`${l.stage}:${l.code}`] = (codes[`${l.stage}:${l.code}`] ?? 0) + 1;
  const waited = ok.filter((l) => l.phases.some((p) => p.startsWith('waiting'))).length;
  const login = ok.map((l) => l.loginMs);
  const toGame = ok.map((l) => l.gameMs);
  const toEnd = ok.map((l) => l.endMs);
  console.log(
    `  ${name}: ${lines.length} players in ${f1(ms / 1000)} s: ${ok.length} played to a result, lost ${lost.length}, stuck ${stuck.length}` +
      `${
        Object.keys(codes).length
          ? ` (${Object.entries(codes)
              .map(([c, n]) => `${c} ${n}`)
              .join(', ')})`
          : ''
      }; ${waited} waited for a host`,
  );
  console.log(
    `    login p50 ${f1(pct(login, 50))} ms p99 ${f1(pct(login, 99))} ms; login -> game p50 ${f1(pct(toGame, 50))} ms p99 ${f1(pct(toGame, 99))} ms; ` +
      `login -> result p50 ${f1(pct(toEnd, 50))} ms p99 ${f1(pct(toEnd, 99))} ms`,
  );
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-bench-load-'));
  const children = [];
  const hostNames = Array.from({ length: HOSTS }, (_, i) => `host-${i + 1}`);
  const hardStop = setTimeout(() => {
    console.error('load bench: over its time bound; stopping');
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  }, BOUND_MS + 120_000);
  hardStop.unref();
  try {
    const pki = await makePki(path.join(dir, 'pki'), hostNames);
    // players wait for a free slot up to the bench's bound instead of the default 30 s
    const a = startServer(['auth', pki.dir, JSON.stringify({ claimTimeoutMs: BOUND_MS, noHostTimeoutMs: BOUND_MS })]);
    children.push(a.child);
    const ports = await a.first;
    for (const name of hostNames) {
      const h = startServer(['host', pki.dir, name, String(ports.hostPort), String(SLOTS)]);
      children.push(h.child);
      await h.first;
    }
    await hostsRegistered(a.child, hostNames);
    progress(`auth and ${HOSTS} hosts x ${SLOTS} slots up`);

    let t = Date.now();
    const base = await phase(pki, ports.clientPort, 2, 1, 'base');
    const baseMs = Date.now() - t;
    progress('baseline done');
    const rssBefore = (await ask(a.child, 'stats')).rss;
    t = Date.now();
    const load = await phase(pki, ports.clientPort, PLAYERS, GENERATORS, 'load');
    const loadMs = Date.now() - t;
    const after = await ask(a.child, 'stats');
    progress('load done');

    console.log(
      `load: ${PLAYERS} players from ${GENERATORS} processes (logins spread over ${f1(SPREAD_MS / 1000)} s) on ${HOSTS} hosts x ${SLOTS} slots, QUIC on loopback`,
    );
    report('baseline, 2 players alone', base, baseMs);
    report(`${PLAYERS} players`.padEnd(25), load, loadMs);
    console.log(`auth RSS ${mb(rssBefore)} before the load, ${mb(after.rss)} after; auth error lines: ${after.errors.count}`);
    console.log(`(bench took ${f1((Date.now() - T0) / 1000)} s)`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
  process.exit(0);
}

await main();
