/**
 * Issue 12: a host restarted while the Auth server is down keeps the results it queued. The host
 * finishes a game with no Auth server up, is stopped and started again on the same outbox folder,
 * the Auth server comes back, and the result is recorded exactly once.
 */
import { readdir } from 'node:fs/promises';
import pino from 'pino';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import type { HostConfig } from '../../src/config/host.js';
import { checkConfigText } from '../../src/config/load.js';
import { scaffoldConfig } from '../../src/config/scaffold.js';
import { TRUST_DIR } from '../../src/pki/trust.js';
import { hostOptionsFromConfig } from '../../src/serve/config.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import type { HostGame } from '../../src/host/game.js';
import type { HostServer } from '../../src/host/server.js';
import { authClient, type Fx, type HostClient, joinHost, makeFx, type ScriptedClient, sessionKeys, startAuth, startHost, until } from './helpers.js';

type Ext = { end?: boolean };

/** Ends the session, the sender winning, when a player sends `{ end: true }`. */
const game: HostGame<Ext> = {
  begin(s) {
    s.on('message', ({ playerId, ext }) => {
      if (!ext?.end) return;
      s.end({ outcomes: Object.fromEntries(s.players.map((p) => [p.playerId, { result: p.playerId === playerId ? 'win' : 'loss' }])) });
    });
  },
};

let fx: Fx;
let outboxDir: string;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fx = await makeFx();
  outboxDir = path.join(fx.dir, 'outbox');
}, 60_000);

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await fx?.cleanup();
}, 30_000);

describe('results outbox across a host restart', () => {
  it('a result queued while the Auth server is down survives the host restart and is recorded once', async () => {
    let auth: AuthServer = await startAuth(fx, { joinTimeoutMs: 5_000 });
    closers.push(() => auth.close({ graceMs: 100 }));
    let host: HostServer<Ext> = await startHost<Ext>(fx, auth.hostPort, game, { outboxDir });
    closers.push(() => host.close({ graceMs: 100 }));
    await until(() => auth.connectedHosts().includes('host-1'), 'host registration');

    // two guests matched, handed off, in game
    const pair: ScriptedClient[] = await Promise.all([authClient(fx, auth.clientPort), authClient(fx, auth.clientPort)]);
    closers.push(...pair.map((c) => () => c.close()));
    await Promise.all(pair.map((c, i) => c.proto.request('account.login', { method: 'guest', displayName: `P${i}` })));
    const tickets = await Promise.all(pair.map((c) => c.proto.request('match.queue', { mode: 'duel' })));
    const found = await Promise.all(pair.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === tickets[i]!.ticketId)));
    await Promise.all(pair.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await Promise.all(pair.map((c) => c.inbox.next('session.ready')));
    const sessionId = ready[0]!.sessionId as string;
    const keys = pair.map(() => sessionKeys());
    const handoffs = await Promise.all(
      pair.map((c, i) => c.proto.request('session.claim', { sessionId, publicKey: keys[i]!.publicKey }, { timeoutMs: 30_000 })),
    );
    const players: HostClient[] = await Promise.all(handoffs.map((h, i) => joinHost(fx, h, keys[i]!.privateKeyPem)));
    closers.push(...players.map((p) => () => p.conn.close('bye', { force: true })));
    await Promise.all(players.map((p) => p.proto.ready));
    await Promise.all(players.map((p) => p.proto.request('player.ready', { ready: true })));
    await Promise.all(players.map((p) => p.inbox.next('game.begin')));

    // the Auth server goes down; the game ends; the result waits on disk
    const ports = { clients: auth.clientPort, hosts: auth.hostPort };
    await auth.close({ graceMs: 100 });
    await until(() => host.connectedAuthServers().length === 0, 'host noticing the auth server is gone');
    players[1]!.proto.notify('game.msg', { ext: { end: true } });
    await players[0]!.inbox.next('game.end');
    await until(() => host.domain.outbox.has(`result:${sessionId}`), 'result queued');

    // the host stops and starts again, the Auth server still down
    await host.close({ graceMs: 100 });
    expect((await readdir(outboxDir)).filter((f) => f.endsWith('.json')).length).toBeGreaterThanOrEqual(1);
    host = await startHost<Ext>(fx, ports.hosts, game, { outboxDir });
    expect(host.domain.outbox.has(`result:${sessionId}`)).toBe(true);

    // the Auth server comes back: the result arrives, once, and the folder empties
    const ended: SessionRecord[] = [];
    auth = await startAuth(fx, { clients: { host: '127.0.0.1', port: ports.clients }, hosts: { host: '127.0.0.1', port: ports.hosts } });
    auth.on('session-ended', (r) => r.id === sessionId && ended.push(r));
    const got = await until(() => auth.sessions.store.get(sessionId), 'results on the new auth server', 30_000);
    expect(got.state).toBe('ended');
    expect((got.results as { results: Array<{ outcome: string }> }).results.map((r) => r.outcome).sort()).toEqual(['loss', 'win']);
    await until(() => host.domain.outbox.size === 0, 'outbox drained', 30_000);
    await until(async () => (await readdir(outboxDir)).filter((f) => f.endsWith('.json')).length === 0, 'outbox folder emptied');
    await new Promise((r) => setTimeout(r, 500));
    expect(ended).toHaveLength(1);
  }, 90_000);

  it('host.toml: [outbox] dir, scaffolded, becomes outboxDir relative to the config file', async () => {
    const outFile = path.join(fx.dir, 'host.toml');
    const { text } = await scaffoldConfig({
      kind: 'host',
      pkiDir: fx.pki.dir,
      entries: fx.pki.manifest.entries,
      trustDir: TRUST_DIR,
      outFile,
      publicAddress: '127.0.0.1',
      authServers: ['127.0.0.1:7351'],
    });
    const r = checkConfigText(text, { baseDir: fx.dir });
    if (!r.ok) throw new Error('scaffolded host.toml is invalid');
    const o = await hostOptionsFromConfig(r.config as HostConfig, pino({ level: 'silent' }));
    expect(o.outboxDir).toBe(path.join(fx.dir, 'outbox-host-1'));
  });
});
