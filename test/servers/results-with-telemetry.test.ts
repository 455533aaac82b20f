/**
 * hostctl 1.2: a host sends a session's telemetry with its results (`session.ended` with
 * `telemetry`), one request and one answer instead of two, and only to an Auth server that
 * negotiated 1.2. A 1.1 Auth server (scripted here) still gets `session.ended` and
 * `telemetry.report` apart; a 1.1 host (scripted) still reports both apart to a 1.2 Auth server.
 * Over real connections; the outbox settles both items either way.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import type { HostServer } from '../../src/host/server.js';
import type { SessionReport, SessionTelemetry } from '../../src/host/types.js';
import { ProtocolConnection, hostctlFamily, type HostctlFamily } from '../../src/protocol/index.js';
import { relayGame } from '../../src/serve/game.js';
import { ALPN, createQuicServer } from '../../src/transport/index.js';
import { hostctlFamily11 } from '../support/families.js';
import { fxSuite, scriptedHost, startAuth, startHost, until } from './helpers.js';

const suite = fxSuite();
const closers = suite.closers;
afterEach(() => {
  vi.restoreAllMocks();
});

const seats = ['guest:a', 'guest:b'];

function reportOf(sessionId: string): SessionReport {
  return {
    sessionId,
    transport: 'quic',
    end: 'completed',
    createdAt: 1,
    beganAt: 2,
    endedAt: 3,
    players: seats.map((playerId) => ({ playerId, status: 'left' as const, admitted: true })),
    outcomes: { 'guest:a': { result: 'win' }, 'guest:b': { result: 'loss' } },
  };
}

function telemetryOf(sessionId: string): SessionTelemetry {
  return {
    sessionId,
    transport: 'quic',
    readyingMs: 120,
    inGameMs: 6000,
    expectedPlayers: 2,
    admittedPlayers: 2,
    noShows: 0,
    reconnects: 3,
    refusals: {},
  };
}

/** The session ended on the host: its results and telemetry queued for the Auth servers, as the host domain does. */
function endOnHost(host: HostServer<unknown>, sessionId: string): { result: string; telemetry: string } {
  const ids = { result: `result:${sessionId}`, telemetry: `telemetry:${sessionId}` };
  host.domain.enqueue({ id: ids.result, kind: 'result', body: { kind: 'result', report: reportOf(sessionId) } }, host.clock());
  host.domain.enqueue({ id: ids.telemetry, kind: 'telemetry', body: { kind: 'telemetry', telemetry: telemetryOf(sessionId) } }, host.clock());
  return ids;
}

/** The requests the host side of every hostctl connection in this process sends, by type. */
function spyHostctlRequests(): Array<{ type: string; body: Record<string, unknown> }> {
  const sent: Array<{ type: string; body: Record<string, unknown> }> = [];
  type Request = (this: { session: { family: { name: string } } }, type: string, body: Record<string, unknown>, opts?: unknown) => Promise<unknown>;
  const proto = ProtocolConnection.prototype as unknown as { request: Request };
  const original = proto.request;
  vi.spyOn(proto, 'request').mockImplementation(function (this: ThisParameterType<Request>, type, body, opts) {
    if (this.session.family.name === hostctlFamily.name) sent.push({ type, body });
    return original.call(this, type, body, opts);
  });
  return sent;
}

async function knownSession(auth: AuthServer, sessionId: string, hostName = 'host-1'): Promise<void> {
  await auth.sessions.create({ id: sessionId, hostName, transport: 'quic', players: seats }, Date.now());
  const handOff = { sessionId, host: { name: hostName, address: '127.0.0.1:9' }, transport: 'quic', credentials: {} };
  await auth.sessions.hostAcked(sessionId, Object.fromEntries(seats.map((p) => [p, handOff])), Date.now());
}

/** A scripted host-2 on hostctl (as `family` knows it), registered. */
async function dialHost(port: number, family: HostctlFamily) {
  const h = await scriptedHost(suite.fx, port, { family });
  closers.push(() => h.close());
  return h.proto;
}

describe('results and telemetry of a session (hostctl 1.2)', () => {
  it('a 1.2 host sends them to a 1.2 Auth server as one request; both are stored and both outbox items settle', async () => {
    const auth = await startAuth(suite.fx);
    closers.push(() => auth.close({ graceMs: 0 }));
    const sessionId = 'ses-both-1';
    await knownSession(auth, sessionId);
    const host = await startHost(suite.fx, auth.hostPort, relayGame);
    closers.push(() => host.close({ graceMs: 0 }));
    await until(() => host.connectedAuthServers().length === 1, 'registration');

    const sent = spyHostctlRequests();
    const ids = endOnHost(host, sessionId);
    host.tick();
    await until(() => !host.domain.outbox.has(ids.result) && !host.domain.outbox.has(ids.telemetry), 'both acknowledged');

    expect(sent.map((r) => r.type)).toEqual(['session.ended']);
    expect(sent[0]!.body).toMatchObject({ sessionId, telemetry: { id: ids.telemetry } });
    const stored = (await auth.telemetryOf(sessionId)) as Array<{ id: string; host: string; entries: Array<{ name: string; value: number }> }>;
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id: ids.telemetry, host: 'host-1' });
    expect(stored[0]!.entries.find((e) => e.name === 'reconnects')?.value).toBe(3);
    const rec = await auth.sessions.store.get(sessionId);
    expect(rec?.state).toBe('ended');
    expect((rec!.results as { results: Array<{ playerId: string; outcome: string }> }).results).toEqual([
      { playerId: 'guest:a', outcome: 'win' },
      { playerId: 'guest:b', outcome: 'loss' },
    ]);
  }, 60_000);

  it('a 1.2 host sends them apart to a 1.1 Auth server, which would drop telemetry inside session.ended', async () => {
    // a 1.1 Auth server: hostctl as it was, answering register, results and telemetry
    const server = await createQuicServer({
      host: '127.0.0.1',
      port: 0,
      alpn: ALPN.hostctl,
      cert: suite.fx.auth.cert,
      key: suite.fx.auth.key,
      verifier: suite.fx.verifier,
      policy: { kind: 'host' },
    });
    closers.push(() => server.close({ graceMs: 0 }));
    const got: Array<{ type: string; body: Record<string, unknown> }> = [];
    server.on('connection', (conn) => {
      conn.on('stream', (stream) => {
        const proto = ProtocolConnection.accept(hostctlFamily11() as HostctlFamily, stream, {
          gameVersion: '1.0.0',
          onHello: () => ({ authNode: 'auth-1-1', time: Date.now() }),
        });
        proto.handle('host.register', (body) => ({ hostId: body.name, heartbeatIntervalMs: 300 }));
        proto.handle('session.ended', (body) => {
          got.push({ type: 'session.ended', body });
          return { sessionId: body.sessionId };
        });
        proto.handle('telemetry.report', (body) => {
          got.push({ type: 'telemetry.report', body });
          return {};
        });
      });
    });
    const host = await startHost(suite.fx, server.port, relayGame);
    closers.push(() => host.close({ graceMs: 0 }));
    await until(() => host.connectedAuthServers().length === 1, 'registration');

    const ids = endOnHost(host, 'ses-apart-1');
    host.tick();
    await until(() => !host.domain.outbox.has(ids.result) && !host.domain.outbox.has(ids.telemetry), 'both acknowledged');
    expect(got.map((g) => g.type).sort()).toEqual(['session.ended', 'telemetry.report']);
    expect(got.find((g) => g.type === 'telemetry.report')!.body).toMatchObject({ id: ids.telemetry });
  }, 60_000);

  it('telemetry the Auth server refuses fails the whole request (the host sends both again); the results are stored once', async () => {
    const auth = await startAuth(suite.fx);
    closers.push(() => auth.close({ graceMs: 0 }));
    const sessionId = 'ses-refused-1';
    await knownSession(auth, sessionId, 'host-2');
    const proto = await dialHost(auth.hostPort, hostctlFamily);
    const ended = { sessionId, endedAt: Date.now(), reason: 'completed' as const, results: [{ playerId: 'guest:a', outcome: 'win' as const }] };
    // telemetry naming a session nobody created: refused (session.unknown), so the answer is an error
    const telemetry = { id: 'telemetry:x', entries: [{ at: Date.now(), name: 'no_shows', value: 0, sessionId: 'nobody-made-this' }] };
    await expect(proto.request('session.ended', { ...ended, telemetry })).rejects.toMatchObject({ code: 'session.unknown' });
    expect((await auth.sessions.store.get(sessionId))?.state).toBe('ended');
    // the resend, with telemetry the Auth server takes, is acknowledged; the results are not stored twice
    const ok = { id: `telemetry:${sessionId}`, entries: [{ at: Date.now(), name: 'no_shows', value: 0, sessionId }] };
    let ends = 0;
    auth.on('session-ended', () => ends++);
    await expect(proto.request('session.ended', { ...ended, telemetry: ok })).resolves.toMatchObject({ sessionId });
    expect(ends).toBe(0);
    expect(await auth.telemetryOf(sessionId)).toMatchObject([{ id: `telemetry:${sessionId}` }]);
  }, 60_000);

  it('a 1.1 host still reports them apart to a 1.2 Auth server, and both are stored', async () => {
    const auth = await startAuth(suite.fx);
    closers.push(() => auth.close({ graceMs: 0 }));
    const sessionId = 'ses-old-host-1';
    await knownSession(auth, sessionId, 'host-2');
    const proto = await dialHost(auth.hostPort, hostctlFamily11() as HostctlFamily);
    expect(proto.session.negotiated).toEqual({ major: 1, minor: 1 });
    await proto.request('session.ended', { sessionId, endedAt: Date.now(), reason: 'completed', results: [{ playerId: 'guest:a', outcome: 'win' }] });
    await proto.request('telemetry.report', { id: `telemetry:${sessionId}`, entries: [{ at: Date.now(), name: 'no_shows', value: 0, sessionId }] });
    expect((await auth.sessions.store.get(sessionId))?.state).toBe('ended');
    expect(await auth.telemetryOf(sessionId)).toMatchObject([{ id: `telemetry:${sessionId}`, host: 'host-2' }]);
  }, 60_000);
});
