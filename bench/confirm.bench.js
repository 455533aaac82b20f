#!/usr/bin/env node
// The transport confirmation folded into the protocol hello (docs/transport.md, "The confirmation
// step"): connect-to-welcome latency and the server's CPU per connection for
//   - accepted:     connectQuic (HELLO on uni stream 2, ACCEPTED on uni stream 3), then the protocol
//                   stream, hello and welcome (what clients did before, and older clients still do)
//   - first-stream: connectQuic({ confirm: 'first-stream' }), the protocol stream and hello at once,
//                   the welcome confirms (what the client library does now)
//   - handshake:    the baseline, a mutual-TLS handshake with the PKI verifier on both sides and a
//                   forced close (connectQuic first-stream without any stream: no confirmation, no hello)
// against one server in a child process (iyesmp's QUIC server and the admin protocol's hello), the
// three interleaved round by round; medians over rounds of per-round p50/p99 and server CPU.
//
// Run after `npm run build`: node bench/confirm.bench.js   (BENCH_QUICK=1: a few seconds)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childQuicServer, withServerChild } from './quic-bench.js';
import { QUICK, f1, pct } from './servers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { connectQuic, ALPN } = await import(path.join(here, '../dist/transport/index.js'));
const { ProtocolConnection, adminFamily, ADMIN_PROTOCOL_LIMITS } = await import(path.join(here, '../dist/protocol/index.js'));

const ROUNDS = QUICK ? 3 : 9;
const PER_ROUND = QUICK ? 10 : 40;

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length === 0 ? undefined : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (process.argv[2] === 'server') {
  const server = await childQuicServer(ALPN.admin);
  server.on('connection', (conn) => {
    conn.on('stream', (s) => {
      const proto = ProtocolConnection.accept(adminFamily, s, {
        gameVersion: '0.0.0',
        limits: ADMIN_PROTOCOL_LIMITS,
        onHello: () => ({ kind: 'auth', node: 'bench', time: Date.now() }),
      });
      void proto.closed.then(() => conn.close('done', { force: true }).catch(() => undefined));
    });
  });
  process.send({ port: server.port });
  process.on('message', async (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (m === 'stop') {
      await server.close({ graceMs: 200 });
      process.exit(0);
    }
  });
} else {
  await main();
}

async function main() {
  await withServerChild(fileURLToPath(import.meta.url), 'iyesmp-confirm-', async ({ child, ready: { port }, verifier, client }) => {
    const serverCpu = () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve((m.cpu.user + m.cpu.system) / 1000));
        child.send('cpu');
      });
    const base = { host: '127.0.0.1', port, alpn: ALPN.admin, ...client, verifier, serverPolicy: { kind: 'auth-server' } };

    /** One connection to the welcome; returns the connection (closed by the caller in the background). */
    const modes = {
      accepted: async () => {
        const conn = await connectQuic(base);
        const proto = ProtocolConnection.dial(adminFamily, conn.openStream(), {
          gameVersion: '0.0.0',
          hello: { tool: 'bench' },
          limits: ADMIN_PROTOCOL_LIMITS,
        });
        await proto.ready;
        return conn;
      },
      'first-stream': async () => {
        const conn = await connectQuic({ ...base, confirm: 'first-stream' });
        const proto = ProtocolConnection.dial(adminFamily, conn.openStream(), {
          gameVersion: '0.0.0',
          hello: { tool: 'bench' },
          limits: ADMIN_PROTOCOL_LIMITS,
        });
        await conn.confirmedBy(proto.ready);
        return conn;
      },
      handshake: async () => connectQuic({ ...base, confirm: 'first-stream' }),
    };
    const stats = Object.fromEntries(Object.keys(modes).map((k) => [k, { p50: [], p99: [], cpu: [] }]));

    // warm-up: JIT, PKI caches, both server paths
    for (const run of Object.values(modes)) for (let i = 0; i < 3; i++) await (await run()).close('warm-up', { force: true });

    for (let r = 0; r < ROUNDS; r++) {
      // rotate the order so no mode always follows the same one
      const order = Object.keys(modes);
      for (let k = 0; k < r % order.length; k++) order.push(order.shift());
      for (const name of order) {
        const ms = [];
        const closing = [];
        const cpu0 = await serverCpu();
        for (let i = 0; i < PER_ROUND; i++) {
          const a = performance.now();
          const conn = await modes[name]();
          ms.push(performance.now() - a);
          closing.push(conn.close('bench', { force: true }).catch(() => undefined));
        }
        await Promise.all(closing);
        const cpu = (await serverCpu()) - cpu0;
        stats[name].p50.push(pct(ms, 50));
        stats[name].p99.push(pct(ms, 99));
        stats[name].cpu.push(cpu / PER_ROUND);
      }
    }

    const f2 = (x) => (x === undefined ? '-' : x.toFixed(2));
    const m = (name, key) => median(stats[name][key]);
    console.log(`connect to welcome, ${ROUNDS} interleaved rounds of ${PER_ROUND} sequential connections per mode; medians over rounds`);
    console.log(
      `${'figure'.padEnd(40)} ${'accepted'.padStart(10)} ${'first-stream'.padStart(13)} ${'new/old'.padStart(8)} ${'handshake'.padStart(10)} ${'new/handshake'.padStart(14)}`,
    );
    for (const [label, key] of [
      ['connect to welcome p50 (ms)', 'p50'],
      ['connect to welcome p99 (ms)', 'p99'],
      ['server CPU per connection (ms)', 'cpu'],
    ]) {
      const old = m('accepted', key);
      const now = m('first-stream', key);
      const hs = m('handshake', key);
      console.log(
        `${label.padEnd(40)} ${f2(old).padStart(10)} ${f2(now).padStart(13)} ${`${f1((now / old) * 100)}%`.padStart(8)} ${f2(hs).padStart(10)} ${`${f2(now / hs)}x`.padStart(14)}`,
      );
    }
  });
}
