// A per-second trace of one bench process's event loop (not a bench itself). With
// BENCH_TRACE_LOOP=1, each second it prints to stderr
//   [loop] <label> t=<ms> cpu=<% of a core> lag max=<ms> p99=<ms> gc=<ms in GC pauses> (<count>)
// where lag is how late a 10 ms timer ran (one long turn shows as a large max), so the Auth and the
// players' processes can be told apart when a burst stalls. A second with no line is itself a stall.
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

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
  setInterval(() => {
    const c = process.cpuUsage();
    const t = performance.now();
    const cpu = ((c.user + c.system - last.user - last.system) / 1000 / (t - lastT)) * 100;
    process.stderr.write(
      `[loop] ${label} t=${Date.now() - START} cpu=${cpu.toFixed(0)}% lag max=${(h.max / 1e6).toFixed(0)} p99=${(h.percentile(99) / 1e6).toFixed(0)} gc=${gc.ms.toFixed(0)} (${gc.n})\n`,
    );
    last = c;
    lastT = t;
    gc.ms = 0;
    gc.n = 0;
    h.reset();
  }, 1000).unref();
}
