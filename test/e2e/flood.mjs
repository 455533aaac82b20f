/**
 * Idle connections against the Auth server's players port (issue #9, item 1), as one OS process:
 * `count` QUIC connections with the given (valid) client certificate from `localHost`; even ones
 * never open a stream, odd ones say hello and never log in; all keep their connection alive with
 * PINGs. Prints `{"ev":"ready"}`, then `{"ev":"stats",...}` after the last handshake and on every
 * "stats" line on stdin:
 *
 *   {"ev":"stats","attempted","kept","open","peak","refused":{reason:n},"closed":{reason:n},"done"}
 *
 *   node test/e2e/flood.mjs '{"auth":"127.0.0.1:port","ca","cert","key","count":250,"localHost"?,"inFlight"?:25}'
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { masterOnlyVerifier } from '../../dist/client/index.js';
import { authFamily, ProtocolConnection } from '../../dist/protocol/index.js';
import { ALPN, connectQuic } from '../../dist/transport/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
setTimeout(() => process.exit(3), cfg.maxMs ?? 180_000).unref();

const [host, port] = cfg.auth.split(':');
const verifier = masterOnlyVerifier(readFileSync(cfg.ca, 'utf8'));
const st = { attempted: 0, kept: 0, open: 0, peak: 0, refused: {}, closed: {}, done: false };
const conns = [];
const bump = (o, k) => (o[k] = (o[k] ?? 0) + 1);

async function one(i) {
  st.attempted++;
  try {
    const conn = await connectQuic({
      host,
      port: Number(port),
      alpn: ALPN.auth,
      serverName: '127.0.0.1',
      cert: readFileSync(cfg.cert, 'utf8'),
      key: readFileSync(cfg.key, 'utf8'),
      verifier,
      serverPolicy: { kind: 'auth-server' },
      keepAliveMs: 2_000,
      timeoutMs: 30_000,
      ...(cfg.localHost ? { localHost: cfg.localHost } : {}),
    });
    conns.push(conn);
    st.kept++;
    st.open++;
    st.peak = Math.max(st.peak, st.open);
    void conn.closed.then((info) => {
      st.open--;
      // the server names the missed deadline in its reason phrase (stream_timeout, login_timeout, ...)
      bump(st.closed, info.code === 'deadline' ? info.message : info.code);
    });
    if (i % 2 === 1) {
      const proto = ProtocolConnection.dial(authFamily, conn.openStream(), { gameVersion: '1.0.0', hello: {} });
      proto.on('protocol_error', () => undefined);
      await proto.ready.catch(() => undefined);
    }
  } catch (e) {
    const code = e?.code ?? 'error';
    bump(st.refused, code === 'too_many_connections' ? (e.details?.reason ?? code) : code);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stats') out('stats', st);
  if (line.trim() === 'quit') process.exit(0);
});
out('ready');
let next = 0;
await Promise.all(
  Array.from({ length: cfg.inFlight ?? 25 }, async () => {
    while (next < cfg.count) await one(next++);
  }),
);
st.done = true;
out('stats', st);
