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
import { mqttDriverOf } from '../../src/client/mqtt-host.js';
import { brokerClientIdOf } from '../../src/mqtt/acl.js';
import { connectAdmin, type AdminConnection } from '../../src/cli/admin-client.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { pollUntil } from '../support/wait.js';
import {
  bot,
  dropAndReconnect,
  grantedQos,
  kickMidGame,
  otherSession,
  retainedUnder,
  startMqttLive,
  type Board,
  type Mark,
  type MqttLive,
} from './tictactoe-live.js';

const T = 90_000;
let live: MqttLive;
let admin: AdminConnection;

beforeAll(async () => {
  live = await startMqttLive('iyesmp-mqtt-e2e-', async (dev) => ({
    host: {
      tlsName: 'localhost',
      admin: { host: '127.0.0.1', port: 0 },
      // a session's kicks outlive its end by this much: room for the kick test to try again
      mqtt: { broker: 'embedded', port: 0, caPem: await readFile(dev.masterPem, 'utf8'), game: 'tictactoe', endGraceMs: 30_000 },
    },
  }));
  const ops = await live.dev.pki.issueAdmin({ name: 'ops' });
  admin = await connectAdmin(
    { server: `127.0.0.1:${live.host.adminPort}`, cert: ops.certPath, key: ops.keyPath, trust: live.dev.pki.dir, timeout: '5000' },
    'test',
  );
}, 120_000);

afterAll(async () => {
  await admin?.close();
  await live?.close();
}, 30_000);

/** The embedded broker's URL under the name its certificate carries. */
const brokerUrl = () => live.host.broker!.url().replace('127.0.0.1', 'localhost');

describe('tic-tac-toe over MQTT (embedded broker)', () => {
  it(
    'two bots matchmake an mqtt mode, join with the hand-off and play the unchanged HostGame to a recorded result; nothing stays retained',
    async () => {
      const { a, b, ta, tb } = await live.pair();
      expect(ta.transport).toBe('mqtt');
      expect(ta.mqtt?.hostKey?.length).toBe(32);
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      expect(ga.transport).toBe('mqtt');
      const ends = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      for (const e of ends) expect(e.reason).toBe('completed');
      expect(ends[0]!.results.every((r) => r.outcome === 'draw')).toBe(true);
      const final = ends[0]!.ext;
      expect(final?.t === 'state' ? final.board.filter((c) => c !== null).length : -1).toBe(9);
      const record = await pollUntil(() => live.ended.find((r) => r.id === ta.sessionId), 'the auth server to record the results');
      expect(record.state).toBe('ended');
      await pollUntil(() => ga.closed && gb.closed, 'the sessions to close');
      await new Promise((r) => setTimeout(r, 300));
      expect(await retainedUnder(live, brokerUrl(), 'game')).toEqual([]);
    },
    T,
  );

  it(
    'a session cert of another session can neither subscribe to the wildcard nor read the round topic',
    async () => {
      const { a, b, ta, tb } = await live.pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      // listening from the start: the host sends the first state as the game begins
      const results = Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      const room = live.host.mqtt!.room(ta.sessionId)!;
      await pollUntil(() => room.acl.roundTopic, 'the first round');
      const round = room.acl.roundTopic!;
      const eve = await otherSession(live, brokerUrl(), brokerClientIdOf('other-session', 'eve'));
      const seen: string[] = [];
      eve.on('message', (t) => seen.push(t));
      expect(await grantedQos(eve, 'game/#')).toBeGreaterThanOrEqual(128);
      expect(await grantedQos(eve, round)).toBeGreaterThanOrEqual(128);
      expect(await grantedQos(eve, `${room.acl.base}/ctl`)).toBeGreaterThanOrEqual(128);
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
      const { a, b, ta, tb } = await live.pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      let killed = false;
      let moves = 0;
      const killer = (state: Board, mark: Mark) => {
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
    'an admin kick on the Host removes an MQTT player: its client is disconnected, its reconnect refused, the game hears it left, and its own game ends (host_lost) with no more reconnects',
    async () => {
      const { ta } = await kickMidGame(live, async (ta) => {
        expect(await admin.proto.request('player.kick', { playerId: ta.playerId, reason: 'cheating' })).toMatchObject({ kicked: true });
      });

      // its session certificate is still valid, but the broker refuses the seat
      expect(live.host.broker!.acl.isKicked(ta.sessionId, ta.playerId)).toBe(true);
      const again = mqttConnect(brokerUrl(), {
        cert: ta.credentials!.certPem,
        key: ta.credentials!.keyPem,
        ca: await readFile(live.dev.masterPem, 'utf8'),
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

  it("the transport's disconnect drops a player's broker client but not its seat: it reconnects and the game finishes", () => dropAndReconnect(live), T);
});
