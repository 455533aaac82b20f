/**
 * A second, registered host that writes another host's session (issue #9, item 3): dials the Auth
 * server's hosts port with its own valid host certificate, says hello and registers under its
 * certificate's name, then reports forged results and telemetry for `sessionId` (a session of
 * another host). Prints one line per step:
 *
 *   {"ev":"registered","hostId"}  {"ev":"results","outcome":"accepted"|code}  {"ev":"telemetry","outcome"}
 *
 *   node test/e2e/forger.mjs '{"auth":"127.0.0.1:port","ca","cert","key","name":"host-2","sessionId","winner"}'
 */
import { out, outcome, registerHost } from './rogue-host.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { conn, proto } = await registerHost(cfg);
const results = await outcome(
  proto.request('session.ended', {
    sessionId: cfg.sessionId,
    endedAt: Date.now(),
    reason: 'completed',
    results: [{ playerId: cfg.winner, outcome: 'win', score: 100 }],
  }),
);
out('results', { outcome: results });
const telemetry = await outcome(
  proto.request('telemetry.report', { id: 'forged-1', entries: [{ at: Date.now(), name: 'forged', value: 1, sessionId: cfg.sessionId }] }),
);
out('telemetry', { outcome: telemetry });
await conn.close('bye', { force: true }).catch(() => undefined);
process.exit(0);
