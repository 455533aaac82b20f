import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { ProtocolConnection, hostctlFamily } from '../../src/protocol/index.js';
import { ALPN, connectQuic } from '../../src/transport/index.js';
import path from 'node:path';
import type { AuthServer } from '../../src/auth/server.js';
import { ReloadableVerifier } from '../../src/serve/verifier.js';
import { authClient, makeFx, scriptedHost, sessionKeys, startAuth, until, type Fx, type ScriptedClient } from './helpers.js';

let fx: Fx;
let auth: AuthServer;
const clients: ScriptedClient[] = [];

beforeAll(async () => {
  fx = await makeFx();
  auth = await startAuth(fx, { noHostTimeoutMs: 60_000 });
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await auth?.close({ graceMs: 100 });
  await fx?.cleanup();
}, 30_000);

async function guests(n: number): Promise<ScriptedClient[]> {
  const cs = await Promise.all(Array.from({ length: n }, () => authClient(fx, auth.clientPort)));
  clients.push(...cs);
  await Promise.all(cs.map((c) => c.proto.request('account.login', { method: 'guest' })));
  return cs;
}

async function matchAndConfirm(cs: ScriptedClient[], regions?: string[]): Promise<string> {
  const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'duel', ...(regions ? { regions } : {}) })));
  const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
  await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
  return found[0]!.matchId as string;
}

/** A scripted host answers session.create with a QUIC endpoint at 127.0.0.1:9 (nothing listens: these tests end at the claim). */
function takesSessions(h: Awaited<ReturnType<typeof scriptedHost>>): void {
  h.proto.handle('session.create', (body) => ({
    sessionId: body.sessionId,
    endpoint: { kind: 'quic', address: { host: '127.0.0.1', port: 9 }, tlsName: '127.0.0.1' },
  }));
}

/** A scripted host-2, registered and alive, that takes sessions. */
async function liveHost(): Promise<Awaited<ReturnType<typeof scriptedHost>>> {
  const h = await scriptedHost(fx, auth.hostPort);
  await until(() => auth.registry.get('host-2')?.state === 'alive', 'registration');
  takesSessions(h);
  return h;
}

/** Each client gets `session.ready` and claims its seat; resolves the session id. */
async function claimAll(cs: ScriptedClient[]): Promise<string> {
  const ready = await Promise.all(cs.map((c) => c.inbox.next('session.ready')));
  const sessionId = ready[0]!.sessionId as string;
  await Promise.all(cs.map((c) => c.proto.request('session.claim', { sessionId, publicKey: sessionKeys().publicKey }, { timeoutMs: 20_000 })));
  return sessionId;
}

describe('auth server liveness and refusals', () => {
  it('refuses a client whose ClientAuth was retired, telling it to update', async () => {
    const err = await authClient(fx, auth.clientPort, fx.retiredClient).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IyesmpError);
    expect((err as IyesmpError).code).toBe('retired_clientauth');
    expect((err as IyesmpError).message).toMatch(/update/);
  }, 30_000);

  it('refuses a host that claims another host name than its certificate', async () => {
    const conn = await connectQuic({
      host: '127.0.0.1',
      port: auth.hostPort,
      alpn: ALPN.hostctl,
      cert: fx.host2.cert,
      key: fx.host2.key,
      verifier: fx.verifier,
      serverPolicy: { kind: 'auth-server' },
    });
    const proto = ProtocolConnection.dial(hostctlFamily, conn.openStream(), { gameVersion: '1', hello: { hostName: 'host-1' } });
    const err = await proto.ready.catch((e: unknown) => e);
    expect((err as IyesmpError).code).toBe('not_allowed');
    await conn.close('bye', { force: true }).catch(() => undefined);
    expect(auth.registry.get('host-1')).toBeUndefined();
  }, 30_000);

  it('holds a match while no host is available, then uses the host that registers', async () => {
    const cs = await guests(2);
    await matchAndConfirm(cs);
    await until(() => auth.handoffs.waitingForHost === 1, 'the start to wait for a host');
    const h = await scriptedHost(fx, auth.hostPort);
    takesSessions(h);
    const ready = await Promise.all(cs.map((c) => c.inbox.next('session.ready')));
    expect(auth.handoffs.waitingForHost).toBe(0);
    const claims = await Promise.all(
      cs.map((c) => c.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string, publicKey: sessionKeys().publicKey }, { timeoutMs: 20_000 })),
    );
    expect(claims[0]!.host.address.port).toBe(9);
    await h.close();
  }, 60_000);

  it('marks a silent host dead, stops picking it and tells its players', async () => {
    const h = await liveHost();
    const cs = await guests(2);
    await matchAndConfirm(cs, ['test']);
    const sessionId = await claimAll(cs);

    const died = new Promise<string>((resolve) => auth.once('host-dead', resolve));
    h.state.beating = false; // connection stays open, heartbeats stop
    expect(await died).toBe('host-2');
    expect(auth.registry.get('host-2')!.state).toBe('dead');
    expect(auth.registry.pick({ transport: 'quic' }).ok).toBe(false);
    // 1.1 clients get the dedicated event (1.0 clients get a kick with code session_lost)
    for (const c of cs) {
      const lost = await c.inbox.next('session.lost');
      expect(lost.sessionId).toBe(sessionId);
      expect(lost.reason).toMatch(/host/);
    }
    expect((await auth.sessions.store.get(sessionId))!.state).toBe('lost');
    await h.close();
  }, 60_000);

  it("opens a started lobby again when its game's host dies, so its members may start again together", async () => {
    const h = await liveHost();
    const [owner, member] = await guests(2);
    const { lobby } = await owner!.proto.request('lobby.create', { name: 'lost', maxPlayers: 2, visibility: 'public', mode: 'duel', region: 'test' });
    await member!.proto.request('lobby.join', { lobbyId: lobby.lobbyId });
    await member!.proto.request('lobby.ready', { lobbyId: lobby.lobbyId, ready: true });
    await owner!.proto.request('lobby.start', { lobbyId: lobby.lobbyId });
    await claimAll([owner!, member!]);
    expect(auth.lobbies.get(lobby.lobbyId)?.state).toBe('started');

    const reopened = [owner!, member!].map((c) =>
      c.inbox.next(
        'lobby.updated',
        (b) => (b.lobby as { lobbyId: string; state: string }).lobbyId === lobby.lobbyId && (b.lobby as { state: string }).state === 'open',
      ),
    );
    h.state.beating = false;
    await Promise.all([owner!, member!].map((c) => c.inbox.next('session.lost')));
    // before: the lobby stayed "in game" for good; its members had to leave it
    await Promise.all(reopened);
    expect(auth.lobbies.get(lobby.lobbyId)?.state).toBe('open');
    await h.close();
  }, 60_000);

  it('refuses a build whose ClientAuth is retired after start, once the trust list is reloaded', async () => {
    const verifier = await ReloadableVerifier.load(path.join(fx.dir, 'pki'));
    const a2 = await startAuth(fx, { verifier });
    try {
      const ok = await authClient(fx, a2.clientPort);
      await ok.close();
      const rotated = await fx.pki.rotateClientAuth();
      await fx.pki.retireClientAuth(2);
      // still the old trust data: ClientAuth-2 builds get in
      const before = await authClient(fx, a2.clientPort);
      await before.close();
      expect(await verifier.reload()).toBeGreaterThan(0);
      const err = await authClient(fx, a2.clientPort).catch((e: unknown) => e);
      expect((err as IyesmpError).code).toBe('retired_clientauth');
      const fresh = await authClient(fx, a2.clientPort, { cert: rotated.client!.chainPem, key: rotated.client!.keyPath });
      await fresh.close();
    } finally {
      await a2.close({ graceMs: 100 });
    }
  }, 60_000);

  it('survives garbage on the client control stream', async () => {
    const conn = await connectQuic({
      host: '127.0.0.1',
      port: auth.clientPort,
      alpn: ALPN.auth,
      cert: fx.client.cert,
      key: fx.client.key,
      verifier: fx.verifier,
      serverPolicy: { kind: 'auth-server' },
    });
    const s = conn.openStream();
    const w = s.writable.getWriter();
    await w.write(new Uint8Array([0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]));
    await conn.closed;
    // the server still serves others
    const [c] = await guests(1);
    expect(c!.proto.session.state).toBe('open');
  }, 30_000);
});
