#!/usr/bin/env node
// Turn-based moves end to end through a real broker: the embedded aedes broker (mutual TLS) runs in
// this process; the load runs in a child process of this file: rooms of one host machine (arbiter,
// its own MQTT connection with the Host cert, grants on the control topic) and two players (session
// certs), each move signed by a player, published QoS 1 on the round topic, verified and appended by
// the host (the game accepts every move), and the block verified by both players before the other
// one moves. Baseline, same broker, same run, interleaved: raw QoS 1 publishes of 200 bytes, one in
// flight per publisher, received by a subscriber, with as many publishers as rooms. Medians of the
// repeats; the goal is moves/s >= 25% of raw publishes/s.
//
// Publishes go at QoS 1 at most, as the mqtt host transport sends them.
// Measured on the shared 2-core machine (Dec 2026), before: raw 4,130 publishes/s, 297 moves/s: 7%.
// A move then cost about five broker round trips in a row (the move, the grant of the next round at
// QoS 2, the host's SUBSCRIBE, the block). Now the next round's topic is granted and subscribed a
// round ahead and the host runs grants and (un)subscribes off the move path (the round block waits
// for them only if they are still in flight), as src/host/transports/mqtt/transport.ts does.
// Same loaded machine, interleaved with the previous code: BENCH_QUICK=1 (2 rooms, latency-bound)
// 16-18% of raw (e.g. 269.3 moves/s beside 1,639 raw) vs 11-13% before (199.9 beside 1,807); the full
// run (4 rooms) is CPU-bound in the load process and unchanged: 208.9 moves/s beside 3,655 raw (5.7%)
// vs 238.0 beside 4,114 (5.8%). Short of 25%. What is left, per move (probe, 1 room): two broker relays
// of ~2 ms each (move to host, block to players) against one ~1.4 ms raw round trip, ~0.7 ms of
// verification per player, and in the load process four Ed25519 verifies, two signatures and ~18 MQTT
// packets (QoS 2 grant, SUBSCRIBE, UNSUBSCRIBE included) against four for a raw publish.
// BENCH_MPR=<n> sets moves per round (a large n shows the cost of rotating topics).
//
//   node bench/turns-e2e.bench.js            (BENCH_QUICK=1: one short repeat)
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { makePki, QUICK, f1 } from './servers.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');
if (!existsSync(path.join(ROOT, 'dist', 'mqtt', 'broker.js'))) {
  process.stderr.write('dist/mqtt/broker.js is missing: run `npm run build` first\n');
  process.exit(2);
}
const ROOMS = QUICK ? 2 : 4;
const MOVES = QUICK ? 40 : 150; // per room
const RAW = QUICK ? 200 : 1500; // per publisher
const REPEATS = QUICK ? 1 : 3;
const random = (n) => new Uint8Array(randomBytes(n));
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (process.argv[2] === 'load') await load(process.argv[3], process.argv[4], process.argv[5]);
else await main();

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-turns-e2e-'));
  try {
    const pki = await makePki(path.join(dir, 'pki'), ['host-1']);
    const { EmbeddedBroker } = await import('../dist/mqtt/broker.js');
    const { openPki } = await import('../dist/pki/index.js');
    const opened = await openPki(pki.dir);
    const broker = await EmbeddedBroker.start({
      cert: await readFile(pki.host('host-1').cert, 'utf8'),
      key: await readFile(pki.host('host-1').key, 'utf8'),
      verifier: await opened.verifier(),
      publicHost: 'localhost',
      // a bench publishes faster than a player: lift the per-client budget
      acl: { publishRate: 1e6, publishBurst: 1e6 },
      ...(process.env.BENCH_DEBUG ? { logger: { info: () => {}, warn: (f, m) => process.stderr.write(`broker: ${m} ${JSON.stringify(f)}\n`) } } : {}),
    });
    const raw = [];
    const moves = [];
    for (let i = 0; i < REPEATS; i++) {
      raw.push(await child('raw', pki.dir, broker.url()));
      moves.push(await child('turns', pki.dir, broker.url()));
    }
    await broker.close();
    const r = median(raw);
    const m = median(moves);
    console.log(
      `turns e2e through the embedded broker (${ROOMS} rooms x ${MOVES} moves; baseline ${ROOMS} publishers x ${RAW} QoS 1 publishes; median of ${REPEATS})`,
    );
    console.log(`  raw QoS 1 publishes/s  ${f1(r)}   (each: ${raw.map(f1).join(', ')})`);
    console.log(`  moves/s end to end     ${f1(m)}   (each: ${moves.map(f1).join(', ')})`);
    console.log(`  ratio                  ${f1((100 * m) / r)}% of raw (goal >= 25%)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function child(mode, pkiDir, url) {
  return new Promise((resolve, reject) => {
    const c = fork(SELF, ['load', mode, pkiDir, url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.once('message', (m) => resolve(m.rate));
    c.once('exit', (code) => code !== 0 && reject(new Error(`${mode} load exited with ${code}`)));
  });
}

async function load(mode, pkiDir, url) {
  const { openPki } = await import('../dist/pki/index.js');
  const { MqttLink } = await import('../dist/mqtt/link.js');
  const { brokerClientIdOf } = await import('../dist/mqtt/acl.js');
  const { controlTopicGrants } = await import('../dist/mqtt/grants.js');
  const pki = await openPki(pkiDir);
  const ca = await readFile(pki.path(pki.get('master').certFile), 'utf8');
  const hostCreds = { cert: await readFile(pki.path(pki.get('host-1').certFile), 'utf8'), key: await readFile(pki.path(pki.get('host-1').keyFile), 'utf8') };
  const link = (creds, clientId) => MqttLink.connect({ url, ...creds, ca, servername: 'localhost', clientId });
  let rate;
  const dbg = (m) => process.env.BENCH_DEBUG && process.stderr.write(`${mode}: ${m}\n`);
  dbg('start');
  if (mode === 'raw') {
    const payload = random(200);
    const pairs = await Promise.all(
      Array.from({ length: ROOMS }, async (_, i) => ({
        pub: await link(hostCreds, `raw-pub-${i}`),
        sub: await link(hostCreds, `raw-sub-${i}`),
        topic: `bench/raw/${i}`,
      })),
    );
    let got = 0;
    const all = new Promise((resolve) => {
      for (const p of pairs) {
        p.sub.on('message', () => {
          if (++got === ROOMS * RAW) resolve();
        });
      }
    });
    dbg('connected');
    for (const p of pairs) await p.sub.subscribe([p.topic], 1);
    const t0 = performance.now();
    await Promise.all(
      pairs.map(async (p) => {
        for (let k = 0; k < RAW; k++) await p.pub.publish(p.topic, payload, { qos: 1, retain: false });
      }),
    );
    await all;
    rate = (ROOMS * RAW) / ((performance.now() - t0) / 1000);
    for (const p of pairs) await Promise.all([p.pub.end(), p.sub.end()]);
  } else {
    const { TurnsHost, TurnsPlayer } = await import('../dist/turns/index.js');
    const minter = await pki.sessionMinter();
    const rooms = await Promise.all(Array.from({ length: ROOMS }, (_, i) => room(i)));
    const t0 = performance.now();
    await Promise.all(rooms.map((r) => r.play()));
    rate = (ROOMS * MOVES) / ((performance.now() - t0) / 1000);
    for (const r of rooms) await r.close();

    async function room(i) {
      const sessionId = `bench-${i}-${randomBytes(4).toString('hex')}`;
      const ids = ['p1', 'p2'];
      const now = Date.now();
      // the host's per-player budget (20 messages a second by default) is for people, not for a bench
      const host = new TurnsHost({
        game: 'bench',
        room: `r${i}`,
        sessionId,
        players: ids,
        random,
        movesPerRound: Number(process.env.BENCH_MPR ?? 1),
        limits: { ratePerWindow: 1e6 },
      });
      const hostLink = await link(hostCreds, `host-bench-${i}`);
      const grants = controlTopicGrants(hostLink);
      const run = async (l, actions, onEvent) => {
        for (const a of actions) {
          if (a.type === 'publish') await l.publish(a.topic, a.payload, { qos: Math.min(a.qos, 1), retain: a.retain }).catch(() => undefined);
          else if (a.type === 'subscribe') await l.subscribe(a.topics, a.qos).catch((e) => dbg(`subscribe failed: ${e.message}`));
          else if (a.type === 'acl')
            await grants.apply(Object.entries(a.acl.players).map(([playerId, grant]) => ({ op: 'grant', sessionId, playerId, grant })));
          else if (a.type === 'validate') await run(l, host.validated(a.id, { ok: true }, Date.now()), onEvent);
          else if (a.type === 'event') onEvent?.(a.event);
        }
      };
      // the host runs its actions as the mqtt host transport does: publishes pipelined, grants (one
      // after another) and (un)subscribes off the move path, a round block (QoS 2) waiting for them
      let gq = Promise.resolve();
      const pending = new Set();
      const track = (p) => {
        const t = p.catch((e) => dbg(`host: ${e.message}`));
        pending.add(t);
        t.then(() => pending.delete(t));
      };
      const runHost = async (actions) => {
        let inFlight = [];
        for (const a of actions) {
          if (a.type === 'publish') {
            if (a.qos === 2) await Promise.all(pending);
            inFlight.push(hostLink.publish(a.topic, a.payload, { qos: Math.min(a.qos, 1), retain: a.retain }).catch(() => undefined));
          } else if (a.type === 'subscribe') track(hostLink.subscribe(a.topics, a.qos));
          else if (a.type === 'unsubscribe') track(hostLink.unsubscribe(a.topics));
          else if (a.type === 'acl') {
            const before = Promise.all(inFlight);
            inFlight = [];
            const cmds = Object.entries(a.acl.players).map(([playerId, grant]) => ({ op: 'grant', sessionId, playerId, grant }));
            const g = gq.then(() => before).then(() => grants.apply(cmds));
            gq = g.catch(() => undefined);
            track(g);
          } else if (a.type === 'validate') await runHost(host.validated(a.id, { ok: true }, Date.now()));
        }
        await Promise.all(inFlight);
      };
      let hq = Promise.resolve();
      const hostDo = (fn) => (hq = hq.then(() => runHost(fn())).catch((e) => dbg(`host: ${e.message}`)));
      hostLink.on('message', (m) => hostDo(() => host.receive(m, Date.now())));
      await hostDo(() => host.start(Date.now()));
      await Promise.all(pending); // the seats' grants are in before they connect
      const players = [];
      // one list for the room: a condition may read either player's state
      const roomWaiters = [];
      for (const id of ids) {
        const m = await minter.mintWithNewKey({ sessionId, playerId: id });
        const p = new TurnsPlayer({ game: 'bench', room: `r${i}`, sessionId, playerId: id, hostKey: host.publicKey, random, now });
        const l = await MqttLink.connect({
          url,
          cert: m.certPem + m.issuerPem,
          key: m.privateKeyPem,
          ca,
          servername: 'localhost',
          clientId: brokerClientIdOf(sessionId, id),
          will: p.will,
        });
        const st = { id, p, l, q: Promise.resolve(), blocks: 0, waiters: roomWaiters };
        st.do = (fn) =>
          (st.q = st.q
            .then(() =>
              run(l, fn(), (e) => {
                if (e.type === 'rejected' || e.type === 'alert') dbg(`${id}: ${JSON.stringify(e)}`);
                if (e.type === 'block' && e.block.entries.some((x) => x.kind === 'move')) {
                  st.blocks++;
                  for (const w of st.waiters.splice(0)) w();
                }
                if (e.type === 'round' || e.type === 'synced' || e.type === 'registered') for (const w of st.waiters.splice(0)) w();
              }),
            )
            .catch((e) => dbg(`${id}: ${e.message}`)));
        l.on('message', (msg) => st.do(() => p.receive(msg, Date.now())));
        players.push(st);
      }
      dbg(`room ${i} connected`);
      for (const st of players) await st.do(() => st.p.start(Date.now()));
      const until = (st, ok) =>
        new Promise((resolve) => {
          const check = () => (ok() ? resolve() : st.waiters.push(check));
          check();
        });
      return {
        async play() {
          let at = -1;
          const watch = process.env.BENCH_DEBUG
            ? setInterval(
                () => dbg(`room ${i} move ${at}: ${players.map((p) => `${p.id} ready=${p.p.ready} blocks=${p.blocks} reg=${p.p.registered}`).join('; ')}`),
                2000,
              )
            : undefined;
          for (let k = 0; k < MOVES; k++) {
            at = k;
            const me = players[k % 2];
            const other = players[(k + 1) % 2];
            await until(me, () => me.p.ready && me.blocks >= k && other.blocks >= k);
            let sent = false;
            while (!sent) {
              try {
                await me.do(() => {
                  const a = me.p.move('move', { k }, Date.now());
                  sent = true;
                  return a;
                });
              } catch {}
              if (!sent) await new Promise((r) => setTimeout(r, 5));
            }
            await until(other, () => other.blocks > k);
          }
          await until(players[MOVES % 2], () => players[MOVES % 2].blocks >= MOVES);
          clearInterval(watch);
        },
        async close() {
          for (const st of players) await st.l.end();
          await hostLink.end();
        },
      };
    }
  }
  process.send({ rate }, () => process.exit(0));
}
