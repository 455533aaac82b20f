// A crowd of idle players for bench/scale.bench.js (not a bench itself): `count` client-library
// clients in this one process, driven by messages from the parent:
//   'login'  -> connect + guest login for all, `concurrency` at a time; answers { ok, failed, ms, firstError }
//   'login-pipelined' -> the same with the login sent in the hello (connectToAuth's `login`)
//   'match'  -> all matchmake at once; answers { ok, failed, ms, firstError, retries, idledOut, lostOther, cpuUs } (ms: each
//               one's time to its ticket; idledOut: connections closed by the QUIC idle timeout since the login;
//               cpuUs: this process's CPU from the burst's start to its last ticket)
//   'close'  -> closes all; answers {}
// Player i connects from 127.1.<w>.<i % 250 + 1> so that per-address limits see a crowd, not one address.
//
//   node bench/scale-clients.js '{"auth","ca","cert","key","count","prefix","worker","concurrency"[,"keepAliveMs","idleTimeoutMs","matchTimeoutMs"]}'
import { connectToAuth } from '../dist/client/index.js';
import { traceLoop } from './loop-trace.js';
import { profileOnRequest } from './profiler.js';

const cfg = JSON.parse(process.argv[2]);
const clients = [];
// players whose connection ended on its own: by the QUIC idle timeout, or otherwise
const lost = { idle: 0, other: 0 };
const errText = (e) => `${e?.code ?? 'error'}: ${String(e?.message ?? e).slice(0, 200)}`;

async function login(pipelined = false) {
  const ms = [];
  let failed = 0;
  let firstError;
  let next = 0;
  const lane = async () => {
    while (next < cfg.count) {
      const i = next++;
      const t = performance.now();
      try {
        const c = await connectToAuth({
          address: cfg.auth,
          serverName: '127.0.0.1',
          identity: { cert: cfg.cert, key: cfg.key },
          trust: { caPem: cfg.ca },
          gameVersion: '1.0.0',
          connectTimeoutMs: 120_000,
          localHost: `127.1.${cfg.worker}.${(i % 250) + 1}`,
          ...(cfg.keepAliveMs === undefined ? {} : { keepAliveMs: cfg.keepAliveMs, idleTimeoutMs: cfg.idleTimeoutMs }),
          // pipelined: the login goes with the hello
          ...(pipelined ? { login: { method: 'guest', displayName: `${cfg.prefix}${i}` } } : {}),
        });
        if (!pipelined) await c.login({ method: 'guest', displayName: `${cfg.prefix}${i}` });
        c.on('close', ({ error }) => {
          if (error === undefined) return;
          if (/idle.?timeout/i.test(error.message)) lost.idle++;
          else lost.other++;
        });
        clients.push(c);
        ms.push(performance.now() - t);
      } catch (e) {
        failed++;
        firstError ??= errText(e);
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency ?? 8 }, lane));
  return { ok: ms.length, failed, ms, firstError };
}

async function match() {
  // this process's CPU, read every 250 ms (not per ticket: getrusage per ticket was 4% of the
  // process on the loaded machine) and taken at the first reading after the last ticket
  const cpu0 = process.cpuUsage();
  const readings = [];
  const reader = setInterval(() => {
    const c = process.cpuUsage(cpu0);
    readings.push({ at: performance.now(), us: c.user + c.system });
  }, 250);
  let lastAt = 0;
  const ms = [];
  let failed = 0;
  let retries = 0;
  let firstError;
  await Promise.all(
    clients.map(async (c) => {
      const t = performance.now();
      // a burst of N matchmakes can outrun the confirm deadline: a cancelled match is tried again
      for (let attempt = 1; ; attempt++) {
        try {
          // a line of 10,000 takes minutes at the cap's pace: a player that gave up at 2 minutes
          // went to the back of it again
          await c.matchmake({ mode: 'tictactoe', timeoutMs: cfg.matchTimeoutMs ?? 900_000 });
          ms.push(performance.now() - t);
          lastAt = performance.now();
          return;
        } catch (e) {
          firstError ??= errText(e);
          if (attempt === 3) {
            failed++;
            return;
          }
          retries++;
        }
      }
    }),
  );
  clearInterval(reader);
  // up to the last ticket: a player left alone in the queue keeps the burst open until its timeout
  const cpuUs = ms.length === 0 ? 0 : (readings.find((r) => r.at >= lastAt)?.us ?? ((c) => c.user + c.system)(process.cpuUsage(cpu0)));
  return { ok: ms.length, failed, ms, firstError, retries, idledOut: lost.idle, lostOther: lost.other, cpuUs };
}

process.on('message', async (m) => {
  if (m === 'login') process.send(await login());
  else if (m === 'login-pipelined') process.send(await login(true));
  else if (m === 'match') process.send(await match());
  else if (m === 'close') {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    process.send({});
  }
});
process.on('disconnect', () => process.exit(0));
// BENCH_PROF_DIR: the parent asks for a CPU profile of the burst; BENCH_TRACE_LOOP=1: the loop's trace
await profileOnRequest();
traceLoop(`players-${cfg.worker}`);
process.send({ ready: true });
