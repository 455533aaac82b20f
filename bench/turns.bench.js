#!/usr/bin/env node
// The turns protocol core, in-process (no broker): moves per second through the whole pipeline —
// a player signs a move, the host decodes and verifies it, runs its checks, asks the game (which
// accepts at once), appends and signs a block (and the next round), and both players verify the
// block and the move inside it. Baseline, same run: one bare Ed25519 sign plus three verifies of a
// move-sized message (the signature work the pipeline cannot avoid). turns-net adds the end-to-end
// figure through a broker beside raw QoS 1 publishes.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(path.join(root, 'dist', 'turns', 'index.js'))) {
  process.stderr.write('dist/turns/index.js is missing: run `npm run build` first\n');
  process.exit(2);
}
const { TurnsHost, TurnsPlayer } = await import('../dist/turns/index.js');

const SECONDS = process.env.BENCH_QUICK === '1' ? 0.5 : 2;
const REPEATS = process.env.BENCH_QUICK === '1' ? 1 : 3;
const random = (n) => new Uint8Array(randomBytes(n));

function rate(fn) {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  let n = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(Math.round(SECONDS * 1e9));
  while (process.hrtime.bigint() - t0 < limit) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** A host and two players wired by a synchronous exact-topic router; returns one full move. */
function pipeline({ encrypt, movesPerRound }) {
  let now = 1_750_000_000_000;
  const subs = new Map(); // topic -> Set(name)
  const retained = new Map();
  const machines = new Map();
  const queue = [];
  const host = new TurnsHost({
    game: 'bench',
    room: 'r1',
    sessionId: 's1',
    players: ['a', 'b'],
    random,
    encrypt,
    movesPerRound,
    limits: { ratePerWindow: 1e9 },
  });
  machines.set('host', host);
  const perform = (who, actions) => {
    for (const a of actions) {
      if (a.type === 'publish') {
        if (a.retain) retained.set(a.topic, a.payload);
        for (const to of subs.get(a.topic) ?? []) queue.push([to, a.topic, a.payload]);
      } else if (a.type === 'subscribe') {
        for (const t of a.topics) {
          if (!subs.has(t)) subs.set(t, new Set());
          subs.get(t).add(who);
          if (retained.has(t)) queue.push([who, t, retained.get(t)]);
        }
      } else if (a.type === 'unsubscribe') {
        for (const t of a.topics) subs.get(t)?.delete(who);
      } else if (a.type === 'validate') {
        perform('host', host.validated(a.id, { ok: true }, now));
      }
    }
  };
  const drain = () => {
    while (queue.length > 0) {
      const [to, topic, payload] = queue.shift();
      perform(to, machines.get(to).receive({ topic, payload }, now));
    }
  };
  perform('host', host.start(now));
  const players = ['a', 'b'].map((id) => {
    const p = new TurnsPlayer({ game: 'bench', room: 'r1', sessionId: 's1', playerId: id, hostKey: host.publicKey, random, now });
    machines.set(id, p);
    perform(id, p.start(now));
    drain();
    return p;
  });
  if (!players.every((p) => p.ready)) throw new Error('bench room did not become ready');
  let turn = 0;
  const data = { t: 'move', cell: 4, note: 'x'.repeat(40) };
  return () => {
    now += 100;
    const p = players[turn++ & 1];
    perform(p.playerId, p.move('move', data, now));
    drain();
    if (!p.ready) throw new Error('move was not accepted');
  };
}

function baseline() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const msg = randomBytes(220);
  return () => {
    const sig = sign(null, msg, privateKey);
    for (let i = 0; i < 3; i++) verify(null, msg, publicKey, sig);
  };
}

const cases = [
  ['baseline: Ed25519 sign + 3 verifies', baseline],
  ['move pipeline, new round every move', () => pipeline({ encrypt: false, movesPerRound: 1 })],
  ['move pipeline, 1000 moves per round', () => pipeline({ encrypt: false, movesPerRound: 1000 })],
  ['move pipeline, sealed, new round every move', () => pipeline({ encrypt: true, movesPerRound: 1 })],
];
const results = new Map(cases.map(([label]) => [label, []]));
// interleaved repeats: each case runs once per repeat, so drift from other load hits all of them
for (let r = 0; r < REPEATS; r++) for (const [label, make] of cases) results.get(label).push(rate(make()));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.get(cases[0][0]));
for (const [label] of cases) {
  const m = median(results.get(label));
  const vs = label === cases[0][0] ? '' : `  (${((m / base) * 100).toFixed(0)}% of baseline)`;
  process.stdout.write(`${label.padEnd(46)} ${Math.round(m).toLocaleString('en-US').padStart(9)} /s${vs}\n`);
}
