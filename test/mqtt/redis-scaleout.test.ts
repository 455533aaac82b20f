/**
 * Scale-out: two embedded aedes nodes share the local Redis (mqemitter-redis for messages,
 * aedes-persistence-redis for retained messages and subscriptions), under a key and channel prefix
 * of this test's own, removed afterwards. The host runs node A; player one plays on node A and
 * player two on node B, and they finish one tic-tac-toe game. Grants travel on the control topic,
 * so node B enforces the room's ACL too; they are also kept in Redis, so a node started after the
 * grants (node C) admits the player it serves. A kick reaches every node: the player is disconnected
 * where it is and refused everywhere. Skips when Redis is unreachable (fails under
 * IYESMP_REQUIRE_SERVICES=1).
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect as mqttConnect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions } from '../../src/client/index.js';
import { AuthServer } from '../../src/auth/server.js';
import { HostServer } from '../../src/host/server.js';
import { EmbeddedBroker } from '../../src/mqtt/broker.js';
import { redisGrantStore, redisSharedState } from '../../src/mqtt/redis.js';
import { brokerClientIdOf, topicIdOf } from '../../src/mqtt/acl.js';
import { mqttDriverOf } from '../../src/client/mqtt-host.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { authAddress, authOptions, closeLive, devPki, hostOptions, quickAuth, quickHost, silent, type DevPki } from '../support/live-servers.js';
import { missingService } from '../support/require-service.js';
import { pollUntil } from '../support/wait.js';

const require = createRequire(import.meta.url);
// CommonJS packages
const Redis = require('ioredis') as typeof import('ioredis').default;

const REDIS = { host: '127.0.0.1', port: 6379 };
const PREFIX = `iyesmp-test-${randomBytes(6).toString('hex')}:`;

async function redisProblem(): Promise<string | undefined> {
  const r = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (e) {
    return `Redis at ${REDIS.host}:${REDIS.port}: ${(e as Error).message}`;
  } finally {
    r.disconnect();
  }
}
const skip = missingService('redis', await redisProblem());

let dev: DevPki;
let auth: AuthServer;
let host: HostServer<TicTacToeExt>;
let nodeB: EmbeddedBroker;
const late: EmbeddedBroker[] = [];
let client: { cert: string; key: string };
const open: AuthClient<TicTacToeExt>[] = [];
const emitters: { close(cb: () => void): void }[] = [];

/** Each node gets its own emitter and persistence over the shared Redis, under this test's prefix: what `redis_url` configures. */
function shared() {
  const state = redisSharedState(`redis://${REDIS.host}:${REDIS.port}`, PREFIX);
  emitters.push(state.mq as never);
  return state;
}

beforeAll(async () => {
  if (skip) return;
  dev = await devPki('iyesmp-redis-', new Date(Date.now() - 86_400_000));
  const pki = dev.pki;
  const c = pki.list().find((e) => e.role === 'client')!;
  client = { cert: await pki.chainPem(c.name), key: pki.path(c.keyFile!) };
  const verifier = await pki.verifier();
  auth = await AuthServer.start(
    await authOptions(pki, { verifier, gameVersion: GAME_VERSION, modeTransports: { [MODE]: 'mqtt' }, ...quickAuth, logger: silent }),
  );
  host = await HostServer.start<TicTacToeExt>(
    await hostOptions(pki, auth.hostPort, {
      verifier,
      ...quickHost,
      version: GAME_VERSION,
      logger: silent,
      tlsName: 'localhost',
      // a session's kicks outlive its end by this much: room for the kick test to try every node
      mqtt: { broker: 'embedded', port: 0, game: 'tictactoe', endGraceMs: 30_000, embedded: { id: 'node-a', ...shared() } },
    }),
    ticTacToeHostGame,
  );
  nodeB = await startNode('node-b');
  await pollUntil(() => auth.connectedHosts().includes('host-1'), 'the host to register');
}, 120_000);

afterAll(async () => {
  if (skip) return;
  await closeLive(open, [host, auth], undefined);
  await nodeB?.close();
  for (const n of late) await n.close();
  for (const e of emitters) await new Promise<void>((r) => e.close(() => r()));
  // leave nothing of this test in the shared Redis
  const r = new Redis(REDIS);
  const keys = await r.keys(`${PREFIX}*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
  await dev?.cleanup();
}, 30_000);

/** Another broker node on the shared Redis (what `serve broker` with `redis_url` starts). */
async function startNode(id: string): Promise<EmbeddedBroker> {
  return EmbeddedBroker.start({
    id,
    cert: await dev.pki.chainPem('host-1'),
    key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8'),
    verifier: await dev.pki.verifier(),
    publicHost: 'localhost',
    ...shared(),
  });
}

async function pair() {
  const [a, b] = await Promise.all([connectToAuth<TicTacToeExt>(options()), connectToAuth<TicTacToeExt>(options())]);
  open.push(a, b);
  await Promise.all([a.login({ method: 'guest', displayName: 'ada' }), b.login({ method: 'guest', displayName: 'bob' })]);
  const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
  return { a, b, ta, tb };
}

/** Connects with a seat's session certificate; resolves whether the broker took it. */
async function admitted(node: EmbeddedBroker, creds: { certPem: string; keyPem: string }, clientId: string): Promise<boolean> {
  const c = mqttConnect(node.url(), { cert: creds.certPem, key: creds.keyPem, ca: await readFile(dev.masterPem, 'utf8'), clientId, reconnectPeriod: 0 });
  c.on('error', () => undefined);
  const ok = await new Promise<boolean>((r) => {
    c.once('connect', () => r(true));
    c.once('close', () => r(false));
  });
  await c.endAsync(true);
  return ok;
}

function options(): ConnectOptions<TicTacToeExt> {
  return { ...authAddress(auth.clientPort, client, dev.masterPem), gameVersion: GAME_VERSION, extSchema: TicTacToeExt };
}

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

describe.skipIf(skip !== undefined)('two aedes nodes on Redis', () => {
  it('a player on node A plays a player on node B to the end; node B enforces the grants', async () => {
    const [a, b] = await Promise.all([connectToAuth<TicTacToeExt>(options()), connectToAuth<TicTacToeExt>(options())]);
    open.push(a, b);
    await Promise.all([a.login({ method: 'guest', displayName: 'ada' }), b.login({ method: 'guest', displayName: 'bob' })]);
    const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
    // the second player is sent to node B
    tb.mqtt!.brokerUrl = nodeB.url();
    expect(tb.mqtt!.brokerUrl).not.toBe(ta.mqtt!.brokerUrl);
    const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
    const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
    for (const e of ends) expect(e.reason).toBe('completed');
    const final = ends[0]!.ext;
    expect(final?.t === 'state' ? final.board.filter((x) => x !== null).length : -1).toBe(9);

    // node B refuses a stranger's subscriptions like node A
    const m = await (await dev.pki.sessionMinter()).mintWithNewKey({ sessionId: 'other', playerId: 'eve' });
    const eve = mqttConnect(nodeB.url(), {
      cert: m.certPem + m.issuerPem,
      key: m.privateKeyPem,
      ca: await readFile(dev.masterPem, 'utf8'),
      clientId: brokerClientIdOf('other', 'eve'),
      reconnectPeriod: 0,
    });
    await new Promise<void>((r, j) => {
      eve.once('connect', () => r());
      eve.once('error', j);
    });
    const granted = await new Promise<number>((r) => eve.subscribe('game/#', { qos: 1 }, (e, g) => r(e ? 128 : (g?.[0]?.qos ?? 128))));
    expect(granted).toBe(128);
    await eve.endAsync();
  }, 90_000);

  it('a node started after the grants loads them from Redis: the player it serves plays to the end', async () => {
    const { a, b, ta, tb } = await pair();
    // the room's grants are out (node A applied them) before node C exists
    await pollUntil(() => host.broker!.acl.grantsOf(ta.sessionId).length === 2, 'the grants on node A');
    const nodeC = await startNode('node-c');
    late.push(nodeC);
    expect(nodeC.acl.grantsOf(ta.sessionId).sort()).toEqual([ta.playerId, tb.playerId].sort());
    tb.mqtt!.brokerUrl = nodeC.url();
    const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
    const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
    for (const e of ends) expect(e.reason).toBe('completed');
  }, 90_000);

  it('a kick reaches every node: the player on node B is disconnected, and refused there, on node A and on a node started later', async () => {
    const { a, b, ta, tb } = await pair();
    tb.mqtt!.brokerUrl = nodeB.url();
    const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
    const endOfA = playTicTacToe(ga, bot);
    void playTicTacToe(gb, bot).catch(() => undefined);
    const room = host.mqtt!.room(ta.sessionId)!;
    await pollUntil(() => room.acl.roundTopic, 'the first round');
    const link = mqttDriverOf(gb)!.link;
    expect(host.kickPlayer(tb.playerId, 'cheating')).toEqual([tb.sessionId]);
    await pollUntil(() => !link.connected, 'the kicked client to be disconnected', 20_000);
    const end = await endOfA;
    expect(end.results.find((r) => r.playerId === ta.playerId)?.outcome).toBe('win');
    expect(room.removed(topicIdOf(tb.playerId))).toBe(true);
    const seat = brokerClientIdOf(tb.sessionId, tb.playerId);
    const nodeD = await startNode('node-d');
    late.push(nodeD);
    expect(nodeB.acl.isKicked(tb.sessionId, tb.playerId)).toBe(true);
    expect(nodeD.acl.isKicked(tb.sessionId, tb.playerId)).toBe(true);
    for (const node of [nodeB, host.broker!, nodeD]) expect(await admitted(node, tb.credentials!, seat)).toBe(false);
  }, 90_000);

  it("the grant store: a kick outlasts a later grant of the seat; the session's clear forgets it all", async () => {
    const store = redisGrantStore(`redis://${REDIS.host}:${REDIS.port}`, `${PREFIX}store:`);
    try {
      const grant = { subscribe: ['game/t/r/ctl'], publish: [], retain: [] };
      await store.save([
        { op: 'grant', sessionId: 's1', playerId: 'p1', grant },
        { op: 'grant', sessionId: 's1', playerId: 'p2', grant },
      ]);
      await store.save([{ op: 'kick', sessionId: 's1', playerId: 'p2' }]);
      await store.save([{ op: 'grant', sessionId: 's1', playerId: 'p2', grant }]);
      const sorted = (await store.load()).sort((x, y) => ('playerId' in x && 'playerId' in y ? x.playerId.localeCompare(y.playerId) : 0));
      expect(sorted).toEqual([
        { op: 'grant', sessionId: 's1', playerId: 'p1', grant },
        { op: 'kick', sessionId: 's1', playerId: 'p2' },
      ]);
      await store.save([{ op: 'clear', sessionId: 's1' }]);
      expect(await store.load()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
