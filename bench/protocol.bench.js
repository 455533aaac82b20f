#!/usr/bin/env node
// Cost of the protocol layer per message: a `game.msg` event and a `player.ready` request/response
// round trip through two sans-IO ProtocolSessions (schema check, MsgPack encode, framing, deframing,
// limit scan, decode, schema check on the far side). Baseline, same run: bare @msgpack encode+decode
// of the same envelope, no framing, limits or validation. The ratio is the price of the safety.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(path.join(root, 'dist', 'protocol', 'index.js'))) {
  process.stderr.write('dist/protocol/index.js is missing: run `npm run build` first\n');
  process.exit(2);
}
const { ProtocolSession, hostFamily } = await import('../dist/protocol/index.js');
const { encode, decode } = await import('@msgpack/msgpack');

const SECONDS = 3;

function rate(label, fn) {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  let n = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() - t0 < limit) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const perSec = n / secs;
  process.stdout.write(`${label.padEnd(44)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} /s\n`);
  return perSec;
}

function openPair() {
  const d = new ProtocolSession(hostFamily, { side: 'dialer', gameVersion: '1', nowMs: 0 });
  const l = new ProtocolSession(hostFamily, { side: 'listener', gameVersion: '1', nowMs: 0 });
  d.start({ sessionId: 'ses-1', playerId: 'pl-1' });
  for (const c of d.takeOutput()) l.receive(c);
  l.takeEvents();
  l.acceptHello({ sessionId: 'ses-1', state: 'playing', players: [] });
  for (const c of l.takeOutput()) d.receive(c);
  d.takeEvents();
  return { d, l };
}

const body = { channel: 'state', seq: 1, from: 'pl-1', ext: { x: 10.5, y: -3.25, hp: 97, anim: 'run', flags: new Uint8Array(8) } };
const { d, l } = openPair();

const baseline = rate('baseline: bare msgpack encode+decode', () => {
  decode(encode({ kind: 'event', type: 'game.msg', body }));
});
const event = rate('game.msg event, sender to receiver', () => {
  d.notify('game.msg', body);
  for (const c of d.takeOutput()) l.receive(c);
  l.takeEvents();
});
const roundTrip = rate('player.ready request + response round trip', () => {
  const id = d.request('player.ready', { ready: true });
  for (const c of d.takeOutput()) l.receive(c);
  const [req] = l.takeEvents();
  l.respond(req.id, {});
  for (const c of l.takeOutput()) d.receive(c);
  d.takeEvents();
  void id;
});
process.stdout.write(`event cost vs baseline: ${(baseline / event).toFixed(2)}x; round trip vs baseline: ${(baseline / roundTrip).toFixed(2)}x\n`);
