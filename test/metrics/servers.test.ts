/**
 * The metrics of an Auth and a Host server in one process (each its own registry), over a real
 * netcode match on loopback: logins by outcome, queue sizes per mode, matches, the hand-off
 * histogram per transport, host sessions and players per transport, admissions and netcode traffic.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from 'prom-client';
import type { AuthServer } from '../../src/auth/server.js';
import type { HostServer } from '../../src/host/server.js';
import { createRegistry, instrumentAuthServer, instrumentHostServer } from '../../src/metrics/index.js';
import { resolveNetcodeHost, resolveNetcodeIssuer } from '../../src/netcode/config.js';
import { NetcodeSessionClient } from '../../src/netcode/session/session-client.js';
import { authClient, makeFx, startAuth, startHost, until, type Fx, type ScriptedClient } from '../servers/helpers.js';
import { freeUdpPort } from '../support/net.js';

let fx: Fx;
let auth: AuthServer;
let host: HostServer;
const authReg: Registry = createRegistry();
const hostReg: Registry = createRegistry();
const clients: ScriptedClient[] = [];
const seats: NetcodeSessionClient[] = [];

beforeAll(async () => {
  fx = await makeFx();
  const keyFile = path.join(fx.dir, 'netcode.key');
  await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const issuer = await resolveNetcodeIssuer({ netcode: { private_key_file: keyFile, protocol_id: '0x77', token_expire_seconds: 30, timeout_seconds: 10 } });
  const nc = await resolveNetcodeHost({
    host: { public_address: '127.0.0.1' },
    listen: { address: '127.0.0.1' },
    transports: { netcode: { port: await freeUdpPort(), private_key_file: keyFile, protocol_id: '0x77', max_clients: 16 } },
  });
  auth = await startAuth(fx, { modeTransports: { 'nc-duel': 'netcode' }, netcode: issuer });
  host = await startHost(fx, auth.hostPort, { begin() {} }, { netcode: nc });
  instrumentAuthServer(auth, authReg);
  instrumentHostServer(host, hostReg);
  await until(() => auth.registry.get('host-1')?.transports.includes('netcode'), 'host registered with netcode');
}, 60_000);

afterAll(async () => {
  for (const s of seats) await s.close().catch(() => undefined);
  for (const c of clients) await c.close();
  await host?.close({ graceMs: 200 });
  await auth?.close({ graceMs: 200 });
  await fx?.cleanup();
}, 30_000);

/** One series' value in a registry's exposition (NaN when absent). */
async function value(r: Registry, series: string): Promise<number> {
  const text = await r.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : Number.NaN;
}

describe('server metrics, in process', () => {
  it('follow a netcode match from queue to play; the two registries stay apart', { timeout: 120_000 }, async () => {
    const [a, b, c] = await Promise.all([authClient(fx, auth.clientPort), authClient(fx, auth.clientPort), authClient(fx, auth.clientPort)]);
    clients.push(a!, b!, c!);
    // a refused login is counted with its error code
    await expect(c!.proto.request('account.login', { method: 'password', username: 'nobody', password: 'x'.repeat(12) })).rejects.toBeTruthy();
    expect(await value(authReg, 'iyesmp_auth_logins_total{method="password",outcome="auth.unknown_method"}')).toBe(1);

    await a!.proto.request('account.login', { method: 'guest', displayName: 'A' });
    await b!.proto.request('account.login', { method: 'guest', displayName: 'B' });
    expect(await value(authReg, 'iyesmp_auth_logins_total{method="guest",outcome="ok"}')).toBe(2);
    expect(await value(authReg, 'iyesmp_auth_players_online')).toBe(2);

    const ta = await a!.proto.request('match.queue', { mode: 'nc-duel' });
    expect(await value(authReg, 'iyesmp_matchmaking_queued_players{mode="nc-duel"}')).toBe(1);
    expect(await value(authReg, 'iyesmp_matchmaking_queued_tickets{mode="nc-duel"}')).toBe(1);
    const tb = await b!.proto.request('match.queue', { mode: 'nc-duel' });
    const found = await Promise.all([
      a!.inbox.next('match.found', (x) => x.ticketId === ta.ticketId),
      b!.inbox.next('match.found', (x) => x.ticketId === tb.ticketId),
    ]);
    expect(await value(authReg, 'iyesmp_matchmaking_queued_players{mode="nc-duel"}')).toBeNaN(); // the queue is empty: no series
    await Promise.all([a!, b!].map((x) => x.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await Promise.all([a!, b!].map((x) => x.inbox.next('session.ready', (r) => r.matchId === found[0]!.matchId)));
    const handoffs = await Promise.all(
      [a!, b!].map((x) => x.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string }, { timeoutMs: 30_000 })),
    );
    expect(await value(authReg, 'iyesmp_matches_formed_total{mode="nc-duel"}')).toBe(1);
    await until(async () => (await value(authReg, 'iyesmp_handoff_duration_seconds_count{transport="netcode"}')) === 1, 'the hand-off observed');

    for (const h of handoffs) {
      if (h.transport.kind !== 'netcode') throw new Error('expected netcode');
      const s = new NetcodeSessionClient({ playerId: h.playerId });
      seats.push(s);
      await s.connect(h.transport.connectToken);
      await s.setReady(true);
    }
    await Promise.all(seats.map((s) => s.waitForBegin()));

    expect(await value(hostReg, 'iyesmp_host_sessions{transport="netcode"}')).toBe(1);
    expect(await value(hostReg, 'iyesmp_host_sessions{transport="quic"}')).toBe(0);
    expect(await value(hostReg, 'iyesmp_host_players{transport="netcode"}')).toBe(2);
    expect(await value(hostReg, 'iyesmp_host_admissions_total{transport="netcode",reconnect="false"}')).toBe(2);
    expect(await value(hostReg, 'iyesmp_host_load_ratio')).toBe(0.25);
    expect(await value(hostReg, 'iyesmp_netcode_clients')).toBe(2);
    expect(await value(hostReg, 'iyesmp_netcode_packets_total{direction="in"}')).toBeGreaterThan(2);
    expect(await value(hostReg, 'iyesmp_netcode_packets_total{direction="out"}')).toBeGreaterThan(2);
    await until(async () => (await value(authReg, 'iyesmp_host_active_sessions{host="host-1",region="local"}')) === 1, 'the heartbeat counts it');
    expect(await value(authReg, 'iyesmp_host_capacity{host="host-1",region="local"}')).toBe(4);
    // each registry has its own server's metrics only
    expect(await hostReg.metrics()).not.toContain('iyesmp_auth_');
    expect(await authReg.metrics()).not.toContain('iyesmp_host_sessions');
  });
});
