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
import { readFileSync } from 'node:fs';
import { masterOnlyVerifier } from '../../dist/client/index.js';
import { hostctlFamily, ProtocolConnection } from '../../dist/protocol/index.js';
import { ALPN, connectQuic } from '../../dist/transport/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
setTimeout(() => process.exit(3), 60_000).unref();
const outcome = (p) =>
  p.then(
    () => 'accepted',
    (e) => e?.code ?? 'error',
  );

const [host, port] = cfg.auth.split(':');
const conn = await connectQuic({
  host,
  port: Number(port),
  alpn: ALPN.hostctl,
  serverName: '127.0.0.1',
  cert: readFileSync(cfg.cert, 'utf8'),
  key: readFileSync(cfg.key, 'utf8'),
  verifier: masterOnlyVerifier(readFileSync(cfg.ca, 'utf8')),
  serverPolicy: { kind: 'auth-server' },
});
const proto = ProtocolConnection.dial(hostctlFamily, conn.openStream(), { gameVersion: '1.0.0', hello: { hostName: cfg.name } });
// it never runs a session of its own: whatever Auth asks is refused
proto.handle('session.create', () => {
  throw Object.assign(new Error('not taking sessions'), { code: 'host.capacity_sessions' });
});
proto.handle('session.cancel', () => ({}));
await proto.ready;
const endpoint = { host: '127.0.0.1', port: 9 };
const reg = await proto.request('host.register', {
  name: cfg.name,
  region: 'local',
  publicAddress: endpoint,
  transports: [{ kind: 'quic', address: endpoint, tlsName: '127.0.0.1' }],
  capacity: { sessions: 1, players: 2 },
  version: '1.0.0',
  load: { sessions: 1, players: 2 },
});
out('registered', { hostId: reg.hostId });
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
