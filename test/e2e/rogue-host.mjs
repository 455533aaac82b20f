/**
 * The shared opening of the scripts that act as a misbehaving host (forger.mjs, resender.mjs):
 * dials the Auth server's hosts port with the host certificate of `cfg`, says hello and registers
 * under `cfg.name`, refusing any session Auth asks it to run. Prints `{"ev":"registered","hostId"}`
 * and exits 3 if the script is still running after 60 s.
 */
import { readFileSync } from 'node:fs';
import { masterOnlyVerifier } from '../../dist/client/index.js';
import { hostctlFamily, ProtocolConnection } from '../../dist/protocol/index.js';
import { ALPN, connectQuic } from '../../dist/transport/index.js';

/** One JSON line on stdout: what the test waits for. */
export const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);

/** 'accepted', or the error code a request was refused with. */
export const outcome = (p) =>
  p.then(
    () => 'accepted',
    (e) => e?.code ?? 'error',
  );

/** `cfg`: { auth: "host:port", ca, cert, key, name }. Resolves once registered, with the connection and its hostctl protocol. */
export async function registerHost(cfg) {
  setTimeout(() => process.exit(3), 60_000).unref();
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
  return { conn, proto };
}
