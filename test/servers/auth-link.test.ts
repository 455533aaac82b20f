/**
 * The host's link to the Auth server notices a dead Auth server (no close, no answer) within a few
 * heartbeats rather than QUIC's 30 s idle default, re-dials, and reaches a restarted Auth server.
 */
import { describe, expect, it } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import { authLinkLiveness } from '../../src/host/auth-connection.js';
import type { HostServer } from '../../src/host/server.js';
import { relayGame } from '../../src/serve/game.js';
import { fxSuite, startAuth, startHost, until } from './helpers.js';
import { startUdpRelay, type UdpRelay } from './udp-relay.js';

const suite = fxSuite();
const closers = suite.closers;

describe('host -> auth link liveness', () => {
  it('derives the idle timeout from the heartbeat interval, with keep-alives inside it', () => {
    expect(authLinkLiveness(5_000)).toEqual({ idleTimeoutMs: 15_000, keepAliveMs: 2_500 });
    expect(authLinkLiveness(undefined).idleTimeoutMs).toBe(15_000);
    for (const beat of [1, 50, 300, 1_000, 5_000, 60_000]) {
      const l = authLinkLiveness(beat);
      expect(l.idleTimeoutMs).toBeGreaterThanOrEqual(3_000);
      expect(l.keepAliveMs).toBeGreaterThan(0);
      expect(l.keepAliveMs).toBeLessThan(l.idleTimeoutMs);
    }
  });

  it('notices a silent Auth server within a few heartbeats and registers with its replacement', async () => {
    const first: AuthServer = await startAuth(suite.fx);
    closers.push(() => first.close({ graceMs: 0 }));
    const relay: UdpRelay = await startUdpRelay(first.hostPort);
    closers.push(() => relay.close());
    const host: HostServer = await startHost(suite.fx, relay.port, relayGame, { heartbeatIntervalMs: 300 });
    closers.push(() => host.close({ graceMs: 0 }));
    await until(() => host.connectedAuthServers().length === 1 && first.connectedHosts().includes('host-1'), 'registration through the relay');

    // the Auth server goes silent: no close frame, no answers (as when its machine dies)
    relay.freeze();
    // 3 heartbeats (floored at 3 s) of silence end the link; QUIC's default would take 30 s
    await until(() => host.connectedAuthServers().length === 0, 'the host to notice the silent auth server', 12_000);

    // a new Auth server behind the same address: the host's re-dial reaches it
    const second = await startAuth(suite.fx);
    closers.push(() => second.close({ graceMs: 0 }));
    relay.retarget(second.hostPort);
    relay.thaw();
    await until(() => second.connectedHosts().includes('host-1'), 'registration with the new auth server', 15_000);
    expect(host.connectedAuthServers()).toHaveLength(1);
  }, 60_000);
});
