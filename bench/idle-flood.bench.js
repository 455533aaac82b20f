#!/usr/bin/env node
// Idle-connection flood against an Auth server (issue #9, item 1), over real QUIC on loopback.
// The Auth and Host servers run in child processes with their default connection limits; four
// flood processes open BENCH_FLOOD (default 1,000) connections with the game build's one client
// certificate from BENCH_FLOOD_ADDRESSES source addresses (default 1: 127.0.0.2): half never open a
// stream, half say hello and never log in, and all keep their connections alive with PINGs. Meanwhile
// two canary players (from 127.0.0.1) connect, log in, matchmake, join the host and play an instant
// game, over and over. Printed: the flood's kept / refused / closed-at-deadline counts, the canary's
// login and login-to-game-end latency (p50/p99), and the Auth server's RSS before and after, beside
// a baseline: the same canary run without the flood.
//
// Run after `npm run build`: node bench/idle-flood.bench.js   (bounded: about 60-70 s)
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ask, f1, hostsRegistered, makePki, mb, pct, sleep, startServer } from './servers.js';

const SELF = fileURLToPath(import.meta.url);
const GAME_VERSION = '1.0.0';
const FLOOD = Number(process.env.BENCH_FLOOD ?? 1000);
const FLOOD_ADDRESSES = Number(process.env.BENCH_FLOOD_ADDRESSES ?? 1);
const WORKERS = 4;
const BASELINE_MS = Number(process.env.BENCH_BASELINE_MS ?? 10_000);
// long enough to see both default deadlines pass: first stream (10 s) and login (30 s after the hello)
const FLOOD_MS = Number(process.env.BENCH_FLOOD_MS ?? 36_000);

const T0 = Date.now();
const progress = (what) => process.stderr.write(`  [${f1((Date.now() - T0) / 1000)} s] ${what}\n`);

async function silentLogger() {
  const { default: pino } = await import('pino');
  return pino({ level: 'silent' });
}

// ---------------------------------------------------------------- child processes

/** A Host server whose game ends (a draw) as soon as it begins. */
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
      capacity: { sessions: 1000 },
      version: GAME_VERSION,
      logger: await silentLogger(),
    },
    game,
  );
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

/** Opens `count` idle connections (even: no stream; odd: hello only), from `addresses` in turn; answers `stats`. */
async function floodChild(pkiDir, port, count, first, addresses) {
  const { openPki } = await import('../dist/pki/index.js');
  const { connectQuic, ALPN } = await import('../dist/transport/index.js');
  const { ProtocolConnection, authFamily } = await import('../dist/protocol/index.js');
  const pki = await openPki(pkiDir);
  const entry = pki.list().find((e) => e.role === 'client');
  const creds = { cert: await pki.chainPem(entry.name), key: pki.path(entry.keyFile) };
  const verifier = await pki.verifier();
  const st = { attempted: 0, kept: 0, open: 0, peak: 0, refused: {}, closed: {} };
  const conns = [];
  const one = async (i) => {
    st.attempted++;
    try {
      const conn = await connectQuic({
        host: '127.0.0.1',
        port,
        localHost: addresses[i % addresses.length],
        alpn: ALPN.auth,
        ...creds,
        verifier,
        serverPolicy: { kind: 'auth-server' },
        keepAliveMs: 2_000,
        timeoutMs: 20_000,
      });
      conns.push(conn);
      st.kept++;
      st.open++;
      st.peak = Math.max(st.peak, st.open);
      void conn.closed.then((info) => {
        st.open--;
        const why = info.code === 'deadline' ? info.message : info.code;
        st.closed[why] = (st.closed[why] ?? 0) + 1;
      });
      if (i % 2 === 1) {
        const proto = ProtocolConnection.dial(authFamily, conn.openStream(), { gameVersion: GAME_VERSION, hello: {} });
        proto.on('protocol_error', () => undefined);
        await proto.ready.catch(() => undefined);
      }
    } catch (e) {
      const code = e?.code ?? 'error';
      const why = code === 'too_many_connections' ? (e.details?.reason ?? code) : code;
      st.refused[why] = (st.refused[why] ?? 0) + 1;
    }
  };
  process.on('message', (m) => {
    if (m === 'stats') process.send(st);
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
  // 25 handshakes in flight per worker
  let next = 0;
  await Promise.all(
    Array.from({ length: 25 }, async () => {
      while (next < count) await one(first + next++);
    }),
  );
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

/** Canary pairs play back to back for `ms`; returns login and login-to-game-end times, and failures. */
async function canary(connectOptions, ms) {
  const { connectToAuth } = await import('../dist/client/index.js');
  const logins = [];
  const games = [];
  const failures = {};
  const until = Date.now() + ms;
  const player = async (i) => {
    const t0 = performance.now();
    const c = await connectToAuth(connectOptions);
    try {
      await c.login({ method: 'guest', displayName: `canary${i}` });
      const t1 = performance.now();
      logins.push(t1 - t0);
      const ticket = await c.matchmake({ mode: 'duel', timeoutMs: 20_000 });
      const game = await c.joinHost(ticket);
      const end = game.result.catch(() => undefined);
      await game.ready();
      await end;
      games.push(performance.now() - t1);
      await game.close().catch(() => undefined);
    } finally {
      await c.close().catch(() => undefined);
    }
  };
  while (Date.now() < until) {
    const r = await Promise.allSettled([player(0), player(1)]);
    for (const x of r) {
      if (x.status === 'rejected') {
        const code = x.reason?.code ?? String(x.reason);
        failures[code] = (failures[code] ?? 0) + 1;
        await sleep(200);
      }
    }
  }
  return { logins, games, failures };
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-bench-flood-'));
  const children = [];
  const hardStop = setTimeout(
    () => {
      console.error('idle-flood bench: over its time bound; stopping');
      for (const c of children) c.kill('SIGKILL');
      process.exit(1);
    },
    BASELINE_MS + FLOOD_MS + 60_000,
  );
  hardStop.unref();
  try {
    const pkiDir = path.join(dir, 'pki');
    const pki = await makePki(pkiDir, ['host-1']);
    // the Auth server of bench/servers.js, with its default client connection limits
    const a = startServer(['auth', pkiDir]);
    children.push(a.child);
    const ports = await a.first;
    const h = spawnChild(['host', pkiDir, String(ports.hostPort)]);
    children.push(h.child);
    await h.first;
    await hostsRegistered(a.child, ['host-1']);
    const connectOptions = {
      address: `127.0.0.1:${ports.clientPort}`,
      identity: pki.client,
      trust: { caPem: pki.ca },
      gameVersion: GAME_VERSION,
      connectTimeoutMs: 10_000,
      requestTimeoutMs: 20_000,
    };
    progress('servers up');

    // -- baseline: the canary alone
    const rssStart = (await ask(a.child, 'stats')).rss;
    const base = await canary(connectOptions, BASELINE_MS);
    progress(`baseline: ${base.games.length} games`);

    // -- the flood, with the canary playing throughout
    const rssBefore = (await ask(a.child, 'stats')).rss;
    const addresses = Array.from({ length: FLOOD_ADDRESSES }, (_, i) => `127.0.0.${2 + i}`);
    const share = Math.ceil(FLOOD / WORKERS);
    const floods = [];
    for (let w = 0; w < WORKERS; w++) {
      const count = Math.min(share, FLOOD - w * share);
      const f = spawnChild(['flood', pkiDir, String(ports.clientPort), String(count), String(w * share), addresses.join(',')]);
      children.push(f.child);
      floods.push(f);
    }
    await Promise.all(floods.map((f) => f.first));
    progress(`flood of ${FLOOD} started from ${addresses.length} address(es)`);
    let peakServer = { connections: 0, unauthenticated: 0 };
    const sampler = setInterval(async () => {
      const s = (await ask(a.child, 'stats')).quic;
      if (s.connections > peakServer.connections) peakServer = { connections: s.connections, unauthenticated: s.unauthenticated };
    }, 1_000);
    const during = await canary(connectOptions, FLOOD_MS);
    clearInterval(sampler);
    const after = await ask(a.child, 'stats');
    const fl = await Promise.all(floods.map((f) => ask(f.child, 'stats')));
    progress(`flood phase: ${during.games.length} canary games`);

    // -- report
    const sum = (k) => fl.reduce((n, s) => n + s[k], 0);
    const merge = (k) => {
      const out = {};
      for (const s of fl) for (const [why, n] of Object.entries(s[k])) out[why] = (out[why] ?? 0) + n;
      return (
        Object.entries(out)
          .map(([why, n]) => `${why} ${n}`)
          .join(', ') || 'none'
      );
    };
    const line = (name, r, ms) =>
      `  ${name}: ${r.games.length} games in ${ms / 1000} s; login p50 ${f1(pct(r.logins, 50))} ms p99 ${f1(pct(r.logins, 99))} ms; ` +
      `login -> game over p50 ${f1(pct(r.games, 50))} ms p99 ${f1(pct(r.games, 99))} ms; failures: ${
        Object.entries(r.failures)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ') || 'none'
      }`;
    console.log(`idle-connection flood on an Auth server with its default limits, QUIC on loopback`);
    console.log(
      `flood: ${sum('attempted')} connections with one client certificate from ${addresses.length} address(es) (half no stream, half hello only, PINGs every 2 s)`,
    );
    console.log(`  kept ${sum('kept')} (at most ${sum('peak')} open at once; still open at the end ${sum('open')}); refused: ${merge('refused')}`);
    console.log(`  closed by the server: ${merge('closed')}`);
    console.log(
      `  server at its peak: ${peakServer.connections} connections, ${peakServer.unauthenticated} not logged in; refusals counted: ${JSON.stringify(after.quic.refused)}`,
    );
    console.log('canary (two players: connect, log in, matchmake, join the host, instant game):');
    console.log(line('baseline, no flood', base, BASELINE_MS));
    console.log(line('during the flood  ', during, FLOOD_MS));
    console.log(
      `auth RSS: ${mb(rssStart)} at start, ${mb(rssBefore)} before the flood, ${mb(after.rss)} after it (${after.rss >= rssBefore ? '+' : ''}${mb(after.rss - rssBefore)})`,
    );
    console.log(`(bench took ${f1((Date.now() - T0) / 1000)} s)`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
  process.exit(0);
}

// dispatch last: the helpers above must be initialised first
const role = process.argv[2];
if (role === 'host') await hostChild(process.argv[3], Number(process.argv[4]));
else if (role === 'flood')
  await floodChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]), process.argv[7].split(','));
else await main();
