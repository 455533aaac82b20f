// The Auth nodes' bus over PostgreSQL (src/store/pg-cluster.ts): one leader at a time, taken over
// when its connection dies; messages reach their node; a NOTIFY without the nodes' MAC (any other
// database user can send one) is dropped.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterBus, ClusterMessage } from '../../src/auth/cluster.js';
import { openPgCluster } from '../../src/store/pg-cluster.js';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';

const pgSkip = await postgresUnavailable();
const logger = pino({ level: 'silent' });
const secret = randomBytes(32);
const waitFor = async (what: string, fn: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(pgSkip !== undefined)('the PostgreSQL cluster bus', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const buses: ClusterBus[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('pg_cluster');
  }, 30_000);
  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    await db?.drop();
  }, 30_000);
  const open = async (node: string, s = secret) => {
    const b = await openPgCluster({ url: db.url, node, logger, secret: s, lockRetryMs: 200, announceMs: 300 });
    buses.push(b);
    return b;
  };

  it('one leader; messages reach their node; a forged NOTIFY or another secret is dropped; a closed leader is replaced', async () => {
    const a = await open('a');
    const b = await open('b');
    await waitFor('b to learn the leader', () => b.leader() === 'a');
    expect(a.leader()).toBe('a');
    const got: Array<[string, ClusterMessage]> = [];
    b.onMessage((from, msg) => got.push([from, msg]));
    await a.send('b', { t: 'kick', playerId: 'p', code: 'x', reason: 'to b' });
    await a.send('c', { t: 'kick', playerId: 'p', code: 'x', reason: 'to c' });
    await waitFor('the message to b', () => got.length > 0);
    // forged: a plain NOTIFY, and a node with another secret
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`select pg_notify('iyesmp_cluster', $1)`, [
      JSON.stringify({ from: 'a', to: 'b', at: Date.now(), msg: { t: 'kick', playerId: 'p', code: 'x', reason: 'forged' } }),
    ]);
    await c.end();
    const intruder = await open('z', randomBytes(32));
    await intruder.send('b', { t: 'kick', playerId: 'p', code: 'x', reason: 'intruder' });
    await new Promise((r) => setTimeout(r, 500));
    await intruder.close();
    expect(got).toEqual([['a', { t: 'kick', playerId: 'p', code: 'x', reason: 'to b' }]]);
    // the leader goes: its lock with it; b takes over
    const changes: Array<string | undefined> = [];
    b.onLeaderChange((l) => changes.push(l));
    await a.close();
    await waitFor('b to lead', () => b.leader() === 'b');
    expect(changes.at(-1)).toBe('b');
  }, 30_000);
});
