#!/usr/bin/env node
// How long `iyesmp --help` and `iyesmp certs --help` take, as a person typing them would feel it:
// whole process, spawn to exit. Beside it, in the same run, the floor: `node -e ""`.
// Targets: well under half a second, and `iyesmp --help` within 1.5x of the baseline (issue 14);
// command modules import heavy libraries only inside actions, and --help imports none of them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * CPU time (user + system) of this process's finished children, in clock ticks, from
 * /proc/self/stat (cutime, cstime): a figure the machine's other load does not inflate as it does
 * wall time. Undefined off Linux.
 */
function childTicks() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]); // fields 16 and 17 of proc(5), counted after the name
  } catch {
    return undefined;
  }
}

const cpu = new Map();
function time(args, name) {
  const c0 = childTicks();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c1 = childTicks();
  if (name && c0 !== undefined && c1 !== undefined) cpu.set(name, (cpu.get(name) ?? 0) + c1 - c0);
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
for (let i = 0; i < RUNS; i++) for (const [name, args] of cases) samples.get(name).push(time(args, name));

const base = median(samples.get(cases[0][0]));
const baseCpu = cpu.get(cases[0][0]);
console.log(`runs per case: ${RUNS} (median wall time, spawn to exit; CPU: user + system of all runs, beside the baseline's)`);
for (const [name] of cases) {
  const m = median(samples.get(name));
  const extra = name.startsWith('baseline')
    ? ''
    : `   overhead ${(m - base).toFixed(1)} ms, ${(m / base).toFixed(2)}x baseline${m < 500 ? '' : '   ABOVE 500 ms TARGET'}` +
      (name === 'iyesmp --help' && m / base > 1.5 ? '   ABOVE 1.5x TARGET' : '');
  const c = cpu.get(name);
  const cpuText = c !== undefined && baseCpu ? `   CPU ${(c / baseCpu).toFixed(2)}x` : '';
  console.log(`${name.padEnd(28)} ${m.toFixed(1).padStart(7)} ms${extra}${cpuText}`);
}
