/**
 * A host that refuses `session.create`, or never acknowledges it, does not fail the session: the
 * Auth server tries the next suitable host (the failed one again only after a back-off) until the no-host timeout,
 * and the players get `session.waiting` meanwhile. Also `lobby.set_owner` through the server.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolConnection, hostctlFamily } from '../../src/protocol/index.js';
import { ALPN, connectQuic } from '../../src/transport/index.js';
import type { AuthServer } from '../../src/auth/server.js';
import { IyesmpError } from '../../src/errors.js';
import { authClient, fxSuite, sessionKeys, startAuth, until, type Creds, type ScriptedClient } from './helpers.js';

const suite = fxSuite();
const closers = suite.closers;

/** A scripted host registered under `name` (its certificate's), heartbeating; `onCreate` answers session.create. */
async function host(port: number, name: string, creds: Creds, onCreate: (body: { sessionId: string }) => unknown) {
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
    return onCreate(body) as never;
  });
  proto.handle('session.cancel', () => ({}));
  await proto.ready;
  const reg = await proto.request('host.register', {
    name,
    region: 'test',
    publicAddress: { host: '127.0.0.1', port: 9 },
    transports: [{ kind: 'quic', address: { host: '127.0.0.1', port: name === 'host-1' ? 9 : 10 }, tlsName: '127.0.0.1' }],
    capacity: { sessions: 4, players: 8 },
    version: '1.0.0',
    load: { sessions: 0, players: 0 },
  });
  const timer = setInterval(() => proto.notify('host.heartbeat', { time: Date.now(), load: { sessions: 0, players: 0 } }), reg.heartbeatIntervalMs);
  closers.push(async () => {
    clearInterval(timer);
    await conn.close('bye', { force: true }).catch(() => undefined);
  });
  return { creates };
}

const good = (port: number) => (body: { sessionId: string }) => ({
  sessionId: body.sessionId,
  endpoint: { kind: 'quic', address: { host: '127.0.0.1', port }, tlsName: '127.0.0.1' },
});

async function guests(auth: AuthServer, n: number): Promise<ScriptedClient[]> {
  const cs = await Promise.all(Array.from({ length: n }, () => authClient(suite.fx, auth.clientPort)));
  for (const c of cs) closers.push(() => c.close());
  await Promise.all(cs.map((c) => c.proto.request('account.login', { method: 'guest' })));
  return cs;
}

/** Matchmakes two guests and claims their seats; resolves with the claims' answers. */
async function playTogether(auth: AuthServer) {
  const cs = await guests(auth, 2);
  const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'duel' })));
  const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
  const matchId = found[0]!.matchId as string;
  await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId })));
  const ready = await Promise.all(cs.map((c) => c.inbox.next('session.ready')));
  const sessionId = ready[0]!.sessionId as string;
  const claims = await Promise.all(cs.map((c) => c.proto.request('session.claim', { sessionId, publicKey: sessionKeys().publicKey }, { timeoutMs: 30_000 })));
  return { cs, matchId, sessionId, claims };
}

describe('re-picking a host', () => {
  it('a host that refuses session.create: the next host gets the session; players hear session.waiting', async () => {
    const auth = await startAuth(suite.fx, { hostAckTimeoutMs: 5_000, noHostTimeoutMs: 30_000 });
    closers.push(() => auth.close({ graceMs: 0 }));
    // host-1 is picked first (same load, name order) and refuses
    const refusing = await host(auth.hostPort, 'host-1', suite.fx.host, () => {
      throw new IyesmpError('refused', 'capacity', 'this host is full');
    });
    const fine = await host(auth.hostPort, 'host-2', suite.fx.host2, good(10));
    await until(() => auth.connectedHosts().length === 2, 'both hosts registered');

    const { cs, matchId, sessionId, claims } = await playTogether(auth);
    expect(refusing.creates).toEqual([sessionId]);
    expect(fine.creates).toEqual([sessionId]);
    for (const h of claims) expect(h.host.address.port).toBe(10);
    const waiting = await Promise.all(cs.map((c) => c.inbox.next('session.waiting', (b) => b.matchId === matchId)));
    expect(waiting[0]!.reason).toMatch(/another/);
    expect(cs.some((c) => c.inbox.events.some((e) => e.type === 'match.cancelled'))).toBe(false);
    expect(await auth.sessions.store.get(sessionId)).toMatchObject({ state: 'handed-off', hostName: 'host-2' });
  }, 90_000);

  it('a host that never acknowledges: after the ack timeout the next host gets it', async () => {
    const auth = await startAuth(suite.fx, { hostAckTimeoutMs: 1_500, noHostTimeoutMs: 30_000 });
    closers.push(() => auth.close({ graceMs: 0 }));
    const silent = await host(auth.hostPort, 'host-1', suite.fx.host, () => new Promise(() => undefined));
    const fine = await host(auth.hostPort, 'host-2', suite.fx.host2, good(10));
    await until(() => auth.connectedHosts().length === 2, 'both hosts registered');
    const { sessionId, claims } = await playTogether(auth);
    expect(silent.creates).toEqual([sessionId]);
    expect(fine.creates).toEqual([sessionId]);
    for (const h of claims) expect(h.host.address.port).toBe(10);
  }, 90_000);

  it('gives up at the no-host timeout when no other host takes it', async () => {
    const auth = await startAuth(suite.fx, { hostAckTimeoutMs: 5_000, noHostTimeoutMs: 1_500 });
    closers.push(() => auth.close({ graceMs: 0 }));
    const refusing = await host(auth.hostPort, 'host-1', suite.fx.host, () => {
      throw new IyesmpError('refused', 'capacity', 'this host is full');
    });
    await until(() => auth.connectedHosts().length === 1, 'host registered');
    const cs = await guests(auth, 2);
    const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'duel' })));
    const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
    await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await Promise.all(cs.map((c) => c.inbox.next('session.ready')));
    const sessionId = ready[0]!.sessionId as string;
    const outcomes = await Promise.all(
      cs.map((c) =>
        c.proto.request('session.claim', { sessionId, publicKey: sessionKeys().publicKey }, { timeoutMs: 30_000 }).then(
          () => 'answered',
          (e: IyesmpError) => e.code,
        ),
      ),
    );
    expect(outcomes).toEqual(['session_failed', 'session_failed']);
    // the refusing host was asked once: its back-off outlasts the no-host timeout
    expect(refusing.creates).toEqual([sessionId]);
    const cancelled = await cs[0]!.inbox.next('match.cancelled');
    expect(cancelled.reason).toMatch(/no host took the session/);
  }, 60_000);
});

describe('lobby.set_owner through the server', () => {
  it('the owner hands the lobby over; members hear it; the old owner is refused', async () => {
    const auth = await startAuth(suite.fx);
    closers.push(() => auth.close({ graceMs: 0 }));
    const [a, b] = (await guests(auth, 2)) as [ScriptedClient, ScriptedClient];
    const { lobby } = await a.proto.request('lobby.create', { name: 'handover', visibility: 'public', maxPlayers: 2 });
    const joined = await b.proto.request('lobby.join', { lobbyId: lobby.lobbyId });
    const bId = joined.lobby.members.find((m) => m.accountId !== lobby.ownerId)!.accountId;
    // not the owner: refused with a clear code
    const refused = await b.proto.request('lobby.set_owner', { lobbyId: lobby.lobbyId, accountId: bId }).catch((e: IyesmpError) => e);
    expect((refused as IyesmpError).code).toBe('lobby.not_owner');
    await a.proto.request('lobby.set_owner', { lobbyId: lobby.lobbyId, accountId: bId });
    for (const c of [a, b]) {
      expect(await c.inbox.next('lobby.owner_changed', (x) => x.lobbyId === lobby.lobbyId)).toMatchObject({ ownerId: bId });
      await c.inbox.next('lobby.updated', (x) => (x.lobby as { ownerId: string }).ownerId === bId);
    }
    const again = await a.proto.request('lobby.set_owner', { lobbyId: lobby.lobbyId, accountId: lobby.ownerId }).catch((e: IyesmpError) => e);
    expect((again as IyesmpError).code).toBe('lobby.not_owner');
    // the new owner may start the game
    await a.proto.request('lobby.ready', { lobbyId: lobby.lobbyId, ready: true });
    await b.proto.request('lobby.start', { lobbyId: lobby.lobbyId });
  }, 60_000);
});
