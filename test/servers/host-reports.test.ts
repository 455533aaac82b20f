/**
 * What hosts report over hostctl (issue #9, items 3 and 4), over real connections: only the host a
 * session runs on may report its results and telemetry. Another registered host's forged report is
 * refused (`session.wrong_host`, and a warning naming both hosts) while the real one is recorded;
 * reports for sessions the Auth server does not know are refused (`session.unknown`), but for the
 * few results a registered host may have kept across an Auth restart; telemetry beyond the
 * per-session cap is dropped with a warning.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from '../../src/auth/sessions.js';
import { IyesmpError } from '../../src/errors.js';
import { ProtocolConnection, hostctlFamily } from '../../src/protocol/index.js';
import { ALPN, connectQuic } from '../../src/transport/index.js';
import { authClient, fxSuite, sessionKeys, startAuth, until, type Creds } from './helpers.js';

const suite = fxSuite();
const closers = suite.closers;

/** A scripted host registered under its certificate's name; it acknowledges every session.create. */
async function host(port: number, name: string, creds: Creds, playerPort: number) {
  const conn = await connectQuic({
    host: '127.0.0.1',
    port,
    alpn: ALPN.hostctl,
    cert: creds.cert,
    key: creds.key,
    verifier: suite.fx.verifier,
    serverPolicy: { kind: 'auth-server' },
  });
  const proto = ProtocolConnection.dial(hostctlFamily, conn.openStream(), { gameVersion: '1.0.0', hello: { hostName: name } });
  const creates: string[] = [];
  proto.handle('session.create', (body) => {
    creates.push(body.sessionId);
    return { sessionId: body.sessionId, endpoint: { kind: 'quic' as const, address: { host: '127.0.0.1', port: playerPort }, tlsName: '127.0.0.1' } };
  });
  proto.handle('session.cancel', () => ({}));
  await proto.ready;
  const reg = await proto.request('host.register', {
    name,
    region: 'test',
    publicAddress: { host: '127.0.0.1', port: playerPort },
    transports: [{ kind: 'quic', address: { host: '127.0.0.1', port: playerPort }, tlsName: '127.0.0.1' }],
    capacity: { sessions: 4, players: 8 },
    version: '1.0.0',
    load: { sessions: 0, players: 0 },
  });
  const timer = setInterval(
    () => proto.notify('host.heartbeat', { time: Date.now(), load: { sessions: creates.length, players: 0 } }),
    reg.heartbeatIntervalMs,
  );
  closers.push(async () => {
    clearInterval(timer);
    await conn.close('bye', { force: true }).catch(() => undefined);
  });
  const ended = (sessionId: string, winner: string) =>
    proto.request('session.ended', { sessionId, endedAt: Date.now(), reason: 'completed', results: [{ playerId: winner, outcome: 'win' }] });
  const telemetry = (sessionId: string, id: string, n: number) =>
    proto.request('telemetry.report', { id, entries: Array.from({ length: n }, (_, i) => ({ at: Date.now(), name: `m${i}`, value: i, sessionId })) });
  return { proto, creates, ended, telemetry };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: IyesmpError) => e.code,
  );

describe('host reports', () => {
  it('a second host cannot write a session of the first: refused and logged; the real results are recorded', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (t: string) => void lines.push(JSON.parse(t)) });
    const store = new MemorySessionStore();
    const auth = await startAuth(suite.fx, { logger, sessionStore: store, telemetryPerSession: 10, adoptedResultsPerHost: 5 });
    closers.push(() => auth.close({ graceMs: 0 }));
    // host-1 gets the session (same load: first by name)
    const real = await host(auth.hostPort, 'host-1', suite.fx.host, 9);
    const forger = await host(auth.hostPort, 'host-2', suite.fx.host2, 10);
    await until(() => auth.connectedHosts().length === 2, 'both hosts registered');

    const cs = await Promise.all([authClient(suite.fx, auth.clientPort), authClient(suite.fx, auth.clientPort)]);
    for (const c of cs) closers.push(() => c.close());
    await Promise.all(cs.map((c) => c.proto.request('account.login', { method: 'guest' })));
    const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'duel' })));
    const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
    await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const sessionId = (await cs[0]!.inbox.next('session.ready')).sessionId as string;
    const claims = await Promise.all(cs.map((c) => c.proto.request('session.claim', { sessionId, publicKey: sessionKeys().publicKey }, { timeoutMs: 30_000 })));
    expect(real.creates).toEqual([sessionId]);
    expect(forger.creates).toEqual([]);

    // the forged report: "host-2's seat wins", on host-1's live session
    expect(await codeOf(forger.ended(sessionId, 'forged'))).toBe('session.wrong_host');
    expect(await codeOf(forger.telemetry(sessionId, 'forged-1', 3))).toBe('session.wrong_host');
    expect(await store.get(sessionId)).toMatchObject({ state: 'handed-off', hostName: 'host-1' });
    expect(await auth.telemetryOf(sessionId)).toEqual([]);
    const warned = lines.filter((l) => l.level === 40 && l.sessionId === sessionId);
    expect(warned).toHaveLength(2);
    for (const w of warned) expect(w).toMatchObject({ reportedBy: 'host-2', sessionHost: 'host-1' });
    expect(warned[0]!.msg).toBe('results refused: host host-2 reported on a session of host host-1');

    // the real host's telemetry (capped at 10 entries) and results are recorded
    expect(await codeOf(real.telemetry(sessionId, 'real-1', 6))).toBe('accepted');
    expect(await codeOf(real.telemetry(sessionId, 'real-2', 6))).toBe('accepted');
    expect(lines.find((l) => l.msg === 'telemetry over the per-session cap dropped')).toMatchObject({ sessionId, host: 'host-1', stored: 4, dropped: 2 });
    expect(await codeOf(real.ended(sessionId, claims[0]!.playerId))).toBe('accepted');
    const rec = await store.get(sessionId);
    expect(rec).toMatchObject({ state: 'ended', hostName: 'host-1' });
    expect((rec!.results as { results: Array<{ playerId: string; outcome: string }> }).results).toEqual([
      { playerId: claims[0]!.playerId.replace('.', ':'), outcome: 'win' },
    ]);
    const tele = await auth.telemetryOf(sessionId);
    expect(tele.map((x) => [x.id, x.entries.length])).toEqual([
      ['real-1', 6],
      ['real-2', 4],
    ]);
    // its slot is free again
    await until(() => auth.registry.get('host-1')?.reserved === 0, 'the slot released');

    // reports for sessions nobody created: telemetry refused; results of a registered host adopted
    // (it may have kept them across our restart) only up to its bound, then refused
    const before = store.size;
    const results: string[] = [];
    for (let i = 0; i < 50; i++) {
      expect(await codeOf(forger.telemetry(`invented-${i}`, `t-${i}`, 2))).toBe('session.unknown');
      results.push(await codeOf(forger.ended(`invented-${i}`, 'x')));
    }
    expect(results.slice(0, 5)).toEqual(Array(5).fill('accepted'));
    expect(results.slice(5)).toEqual(Array(45).fill('session.unknown'));
    expect(store.size).toBe(before + 5);
    expect(await store.get('invented-0')).toMatchObject({ state: 'ended', hostName: 'host-2', transport: 'unknown' });
    expect(lines.filter((l) => l.level === 40 && String(l.msg).endsWith('reported on an unknown session'))).toHaveLength(95);
    // an adopted session is host-2's: host-1 cannot write it either
    expect(await codeOf(real.ended('invented-0', 'y'))).toBe('session.wrong_host');
  }, 90_000);
});
