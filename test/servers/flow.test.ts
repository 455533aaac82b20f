import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { acceptBulkStream, openBulkStream } from '../../src/protocol/index.js';
import { ALPN, connectQuic } from '../../src/transport/index.js';
import type { AuthServer } from '../../src/auth/server.js';
import type { HostServer } from '../../src/host/server.js';
import type { GameSession, HostGame } from '../../src/host/game.js';
import type { WireHandoff } from '../../src/auth/handoff/index.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import {
  authClient,
  fingerprint,
  joinHost,
  makeFx,
  sessionKeys,
  startAuth,
  startHost,
  until,
  type Fx,
  type HostClient,
  type ScriptedClient,
} from './helpers.js';

type Ext = { text?: string; end?: boolean; echo?: string };

/** A tiny game: relays chat to the others, echoes actions, ends when someone sends `end`. */
function relayGame(seen: GameSession<Ext>[]): HostGame<Ext> {
  return {
    begin(s) {
      seen.push(s);
      s.onAction(async (playerId, ext) => {
        if (ext?.text === 'stream-me') {
          const w = await s.openStream(playerId, { purpose: 'state', channel: 'board' });
          await w.write(new TextEncoder().encode('abc'));
          await w.close();
        }
        return { echo: `${playerId}:${ext?.text ?? ''}` };
      });
      s.on('stream', async ({ playerId, header, frames }) => {
        let bytes = 0;
        for await (const f of frames) bytes += f.byteLength;
        s.send(playerId, { channel: 'stream', ext: { text: `${header.purpose}:${bytes}` } });
      });
      s.on('message', ({ playerId, ext }) => {
        if (ext?.end) {
          const outcomes = Object.fromEntries(
            s.players.map((p) => [p.playerId, { result: p.playerId === playerId ? 'win' : 'loss', score: p.playerId === playerId ? 1 : 0 }]),
          );
          s.end({ outcomes, gameData: { winner: playerId } });
        } else s.broadcast({ ext: { text: `${playerId}: ${ext?.text}` } }, { except: playerId });
      });
    },
  };
}

let fx: Fx;
let auth: AuthServer;
let host: HostServer<Ext>;
const games: GameSession<Ext>[] = [];
const clients: ScriptedClient[] = [];
const joined: HostClient[] = [];

beforeAll(async () => {
  fx = await makeFx();
  auth = await startAuth(fx, { joinTimeoutMs: 2_500 });
  host = await startHost<Ext>(fx, auth.hostPort, relayGame(games));
}, 60_000);

afterAll(async () => {
  for (const j of joined) await j.conn.close('bye', { force: true }).catch(() => undefined);
  for (const c of clients) await c.close();
  await host?.close({ graceMs: 200 });
  await auth?.close({ graceMs: 200 });
  await fx?.cleanup();
}, 30_000);

/** Two guests log in, queue, confirm the match and claim their seats; returns their hand-offs. */
async function matchTwo(): Promise<Array<{ client: ScriptedClient; handoff: WireHandoff; key: string; playerId: string }>> {
  const pair = await Promise.all([authClient(fx, auth.clientPort), authClient(fx, auth.clientPort)]);
  clients.push(...pair);
  const logins = await Promise.all(pair.map((c, i) => c.proto.request('account.login', { method: 'guest', displayName: `P${i}` })));
  const tickets = await Promise.all(pair.map((c) => c.proto.request('match.queue', { mode: 'duel' })));
  const found = await Promise.all(pair.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === tickets[i]!.ticketId)));
  expect(found[0]!.matchId).toBe(found[1]!.matchId);
  await Promise.all(pair.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
  const ready = await Promise.all(pair.map((c) => c.inbox.next('session.ready', (b) => b.matchId === found[0]!.matchId)));
  expect(ready[0]!.sessionId).toBe(ready[1]!.sessionId);
  expect(ready[0]!.needsPublicKey).toBe(true);
  const keys = pair.map(() => sessionKeys());
  const handoffs = await Promise.all(
    pair.map((c, i) => c.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string, publicKey: keys[i]!.publicKey }, { timeoutMs: 30_000 })),
  );
  return pair.map((client, i) => ({ client, handoff: handoffs[i]!, key: keys[i]!.privateKeyPem, playerId: logins[i]!.accountId }));
}

async function joinAndBegin(seats: Awaited<ReturnType<typeof matchTwo>>): Promise<HostClient[]> {
  const hc = await Promise.all(seats.map((s) => joinHost(fx, s.handoff, s.key)));
  joined.push(...hc);
  const welcomes = await Promise.all(hc.map((h) => h.proto.ready));
  for (const w of welcomes) expect(w.peerHello.sessionId).toBe(seats[0]!.handoff.sessionId);
  await Promise.all(hc.map((h) => h.proto.request('player.ready', { ready: true })));
  await Promise.all(hc.map((h) => h.inbox.next('game.begin')));
  return hc;
}

describe('auth + host servers on loopback', () => {
  it('a host registers and keeps heartbeating', async () => {
    await until(() => auth.registry.get('host-1')?.state === 'alive' && auth.connectedHosts().includes('host-1'), 'host registration');
    const first = auth.registry.get('host-1')!.lastSeen;
    await until(() => auth.registry.get('host-1')!.lastSeen > first, 'a heartbeat');
    expect(auth.registry.get('host-1')!.capacity).toBe(4);
    expect(host.connectedAuthServers()).toHaveLength(1);
  }, 30_000);

  it('drops datagrams from an address no session expects', async () => {
    await until(() => host.connectedAuthServers().length === 1, 'host link');
    const before = host.allowList.stats().dropped;
    const err = await connectQuic({
      host: '127.0.0.1',
      port: host.playerPort,
      alpn: ALPN.host,
      cert: fx.client.cert,
      key: fx.client.key,
      verifier: fx.verifier,
      serverPolicy: { kind: 'host' },
      timeoutMs: 1_500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IyesmpError);
    expect((err as IyesmpError).code).toBe('timeout');
    expect(host.allowList.stats().dropped).toBeGreaterThan(before);
  }, 30_000);

  it('matches two guests, hands them off, runs the game and records its results', async () => {
    await until(() => auth.connectedHosts().includes('host-1'), 'host registration');
    const seats = await matchTwo();
    const [a, b] = seats as [(typeof seats)[0], (typeof seats)[0]];
    const sessionId = a.handoff.sessionId;
    expect(b.handoff.sessionId).toBe(sessionId);
    expect(a.handoff.host.address.port).toBe(host.playerPort);

    // each session cert verifies for this session and its player, and nothing else
    for (const s of seats) {
      if (s.handoff.transport.kind !== 'quic') throw new Error('quic expected');
      const chain = [s.handoff.transport.sessionCert, ...s.handoff.transport.chain];
      const ok = await fx.verifier.verify(chain, { kind: 'session', sessionId, playerId: s.handoff.playerId });
      expect(ok.ok).toBe(true);
      const other = await fx.verifier.verify(chain, { kind: 'session', sessionId: 'another-session' });
      expect(other.ok).toBe(false);
      expect(s.handoff.transport.privateKey).toBeUndefined();
    }

    // the host expects exactly these players, with these fingerprints, from the address auth saw
    const view = host.domain.sessions.session(sessionId)!;
    expect(view.players.map((p) => p.fingerprint).sort()).toEqual(
      seats.map((s) => fingerprint((s.handoff.transport as { sessionCert: Uint8Array }).sessionCert)).sort(),
    );
    expect(view.players.every((p) => p.address.ip === '127.0.0.1')).toBe(true);

    // a valid session cert for another session is refused during the handshake
    const minter = await fx.pki.sessionMinter();
    const stray = sessionKeys();
    const foreign = await minter.mint({ publicKey: stray.publicKey, sessionId: 'not-this-session', playerId: a.handoff.playerId });
    const wrongSession = await joinHost(fx, a.handoff, stray.privateKeyPem, { certPem: foreign.certPem }).catch((e: unknown) => e);
    expect((wrongSession as IyesmpError).code).toBe('wrong_session');
    // ... and so is a cert for the right seat that is not the one auth announced
    const copy = await minter.mint({ publicKey: stray.publicKey, sessionId, playerId: a.handoff.playerId });
    const wrongFp = await joinHost(fx, a.handoff, stray.privateKeyPem, { certPem: copy.certPem }).catch((e: unknown) => e);
    expect((wrongFp as IyesmpError).code).toBe('wrong_fingerprint');

    const [ha, hb] = (await joinAndBegin(seats)) as [HostClient, HostClient];
    const status = await ha.inbox.next('players.status', (body) => (body.players as Array<{ ready: boolean }>).every((p) => p.ready));
    expect((status.players as unknown[]).length).toBe(2);

    // game traffic both ways
    ha.proto.notify('game.msg', { ext: { text: 'hello' } });
    const relayed = await hb.inbox.next('game.msg');
    expect((relayed.ext as Ext).text).toBe(`${a.handoff.playerId}: hello`);
    const answer = await hb.proto.request('game.action', { ext: { text: 'move' } });
    expect(answer.ext).toEqual({ echo: `${b.handoff.playerId}:move` });

    // bulk streams both ways
    const up = await openBulkStream(ha.conn.openStream().writable, { family: 'iyesmp-host/1', purpose: 'upload' });
    await up.write(new Uint8Array(1000));
    await up.write(new Uint8Array(24));
    await up.close();
    expect(((await ha.inbox.next('game.msg', (m) => m.channel === 'stream')).ext as Ext).text).toBe('upload:1024');
    const down = new Promise<string>((resolve) =>
      hb.conn.once('stream', async (st) => {
        const { header, frames } = await acceptBulkStream(st.readable);
        let text = '';
        for await (const f of frames) text += new TextDecoder().decode(f);
        resolve(`${header.purpose}/${header.channel}:${text}`);
      }),
    );
    await hb.proto.request('game.action', { ext: { text: 'stream-me' } });
    expect(await down).toBe('state/board:abc');

    // a reconnecting player is offered the very same hand-off
    const again = await a.client.proto.request('session.claim', { sessionId });
    expect(Buffer.from((again.transport as { sessionCert: Uint8Array }).sessionCert)).toEqual(
      Buffer.from((a.handoff.transport as { sessionCert: Uint8Array }).sessionCert),
    );

    // the game ends; both players are told; the results reach the auth server
    const ended = new Promise<SessionRecord>((resolve) => auth.on('session-ended', (r) => r.id === sessionId && resolve(r)));
    ha.proto.notify('game.msg', { ext: { end: true } });
    const endA = await ha.inbox.next('game.end');
    expect(endA.reason).toBe('completed');
    expect(endA.results).toContainEqual({ playerId: a.handoff.playerId, score: 1, outcome: 'win' });
    const record = await ended;
    expect(record.state).toBe('ended');
    const results = (record.results as { results: Array<{ playerId: string; outcome: string }> }).results;
    expect(results).toContainEqual(expect.objectContaining({ playerId: a.playerId, outcome: 'win' }));
    expect(results).toContainEqual(expect.objectContaining({ playerId: b.playerId, outcome: 'loss' }));
    await until(() => host.domain.outbox.size === 0, 'outbox drained');
    expect((await auth.sessions.store.get(sessionId))?.state).toBe('ended');
    await until(async () => (await auth.sessions.store.get(sessionId))?.telemetry, 'telemetry recorded');
  }, 90_000);

  it('aborts a session when a player never shows up, and reports it', async () => {
    await until(() => auth.connectedHosts().includes('host-1'), 'host registration');
    const seats = await matchTwo();
    const sessionId = seats[0]!.handoff.sessionId;
    const only = await joinHost(fx, seats[0]!.handoff, seats[0]!.key);
    joined.push(only);
    await only.proto.ready;
    const ended = new Promise<SessionRecord>((resolve) => auth.on('session-ended', (r) => r.id === sessionId && resolve(r)));
    const end = await only.inbox.next('game.end');
    expect(end.reason).toBe('aborted');
    const record = await ended;
    expect((record.results as { reason: string }).reason).toBe('aborted');
    const report = (record.results as { ext: { report: { abortReason: string; players: Array<{ departure?: string }> } } }).ext.report;
    expect(report.abortReason).toBe('not_enough_players');
    expect(report.players.map((p) => p.departure)).toContain('no_show');
  }, 60_000);

  it('keeps a game running while the auth server is down and delivers its results to the next one', async () => {
    await until(() => auth.connectedHosts().includes('host-1'), 'host registration');
    const seats = await matchTwo();
    const sessionId = seats[0]!.handoff.sessionId;
    const [ha, hb] = (await joinAndBegin(seats)) as [HostClient, HostClient];

    const ports = { clients: auth.clientPort, hosts: auth.hostPort };
    await auth.close({ graceMs: 100 });
    await until(() => host.connectedAuthServers().length === 0, 'host noticing the auth server is gone');

    ha.proto.notify('game.msg', { ext: { text: 'still here' } });
    expect(((await hb.inbox.next('game.msg', (m) => (m.ext as Ext).text?.endsWith('still here') ?? false)).ext as Ext).text).toContain('still here');
    hb.proto.notify('game.msg', { ext: { end: true } });
    await ha.inbox.next('game.end');
    await until(() => host.domain.outbox.has(`result:${sessionId}`), 'results queued');

    auth = await startAuth(fx, { joinTimeoutMs: 2_500, clients: { host: '127.0.0.1', port: ports.clients }, hosts: { host: '127.0.0.1', port: ports.hosts } });
    const got = await until(() => auth.sessions.store.get(sessionId), 'results on the new auth server', 30_000);
    expect(got.state).toBe('ended');
    const results = (got.results as { results: Array<{ playerId: string; outcome: string }> }).results;
    expect(results.map((r) => r.outcome).sort()).toEqual(['loss', 'win']);
    await until(() => host.domain.outbox.size === 0, 'outbox drained after reconnect', 30_000);
  }, 90_000);
});
