/**
 * Telemetry is delivered like results (hostctl 1.1 `telemetry.report`): it stays in the host's
 * outbox until an Auth server acknowledges it, so a link that drops before the acknowledgement
 * does not lose it; the next Auth server gets it, once.
 */
import { describe, expect, it } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import { MemorySessionStore } from '../../src/auth/sessions.js';
import type { SessionTelemetry } from '../../src/host/types.js';
import { relayGame } from '../../src/serve/game.js';
import { fxSuite, startAuth, startHost, until } from './helpers.js';
import { startUdpRelay } from './udp-relay.js';

const suite = fxSuite();
const closers = suite.closers;

const telemetry: SessionTelemetry = {
  sessionId: 'ses-tele-1',
  transport: 'quic',
  readyingMs: 1200,
  inGameMs: 60_000,
  expectedPlayers: 2,
  admittedPlayers: 2,
  noShows: 0,
  reconnects: 1,
  refusals: {},
};

describe('telemetry delivery', () => {
  it('stays queued until acknowledged, survives a link drop, and is stored once', async () => {
    // the Auth servers share their session store (a restart over persistent storage): only a
    // session known to run on host-1 takes its telemetry
    const sessionStore = new MemorySessionStore();
    const first: AuthServer = await startAuth(suite.fx, { sessionStore });
    closers.push(() => first.close({ graceMs: 0 }));
    const seats = ['guest:a', 'guest:b'];
    await first.sessions.create({ id: telemetry.sessionId, hostName: 'host-1', transport: 'quic', players: seats }, Date.now());
    const handOff = { sessionId: telemetry.sessionId, host: { name: 'host-1', address: '127.0.0.1:9' }, transport: 'quic', credentials: {} };
    await first.sessions.hostAcked(telemetry.sessionId, Object.fromEntries(seats.map((p) => [p, handOff])), Date.now());
    // the first Auth server receives telemetry but never gets to acknowledge it
    const received: string[] = [];
    first.recordTelemetry = async (_host, _entries, _ext, id) => {
      received.push(id ?? '(no id)');
      return new Promise<void>(() => undefined);
    };
    const relay = await startUdpRelay(first.hostPort);
    closers.push(() => relay.close());
    const host = await startHost(suite.fx, relay.port, relayGame);
    closers.push(() => host.close({ graceMs: 0 }));
    await until(() => host.connectedAuthServers().length === 1, 'registration');

    const id = `telemetry:${telemetry.sessionId}`;
    host.domain.enqueue({ id, kind: 'telemetry', body: { kind: 'telemetry', telemetry } }, host.clock());
    host.tick();
    await until(() => received.length > 0, 'the telemetry at the first auth server');
    expect(received).toEqual([id]);
    // written and received, but not acknowledged: still queued
    expect(host.domain.outbox.has(id)).toBe(true);

    // the link drops before any acknowledgement; a new Auth server takes over
    await first.close({ graceMs: 0 });
    const second = await startAuth(suite.fx, { sessionStore });
    closers.push(() => second.close({ graceMs: 0 }));
    relay.retarget(second.hostPort);
    await until(() => second.connectedHosts().includes('host-1'), 'registration with the second auth server');
    await until(() => !host.domain.outbox.has(id), 'the acknowledgement from the second auth server');
    const stored = (await second.telemetryOf(telemetry.sessionId)) as Array<{ id: string; host: string; entries: Array<{ name: string; value: number }> }>;
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id, host: 'host-1' });
    expect(stored[0]!.entries.find((e) => e.name === 'reconnects')?.value).toBe(1);

    // a resend (its acknowledgement lost) is stored once
    await second.recordTelemetry(
      'host-1',
      stored[0]!.entries.map((e) => ({ ...e, sessionId: telemetry.sessionId })),
      undefined,
      id,
    );
    expect(await second.telemetryOf(telemetry.sessionId)).toHaveLength(1);
  }, 60_000);
});
