/**
 * End to end, separate processes: two `iyesmp serve auth` nodes on one PostgreSQL database serve
 * one deployment. A player on node A and a player on node B are matched into one session and its
 * result is recorded once; a node killed with SIGKILL while a player waits in the queue does not
 * strand that player: the other node takes the lead and its ticket, and the player reaches a game.
 * Skipped with a reason when PostgreSQL is unreachable (a failure with IYESMP_REQUIRE_SERVICES=1).
 *
 * Build first: npx tsc -p tsconfig.json && npx vitest run test/e2e/cluster.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuthStores } from '../../src/store/index.js';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';
import {
  authConfigVariant,
  cli,
  configVariant,
  e2eLifecycle,
  freeUdpPort,
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
  d = await makeDeployment();
  procs = new Procs(d.dir);
  return { d, procs };
});

const pgSkip = await postgresUnavailable();
let pgDb: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
beforeAll(async () => {
  if (!pgSkip) pgDb = await createTestDatabase('e2e_cluster');
}, 30_000);
afterAll(async () => {
  await pgDb?.drop();
}, 30_000);

interface Node {
  name: string;
  toml: string;
  clientsPort: number;
  hostsPort: number;
}

/** Two Auth node configs on the test database (each its own name and ports) and a host config linked to both. */
async function twoNodes(tag: string): Promise<{ a: Node; b: Node; hostToml: string }> {
  const nodes: Node[] = [];
  for (const n of ['a', 'b']) {
    const [clientsPort, hostsPort] = [await freeUdpPort(), await freeUdpPort()];
    const name = `auth-${n}`;
    const toml = await authConfigVariant(d, `${tag}-${name}.toml`, [
      ['server', 'name', JSON.stringify(name)],
      ['listen.clients', 'port', clientsPort],
      ['listen.hosts', 'port', hostsPort],
      ['database', 'url', JSON.stringify(pgDb!.url)],
      ['database', 'migrate', 'true'],
    ]);
    nodes.push({ name, toml, clientsPort, hostsPort });
  }
  const hostToml = await configVariant(d, d.hostToml, `${tag}-host.toml`, [['auth', 'servers', JSON.stringify(nodes.map((n) => `127.0.0.1:${n.hostsPort}`))]]);
  return { a: nodes[0]!, b: nodes[1]!, hostToml };
}

const startNode = (n: Node): Proc => procs.node(n.name, [cli, 'serve', 'auth', '--config', n.toml, '--grace-ms', '500']);
const botOn = (n: Node, name: string) => startBot(procs, { ...d, clientsPort: n.clientsPort }, { name, flow: 'matchmake' });

async function resultsFor(sessionId: string): Promise<{ total: number; mine: unknown }> {
  const s = await openAuthStores({ url: pgDb!.url, poolSize: 1 });
  try {
    return { total: await s.results.count(), mine: (await s.results.get(sessionId))?.results };
  } finally {
    await s.close();
  }
}

describe.skipIf(pgSkip !== undefined)('many Auth nodes on one PostgreSQL', () => {
  it(
    'a private lobby made on node A is joined with its code on node B (the lobby, run by A, answers with both members)',
    async () => {
      const { a, b } = await twoNodes('lobby');
      const [authA, authB] = [startNode(a), startNode(b)];
      await waitLine(procs, authA, 'matchmaking leader');
      await waitLine(procs, authB, 'matchmaking leader');
      const player = (n: Node, name: string, steps: object[]) =>
        startScript(procs, name, 'account-client.mjs', { auth: `127.0.0.1:${n.clientsPort}`, ca: d.ca, ...d.client, steps });
      const owner = player(a, 'owner', [
        { do: 'guest', name: 'Owner' },
        { do: 'lobby-create', name: 'cross-node' },
      ]);
      const created = await waitLine(procs, owner, 'lobby-create');
      expect(created).toMatchObject({ ok: true });
      const joiner = player(b, 'joiner', [
        { do: 'guest', name: 'Joiner' },
        { do: 'lobby-join-code', code: String(created.code).toLowerCase() },
      ]);
      const joined = await waitLine(procs, joiner, 'lobby-join-code');
      const ids = [owner.find('guest')[0]!.accountId, joiner.find('guest')[0]!.accountId];
      expect(joined).toMatchObject({ ok: true, lobbyId: created.lobbyId, name: 'cross-node' });
      expect(joined.members).toEqual([...ids].sort());
    },
    T,
  );

  it(
    'a player on node A and one on node B are matched into one session; its result is recorded once',
    async () => {
      const { a, b, hostToml } = await twoNodes('match');
      const [authA, authB] = [startNode(a), startNode(b)];
      await waitLine(procs, authA, 'auth server listening');
      await waitLine(procs, authB, 'auth server listening');
      // both know who runs the matchmaker (one of them)
      const leaderA = await waitLine(procs, authA, 'matchmaking leader');
      const leaderB = await waitLine(procs, authB, 'matchmaking leader');
      expect(leaderA.leader).toBe(leaderB.leader);
      const host = startHost(procs, d, 'host', hostToml);
      await until(procs, 'the host registered with both nodes', () => host.find('registered with the auth server').length >= 2);

      const before = (await resultsFor('none')).total;
      const ann = botOn(a, 'ann');
      const ben = botOn(b, 'ben');
      const [endA, endB] = [await waitLine(procs, ann, 'end', undefined, 90_000), await waitLine(procs, ben, 'end', undefined, 90_000)];
      const sessionId = ann.find('ticket')[0]!.sessionId as string;
      expect(ben.find('ticket')[0]!.sessionId).toBe(sessionId);
      expect(endA.results).toEqual(endB.results);
      await until(procs, 'the result recorded by a node', () =>
        [authA, authB].some((n) => n.find('session results recorded', (l) => l.sessionId === sessionId).length > 0),
      );
      const r = await resultsFor(sessionId);
      expect(r.total).toBe(before + 1);
      expect(r.mine).toBeDefined();
      // recorded by exactly one of the nodes
      expect([authA, authB].flatMap((n) => n.find('session results recorded', (l) => l.sessionId === sessionId))).toHaveLength(1);
    },
    T,
  );

  it(
    'a node killed mid-game: the game goes on, and its result reaches the other node, stored once',
    async () => {
      const { a, b, hostToml } = await twoNodes('midgame');
      const authA = startNode(a);
      await waitLine(procs, authA, 'matchmaking leader', (l) => l.leader === 'auth-a');
      const authB = startNode(b);
      await waitLine(procs, authB, 'matchmaking leader', (l) => l.leader === 'auth-a');
      const host = startHost(procs, d, 'host', hostToml);
      await until(procs, 'the host registered with both nodes', () => host.find('registered with the auth server').length >= 2);
      const before = (await resultsFor('none')).total;
      // matched and joined, then held before the first move
      const bots = [
        startBot(procs, { ...d, clientsPort: a.clientsPort }, { name: 'ann', flow: 'matchmake', hold: true }),
        startBot(procs, { ...d, clientsPort: b.clientsPort }, { name: 'ben', flow: 'matchmake', hold: true }),
      ];
      for (const p of bots) await waitLine(procs, p, 'ready', undefined, 90_000);
      const sessionId = bots[0]!.find('ticket')[0]!.sessionId as string;

      authA.kill('SIGKILL');
      await authA.exited;
      for (const p of bots) p.send('go');
      const ends = [];
      for (const p of bots) ends.push(await waitLine(procs, p, 'end', undefined, 90_000));
      expect(ends[0]!.reason).toBe('completed');
      expect(ends[1]!.results).toEqual(ends[0]!.results);
      await waitLine(procs, authB, 'session results recorded', (l) => l.sessionId === sessionId, 60_000);
      const r = await resultsFor(sessionId);
      expect(r.mine).toBeDefined();
      expect(r.total).toBe(before + 1);
      const s = await openAuthStores({ url: pgDb!.url, poolSize: 1 });
      try {
        expect((await s.sessions.get(sessionId))?.state).toBe('ended');
      } finally {
        await s.close();
      }
    },
    T,
  );

  it(
    'the leading node killed while a player waits: the other node takes the lead and the ticket, and the player reaches a game',
    async () => {
      const { a, b, hostToml } = await twoNodes('failover');
      // A starts first, so A leads
      const authA = startNode(a);
      await waitLine(procs, authA, 'matchmaking leader', (l) => l.leader === 'auth-a');
      const authB = startNode(b);
      await waitLine(procs, authB, 'matchmaking leader', (l) => l.leader === 'auth-a');
      const host = startHost(procs, d, 'host', hostToml);
      await until(procs, 'the host registered with both nodes', () => host.find('registered with the auth server').length >= 2);

      // a player of B queues: its ticket is held by A, the leader
      const wes = botOn(b, 'wes');
      await waitLine(procs, wes, 'matchmaking', (l) => l.phase === 'queued');

      authA.kill('SIGKILL');
      await authA.exited;
      await waitLine(procs, authB, 'matchmaking leader', (l) => l.leader === 'auth-b', 30_000);
      await waitLine(procs, authB, 'tickets handed to the new matchmaking leader', undefined, 30_000);
      // the dead leader's ticket rows expire; the ticket lives on at B under the same id
      await waitLine(procs, authB, "the previous leader's tickets expired", (l) => l.previous === 'auth-a', 30_000);
      const s = await openAuthStores({ url: pgDb!.url, poolSize: 1 });
      try {
        expect(await s.tickets.list({ node: 'auth-a' })).toEqual([]);
        expect((await s.tickets.list({ node: 'auth-b' })).map((t) => t.ticket.id)).toEqual([wes.find('matchmaking', (l) => l.phase === 'queued')[0]!.ticketId]);
      } finally {
        await s.close();
      }

      // a second player arrives (on the surviving node): both play
      const xia = botOn(b, 'xia');
      const [endW, endX] = [await waitLine(procs, wes, 'end', undefined, 90_000), await waitLine(procs, xia, 'end', undefined, 90_000)];
      expect(endW.results).toEqual(endX.results);
      const sessionId = wes.find('ticket')[0]!.sessionId as string;
      expect(xia.find('ticket')[0]!.sessionId).toBe(sessionId);
      await waitLine(procs, authB, 'session results recorded', (l) => l.sessionId === sessionId);
      expect((await resultsFor(sessionId)).mine).toBeDefined();
    },
    T,
  );
});
