/**
 * Many bot players in one OS process (a load generator), on the built library (dist/): each
 * connects to the Auth server, logs in as a guest, matchmakes, joins the host it is handed off to
 * and plays tic-tac-toe (first free cell) against test/e2e/ttt-game.mjs to its result. Several of
 * these processes share a load; one line per player says how it went:
 *
 *   {"ev":"player","name","ok":true,"sessionId","reason","outcome","loginMs","gameMs","endMs","phases","retries"}
 *   {"ev":"player","name","ok":false,"stage","code","message","phases","retries"}     (stage: connect|login|match|join|play)
 *   {"ev":"done","players","ok","failed","stuck"}                             (stuck: still going at maxMs)
 *
 *   node test/e2e/players.mjs '{"auth":"127.0.0.1:port","ca","cert","key","count":40,"prefix":"p",
 *                              "rounds"?:1,"spreadMs"?:0,"addressPrefix"?:"127.1.0","matchTimeoutMs"?:120000,"maxMs"?:170000}'
 *
 * addressPrefix: player i connects (to Auth, then to its host) from `<prefix>.<i % 250 + 1>`, as a
 * crowd comes from many addresses; unset: the default source address for all.
 * loginMs: connect to logged in; gameMs: logged in to the game's first state (login to game);
 * endMs: logged in to the game's result; retries: the codes of the connect failures retried. `rounds` > 1 makes each player play again after its game.
 */
import { connectToAuth } from '../../dist/client/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
const errInfo = (err) => ({ code: err?.code ?? 'error', message: String(err?.message ?? err).slice(0, 300) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const count = cfg.count ?? 2;
const rounds = cfg.rounds ?? 1;
/** name -> where that player is: { stage, phases } */
const pending = new Map();
let ok = 0;
let failed = 0;

// never outlive a test run: whoever is still playing is reported stuck
setTimeout(() => {
  for (const [name, at] of pending) {
    out('player', { name, ok: false, stage: 'stuck', code: 'stuck', message: `still at ${at.stage} after ${cfg.maxMs ?? 170_000} ms`, phases: at.phases });
  }
  out('done', { players: count * rounds, ok, failed, stuck: pending.size });
  process.exit(3);
}, cfg.maxMs ?? 170_000).unref();

/** Plays the first free cell whenever it is this player's turn; resolves with the first state's time and the result. */
function play(game) {
  let busy = false;
  let latest;
  let firstState;
  const started = new Promise((r) => (firstState = r));
  const mine = () => latest?.marks?.[game.playerId];
  const move = async () => {
    if (busy || !latest || latest.result || latest.turn !== mine()) return;
    busy = true;
    try {
      await game.action({ t: 'move', cell: latest.board.indexOf(null) });
    } catch {
      // a refused move (a state crossed it): the next state retries
    } finally {
      busy = false;
    }
    void move();
  };
  game.on('message', ({ ext }) => {
    if (ext?.t !== 'state') return;
    latest = ext;
    firstState(performance.now());
    void move();
  });
  return { started, result: game.result };
}

async function player(name, i, round) {
  const phases = [];
  const retries = [];
  const at = { stage: 'connect', phases };
  pending.set(name, at);
  let client;
  try {
    const t0 = performance.now();
    client = await connectToAuth({
      address: cfg.auth,
      serverName: '127.0.0.1',
      identity: { cert: cfg.cert, key: cfg.key },
      trust: { caPem: cfg.ca },
      gameVersion: '1.0.0',
      connectTimeoutMs: 30_000,
      // a busy server's refusals are retried: which, for the report
      onConnectRetry: ({ error }) => retries.push(error.code),
      ...(cfg.addressPrefix ? { localHost: `${cfg.addressPrefix}.${(i % 250) + 1}` } : {}),
    });
    at.stage = 'login';
    await client.login({ method: 'guest', displayName: name });
    const t1 = performance.now();
    at.stage = 'match';
    const ticket = await client.matchmake({
      mode: 'tictactoe',
      timeoutMs: cfg.matchTimeoutMs ?? 120_000,
      onStatus: (s) => {
        const p = s.reason ? `${s.phase}:${s.reason}` : s.phase;
        if (phases.at(-1) !== p) phases.push(p);
      },
    });
    at.stage = 'join';
    const game = await client.joinHost(ticket);
    at.stage = 'play';
    const { started, result } = play(game);
    await game.ready();
    const end = await result;
    const t2 = performance.now();
    const me = end.results.find((r) => r.playerId === game.playerId);
    ok++;
    out('player', {
      name,
      round,
      ok: true,
      sessionId: ticket.sessionId,
      reason: end.reason,
      outcome: me?.outcome,
      loginMs: Math.round(t1 - t0),
      gameMs: Math.round((await started) - t1),
      endMs: Math.round(t2 - t1),
      phases,
      retries,
    });
  } catch (err) {
    failed++;
    out('player', { name, round, ok: false, stage: at.stage, ...errInfo(err), phases, retries });
  } finally {
    await client?.close().catch(() => undefined);
  }
}

await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    const name = `${cfg.prefix ?? 'p'}${i}`;
    // spread the logins a little: a real crowd does not arrive in one tick
    await sleep(((cfg.spreadMs ?? 0) * i) / count);
    for (let r = 0; r < rounds; r++) await player(name, i, r);
    pending.delete(name);
  }),
);
out('done', { players: count * rounds, ok, failed, stuck: 0 });
process.exit(0);
