/**
 * The login sent with the hello (connectToAuth's `login`) against a real Auth server: it logs in
 * with one flight; a refused login or a refused hello leaves nobody logged in; a client that logs in
 * after the welcome (as every older client does) still logs in on the same server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions } from '../../src/client/index.js';
import { AuthServer } from '../../src/auth/server.js';
import { AccountService, GuestProvider, MemoryAccountStore, PasswordProvider } from '../../src/auth/accounts/index.js';
import { gameVersionRange } from '../../src/protocol/index.js';
import { authAddress, authOptions, clientIdentity, closeLive, devPki, quickAuth, silent, type DevPki } from '../support/live-servers.js';
import { failureOf } from '../support/assert.js';
import { pollUntil } from '../support/wait.js';

const T = 60_000;
let dev: DevPki;
let auth: AuthServer;
let identity: { cert: string; key: string };
const logins: { method: string; outcome: string }[] = [];
const open: AuthClient[] = [];

beforeAll(async () => {
  dev = await devPki('iyesmp-login-pipelined-');
  identity = await clientIdentity(dev.pki);
  const passwords = new PasswordProvider({ store: new MemoryAccountStore(), scrypt: { ln: 10, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } });
  await passwords.register({ username: 'ada', password: 'correct horse battery' }, { now: Date.now() });
  auth = await AuthServer.start(
    await authOptions(dev.pki, {
      accounts: new AccountService({ providers: [new GuestProvider(), passwords] }),
      gameVersion: '1.0.0',
      acceptGameVersion: gameVersionRange({ min: '1.0.0' }),
      ...quickAuth,
      logger: silent,
    }),
  );
  auth.on('login', (l) => logins.push(l));
}, 120_000);

afterAll(async () => {
  await closeLive(open, [auth], dev);
}, 30_000);

function options(over: Partial<ConnectOptions> = {}): ConnectOptions {
  return { ...authAddress(auth.clientPort, identity, dev.masterPem), gameVersion: '1.0.0', connectRetry: false, ...over };
}
async function connect(over: Partial<ConnectOptions> = {}): Promise<AuthClient> {
  const c = await connectToAuth(options(over));
  open.push(c);
  return c;
}
const online = (name: string) => auth.onlinePlayers().some((p) => p.displayName === name);

describe('login with the hello', () => {
  it(
    'returns a logged-in client, the server has the player online',
    async () => {
      const c = await connect({ login: { method: 'guest', displayName: 'Pipelined' } });
      expect(c.account).toMatchObject({ displayName: 'Pipelined', isNew: false });
      expect(online('Pipelined')).toBe(true);
      // the connection is an ordinary one from there on
      await expect(c.lobbies.list()).resolves.toMatchObject({ lobbies: [] });
      await expect(c.login({ method: 'guest' })).rejects.toMatchObject({ code: 'already_logged_in' });
    },
    T,
  );

  it(
    'a password login works too (its answer follows the welcome on its own)',
    async () => {
      const c = await connect({ login: { method: 'password', username: 'ada', password: 'correct horse battery' } });
      expect(c.account?.displayName).toBe('ada');
    },
    T,
  );

  it(
    'a refused login rejects the connect with the error login() gives, and closes the connection',
    async () => {
      const before = auth.playersOnline;
      const e = await failureOf(connect({ login: { method: 'password', username: 'ada', password: 'wrong-password' } }), 'the login should be refused');
      expect(e.kind).toBe('refused');
      expect(e.message).toMatch(/^login refused: /);
      expect(auth.playersOnline).toBe(before);
      await pollUntil(() => auth.clientServer.stats().connections === open.length || undefined, 'the refused connection to close', 10_000, 50);
    },
    T,
  );

  it(
    'a refused hello never runs the login that came with it',
    async () => {
      const n = logins.length;
      const e = await failureOf(connect({ gameVersion: '0.9.0', login: { method: 'guest', displayName: 'TooOld' } }), 'the hello should be refused');
      expect(e.code).toBe('version_too_old');
      // give a login that ran anyway the time to be reported
      await new Promise((r) => setTimeout(r, 200));
      expect(logins.slice(n)).toEqual([]);
      expect(online('TooOld')).toBe(false);
    },
    T,
  );

  it(
    'a client that logs in after the welcome (older clients) still logs in',
    async () => {
      const c = await connect();
      expect(c.account).toBeUndefined();
      await expect(c.login({ method: 'guest', displayName: 'AfterWelcome' })).resolves.toMatchObject({ displayName: 'AfterWelcome' });
      expect(online('AfterWelcome')).toBe(true);
    },
    T,
  );
});
