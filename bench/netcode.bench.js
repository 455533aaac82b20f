#!/usr/bin/env node
// netcode.io benchmarks, one run:
//  1. connect tokens generated per second (XChaCha20-Poly1305 of the private part included);
//  2. payload round trips per second through one server with 64 connected clients on loopback (our
//     UDP server adapter echoes each payload back), beside
//  3. the baseline: the same echo with a raw node:dgram server and raw client sockets, and the ratio.
// The server runs in this process; the 64 clients run in a child process (this file, `clients`), so
// the load generator never shares the server's event loop. Netcode and raw rounds are interleaved
// (the machine is shared: a load change hits both alike) and the figures are medians over rounds.
// Each client keeps WINDOW payloads in flight and refills its window when echoes stop for 500 ms (UDP drops
// under load), so a burst of losses cannot stall the measurement. Both servers use the same socket
// buffers (netcode's default, 4 MiB). Target (issue 14): netcode >= 0.60 of raw round trips/s.
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { ClientState, DEFAULT_SOCKET_BUFFER_BYTES, NetcodeUdpClient, NetcodeUdpServer, generateConnectToken } from '../dist/netcode/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const CLIENTS = 64;
const WINDOW = 4;
const PAYLOAD = new Uint8Array(100).fill(0x5a);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 2));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 5));
const TARGET = 0.6;
const key = new Uint8Array(32).fill(1);
const protocolId = 0x1234n;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

// ------------------------------------------------------------------ the client child

/** Drives `send(i)` for each client with a refilled window; `echo(i)` counts a reply. */
function drive(send) {
  const outstanding = new Array(CLIENTS).fill(0);
  const lastEcho = new Array(CLIENTS).fill(performance.now());
  let running = true;
  let echoed = 0;
  let lost = 0;
  const fill = (i) => {
    while (running && outstanding[i] < WINDOW) {
      outstanding[i]++;
      send(i);
    }
  };
  const refill = setInterval(() => {
    const now = performance.now();
    for (let i = 0; i < CLIENTS; i++) {
      if (now - lastEcho[i] > 500 && outstanding[i] > 0) {
        lost += outstanding[i];
        outstanding[i] = 0;
        lastEcho[i] = now;
        fill(i);
      }
    }
  }, 50);
  return {
    echo(i) {
      echoed++;
      outstanding[i] = Math.max(0, outstanding[i] - 1);
      lastEcho[i] = performance.now();
      fill(i);
    },
    async measure(seconds) {
      for (let i = 0; i < CLIENTS; i++) fill(i);
      await sleep(300); // warm up
      process.send({ type: 'start' });
      const e0 = echoed;
      const l0 = lost;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const dt = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const r = { echoes: (echoed - e0) / dt, lost: lost - l0, clientCpu: (c.user + c.system) / 1e6 / dt };
      running = false;
      clearInterval(refill);
      return r;
    },
  };
}

async function clientChild(kind, port, seconds) {
  let result;
  if (kind === 'netcode') {
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) {
      const c = new NetcodeUdpClient();
      c.connect(
        generateConnectToken({
          privateKey: key,
          protocolId,
          clientId: BigInt(i + 1 + Math.floor(Math.random() * 1e9)),
          publicServerAddresses: [`127.0.0.1:${port}`],
          expireSeconds: 60,
          timeoutSeconds: 10,
        }),
      );
      clients.push(c);
    }
    const states = await Promise.all(clients.map((c) => c.waitUntilSettled(30_000)));
    if (states.some((s) => s !== ClientState.connected)) throw new Error('not every client connected');
    const d = drive((i) => clients[i].sendPayload(PAYLOAD));
    clients.forEach((c, i) => c.on('payload', () => d.echo(i)));
    result = await d.measure(seconds);
    await Promise.all(clients.map((c) => c.close()));
  } else {
    const sockets = [];
    for (let i = 0; i < CLIENTS; i++) {
      const s = dgram.createSocket('udp4');
      await new Promise((r) => s.bind(0, '127.0.0.1', r));
      sockets.push(s);
    }
    const d = drive((i) => sockets[i].send(PAYLOAD, port, '127.0.0.1'));
    sockets.forEach((s, i) => s.on('message', () => d.echo(i)));
    result = await d.measure(seconds);
    await sleep(50);
    await Promise.all(sockets.map((s) => new Promise((r) => s.close(r))));
  }
  process.send({ type: 'result', ...result });
}

// ------------------------------------------------------------------ the server side

/** One round: clients in a child; the server's CPU is sampled over the same interval as the echoes. */
function round(kind, port, serverCount) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['clients', kind, String(port), String(SECONDS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let c0;
    let s0;
    let t0;
    child.on('message', (m) => {
      if (m.type === 'start') {
        c0 = process.cpuUsage();
        s0 = serverCount();
        t0 = performance.now();
      } else if (m.type === 'result') {
        const dt = (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        resolve({ ...m, serverIn: (serverCount() - s0) / dt, serverCpu: (c.user + c.system) / 1e6 / dt });
      }
    });
    child.on('exit', (code) => code !== 0 && reject(new Error(`${kind} client child exited with ${code}`)));
  });
}

function benchTokens() {
  const opts = { privateKey: key, protocolId, clientId: 1n, publicServerAddresses: ['127.0.0.1:40000'], expireSeconds: 30, timeoutSeconds: 5 };
  for (let i = 0; i < 200; i++) generateConnectToken(opts); // warm up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < (QUICK ? 500 : 2000)) {
    generateConnectToken({ ...opts, clientId: BigInt(n) });
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function main() {
  const tokens = benchTokens();
  console.log(`connect tokens generated:          ${fmt(tokens)} /s`);

  const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: key, protocolId, maxClients: CLIENTS });
  let ncReceived = 0;
  server.on('payload', (e) => {
    ncReceived++;
    server.sendPayload(e.clientIndex, e.payload);
  });
  const raw = dgram.createSocket('udp4');
  await new Promise((r) => raw.bind(0, '127.0.0.1', r));
  raw.setRecvBufferSize(DEFAULT_SOCKET_BUFFER_BYTES);
  raw.setSendBufferSize(DEFAULT_SOCKET_BUFFER_BYTES);
  let rawReceived = 0;
  raw.on('message', (msg, rinfo) => {
    rawReceived++;
    raw.send(msg, rinfo.port, rinfo.address);
  });

  const nc = [];
  const rw = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // alternate which goes first
      const order = r % 2 ? ['raw', 'netcode'] : ['netcode', 'raw'];
      for (const kind of order) {
        if (kind === 'netcode') nc.push(await round('netcode', server.boundAddress.port, () => ncReceived));
        else rw.push(await round('raw', raw.address().port, () => rawReceived));
      }
      // the netcode clients of this round must time out of their slots before the next connects 64 more
      for (let i = 0; i < 200 && server.core.numConnectedClients > 0; i++) await sleep(50);
    }
  } finally {
    await server.close();
    await new Promise((r) => raw.close(r));
  }
  const ncEchoes = median(nc.map((x) => x.echoes));
  const rwEchoes = median(rw.map((x) => x.echoes));
  const perCpu = (xs) => median(xs.map((x) => x.echoes / (x.serverCpu + x.clientCpu)));
  const ratio = median(nc.map((x, i) => x.echoes / rw[i].echoes));
  console.log(
    `${ROUNDS} interleaved rounds of ${SECONDS} s, ${CLIENTS} clients (in a child process), ${PAYLOAD.length}-byte payloads, ${WINDOW} in flight each`,
  );
  console.log(
    `netcode payloads through server:   ${fmt(ncEchoes)} round trips/s (server ${fmt(median(nc.map((x) => x.serverCpu * 100)))}% of a core, ` +
      `${fmt(perCpu(nc))} round trips per CPU-second of server + clients, ${nc.reduce((a, x) => a + x.lost, 0)} presumed lost and refilled)`,
  );
  console.log(
    `baseline raw node:dgram echo:      ${fmt(rwEchoes)} round trips/s (server ${fmt(median(rw.map((x) => x.serverCpu * 100)))}% of a core, ` +
      `${fmt(perCpu(rw))} round trips per CPU-second, ${rw.reduce((a, x) => a + x.lost, 0)} presumed lost)`,
  );
  console.log(
    `ratio netcode / raw:               ${ratio.toFixed(2)} round trips/s (median of per-round ratios; target >= ${TARGET})${ratio >= TARGET ? '' : '   BELOW TARGET'}, ` +
      `${(perCpu(nc) / perCpu(rw)).toFixed(2)} per CPU-second`,
  );
}

if (process.argv[2] === 'clients') await clientChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await main();
