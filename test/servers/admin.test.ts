// The admin channel of a real Auth server (QUIC, mutual TLS): only Admin certificates get in, and
// kick, ban and unban act on real player connections and are written to the audit log.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AccountService, GuestProvider, MemoryAccountStore, PasswordProvider } from '../../src/auth/accounts/index.js';
import type { AuthServer } from '../../src/auth/server.js';
import { connectAdmin, type AdminConnection } from '../../src/cli/admin-client.js';
import { ALPN, connectQuic } from '../../src/transport/index.js';
import { authClient, fxSuite, startAuth, until, type Creds } from './helpers.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
const CONTROL_NOT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
const execFileP = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/iyesmp.js', import.meta.url));
const FAST = { ln: 4, r: 8, p: 1, saltBytes: 16, keyBytes: 32 }; // cheap scrypt for tests
const suite = fxSuite();
const { closers } = suite;
let auth: AuthServer;
let adminCreds: Creds;
let admin: AdminConnection;

const adminFlags = (creds: Creds, port = auth.adminPort) => ({
  server: `127.0.0.1:${port}`,
  cert: creds.cert,
  key: creds.key,
  trust: suite.fx.pki.dir,
  timeout: '5000',
});

beforeAll(async () => {
  const fx = suite.fx;
  const issued = await fx.pki.issueAdmin({ name: 'ops' });
  adminCreds = { cert: issued.certPath, key: issued.keyPath };
  auth = await startAuth(fx, {
    admin: { host: '127.0.0.1', port: 0 },
    allowRegistration: true,
    accounts: new AccountService({
      providers: [new GuestProvider(), new PasswordProvider({ store: new MemoryAccountStore(), scrypt: FAST, minPasswordLength: 10, maxPasswordLength: 64 })],
    }),
  });
  closers.push(() => auth.close({ graceMs: 0 }));
  admin = await connectAdmin(adminFlags(adminCreds), 'test');
  closers.push(() => admin.close());
}, 60_000);

describe('admin channel', () => {
  const fx = new Proxy({} as typeof suite.fx, { get: (_t, k) => suite.fx[k as keyof typeof suite.fx] });
  it('says it is an Auth server and reports status: hosts, queues, hand-offs, refusals', async () => {
    expect(admin.kind).toBe('auth');
    const s = await admin.proto.request('server.status', {});
    expect(s).toMatchObject({ kind: 'auth', node: 'auth-1', hosts: [], queues: [], handoffs: { total: 0, p50Ms: null } });
  });

  it('refuses client, host and session certificates on the admin port', async () => {
    await expect(connectAdmin(adminFlags(fx.client), 'test')).rejects.toMatchObject({ kind: 'refused' });
    await expect(connectAdmin(adminFlags(fx.host), 'test')).rejects.toMatchObject({ kind: 'refused' });
    const s = await (await fx.pki.sessionMinter()).mintWithNewKey({ sessionId: 'ses-x', playerId: 'p1' });
    await expect(connectAdmin(adminFlags({ cert: s.certPem + s.issuerPem, key: s.privateKeyPem }), 'test')).rejects.toMatchObject({ kind: 'refused' });
    // the refusals show in the status an operator sees
    const st = await until(async () => {
      const r = await admin.proto.request('server.status', {});
      return r.refusals.filter((x) => x.endpoint === 'admin').length >= 3 ? r : undefined;
    }, 'three admin refusals in the status');
    expect(st.refusals.map((r) => r.reason)).toContain('wrong_role');
  }, 30_000);

  it('refuses an Admin certificate on the client and host ports', async () => {
    await expect(authClient(fx, auth.clientPort, adminCreds)).rejects.toMatchObject({ kind: 'refused' });
    const dial = connectQuic({
      host: '127.0.0.1',
      port: auth.hostPort,
      alpn: ALPN.hostctl,
      cert: adminCreds.cert,
      key: adminCreds.key,
      verifier: fx.verifier,
      serverPolicy: { kind: 'auth-server' },
      timeoutMs: 5000,
    });
    await expect(dial).rejects.toMatchObject({ kind: 'refused' });
  }, 30_000);

  it("kick ends the player's connection, and the audit log names the admin", async () => {
    const c = await authClient(fx, auth.clientPort);
    closers.push(() => c.close());
    const login = await c.proto.request('account.login', { method: 'guest', displayName: 'Ada' });
    const players = await admin.proto.request('players.list', {});
    expect(players.players.map((p) => p.playerId)).toContain(login.accountId);
    await admin.proto.request('player.kick', { playerId: login.accountId, reason: 'AFK' });
    expect(await c.inbox.next('kick')).toMatchObject({ code: 'kicked', reason: 'AFK' });
    await until(() => c.proto.session.state === 'closed' || undefined, 'the kicked connection to close');
    await until(() => !auth.onlinePlayers().some((p) => p.playerId === login.accountId) || undefined, 'the player to be gone');
    // a second kick finds nobody: refused, and audited as refused
    await expect(admin.proto.request('player.kick', { playerId: login.accountId })).rejects.toMatchObject({ code: 'admin.unknown_player' });
    const { entries } = await admin.proto.request('audit.list', { action: 'kick' });
    expect(entries.map((e) => [e.outcome, e.target, e.actor.name])).toEqual([
      ['ok', login.accountId, 'admin-ops'],
      ['refused', login.accountId, 'admin-ops'],
    ]);
    expect(entries[0]!.actor.fingerprint).toBe(fx.pki.get('admin-ops').fingerprint);
  }, 30_000);

  it('ban kicks the player and refuses its next login with the reason; unban lets it back in', async () => {
    const c = await authClient(fx, auth.clientPort);
    closers.push(() => c.close());
    const reg = await c.proto.request('account.register', { username: 'mallory', password: 'correct horse battery' });
    const until7d = Date.now() + 7 * 86_400_000;
    const ban = await admin.proto.request('player.ban', { playerId: reg.accountId, reason: 'speed hack', until: until7d });
    expect(ban).toMatchObject({ playerId: reg.accountId, reason: 'speed hack', expiresAt: until7d, kicked: true });
    expect(await c.inbox.next('kick')).toMatchObject({ code: 'banned' });

    const again = await authClient(fx, auth.clientPort);
    closers.push(() => again.close());
    const refused = again.proto.request('account.login', { method: 'password', username: 'mallory', password: 'correct horse battery' });
    await expect(refused).rejects.toMatchObject({ code: 'auth.banned', message: expect.stringContaining('speed hack') });

    expect(await admin.proto.request('player.unban', { playerId: reg.accountId })).toMatchObject({ lifted: 1 });
    const ok = await again.proto.request('account.login', { method: 'password', username: 'mallory', password: 'correct horse battery' });
    expect(ok.accountId).toBe(reg.accountId);
    const { entries } = await admin.proto.request('audit.list', {});
    expect(entries.filter((e) => e.target === reg.accountId).map((e) => [e.action, e.outcome])).toEqual([
      ['ban', 'ok'],
      ['unban', 'ok'],
    ]);
    // the refused login is among the recent refusals
    const st = await admin.proto.request('server.status', {});
    expect(st.refusals.some((r) => r.endpoint === 'login' && r.reason === 'auth.banned')).toBe(true);
  }, 30_000);

  it('answers lists larger than a control frame (a 1,000-entry audit log)', async () => {
    const actor = { name: 'admin-script', fingerprint: 'ef'.repeat(32) };
    for (let i = 0; i < 200; i++)
      await auth.audit.append({ at: Date.now(), actor, action: 'note', target: `t${i}`, details: { text: 'x'.repeat(500) }, outcome: 'ok' });
    const { entries } = await admin.proto.request('audit.list', { action: 'note', limit: 1000 });
    expect(entries).toHaveLength(200);
  });

  it('refuses a ban ending past what a Date can hold (audited as refused), and the player stays logged in', async () => {
    const c = await authClient(fx, auth.clientPort);
    closers.push(() => c.close());
    const login = await c.proto.request('account.login', { method: 'guest', displayName: 'Forever' });
    // a valid TimeMs, but beyond 8.64e15: the expiry could never be told to the player
    await expect(admin.proto.request('player.ban', { playerId: login.accountId, reason: 'x', until: 9e15 })).rejects.toMatchObject({
      code: 'admin.bad_request',
      message: expect.stringContaining('Date'),
    });
    await expect(auth.ban(login.accountId, { reason: 'x', until: 9e15 })).rejects.toMatchObject({ code: 'ban_until' });
    expect(auth.onlinePlayers().some((p) => p.playerId === login.accountId)).toBe(true);
    expect(c.proto.session.state).toBe('open');
    const { entries } = await admin.proto.request('audit.list', { action: 'ban' });
    expect(entries.filter((e) => e.target === login.accountId).map((e) => [e.outcome, e.error])).toEqual([['refused', 'admin.bad_request']]);
    // the latest representable time is still a ban, told to the player
    await admin.proto.request('player.ban', { playerId: login.accountId, reason: 'long', until: 8.64e15 });
    expect(await c.inbox.next('kick')).toMatchObject({ code: 'banned', reason: expect.stringContaining('+275760') });
    await admin.proto.request('player.unban', { playerId: login.accountId });
  }, 30_000);

  it('a ban with a 1,024-character reason still tells the kicked player why', async () => {
    const c = await authClient(fx, auth.clientPort);
    closers.push(() => c.close());
    const login = await c.proto.request('account.login', { method: 'guest', displayName: 'Verbose' });
    await admin.proto.request('player.ban', { playerId: login.accountId, reason: '理'.repeat(1024) });
    const kick = await c.inbox.next('kick');
    expect(kick).toMatchObject({ code: 'banned', reason: expect.stringMatching(/^this account is banned permanently: 理+…$/) });
    expect(String(kick.reason).length).toBe(1024);
    await admin.proto.request('player.unban', { playerId: login.accountId });
  }, 30_000);

  it('an audit log of 1,000 long unicode entries (several MiB) is answered, newest kept, marked truncated', async () => {
    const actor = { name: 'admin-script', fingerprint: 'ef'.repeat(32) };
    for (let i = 0; i < 1000; i++)
      await auth.audit.append({ at: Date.now(), actor, action: 'bigban', target: `t${i}`, details: { reason: '禁'.repeat(1024) }, outcome: 'ok' });
    const r = await admin.proto.request('audit.list', { action: 'bigban', limit: 1000 });
    expect(r.truncated).toBe(true);
    expect(r.entries.length).toBeGreaterThan(100);
    expect(r.entries.length).toBeLessThan(1000);
    expect(r.entries.at(-1)!.target).toBe('t999'); // the newest are kept
    // a small answer is not marked
    expect((await admin.proto.request('audit.list', { action: 'bigban', limit: 2 })).truncated).toBeUndefined();
  }, 30_000);

  it("a stranger's ALPN full of terminal escapes reaches the operator's screen escaped (status and admin status)", async () => {
    const evil = '\x1b]0;pwned\x07\x1b[2J\x7f31m';
    // our own client only offers printable ALPN ids: a stranger uses the QUIC library as it is
    const { QUICClient } = await import('@matrixai/quic');
    const { clientCrypto, quicLogger } = await import('../../src/transport/quic-runtime.js');
    const dial = QUICClient.createQUICClient(
      {
        host: '127.0.0.1',
        port: auth.clientPort,
        localHost: '0.0.0.0',
        crypto: clientCrypto,
        logger: quicLogger('stranger'),
        config: { verifyPeer: false, applicationProtos: [evil] },
      },
      { timer: 5000 },
    );
    await dial.then(
      (c) => c.destroy({ force: true }),
      () => undefined,
    );
    const refusal = await until(async () => {
      const r = await admin.proto.request('server.status', {});
      return r.refusals.find((x) => x.reason === 'wrong_alpn' && x.message.includes('pwned'));
    }, 'the wrong_alpn refusal in the status');
    expect(refusal.message).toContain('\\x1b]0;pwned\\x07');
    expect(refusal.message).not.toMatch(CONTROL);
    // async: the Auth server runs in this process and must answer while the CLI waits
    const cli = await execFileP(
      process.execPath,
      [BIN, 'admin', 'status', '--server', `127.0.0.1:${auth.adminPort}`, '--cert', adminCreds.cert, '--key', adminCreds.key, '--trust', suite.fx.pki.dir],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 },
    );
    expect(cli.stdout).toContain('pwned');
    expect(cli.stdout).not.toMatch(CONTROL_NOT_NEWLINE);
  }, 60_000);

  it('closing an admin connection leaves no timer behind (it would hold a finished CLI command open)', async () => {
    const a = await connectAdmin(adminFlags(adminCreds), 'test');
    // every timer armed while closing, and whether it fired or was cleared by the time close resolved
    const armed = new Map<ReturnType<typeof setTimeout>, { ms: number; done: boolean }>();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = realSet(() => {
        armed.get(t)!.done = true;
        fn();
      }, ms);
      armed.set(t, { ms: ms ?? 0, done: false });
      return t;
    }) as typeof setTimeout);
    const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation((t) => {
      const e = armed.get(t as ReturnType<typeof setTimeout>);
      if (e) e.done = true;
      realClear(t);
    });
    try {
      await a.close();
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
    // the close's own wait for the protocol's close frame (500 ms) must not outlive the close
    expect([...armed.values()].filter((e) => !e.done && e.ms >= 500)).toEqual([]);
  });

  it('refuses to drain a host that is not registered', async () => {
    await expect(admin.proto.request('host.drain', { host: 'host-9' })).rejects.toMatchObject({ code: 'admin.unknown_host' });
  });
});
