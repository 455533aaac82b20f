// Matchmaking tick throughput with 10,000 queued tickets, beside a baseline measured in the same
// run: a plain sort of the same tickets by rating (the least any rating-aware tick must do).
// Run after `npm run build`: node bench/matchmaking.bench.js
import v8 from 'node:v8';
import vm from 'node:vm';
import { Matchmaker } from '../dist/auth/matchmaking.js';

// Collect garbage before each timed section so one round's leftovers are not billed to the next.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const REGIONS = ['eu', 'us-east', 'us-west', 'asia', 'sa'];
const RULES = { rating: { baseWindow: 50, widenPerSecond: 10, maxWindow: 400 }, regionFallbackMs: 60_000 };

// Deterministic pseudo-random numbers (mulberry32) so every run queues the same tickets.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRequests(n, seed, spread = 'normal') {
  const r = rng(seed);
  const out = [];
  let players = 0;
  while (out.length < n) {
    const party = r() < 0.7 ? 1 : r() < 0.7 ? 2 : 3;
    const rating =
      spread === 'normal'
        ? Math.round(1500 + (r() + r() + r() + r() - 2) * 600) // ~normal, sd ~350: most tickets fit
        : Math.round(r() * 2_000_000); // sparse: few neighbours inside any window
    const first = REGIONS[Math.floor(r() * REGIONS.length)];
    const regions = r() < 0.5 ? [first] : [first, REGIONS[Math.floor(r() * REGIONS.length)]];
    out.push({
      players: Array.from({ length: party }, () => `p${players++}`),
      mode: 'ranked',
      matchSize: 10,
      regions,
      rating,
      // spread arrival over the last 60 s so windows differ
      waited: Math.floor(r() * 60_000),
    });
  }
  return out;
}

const now = 1_000_000;
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function fill(reqs, now) {
  // no cap on matches in flight: the tick forms every match it can, the cost measured here
  const mm = new Matchmaker({ modes: { ranked: RULES }, maxMatchesInFlight: Infinity });
  for (const q of reqs) mm.enqueue(q, now - q.waited);
  return mm;
}

// Best-of-N is the figure least disturbed by other processes on a shared machine; the median is
// printed beside it to show how noisy the run was.
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const best = (xs) => Math.min(...xs);

/** Median time of the first tick over a freshly filled queue (the queue is rebuilt untimed each round). */
function measureTicks(reqs, rounds) {
  const times = [];
  let matched = 0;
  for (let i = 0; i < rounds; i++) {
    const mm = fill(reqs, now);
    gc();
    const t0 = process.hrtime.bigint();
    matched += mm.tick(now).length;
    times.push(ms(t0));
  }
  return { ms: best(times), median: median(times), matched: matched / rounds };
}

function measureSort(reqs, rounds) {
  // The same tickets, sorted by rating then arrival: the least any rating-aware tick must do.
  const tickets = reqs.map((q, i) => ({ ...q, line: i }));
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const copy = tickets.slice();
    if (i % 8 === 0) gc();
    const t0 = process.hrtime.bigint();
    copy.sort((a, b) => a.rating - b.rating || a.line - b.line);
    times.push(ms(t0));
  }
  return { ms: best(times), median: median(times) };
}

const N = 10_000;
const dense = makeRequests(N, 42, 'normal');
const sparse = makeRequests(N, 43, 'sparse');
measureTicks(dense, 8); // warm up the JIT
measureTicks(sparse, 4);
measureSort(dense, 10);
const d = measureTicks(dense, 15);
const sp = measureTicks(sparse, 15);
const sortMs = measureSort(dense, 31);

const fmt = (x) => x.toFixed(2).padStart(8);
const line = (label, r, unit) => `${label}: ${fmt(r.ms)} ms/${unit} ${fmt(1000 / r.ms)} ${unit}s/s  (median ${r.median.toFixed(2)} ms)`;
console.log(`tickets queued: ${N} (parties of 1-3, 10 players per match, 5 regions, rated); best of N rounds`);
console.log(`${line('tick, dense ratings ', d, 'tick')}  ${d.matched.toFixed(0)} matches proposed`);
console.log(`${line('tick, sparse ratings', sp, 'tick')}  ${sp.matched.toFixed(0)} matches; most anchors find none`);
console.log(line('baseline, sort 10k  ', sortMs, 'sort'));
console.log(
  `ratio tick/sort     : dense ${(d.ms / sortMs.ms).toFixed(1)}x, sparse ${(sp.ms / sortMs.ms).toFixed(1)}x` +
    `  (medians: ${(d.median / sortMs.median).toFixed(1)}x, ${(sp.median / sortMs.median).toFixed(1)}x)`,
);

// A burst under the cap on matches in flight (the scale bench's shape): 10,000 solo players queued
// at once, 2 per match, 128 matches in flight; each timed tick follows 8 confirmed matches, so it
// proposes 8 more while nearly all of the line waits. BENCH_MM_BEFORE=<path to another build's
// dist/auth/matchmaking.js> runs the same ticks there, interleaved round by round.
const BEFORE = process.env.BENCH_MM_BEFORE ? (await import(process.env.BENCH_MM_BEFORE)).Matchmaker : undefined;
function burstTicks(Mm, rated, ticks) {
  const mm = new Mm(rated ? { modes: { ranked: RULES } } : {});
  const r = rng(7);
  for (let i = 0; i < N; i++) mm.enqueue({ players: [`b${i}`], mode: 'ranked', matchSize: 2, ...(rated ? { rating: Math.round(r() * 3000) } : {}) }, now);
  const live = mm.tick(now);
  const times = [];
  for (let k = 0; k < ticks && live.length > 0; k++) {
    for (const m of live.splice(0, 8)) for (const p of m.players) mm.accept(m.id, p, now);
    gc();
    const t0 = process.hrtime.bigint();
    const got = mm.tick(now);
    times.push(ms(t0));
    live.push(...got);
    mm.takeEvents();
  }
  return times;
}
const burst = { after: [[], []], before: [[], []] };
for (let round = 0; round < 5; round++) {
  for (const rated of [false, true]) {
    burst.after[+rated].push(...burstTicks(Matchmaker, rated, 20));
    if (BEFORE) burst.before[+rated].push(...burstTicks(BEFORE, rated, 20));
  }
}
for (const rated of [false, true]) {
  const [a, b] = [burst.after[+rated], BEFORE ? burst.before[+rated] : undefined];
  console.log(
    `burst tick, ${rated ? 'rated  ' : 'unrated'} (10k queued, room 8): best ${fmt(best(a))} ms, median ${median(a).toFixed(2)} ms` +
      (b === undefined ? '' : `; before: best ${best(b).toFixed(2)} ms (${(best(a) / best(b)).toFixed(2)}x), median ${median(b).toFixed(2)} ms`) +
      `; best sort of 10k ${(best(a) / sortMs.ms).toFixed(2)}x`,
  );
}

// Growth check: time per tick as the queue doubles should roughly double (not quadruple).
const sizes = [5000, 10_000, 20_000];
const growth = sizes.map((n) => measureTicks(makeRequests(n, 99, 'normal'), 9).ms);
console.log(`scaling, dense tick ms: ${sizes.map((n, i) => `${n}: ${growth[i].toFixed(1)}`).join(', ')}`);
console.log(`  20k/10k: ${(growth[2] / growth[1]).toFixed(2)}x (2 = linear, 4 = quadratic)`);
