// A per-second trace of one bench process's event loop (not a bench itself). With
// BENCH_TRACE_LOOP=1, each second it prints to stderr
//   [loop] <label> t=<ms> cpu=<% of a core> lag max=<ms> p99=<ms> gc=<ms in GC pauses> (<count>)
//   ... runq=<ms waiting for a core>
// where lag is how late a 10 ms timer ran (one long turn shows as a large max), so the Auth and the
// players' processes can be told apart when a burst stalls. A second with no line is itself a stall.
// runq is the time the process's main thread was runnable but not running (Linux
// /proc/thread-self/schedstat): a stall with a large runq is the machine's, not the process's own work.
import { readFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

function runQueueNs() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
  } catch {
    return Number.NaN;
  }
}

// one clock for every process's lines: milliseconds since the epoch the parent set
const START = Number(process.env.BENCH_TRACE_EPOCH ?? 0);

/** Starts the trace when BENCH_TRACE_LOOP=1; otherwise does nothing. */
export function traceLoop(label) {
  if (process.env.BENCH_TRACE_LOOP !== '1') return;
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const gc = { ms: 0, n: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.ms += e.duration;
      gc.n++;
    }
  }).observe({ entryTypes: ['gc'] });
  let last = process.cpuUsage();
  let lastT = performance.now();
  let lastRunq = runQueueNs();
  setInterval(() => {
    const c = process.cpuUsage();
    const t = performance.now();
    const runq = runQueueNs();
    const cpu = ((c.user + c.system - last.user - last.system) / 1000 / (t - lastT)) * 100;
    process.stderr.write(
      `[loop] ${label} t=${Date.now() - START} cpu=${cpu.toFixed(0)}% lag max=${(h.max / 1e6).toFixed(0)} p99=${(h.percentile(99) / 1e6).toFixed(0)} gc=${gc.ms.toFixed(0)} (${gc.n}) runq=${((runq - lastRunq) / 1e6).toFixed(0)}\n`,
    );
    lastRunq = runq;
    last = c;
    lastT = t;
    gc.ms = 0;
    gc.n = 0;
    h.reset();
  }, 1000).unref();
}
