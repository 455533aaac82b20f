/**
 * End to end, separate processes: the Auth server's state outlives the process. An Auth server
 * killed with SIGKILL and started again on the same database keeps every account, ban, rating,
 * lobby and result; a result a host sends three times is stored once. The same test runs on the
 * embedded engine (the default: a folder beside the config) and on PostgreSQL (`database.url`,
 * skipped with a reason when the server is unreachable; a failure with IYESMP_REQUIRE_SERVICES=1).
 *
 * Build first: npx tsc -p tsconfig.json && npx vitest run test/e2e/store.test.ts
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuthStores, type SqlAuthStores } from '../../src/store/index.js';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';
import {
  authConfigVariant,
  cli,
  e2eLifecycle,
  makeDeployment,
  Procs,
  startBot,
  startHost,
  startScript,
  until,
  waitLine,
  type Deployment,
  type Proc,
} from './harness.js';

const T = 240_000;
let d: Deployment;
let procs: Procs;

e2eLifecycle(async () => {
  d = await makeDeployment({
    auth: [
      ['accounts', 'mode', '"password"'],
      ['accounts.password', 'allow_registration', 'true'],
    ],
  });
  procs = new Procs(d.dir);
  return { d, procs };
});

const pgSkip = await postgresUnavailable();
let pgDb: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
beforeAll(async () => {
  if (!pgSkip) pgDb = await createTestDatabase('e2e_store');
}, 30_000);
afterAll(async () => {
  await pgDb?.drop();
}, 30_000);

const startAuthOn = (toml: string, name: string): Proc => procs.node(name, [cli, 'serve', 'auth', '--config', toml, '--grace-ms', '500']);

function player(name: string, steps: object[]): Proc {
  return startScript(procs, name, 'account-client.mjs', { auth: `127.0.0.1:${d.clientsPort}`, ca: d.ca, ...d.client, steps });
}

/** The step lines of a scripted player, once it printed `done`. */
async function stepsOf(p: Proc): Promise<Record<string, Record<string, unknown>>> {
  await waitLine(procs, p, 'done');
  return Object.fromEntries(p.lines.filter((l) => l.ev !== 'done').map((l) => [l.ev!, l]));
}

async function durability(toml: string, open: () => Promise<SqlAuthStores>): Promise<void> {
  const auth1 = startAuthOn(toml, 'auth-1');
  await waitLine(procs, auth1, 'auth server listening');
  const host = startHost(procs, d);
  await waitLine(procs, host, 'registered with the auth server');

  // accounts, a private lobby held by its owner, a banned account to be
  const alice = player('alice', [
    { do: 'register', username: 'alice', password: 'correct horse battery' },
    { do: 'lobby-create', name: 'alice lobby' },
  ]);
  const a = await stepsOf(alice);
  expect(a.register).toMatchObject({ ok: true });
  expect(a['lobby-create']).toMatchObject({ ok: true, members: [a.register!.accountId] });
  const code = a['lobby-create']!.code as string;
  const mallory = player('mallory', [{ do: 'register', username: 'mallory', password: 'mallory password' }]);
  const malloryId = (await stepsOf(mallory)).register!.accountId as string;

  // a game to its result, between two registered players
  const bots = ['ann', 'ben'].map((n) => startBot(procs, d, { name: n, flow: 'matchmake', register: { username: n, password: `${n} password 123` } }));
  for (const b of bots) await waitLine(procs, b, 'end', undefined, 90_000);
  const sessionId = bots[0]!.find('ticket')[0]!.sessionId as string;
  const recorded = await waitLine(procs, auth1, 'session results recorded', (l) => l.sessionId === sessionId);
  expect(recorded.players).toBe(2);

  // a ban and a rating, written by another process sharing the database (an admin tool would)
  const side = await open();
  try {
    await side.bans.add({ target: { playerId: malloryId }, reason: 'griefing', createdAt: Date.now(), expiresAt: null, by: 'test' });
    await side.ratings.set(a.register!.accountId as string, 'tictactoe', 1234, Date.now());
  } finally {
    await side.close();
  }

  // SIGKILL: no shutdown, no flush; then the same config again
  auth1.kill('SIGKILL');
  await auth1.exited;
  alice.kill('SIGKILL');
  const auth2 = startAuthOn(toml, 'auth-2');
  await waitLine(procs, auth2, 'auth server listening');
  await until(procs, 'the host back on the new process', () => host.find('registered with the auth server').length >= 2, 60_000);

  const again = player('alice-again', [{ do: 'login', username: 'alice', password: 'correct horse battery' }]);
  expect((await stepsOf(again)).login).toMatchObject({ ok: true, accountId: a.register!.accountId });
  const wrong = player('alice-wrong', [{ do: 'login', username: 'alice', password: 'not her password' }]);
  expect((await stepsOf(wrong)).login).toMatchObject({ ok: false });
  const banned = player('mallory-again', [{ do: 'login', username: 'mallory', password: 'mallory password' }]);
  expect((await stepsOf(banned)).login).toMatchObject({ ok: false, code: 'auth.banned' });
  // the lobby came back with its code and its member; a new player joins it by the code
  const carol = player('carol', [
    { do: 'register', username: 'carol', password: 'carol password 1' },
    { do: 'lobby-join-code', code },
  ]);
  const c = await stepsOf(carol);
  expect(c['lobby-join-code']).toMatchObject({ ok: true, lobbyId: a['lobby-create']!.lobbyId, name: 'alice lobby' });
  expect(c['lobby-join-code']!.members).toEqual([a.register!.accountId, c.register!.accountId].sort());

  // the host resends the session's results three times (a lost acknowledgement): stored once
  host.kill('SIGKILL');
  await host.exited;
  const hostCert = { cert: path.join(d.dir, 'pki/certs/host-1.pem'), key: path.join(d.dir, 'pki/keys/host-1.key.pem') };
  const resender = startScript(procs, 'resender', 'resender.mjs', {
    auth: `127.0.0.1:${d.hostsPort}`,
    ca: d.ca,
    ...hostCert,
    name: 'host-1',
    sessionId,
    times: 3,
    results: [{ playerId: 'forged', outcome: 'win', score: 999 }],
  });
  await until(procs, 'three resends answered', () => resender.find('results').length === 3, 60_000);
  expect(resender.find('results').map((l) => l.outcome)).toEqual(['accepted', 'accepted', 'accepted']);

  const check = await open();
  try {
    expect(await check.results.count()).toBe(1);
    const stored = await check.results.get(sessionId);
    // the first report's results, not the resends'
    expect(JSON.stringify(stored?.results)).not.toContain('forged');
    expect((await check.sessions.get(sessionId))?.state).toBe('ended');
    expect(await check.ratings.get(a.register!.accountId as string, 'tictactoe')).toBe(1234);
    // every hand-off's session certificate is in the log, under the account it was minted for
    const certs = await check.certs.list({ sessionId });
    expect(certs.map((c) => c.seat).sort()).toEqual(bots.map((b) => b.find('ticket')[0]!.playerId as string).sort());
    for (const c of certs) expect(c.playerId).toBe(c.seat.replace('.', ':'));
    expect(certs.every((c) => c.playerId.startsWith('password:'))).toBe(true);
  } finally {
    await check.close();
  }
  expect(auth2.find('session results recorded')).toHaveLength(0);
}

describe('the Auth state survives SIGKILL', () => {
  it(
    'embedded engine: accounts, bans, ratings, lobbies and results kept; a result sent three times stored once',
    async () => {
      await durability(d.authToml, () => openAuthStores({ path: path.join(d.dir, 'auth-data') }));
    },
    T,
  );

  it.skipIf(pgSkip !== undefined)(
    'PostgreSQL: the same, with database.url',
    async () => {
      const toml = await authConfigVariant(d, 'auth-pg.toml', [
        ['database', 'url', JSON.stringify(pgDb!.url)],
        ['database', 'migrate', 'true'],
      ]);
      await durability(toml, () => openAuthStores({ url: pgDb!.url, poolSize: 2 }));
    },
    T,
  );
});
