#!/usr/bin/env node
// How long `iyesmp --help` and `iyesmp certs --help` take, as a person typing them would feel it:
// whole process, spawn to exit. Beside it, in the same run, the floor: `node -e ""`.
// Target: well under half a second; command modules import heavy libraries only inside actions.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'iyesmp.js');
if (!existsSync(path.join(root, 'dist', 'main.js'))) {
  process.stderr.write('dist/main.js is missing: run `npm run build` first\n');
  process.exit(2);
}
const RUNS = 20;
const env = { ...process.env, NO_COLOR: '1' };

function time(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const cases = [
  ['baseline: node -e ""', ['-e', '']],
  ['iyesmp --help', [bin, '--help']],
  ['iyesmp certs --help', [bin, 'certs', '--help']],
  ['iyesmp certs init --help', [bin, 'certs', 'init', '--help']],
];
// warm the file cache once so the first measured run is not an outlier
for (const [, args] of cases) time(args);
const samples = new Map(cases.map(([name]) => [name, []]));
// interleave the cases so machine load drifts affect all of them alike
for (let i = 0; i < RUNS; i++) for (const [name, args] of cases) samples.get(name).push(time(args));

const base = median(samples.get(cases[0][0]));
console.log(`runs per case: ${RUNS} (median wall time, spawn to exit)`);
for (const [name] of cases) {
  const m = median(samples.get(name));
  const extra = name.startsWith('baseline')
    ? ''
    : `   overhead ${(m - base).toFixed(1)} ms, ${(m / base).toFixed(2)}x baseline${m < 500 ? '' : '   ABOVE 500 ms TARGET'}`;
  console.log(`${name.padEnd(28)} ${m.toFixed(1).padStart(7)} ms${extra}`);
}
