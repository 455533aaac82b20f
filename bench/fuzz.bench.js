#!/usr/bin/env node
// Wire fuzz at the issue's scale (issue #9, "Done means"): BENCH_FUZZ_FRAMES (default 50,000)
// malformed and hostile frames on each of the three ports at once, over real QUIC on loopback with
// valid certificates: the Auth players port (iyesmp-auth/1), the Auth hosts port (iyesmp-hostctl/1)
// and the Host players port (iyesmp-host/1). The fuzzers are test/e2e/fuzzer.mjs processes (see
// it for the kinds of frames); the Auth server and the Host run in their own child processes.
// Meanwhile a canary pair of real players (test/e2e/players.mjs) logs in, matchmakes and plays
// over and over. Printed: frames and connections per port, RSS of both servers before and after,
// the error lines they logged, whether they are alive, and the canary's latency beside a baseline
// without fuzzing (same run).
//
// Run after `npm run build`: node bench/fuzz.bench.js   (long: handshakes bound it, ~85 frames/s per port on 2 cores: ~10 min)
// Quick check: BENCH_QUICK=1 node bench/fuzz.bench.js   (1,000 frames per port, about a minute)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ask, f1, hostsRegistered, makePki, mb, pct, QUICK, runScript, startServer } from './servers.js';

const FRAMES = Number(process.env.BENCH_FUZZ_FRAMES ?? (QUICK ? 1000 : 50_000));
const BASELINE_ROUNDS = Number(process.env.BENCH_BASELINE_ROUNDS ?? 5);
const BOUND_MS = Number(process.env.BENCH_BOUND_MS ?? (QUICK ? 240_000 : 3_600_000));

const T0 = Date.now();
const progress = (what) => process.stderr.write(`  [${f1((Date.now() - T0) / 1000)} s] ${what}\n`);

/** The canary pair, `rounds` games back to back; returns their player lines. */
async function canary(pki, clientPort, rounds, prefix) {
  const r = await runScript('players.mjs', { auth: `127.0.0.1:${clientPort}`, ca: pki.ca, ...pki.client, count: 2, rounds, prefix, maxMs: 120_000 }).done;
  return r.lines.filter((l) => l.ev === 'player');
}

function canaryLine(name, lines) {
  const ok = lines.filter((l) => l.ok);
  const failed = lines.filter((l) => !l.ok).map((l) => `${l.stage}:${l.code}`);
  const login = ok.map((l) => l.loginMs);
  const toEnd = ok.map((l) => l.endMs);
  return (
    `  ${name}: ${ok.length} of ${lines.length} player-games played to a result; login p50 ${f1(pct(login, 50))} ms p99 ${f1(pct(login, 99))} ms; ` +
    `login -> result p50 ${f1(pct(toEnd, 50))} ms p99 ${f1(pct(toEnd, 99))} ms; failures: ${failed.join(', ') || 'none'}`
  );
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-bench-fuzz-'));
  const children = [];
  const hardStop = setTimeout(() => {
    console.error('fuzz bench: over its time bound; stopping');
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  }, BOUND_MS + 60_000);
  hardStop.unref();
  try {
    // host-2 is never started: its certificate is the fuzzer's on the hosts port
    const pki = await makePki(path.join(dir, 'pki'), ['host-1', 'host-2']);
    const a = startServer(['auth', pki.dir, '{}']);
    children.push(a.child);
    const ports = await a.first;
    const h = startServer(['host', pki.dir, 'host-1', String(ports.hostPort), '64']);
    children.push(h.child);
    await h.first;
    await hostsRegistered(a.child, ['host-1']);
    progress('servers up');

    const base = await canary(pki, ports.clientPort, BASELINE_ROUNDS, 'base');
    progress('baseline done');
    const before = { auth: (await ask(a.child, 'stats')).rss, host: (await ask(h.child, 'stats')).rss };

    // a quarter of the streams hostile at the framing level, the rest a valid hello and up to 16 bad
    // requests (a peer's 17th invalid message closes its stream: the protocol's own bound)
    const common = {
      auth: `127.0.0.1:${ports.clientPort}`,
      ca: pki.ca,
      ...pki.client,
      frames: FRAMES,
      parallel: 6,
      softWeight: 3,
      maxSoft: 16,
      maxMs: BOUND_MS,
    };
    const targets = [
      ['auth players (iyesmp-auth/1)', { ...common, target: 'auth', seed: 1 }],
      [
        'auth hosts (iyesmp-hostctl/1)',
        { ...common, target: 'hostctl', hostctl: `127.0.0.1:${ports.hostPort}`, ...pki.host('host-2'), hostName: 'host-2', seed: 2 },
      ],
      ['host players (iyesmp-host/1)', { ...common, target: 'host', seed: 3 }],
    ];
    const fuzzers = targets.map(([name, cfg]) => ({ name, run: runScript('fuzzer.mjs', cfg) }));
    for (const f of fuzzers) children.push(f.run.child);
    let fuzzing = true;
    const all = Promise.all(fuzzers.map((f) => f.run.done)).finally(() => (fuzzing = false));
    const ticker = setInterval(() => {
      const counts = fuzzers.map((f) => f.run.lines.filter((l) => l.ev === 'progress').at(-1)?.frames ?? 0);
      progress(`fuzzing: ${counts.join(' / ')} frames`);
    }, 30_000);
    const during = [];
    while (fuzzing) during.push(...(await canary(pki, ports.clientPort, 1, `c${during.length}-`)));
    const results = await all;
    clearInterval(ticker);
    const after = { auth: await ask(a.child, 'stats').catch(() => undefined), host: await ask(h.child, 'stats').catch(() => undefined) };
    const afterCanary = await canary(pki, ports.clientPort, BASELINE_ROUNDS, 'after');
    progress('fuzzing done');

    console.log(`wire fuzz: ${FRAMES} hostile frames per port, three ports at once, valid certificates, QUIC on loopback`);
    for (const [i, f] of fuzzers.entries()) {
      const done = results[i].lines.find((l) => l.ev === 'done');
      if (!done) {
        console.log(`  ${f.name}: the fuzzer exited with ${results[i].code} before finishing`);
        continue;
      }
      const refused =
        Object.entries(done.refused)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ') || 'none';
      console.log(
        `  ${f.name}: ${done.frames} frames on ${done.streams} streams over ${done.connections} connections in ${f1(done.ms / 1000)} s ` +
          `(${f1(done.frames / (done.ms / 1000))} frames/s), ${Object.keys(done.byKind).length} kinds; connections refused: ${refused}`,
      );
    }
    for (const which of ['auth', 'host']) {
      const s = after[which];
      console.log(
        s
          ? `  ${which} server: alive; RSS ${mb(before[which])} before, ${mb(s.rss)} after (${s.rss >= before[which] ? '+' : ''}${mb(s.rss - before[which])}); error lines logged: ${s.errors.count}${s.errors.first.length ? ` (${s.errors.first.join('; ')})` : ''}`
          : `  ${which} server: NOT ANSWERING (crashed?)`,
      );
    }
    console.log('canary (two players: connect, log in, matchmake, join the host, play tic-tac-toe):');
    console.log(canaryLine('baseline, no fuzzing', base));
    console.log(canaryLine('during the fuzzing  ', during));
    console.log(canaryLine('after the fuzzing   ', afterCanary));
    console.log(`(bench took ${f1((Date.now() - T0) / 1000)} s)`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
  process.exit(0);
}

await main();
