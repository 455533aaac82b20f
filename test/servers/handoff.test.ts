import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountService, GuestProvider, TokenProvider, signToken } from '../../src/auth/accounts/index.js';
import type { AuthServer } from '../../src/auth/server.js';
import { authClient, makeFx, scriptedHost, sessionKeys, startAuth, until, type Fx, type ScriptedClient } from './helpers.js';

let fx: Fx;
const servers: AuthServer[] = [];
const closers: Array<() => Promise<void>> = [];
const secret = 'test-secret-0123456789abcdef';

beforeAll(async () => {
  fx = await makeFx();
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c();
  for (const s of servers) await s.close({ graceMs: 100 });
  await fx?.cleanup();
}, 30_000);

/** An auth server with a scripted host that accepts every session. */
async function setup(over: Parameters<typeof startAuth>[1] = {}) {
  const auth = await startAuth(fx, {
    accounts: new AccountService({ providers: [new GuestProvider(), new TokenProvider({ secrets: { k1: secret } })] }),
    ...over,
  });
  servers.push(auth);
  const h = await scriptedHost(fx, auth.hostPort);
  closers.push(h.close);
  const created: Array<{ sessionId: string; players: Array<{ playerId: string; certFingerprint?: Uint8Array; address?: string }> }> = [];
  h.proto.handle('session.create', (body) => {
    created.push(body);
    return { sessionId: body.sessionId, endpoint: { kind: 'quic', address: { host: '127.0.0.1', port: 9 }, tlsName: '127.0.0.1' } };
  });
  await until(() => auth.connectedHosts().includes('host-2'), 'host registration');
  const connect = async () => {
    const c = await authClient(fx, auth.clientPort);
    closers.push(c.close);
    return c;
  };
  return { auth, created, connect };
}

function token(sub: string): string {
  return signToken({ sub, name: sub }, { secret, kid: 'k1', now: Date.now(), ttlMs: 600_000 });
}

describe('hand-off', () => {
  it('starts a lobby game: members get session.ready, claims are answered after the host ack', async () => {
    const { created, connect } = await setup();
    const [owner, guest] = [await connect(), await connect()] as [ScriptedClient, ScriptedClient];
    await owner.proto.request('account.login', { method: 'guest', displayName: 'Owner' });
    await guest.proto.request('account.login', { method: 'guest', displayName: 'Guest' });
    const { lobby } = await owner.proto.request('lobby.create', { name: 'room', visibility: 'public', maxPlayers: 2 });
    const listed = await guest.proto.request('lobby.list', {});
    expect(listed.lobbies.map((l) => l.lobbyId)).toContain(lobby.lobbyId);
    await guest.proto.request('lobby.join', { lobbyId: lobby.lobbyId });
    const upd = await owner.inbox.next('lobby.updated', (b) => (b.lobby as { members: unknown[] }).members.length === 2);
    expect((upd.lobby as { members: Array<{ displayName: string }> }).members.map((m) => m.displayName)).toEqual(['Owner', 'Guest']);
    await guest.proto.request('lobby.ready', { lobbyId: lobby.lobbyId, ready: true });
    await owner.proto.request('lobby.start', { lobbyId: lobby.lobbyId });
    const ready = await Promise.all([owner, guest].map((c) => c.inbox.next('session.ready', (b) => b.lobbyId === lobby.lobbyId)));
    const sessionId = ready[0]!.sessionId as string;
    const [k1, k2] = [sessionKeys(), sessionKeys()];
    const [h1, h2] = await Promise.all([
      owner.proto.request('session.claim', { sessionId, publicKey: k1.publicKey }, { timeoutMs: 20_000 }),
      guest.proto.request('session.claim', { sessionId, publicKey: k2.publicKey }, { timeoutMs: 20_000 }),
    ]);
    // the host was told each player's address and the fingerprint of the cert that player holds
    const spec = created.find((c) => c.sessionId === sessionId)!;
    expect(spec.players).toHaveLength(2);
    for (const [h, k] of [
      [h1, k1],
      [h2, k2],
    ] as const) {
      if (h.transport.kind !== 'quic') throw new Error('quic expected');
      const cert = new X509Certificate(h.transport.sessionCert);
      expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(k.publicKey))).toBe(true);
      const p = spec.players.find((x) => x.playerId === h.playerId)!;
      expect(Buffer.from(p.certFingerprint!).toString('hex')).toBe(cert.fingerprint256.replace(/:/g, '').toLowerCase());
      expect(p.address).toMatch(/127\.0\.0\.1$/);
    }
  }, 60_000);

  it('refuses a claim without a public key when clients make their keys', async () => {
    const { connect } = await setup();
    const cs = [await connect(), await connect()];
    await Promise.all(cs.map((c) => c.proto.request('account.login', { method: 'guest' })));
    const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'nokey' })));
    const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
    await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await cs[0]!.inbox.next('session.ready');
    const err = await cs[0]!.proto.request('session.claim', { sessionId: ready.sessionId as string }).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('bad_request');
    const bad = await cs[0]!.proto.request('session.claim', { sessionId: ready.sessionId as string, publicKey: new Uint8Array(40) }).catch((e: unknown) => e);
    expect((bad as { code: string }).code).toBe('bad_request');
  }, 60_000);

  it('seed design: the auth server makes the key pair and sends the private key with the cert', async () => {
    const { connect } = await setup({ keyDelivery: 'seed' });
    const cs = [await connect(), await connect()];
    await Promise.all(cs.map((c) => c.proto.request('account.login', { method: 'guest' })));
    const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'seeded' })));
    const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
    await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await Promise.all(cs.map((c) => c.inbox.next('session.ready')));
    expect(ready[0]!.needsPublicKey).toBe(false);
    const hs = await Promise.all(cs.map((c) => c.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string }, { timeoutMs: 20_000 })));
    for (const h of hs) {
      if (h.transport.kind !== 'quic' || !h.transport.privateKey) throw new Error('expected a private key');
      const pub = createPublicKey(createPrivateKey({ key: Buffer.from(h.transport.privateKey), format: 'der', type: 'pkcs8' }));
      expect(
        pub.export({ type: 'spki', format: 'der' }).equals(new X509Certificate(h.transport.sessionCert).publicKey.export({ type: 'spki', format: 'der' })),
      ).toBe(true);
    }
  }, 60_000);

  it('seed design with a configured key type: the generated key is of that type', async () => {
    const { connect } = await setup({ keyDelivery: 'seed', seedKeyAlgorithm: 'ed25519' });
    const cs = [await connect(), await connect()];
    await Promise.all(cs.map((c) => c.proto.request('account.login', { method: 'guest' })));
    const t = await Promise.all(cs.map((c) => c.proto.request('match.queue', { mode: 'seeded-ed' })));
    const found = await Promise.all(cs.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === t[i]!.ticketId)));
    await Promise.all(cs.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await Promise.all(cs.map((c) => c.inbox.next('session.ready')));
    const hs = await Promise.all(cs.map((c) => c.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string }, { timeoutMs: 20_000 })));
    for (const h of hs) {
      if (h.transport.kind !== 'quic' || !h.transport.privateKey) throw new Error('expected a private key');
      const key = createPrivateKey({ key: Buffer.from(h.transport.privateKey), format: 'der', type: 'pkcs8' });
      expect(key.asymmetricKeyType).toBe('ed25519');
      expect(new X509Certificate(h.transport.sessionCert).publicKey.asymmetricKeyType).toBe('ed25519');
    }
  }, 60_000);

  it('gives a player who reconnects during its session the same hand-off again', async () => {
    const { connect } = await setup();
    const [a, b] = [await connect(), await connect()] as [ScriptedClient, ScriptedClient];
    const la = await a.proto.request('account.login', { method: 'token', token: token('alice') });
    await b.proto.request('account.login', { method: 'token', token: token('bob') });
    expect(la.accountId).toBe('token:alice');
    const t = await Promise.all([a, b].map((c) => c.proto.request('match.queue', { mode: 'rejoin' })));
    const found = await Promise.all([a, b].map((c, i) => c.inbox.next('match.found', (x) => x.ticketId === t[i]!.ticketId)));
    await Promise.all([a, b].map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
    const ready = await Promise.all([a, b].map((c) => c.inbox.next('session.ready')));
    const sessionId = ready[0]!.sessionId as string;
    const [first] = await Promise.all(
      [a, b].map((c) => c.proto.request('session.claim', { sessionId, publicKey: sessionKeys().publicKey }, { timeoutMs: 20_000 })),
    );

    await a.close();
    const again = await connect();
    await again.proto.request('account.login', { method: 'token', token: token('alice') });
    const re = await again.inbox.next('session.ready');
    expect(re.sessionId).toBe(sessionId);
    const second = await again.proto.request('session.claim', { sessionId });
    expect(second.playerId).toBe(first!.playerId);
    expect(Buffer.from((second.transport as { sessionCert: Uint8Array }).sessionCert)).toEqual(
      Buffer.from((first!.transport as { sessionCert: Uint8Array }).sessionCert),
    );
  }, 60_000);

  it('kicks the older connection when an account logs in twice', async () => {
    const { connect } = await setup();
    const first = await connect();
    await first.proto.request('account.login', { method: 'token', token: token('carol') });
    const second = await connect();
    await second.proto.request('account.login', { method: 'token', token: token('carol') });
    const kick = await first.inbox.next('kick');
    expect(kick.code).toBe('logged_in_elsewhere');
  }, 60_000);
});
