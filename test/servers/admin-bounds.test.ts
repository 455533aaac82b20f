// The admin port's bounds, against a real Auth server over real QUIC connections, as a leaked Admin
// key or a runaway script would test them: the connection cap, an oversized frame, a connection that
// never opens a stream. Each time the server keeps answering the operators already connected.
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CONNECTION_LIMITS } from '../../src/auth/admin-endpoint.js';
import type { AuthServer } from '../../src/auth/server.js';
import { connectAdmin, type AdminConnection } from '../../src/cli/admin-client.js';
import { ADMIN_PROTOCOL_LIMITS, ProtocolConnection, adminFamily } from '../../src/protocol/index.js';
import { ALPN, connectQuic } from '../../src/transport/index.js';
import { z } from 'zod';
import { MemoryAuditStore } from '../../src/auth/audit.js';
import { authClient, fxSuite, startAuth, until, type Creds } from './helpers.js';

const suite = fxSuite();
const { closers } = suite;
let auth: AuthServer;
let adminCreds: Creds;
let admin: AdminConnection;

const flags = () => ({ server: `127.0.0.1:${auth.adminPort}`, cert: adminCreds.cert, key: adminCreds.key, trust: suite.fx.pki.dir, timeout: '10000' });
const rawAdmin = () =>
  connectQuic({
    host: '127.0.0.1',
    port: auth.adminPort,
    alpn: ALPN.admin,
    cert: adminCreds.cert,
    key: adminCreds.key,
    verifier: suite.fx.verifier,
    serverPolicy: { kind: 'auth-server' },
    timeoutMs: 10_000,
  });

beforeAll(async () => {
  const issued = await suite.fx.pki.issueAdmin({ name: 'script' });
  adminCreds = { cert: issued.certPath, key: issued.keyPath };
  auth = await startAuth(suite.fx, { admin: { host: '127.0.0.1', port: 0 } });
  closers.push(() => auth.close({ graceMs: 0 }));
  admin = await connectAdmin(flags(), 'test');
  closers.push(() => admin.close());
}, 60_000);

describe('admin port bounds (real connections)', () => {
  it(`takes ${ADMIN_CONNECTION_LIMITS.maxConnections} connections and refuses the next; a freed place is taken again`, async () => {
    const extra: AdminConnection[] = [];
    try {
      // one is `admin` already
      for (let i = 1; i < ADMIN_CONNECTION_LIMITS.maxConnections; i++) extra.push(await connectAdmin(flags(), 'test'));
      await expect(connectAdmin(flags(), 'test')).rejects.toMatchObject({ code: 'server_full' });
      expect((await admin.proto.request('server.status', {})).kind).toBe('auth');
      await extra.pop()!.close();
      // the server counts a closed connection as gone once QUIC's draining period (3 PTO) is over,
      // so a reconnect right after the close may still be told server_full: retry for a while
      let again: AdminConnection | undefined;
      for (let tries = 0; !again; tries++) {
        again = await connectAdmin(flags(), 'test').catch((e: { code?: string }) => {
          if (e.code !== 'server_full' || tries >= 20) throw e;
          return new Promise<undefined>((r) => setTimeout(() => r(undefined), 250));
        });
      }
      extra.push(again);
      expect((await again.proto.request('hosts.list', {})).hosts).toEqual([]);
    } finally {
      await Promise.all(extra.map((a) => a.close()));
    }
  }, 120_000);

  it('a frame announcing more than 1 MiB closes that connection only', async () => {
    const conn = await rawAdmin();
    const stream = conn.openStream();
    const w = stream.writable.getWriter();
    const header = new Uint8Array([0x00, 0x20, 0x00, 0x00]); // 2 MiB announced
    await w.write(new Uint8Array([...header, ...new Uint8Array(1024)]));
    const info = await Promise.race([conn.closed, new Promise((r) => setTimeout(() => r('still open'), 15_000))]);
    expect(info).not.toBe('still open');
    expect((await admin.proto.request('server.status', {})).node).toBe('auth-1');
  }, 30_000);

  it('a connection that never opens its stream is closed after firstStreamTimeoutMs', async () => {
    const conn = await rawAdmin();
    const started = Date.now();
    const info = await Promise.race([
      conn.closed,
      new Promise((r) => setTimeout(() => r('still open'), ADMIN_CONNECTION_LIMITS.firstStreamTimeoutMs + 20_000)),
    ]);
    expect(info).not.toBe('still open');
    expect(Date.now() - started).toBeGreaterThanOrEqual(ADMIN_CONNECTION_LIMITS.firstStreamTimeoutMs - 1000);
    expect((await admin.proto.request('server.status', {})).kind).toBe('auth');
  }, 60_000);

  it('a ban, kick or drain with a malformed body is refused and still audited (refused, bad_request)', async () => {
    // a hand-made client that skips its own checks, as an attacker's would
    const r = adminFamily.requests;
    const loose = {
      ...adminFamily,
      requests: { ...r, 'player.ban': { ...r['player.ban'], request: z.any() }, 'players.list': { ...r['players.list'], request: z.any() } },
    };
    const conn = await rawAdmin();
    const proto = ProtocolConnection.dial(loose as unknown as typeof adminFamily, conn.openStream(), {
      gameVersion: '0.0.0',
      hello: {},
      limits: ADMIN_PROTOCOL_LIMITS,
    });
    try {
      await proto.ready;
      await expect(proto.request('player.ban', { playerId: 'guest:x', reason: '' })).rejects.toMatchObject({ code: 'bad_request' });
      // reads are not audited, malformed or not
      await expect(proto.request('players.list', { limit: 0 })).rejects.toMatchObject({ code: 'bad_request' });
    } finally {
      await proto.close();
    }
    const { entries } = await admin.proto.request('audit.list', {});
    expect(entries.map((e) => [e.action, e.outcome, e.error, e.actor.name])).toEqual([['ban', 'refused', 'bad_request', 'admin-script']]);
    expect(entries[0]!.details.problem).toMatch(/player\.ban/);
  }, 30_000);
});

describe('an audit store that fails', () => {
  it('a kick that was done is answered as done (not internal); a refused one keeps its own code', async () => {
    // the store fails (a database gone away): the actions still happen and are answered for what they did
    const failing = new (class extends MemoryAuditStore {
      override async append(): Promise<never> {
        throw new Error('audit database unreachable');
      }
    })();
    const other = await startAuth(suite.fx, { admin: { host: '127.0.0.1', port: 0 }, audit: failing });
    closers.push(() => other.close({ graceMs: 0 }));
    const op = await connectAdmin({ ...flags(), server: `127.0.0.1:${other.adminPort}` }, 'test');
    closers.push(() => op.close());
    const c = await authClient(suite.fx, other.clientPort);
    closers.push(() => c.close());
    const login = await c.proto.request('account.login', { method: 'guest', displayName: 'Ada' });
    await expect(op.proto.request('player.kick', { playerId: login.accountId, reason: 'AFK' })).resolves.toMatchObject({ kicked: true });
    await until(() => !other.onlinePlayers().some((p) => p.playerId === login.accountId) || undefined, 'the kicked player to be gone');
    // a refused one is still refused for its own reason
    await expect(op.proto.request('player.kick', { playerId: login.accountId })).rejects.toMatchObject({ code: 'admin.unknown_player' });
  }, 60_000);
});
