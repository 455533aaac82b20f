/**
 * Turn-based tic-tac-toe over MQTT, end to end: real Auth and Host servers on loopback, the host's
 * embedded broker (aedes over mutual TLS), two bots that log in, matchmake a mode whose transport is
 * mqtt, take the hand-off (broker URL, room, pinned host key, session cert), join through the same
 * `joinHost` as QUIC and play the example's unchanged HostGame to a recorded result. Also: a client
 * with a valid session cert of another session reads nothing of the room; a client killed mid-game
 * reconnects and resyncs; nothing of the session stays retained on the broker.
 */
import { readFile } from 'node:fs/promises';
import { connect as mqttConnect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions } from '../../src/client/index.js';
import { mqttDriverOf } from '../../src/client/mqtt-host.js';
import { AuthServer } from '../../src/auth/server.js';
import { HostServer } from '../../src/host/server.js';
import { brokerClientIdOf, topicIdOf } from '../../src/mqtt/acl.js';
import { connectAdmin, type AdminConnection } from '../../src/cli/admin-client.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { authAddress, authOptions, closeLive, devPki, hostOptions, quickAuth, quickHost, silent, type DevPki } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

const T = 90_000;
let dev: DevPki;
let auth: AuthServer;
let host: HostServer<TicTacToeExt>;
let client: { cert: string; key: string };
let admin: AdminConnection;
const ended: SessionRecord[] = [];
const open: AuthClient<TicTacToeExt>[] = [];

beforeAll(async () => {
  dev = await devPki('iyesmp-mqtt-e2e-', new Date(Date.now() - 86_400_000));
  const pki = dev.pki;
  const c = pki.list().find((e) => e.role === 'client')!;
  client = { cert: await pki.chainPem(c.name), key: pki.path(c.keyFile!) };
  const verifier = await pki.verifier();
  auth = await AuthServer.start(
    await authOptions(pki, { verifier, gameVersion: GAME_VERSION, modeTransports: { [MODE]: 'mqtt' }, ...quickAuth, logger: silent }),
  );
  auth.on('session-ended', (r) => ended.push(r));
  host = await HostServer.start<TicTacToeExt>(
    await hostOptions(pki, auth.hostPort, {
      verifier,
      ...quickHost,
      version: GAME_VERSION,
      logger: silent,
      tlsName: 'localhost',
      admin: { host: '127.0.0.1', port: 0 },
      // a session's kicks outlive its end by this much: room for the kick test to try again
      mqtt: { broker: 'embedded', port: 0, caPem: await readFile(dev.masterPem, 'utf8'), game: 'tictactoe', endGraceMs: 30_000 },
    }),
    ticTacToeHostGame,
  );
  await pollUntil(() => auth.connectedHosts().includes('host-1'), 'the host to register');
  const ops = await pki.issueAdmin({ name: 'ops' });
  admin = await connectAdmin({ server: `127.0.0.1:${host.adminPort}`, cert: ops.certPath, key: ops.keyPath, trust: pki.dir, timeout: '5000' }, 'test');
}, 120_000);

afterAll(async () => {
  await admin?.close();
  await closeLive(open, [host, auth], dev);
}, 30_000);

function options(): ConnectOptions<TicTacToeExt> {
  return { ...authAddress(auth.clientPort, client, dev.masterPem), gameVersion: GAME_VERSION, extSchema: TicTacToeExt };
}

async function pair() {
  const [a, b] = await Promise.all([connectToAuth<TicTacToeExt>(options()), connectToAuth<TicTacToeExt>(options())]);
  open.push(a, b);
  await Promise.all([a.login({ method: 'guest', displayName: 'ada' }), b.login({ method: 'guest', displayName: 'bob' })]);
  const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
  return { a, b, ta, tb };
}

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

/** Every retained message under the game prefix, read by the host's own identity (full access). */
async function retainedUnder(prefix: string): Promise<string[]> {
  const hostCert = { cert: await dev.pki.chainPem('host-1'), key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8') };
  const c = mqttConnect(host.broker!.url().replace('127.0.0.1', 'localhost'), {
    ...hostCert,
    ca: await readFile(dev.masterPem, 'utf8'),
    clientId: `probe-${Math.random()}`,
    reconnectPeriod: 0,
  });
  const topics: string[] = [];
  c.on('message', (t, p, pk) => {
    if (pk.retain && p.length > 0) topics.push(t);
  });
  await new Promise<void>((r, j) => {
    c.once('connect', () => r());
    c.once('error', j);
  });
  await c.subscribeAsync(`${prefix}/#`, { qos: 1 });
  await new Promise((r) => setTimeout(r, 500));
  await c.endAsync();
  return topics;
}

describe('tic-tac-toe over MQTT (embedded broker)', () => {
  it(
    'two bots matchmake an mqtt mode, join with the hand-off and play the unchanged HostGame to a recorded result; nothing stays retained',
    async () => {
      const { a, b, ta, tb } = await pair();
      expect(ta.transport).toBe('mqtt');
      expect(ta.mqtt?.hostKey?.length).toBe(32);
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      expect(ga.transport).toBe('mqtt');
      const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      for (const e of ends) expect(e.reason).toBe('completed');
      expect(ends[0]!.results.every((r) => r.outcome === 'draw')).toBe(true);
      const final = ends[0]!.ext;
      expect(final?.t === 'state' ? final.board.filter((c) => c !== null).length : -1).toBe(9);
      const record = await pollUntil(() => ended.find((r) => r.id === ta.sessionId), 'the auth server to record the results');
      expect(record.state).toBe('ended');
      await pollUntil(() => ga.closed && gb.closed, 'the sessions to close');
      await new Promise((r) => setTimeout(r, 300));
      expect(await retainedUnder('game')).toEqual([]);
    },
    T,
  );

  it(
    'a session cert of another session can neither subscribe to the wildcard nor read the round topic',
    async () => {
      const { a, b, ta, tb } = await pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      // listening from the start: the host sends the first state as the game begins
      const results = Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      const room = host.mqtt!.room(ta.sessionId)!;
      await pollUntil(() => room.acl.roundTopic, 'the first round');
      const round = room.acl.roundTopic!;
      const m = await (await dev.pki.sessionMinter()).mintWithNewKey({ sessionId: 'other-session', playerId: 'eve' });
      const eve = mqttConnect(host.broker!.url().replace('127.0.0.1', 'localhost'), {
        cert: m.certPem + m.issuerPem,
        key: m.privateKeyPem,
        ca: await readFile(dev.masterPem, 'utf8'),
        clientId: brokerClientIdOf('other-session', 'eve'),
        reconnectPeriod: 0,
      });
      await new Promise<void>((r, j) => {
        eve.once('connect', () => r());
        eve.once('error', j);
      });
      const seen: string[] = [];
      eve.on('message', (t) => seen.push(t));
      const sub = (f: string) => new Promise<boolean>((r) => eve.subscribe(f, { qos: 1 }, (e, g) => r(!e && g?.[0]?.qos !== 128)));
      expect(await sub('game/#')).toBe(false);
      expect(await sub(round)).toBe(false);
      expect(await sub(`${room.acl.base}/ctl`)).toBe(false);
      const ends = await results;
      expect(ends[0]!.reason).toBe('completed');
      expect(seen).toEqual([]);
      await eve.endAsync();
    },
    T,
  );

  it(
    'a client killed mid-game reconnects, resyncs the verified log and finishes the game',
    async () => {
      const { a, b, ta, tb } = await pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      let killed = false;
      let moves = 0;
      const killer = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => {
        moves++;
        if (moves === 2 && !killed) {
          killed = true;
          // the socket goes without DISCONNECT: the broker publishes the will, the client reconnects
          mqttDriverOf(ga)!.link.destroy();
        }
        return bot(state, mark);
      };
      const ends = await Promise.all([playTicTacToe(ga, killer), playTicTacToe(gb, bot)]);
      expect(killed).toBe(true);
      expect(ends.map((e) => e.reason)).toEqual(['completed', 'completed']);
      expect(mqttDriverOf(ga)!.reconnects).toBeGreaterThan(0);
    },
    T,
  );

  it(
    'an admin kick on the Host removes an MQTT player: its client is disconnected, its reconnect refused, and the game hears it left',
    async () => {
      const { a, b, ta, tb } = await pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      const endOfB = playTicTacToe(gb, bot);
      // the kicked player's own game never finishes: it is not awaited
      void playTicTacToe(ga, bot).catch(() => undefined);
      const room = host.mqtt!.room(ta.sessionId)!;
      await pollUntil(() => room.acl.roundTopic, 'the first round');
      const link = mqttDriverOf(ga)!.link;
      expect(link.connected).toBe(true);

      expect(await admin.proto.request('player.kick', { playerId: ta.playerId, reason: 'cheating' })).toMatchObject({ kicked: true });
      await pollUntil(() => !link.connected, 'the kicked client to be disconnected', 20_000);
      // the game heard the seat leave: tic-tac-toe scores it as abandoned, the other player wins
      const end = await endOfB;
      expect(end.reason).toBe('completed');
      expect(end.results.find((r) => r.playerId === ta.playerId)?.outcome).toBe('abandoned');
      expect(end.results.find((r) => r.playerId === tb.playerId)?.outcome).toBe('win');
      expect(room.removed(topicIdOf(ta.playerId))).toBe(true);

      // its session certificate is still valid, but the broker refuses the seat
      expect(host.broker!.acl.isKicked(ta.sessionId, ta.playerId)).toBe(true);
      const again = mqttConnect(host.broker!.url().replace('127.0.0.1', 'localhost'), {
        cert: ta.credentials!.certPem,
        key: ta.credentials!.keyPem,
        ca: await readFile(dev.masterPem, 'utf8'),
        clientId: brokerClientIdOf(ta.sessionId, ta.playerId),
        reconnectPeriod: 0,
      });
      again.on('error', () => undefined);
      const refused = await new Promise<boolean>((r) => {
        again.once('connect', () => r(false));
        again.once('close', () => r(true));
      });
      again.end(true);
      expect(refused).toBe(true);

      // nobody by that id is left here
      await expect(admin.proto.request('player.kick', { playerId: ta.playerId })).rejects.toMatchObject({ code: 'admin.unknown_player' });
    },
    T,
  );

  it(
    "the transport's disconnect drops a player's broker client but not its seat: it reconnects and the game finishes",
    async () => {
      const { a, b, ta, tb } = await pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      let dropped = false;
      let moves = 0;
      // before its second move (the other player waits for it): dropped, back, then it moves
      const dropper = async (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => {
        if (++moves === 2 && !dropped) {
          dropped = host.mqtt!.disconnect({ sessionId: ta.sessionId, playerId: ta.playerId });
          const link = mqttDriverOf(ga)!.link;
          await pollUntil(() => !link.connected, 'the broker to drop the client');
          await pollUntil(() => link.connected, 'the client to reconnect');
        }
        return bot(state, mark);
      };
      const ends = await Promise.all([playTicTacToe(ga, dropper), playTicTacToe(gb, bot)]);
      expect(dropped).toBe(true);
      expect(ends.map((e) => e.reason)).toEqual(['completed', 'completed']);
      expect(mqttDriverOf(ga)!.reconnects).toBeGreaterThan(0);
    },
    T,
  );
});
