// Players for bench/handoff.bench.js (not a bench itself): `count` client-library clients in this
// process, logged in once, then driven by messages from the parent:
//   { op: 'login' }         -> connect + guest login for all; answers { ok }
//   { op: 'cycle', mode }   -> each plays one cycle; answers { cycles: [{ found, ticket, joined, begin }] }
//                              (wall-clock ms, comparable across processes of this machine)
//   { op: 'loop', mode, ms } -> each plays cycles until `ms` have passed; answers { cycles, failed, reasons }
//                              (reasons: failed cycles by error code, `live_session` for a match cancelled
//                              because a player was still in its previous session, `stopped` at the window's end)
// A cycle: matchmake (queue, found, confirm with the session key: iyesmp-auth 1.3 pushes the hand-off) -> ticket -> join the host -> ready -> game.begin
// -> the game's result (the bench's host ends each game at once). The host connection is closed
// without waiting for QUIC's graceful close: that wait is the client's, not the hand-off's.
//
//   node bench/handoff-players.js '{"auth","ca","cert","key","count","prefix","worker"}'
import { setMaxListeners } from 'node:events';
import { connectToAuth } from '../dist/client/index.js';

const cfg = JSON.parse(process.argv[2]);
const clients = [];
const now = () => performance.timeOrigin + performance.now();

async function cycle(client, mode, signal) {
  const t = {};
  const ticket = await client.matchmake({
    mode,
    timeoutMs: 60_000,
    ...(signal ? { signal } : {}),
    onStatus: (s) => {
      if (s.phase === 'found') t.found ??= now();
    },
  });
  t.ticket = now();
  const game = await client.joinHost(ticket);
  t.joined = now();
  const began = new Promise((resolve) => game.once('begin', () => resolve(now())));
  const end = game.result.catch(() => undefined);
  await game.ready();
  t.begin = await began;
  await end;
  void game.close().catch(() => undefined);
  return t;
}

process.on('message', async (m) => {
  if (m.op === 'login') {
    for (let i = 0; i < cfg.count; i++) {
      const c = await connectToAuth({
        address: cfg.auth,
        serverName: '127.0.0.1',
        identity: { cert: cfg.cert, key: cfg.key },
        trust: { caPem: cfg.ca },
        gameVersion: '1.0.0',
        connectTimeoutMs: 60_000,
        requestTimeoutMs: 60_000,
        localHost: `127.2.${cfg.worker}.${(i % 250) + 1}`,
      });
      await c.login({ method: 'guest', displayName: `${cfg.prefix}${i}` });
      clients.push(c);
    }
    process.send({ ok: clients.length });
  } else if (m.op === 'cycle') {
    process.send({ cycles: await Promise.all(clients.map((c) => cycle(c, m.mode))) });
  } else if (m.op === 'loop') {
    const until = performance.now() + m.ms;
    const cycles = [];
    let failed = 0;
    const reasons = {};
    // at the end a player left alone in the queue stops waiting
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);
    const timer = setTimeout(() => stop.abort(), m.ms + 3_000);
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < until) {
          try {
            cycles.push(await cycle(c, m.mode, stop.signal));
          } catch (err) {
            failed++;
            const why = stop.signal.aborted ? 'stopped' : /already in live session/.test(String(err?.message)) ? 'live_session' : (err?.code ?? 'other');
            reasons[why] = (reasons[why] ?? 0) + 1;
          }
        }
      }),
    );
    clearTimeout(timer);
    process.send({ cycles, failed, reasons });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
