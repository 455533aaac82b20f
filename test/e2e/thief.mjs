/**
 * Someone else's seat: joins a game host with a session certificate + key another process
 * wrote (bot.mjs `ticketOut`), from a chosen local address, optionally naming another session in
 * the hello. Prints one JSON line: `{"ev":"admitted",...}` or `{"ev":"refused","code",...}`.
 *
 *   node test/e2e/thief.mjs '{"ticket": file, "ca": masterPem, "localHost": "127.0.0.2", "sessionId"?: other, "timeoutMs"?: 8000}'
 *
 * joinHost could bind the address too (`localHost`), but it does the dial and the hello in one
 * call; this dials with the transport and speaks the hello with GameSession.open, as joinHost
 * does, so the output can say which stage refused the thief.
 */
import { readFileSync } from 'node:fs';
import { connectQuic, ALPN } from '../../dist/transport/index.js';
import { GameSession, masterOnlyVerifier } from '../../dist/client/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
setTimeout(() => {
  out('exit', { reason: 'maxMs' });
  process.exit(3);
}, 60_000).unref();

const t = JSON.parse(readFileSync(cfg.ticket, 'utf8'));
const sessionId = cfg.sessionId ?? t.sessionId;
let conn;
try {
  conn = await connectQuic({
    host: t.host.host,
    port: t.host.port,
    alpn: ALPN.host,
    serverName: t.host.tlsName,
    cert: t.certPem,
    key: t.keyPem,
    verifier: masterOnlyVerifier(readFileSync(cfg.ca, 'utf8')),
    serverPolicy: { kind: 'host' },
    localHost: cfg.localHost,
    timeoutMs: cfg.timeoutMs ?? 8000,
  });
  out('connected', { local: cfg.localHost });
  const game = await GameSession.open(
    conn.openStream(),
    { sessionId, playerId: t.playerId },
    { gameVersion: '1.0.0', requestTimeoutMs: cfg.timeoutMs ?? 8000 },
    () => conn.close('bye'),
  );
  out('admitted', { sessionId: game.sessionId, playerId: game.playerId });
  await game.close().catch(() => undefined);
  process.exit(0);
} catch (err) {
  out('refused', { code: err?.code ?? 'error', message: err?.message ?? String(err), stage: conn ? 'hello' : 'connect' });
  await conn?.close('bye').catch(() => undefined);
  process.exit(0);
}
