#!/usr/bin/env node
// netcode.io benchmarks, one run:
//  1. connect tokens generated per second (XChaCha20-Poly1305 of the private part included);
//  2. payload packets per second through one server with 64 connected clients on loopback
//     (our UDP client adapter -> our UDP server adapter, which echoes each payload back), beside
//  3. the baseline: the same echo pattern with raw node:dgram sockets, and the ratio.
// Each client keeps WINDOW payloads in flight and refills its window when echoes stop (UDP drops
// under load), so a burst of losses cannot stall the measurement. Clients and server share this
// process's event loop in both measurements, with the same server socket buffer size.
import dgram from 'node:dgram';
import { ClientState, NetcodeUdpClient, NetcodeUdpServer, generateConnectToken } from '../dist/netcode/index.js';

const CLIENTS = 64;
const WINDOW = 4;
const PAYLOAD = new Uint8Array(100).fill(0x5a);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BUFFER = 1 << 20;
const key = new Uint8Array(32).fill(1);
const protocolId = 0x1234n;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function benchTokens() {
  const opts = { privateKey: key, protocolId, clientId: 1n, publicServerAddresses: ['127.0.0.1:40000'], expireSeconds: 30, timeoutSeconds: 5 };
  for (let i = 0; i < 200; i++) generateConnectToken(opts); // warm up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 2000) {
    generateConnectToken({ ...opts, clientId: BigInt(n) });
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Drives `send(i)` for each client with a refilled window; counts echoes via the returned `echo(i)`. */
async function drive(send) {
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
  const echo = (i) => {
    echoed++;
    outstanding[i] = Math.max(0, outstanding[i] - 1);
    lastEcho[i] = performance.now();
    fill(i);
  };
  const refill = setInterval(() => {
    const now = performance.now();
    for (let i = 0; i < CLIENTS; i++) {
      if (now - lastEcho[i] > 100 && outstanding[i] > 0) {
        lost += outstanding[i];
        outstanding[i] = 0;
        lastEcho[i] = now;
        fill(i);
      }
    }
  }, 50);
  return {
    echo,
    /** Runs the window; `serverCount()` is sampled over the same interval as the echoes. */
    async measure(serverCount) {
      for (let i = 0; i < CLIENTS; i++) fill(i);
      await sleep(500); // warm up
      const e0 = echoed;
      const l0 = lost;
      const s0 = serverCount();
      const t0 = performance.now();
      await sleep(SECONDS * 1000);
      const dt = (performance.now() - t0) / 1000;
      const r = { echoes: (echoed - e0) / dt, serverIn: (serverCount() - s0) / dt, lost: lost - l0 };
      running = false;
      clearInterval(refill);
      return r;
    },
  };
}

async function benchNetcode() {
  const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: key, protocolId, maxClients: CLIENTS, socketBufferBytes: BUFFER });
  let received = 0;
  server.on('payload', (e) => {
    received++;
    server.sendPayload(e.clientIndex, e.payload);
  });
  const clients = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const c = new NetcodeUdpClient();
      c.connect(
        generateConnectToken({
          privateKey: key,
          protocolId,
          clientId: BigInt(i + 1),
          publicServerAddresses: [server.boundAddress],
          expireSeconds: 60,
          timeoutSeconds: 10,
        }),
      );
      clients.push(c);
    }
    const states = await Promise.all(clients.map((c) => c.waitUntilSettled(30_000)));
    if (states.some((s) => s !== ClientState.connected) || server.core.numConnectedClients !== CLIENTS) {
      throw new Error(`only ${server.core.numConnectedClients} of ${CLIENTS} clients connected`);
    }
    const d = await drive((i) => clients[i].sendPayload(PAYLOAD));
    clients.forEach((c, i) => c.on('payload', () => d.echo(i)));
    const r = await d.measure(() => received);
    return { ...r, stillConnected: server.core.numConnectedClients };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
}

async function benchRaw() {
  const server = dgram.createSocket('udp4');
  await new Promise((r) => server.bind(0, '127.0.0.1', r));
  server.setRecvBufferSize(BUFFER);
  server.setSendBufferSize(BUFFER);
  const port = server.address().port;
  let received = 0;
  server.on('message', (msg, rinfo) => {
    received++;
    server.send(msg, rinfo.port, rinfo.address);
  });
  const sockets = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const s = dgram.createSocket('udp4');
      await new Promise((r) => s.bind(0, '127.0.0.1', r));
      sockets.push(s);
    }
    const d = await drive((i) => sockets[i].send(PAYLOAD, port, '127.0.0.1'));
    sockets.forEach((s, i) => s.on('message', () => d.echo(i)));
    return await d.measure(() => received);
  } finally {
    await sleep(50);
    await Promise.all([server, ...sockets].map((s) => new Promise((r) => s.close(r))));
  }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const tokens = benchTokens();
console.log(`connect tokens generated:          ${fmt(tokens)} /s`);
const nc = await benchNetcode();
const raw = await benchRaw();
console.log(
  `netcode payloads through server:   ${fmt(nc.echoes)} round trips/s, ${fmt(nc.serverIn)} payloads/s received by the server ` +
    `(${nc.stillConnected}/${CLIENTS} clients connected at the end, ${PAYLOAD.length}-byte payloads, ${WINDOW} in flight each, ${nc.lost} presumed lost and refilled)`,
);
console.log(`baseline raw node:dgram echo:      ${fmt(raw.echoes)} round trips/s (same pattern, no netcode, ${raw.lost} presumed lost)`);
console.log(`ratio netcode / raw:               ${(nc.echoes / raw.echoes).toFixed(2)}`);
