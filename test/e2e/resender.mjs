/**
 * A host resending one session's results, as a host does when it never saw the acknowledgement:
 * dials the Auth server's hosts port with a host certificate, registers under its name, then sends
 * `session.ended` for `sessionId` `times` times with the same results. Prints one line per send:
 *
 *   {"ev":"registered","hostId"}  {"ev":"results","n","outcome":"accepted"|code}
 *
 *   node test/e2e/resender.mjs '{"auth","ca","cert","key","name","sessionId","results":[...],"times":3}'
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
for (let n = 1; n <= (cfg.times ?? 3); n++) {
  const results = await outcome(proto.request('session.ended', { sessionId: cfg.sessionId, endedAt: Date.now(), reason: 'completed', results: cfg.results }));
  out('results', { n, outcome: results });
}
await conn.close('bye', { force: true }).catch(() => undefined);
process.exit(0);
