/**
 * Tic-tac-toe over MQTT on live servers, shared by the embedded-broker and the Mosquitto tests: an
 * Auth server whose mode runs over mqtt, `host-1` with the broker a test file names, two guest bots
 * to pair, and the test bodies both brokers must pass alike (a kick, a dropped broker client).
 * Each test file states only its broker and what differs.
 */
import { readFile } from 'node:fs/promises';
import { connect as mqttConnect, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import type { IyesmpError } from '../../src/errors.js';
import type { AuthClient, HostTicket } from '../../src/client/index.js';
import { mqttDriverOf } from '../../src/client/mqtt-host.js';
import type { HostServer, HostServerOptions } from '../../src/host/server.js';
import { topicIdOf } from '../../src/mqtt/acl.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { startLiveServers, type DevPki, type LiveServers } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

export type Mark = Parameters<typeof chooseMove>[1];
export type Board = Parameters<typeof chooseMove>[0];

/** Plays the same game every time (both bots draw). */
export const bot = (state: Board, mark: Mark) => chooseMove(state, mark, () => 0.5)!;

export interface MqttLive extends LiveServers<TicTacToeExt> {
  host: HostServer<TicTacToeExt>;
  /** Two guests, logged in and matched in the mqtt mode: their clients and tickets. */
  pair(): Promise<{ a: AuthClient<TicTacToeExt>; b: AuthClient<TicTacToeExt>; ta: HostTicket<TicTacToeExt>; tb: HostTicket<TicTacToeExt> }>;
}

/**
 * Starts the servers, the mode over mqtt. `broker` runs once the PKI exists and returns the host's
 * MQTT options (and any other host options), and how to stop a broker it started.
 */
export async function startMqttLive(
  prefix: string,
  broker: (dev: DevPki) => Promise<{ host: Partial<HostServerOptions>; stop?: () => void }>,
): Promise<MqttLive> {
  const live = await startLiveServers<TicTacToeExt>({
    prefix,
    now: new Date(Date.now() - 86_400_000),
    gameVersion: GAME_VERSION,
    extSchema: TicTacToeExt,
    options: async (dev) => ({ auth: { modeTransports: { [MODE]: 'mqtt' } }, ...(await broker(dev)) }),
    game: ticTacToeHostGame,
  });
  return {
    ...live,
    host: live.host!,
    async pair() {
      const [a, b] = await Promise.all([live.connect(), live.connect()]);
      await Promise.all([a.login({ method: 'guest', displayName: 'ada' }), b.login({ method: 'guest', displayName: 'bob' })]);
      const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 30_000 }), b.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
      return { a, b, ta, tb };
    },
  };
}

/** An MQTT client of the broker at `url` (mqtts://localhost:…) as `creds`, once it is connected. */
export async function mqttAs(live: MqttLive, url: string, creds: { cert: string; key: string }, clientId: string): Promise<MqttClient> {
  const c = mqttConnect(url, { ...creds, ca: await readFile(live.dev.masterPem, 'utf8'), clientId, reconnectPeriod: 0 });
  await new Promise<void>((r, j) => {
    c.once('connect', () => r());
    c.once('error', j);
  });
  return c;
}

/** The QoS the broker granted for `filter`, 128 or more when it refused. */
export function grantedQos(c: MqttClient, filter: string): Promise<number> {
  return new Promise<number>((r) => c.subscribe(filter, { qos: 1 }, (e, g) => r(e ? 128 : ((g?.[0]?.qos as number | undefined) ?? 128))));
}

/** A client with a valid session certificate of another session ('other-session', player eve). */
export async function otherSession(live: MqttLive, url: string, clientId: string): Promise<MqttClient> {
  const m = await (await live.dev.pki.sessionMinter()).mintWithNewKey({ sessionId: 'other-session', playerId: 'eve' });
  return mqttAs(live, url, { cert: m.certPem + m.issuerPem, key: m.privateKeyPem }, clientId);
}

/** Every retained message under `prefix`, read by the host's own identity (full access). */
export async function retainedUnder(live: MqttLive, url: string, prefix: string): Promise<string[]> {
  const pki = live.dev.pki;
  const probe = await mqttAs(
    live,
    url,
    { cert: await pki.chainPem('host-1'), key: await readFile(pki.path(pki.get('host-1').keyFile!), 'utf8') },
    `probe-${Math.random()}`,
  );
  const topics: string[] = [];
  probe.on('message', (t, p, pk) => {
    if (pk.retain && p.length > 0) topics.push(t);
  });
  await probe.subscribeAsync(`${prefix}/#`, { qos: 1 });
  await new Promise((r) => setTimeout(r, 500));
  await probe.endAsync();
  return topics;
}

/**
 * A kick mid-game, by `kick` (an admin request, the host's API): the kicked client is disconnected,
 * the game hears the seat leave (tic-tac-toe scores it abandoned, the other player wins) and the
 * room removes it. Resolves with what a test checks next (the broker's own refusal of the seat).
 */
export async function kickMidGame(live: MqttLive, kick: (ta: HostTicket<TicTacToeExt>) => Promise<void>) {
  const { a, b, ta, tb } = await live.pair();
  const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
  const endOfB = playTicTacToe(gb, bot);
  // the kicked player's own game ends with the error its client reports
  const endOfA = playTicTacToe(ga, bot).then(
    (end) => ({ end, error: undefined }),
    (error: IyesmpError) => ({ end: undefined, error }),
  );
  const room = live.host.mqtt!.room(ta.sessionId)!;
  await pollUntil(() => room.acl.roundTopic, 'the first round');
  const link = mqttDriverOf(ga)!.link;
  expect(link.connected).toBe(true);

  await kick(ta);
  await pollUntil(() => !link.connected, 'the kicked client to be disconnected', 20_000);
  const end = await endOfB;
  expect(end.reason).toBe('completed');
  expect(end.results.find((r) => r.playerId === ta.playerId)?.outcome).toBe('abandoned');
  expect(end.results.find((r) => r.playerId === tb.playerId)?.outcome).toBe('win');
  expect(room.removed(topicIdOf(ta.playerId))).toBe(true);
  // it learns it was removed (aedes refuses its reconnection; Mosquitto lets it in without its
  // topics) and stops: no game left waiting, no client reconnecting every second
  const kicked = await endOfA;
  expect(kicked.end).toBeUndefined();
  expect(kicked.error).toMatchObject({ code: 'host_lost' });
  expect(kicked.error!.message).toMatch(/removed this player from the session/);
  await expect(ga.result).rejects.toMatchObject({ code: 'host_lost' });
  const attempts = link.reconnectAttempts;
  await new Promise((r) => setTimeout(r, 2_500));
  expect(link.connected).toBe(false);
  expect(link.reconnectAttempts).toBe(attempts);
  return { ta, room };
}

/**
 * The transport's disconnect drops a player's broker client but not its seat: before its second
 * move (the other player waits for it) it is dropped, comes back, then moves; the game finishes.
 */
export async function dropAndReconnect(live: MqttLive): Promise<void> {
  const { a, b, ta, tb } = await live.pair();
  const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
  let dropped = false;
  let moves = 0;
  const dropper = async (state: Board, mark: Mark) => {
    if (++moves === 2 && !dropped) {
      dropped = live.host.mqtt!.disconnect({ sessionId: ta.sessionId, playerId: ta.playerId });
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
}
