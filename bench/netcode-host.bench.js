#!/usr/bin/env node
// netcode as a host transport, one run:
//  1. game messages per second echoed through NetcodeHostTransport: 32 admitted players of one
//     session on loopback, each message decoded, mapped to its seat, emitted as an event, and sent
//     back with transport.send (seat lookup + framing);
//  2. the baseline: the same clients and echo pattern on a bare NetcodeUdpServer (payload event ->
//     sendPayload), and the ratio, which is the cost of the session layer.
// Each client keeps WINDOW messages in flight and refills its window when echoes stop (UDP drops
// under load), so losses cannot stall the measurement. Needs `npx tsc -p tsconfig.json` first.
import { HostSessions, NetcodeHostTransport, netcodeExpectedPlayer } from '../dist/host/index.js';
import { issueNetcodeHandoff } from '../dist/netcode/handoff.js';
import { ClientState, NetcodeUdpClient, NetcodeUdpServer, formatAddress } from '../dist/netcode/index.js';
import { encodeGame } from '../dist/netcode/session/messages.js';

const CLIENTS = 32;
const WINDOW = 4;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const GAME = new Uint8Array(100).fill(0x5a);
const privateKey = new Uint8Array(32).fill(1);
const protocolId = 0x77n;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connectAll(address) {
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = new NetcodeUdpClient();
    const { connectToken } = issueNetcodeHandoff({
      privateKey,
      protocolId,
      host: { publicAddresses: [address] },
      sessionId: 'bench',
      playerId: `p${i}`,
      timeoutSeconds: 10,
    });
    c.connect(connectToken);
    clients.push(c);
  }
  for (const c of clients) if ((await c.waitUntilSettled(20_000)) !== ClientState.connected) throw new Error(`client ${c.stateName}`);
  return clients;
}

/** Keeps WINDOW messages in flight per client for SECONDS; returns echoes per second and losses. */
async function drive(clients) {
  const outstanding = new Array(CLIENTS).fill(0);
  const lastEcho = new Array(CLIENTS).fill(performance.now());
  const payload = encodeGame(GAME);
  let running = true;
  let echoed = 0;
  let lost = 0;
  const fill = (i) => {
    while (running && outstanding[i] < WINDOW) {
      outstanding[i]++;
      clients[i].sendPayload(payload);
    }
  };
  clients.forEach((c, i) =>
    c.on('payload', () => {
      echoed++;
      outstanding[i] = Math.max(0, outstanding[i] - 1);
      lastEcho[i] = performance.now();
      fill(i);
    }),
  );
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
  for (let i = 0; i < CLIENTS; i++) fill(i);
  await sleep(300); // warm up
  const start = performance.now();
  const before = echoed;
  await sleep(SECONDS * 1000);
  const rate = (echoed - before) / ((performance.now() - start) / 1000);
  running = false;
  clearInterval(refill);
  return { rate, lost };
}

async function benchTransport() {
  const sessions = new HostSessions({ maxSessions: 1, maxPlayers: CLIENTS });
  sessions.create(
    {
      sessionId: 'bench',
      transport: 'netcode',
      players: Array.from({ length: CLIENTS }, (_, i) => netcodeExpectedPlayer('bench', { playerId: `p${i}`, address: '127.0.0.1' })),
    },
    performance.now(),
  );
  const t = await NetcodeHostTransport.listen({ sessions, privateKey, protocolId, bind: '127.0.0.1:0', maxClients: CLIENTS, socketBufferBytes: 1 << 20 });
  t.on('netcode', (e) => {
    if (e.type === 'message') t.send(e, e.data);
  });
  const clients = await connectAll(formatAddress(t.boundAddress));
  const r = await drive(clients);
  await Promise.all(clients.map((c) => c.close()));
  await t.close();
  return r;
}

async function benchBaseline() {
  const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey, protocolId, maxClients: CLIENTS, socketBufferBytes: 1 << 20 });
  server.on('payload', (e) => server.sendPayload(e.clientIndex, e.payload));
  const clients = await connectAll(formatAddress(server.boundAddress));
  const r = await drive(clients);
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
  return r;
}

const base = await benchBaseline();
const transport = await benchTransport();
console.log(`netcode host transport, ${CLIENTS} players, ${GAME.length}-byte game messages, ${SECONDS} s each`);
console.log(`  NetcodeHostTransport echo : ${Math.round(transport.rate).toLocaleString('en')} msg/s (lost ${transport.lost})`);
console.log(`  baseline NetcodeUdpServer : ${Math.round(base.rate).toLocaleString('en')} msg/s (lost ${base.lost})`);
console.log(`  ratio transport/baseline  : ${(transport.rate / base.rate).toFixed(2)}`);
