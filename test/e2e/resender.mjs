/**
 * A host resending one session's results, as a host does when it never saw the acknowledgement:
 * dials the Auth server's hosts port with a host certificate, registers under its name, then sends
 * `session.ended` for `sessionId` `times` times with the same results. Prints one line per send:
 *
 *   {"ev":"registered","hostId"}  {"ev":"results","n","outcome":"accepted"|code}
 *
 *   node test/e2e/resender.mjs '{"auth","ca","cert","key","name","sessionId","results":[...],"times":3}'
 */
import { out, outcome, registerHost } from './rogue-host.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { conn, proto } = await registerHost(cfg);
for (let n = 1; n <= (cfg.times ?? 3); n++) {
  const results = await outcome(proto.request('session.ended', { sessionId: cfg.sessionId, endedAt: Date.now(), reason: 'completed', results: cfg.results }));
  out('results', { n, outcome: results });
}
await conn.close('bye', { force: true }).catch(() => undefined);
process.exit(0);
