/**
 * A turn-based MQTT game whose broker goes away for good (the host died with its embedded broker):
 * each player's client ends its game with `host_lost` after `idleTimeoutMs`, as a silent QUIC host's
 * would, and stops reconnecting, instead of trying again every second for as long as it lives; and
 * the host itself still shuts down (its publishes to the dead broker are given up after its grace).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mqttDriverOf } from '../../src/client/mqtt-host.js';
import { pollUntil } from '../support/wait.js';
import { startMqttLive, type MqttLive } from './tictactoe-live.js';

let live: MqttLive;

beforeAll(async () => {
  live = await startMqttLive('iyesmp-mqtt-lost-', async (dev) => ({
    host: { tlsName: 'localhost', mqtt: { broker: 'embedded', port: 0, caPem: await readFile(dev.masterPem, 'utf8'), game: 'tictactoe' } },
  }));
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

describe('an MQTT game whose broker is gone', () => {
  it('ends with host_lost after idleTimeoutMs and stops reconnecting', async () => {
    const { a, b, ta, tb } = await live.pair();
    const [ga, gb] = await Promise.all([a.joinHost(ta, { idleTimeoutMs: 2_000 }), b.joinHost(tb, { idleTimeoutMs: 2_000 })]);
    await Promise.all([ga.ready(), gb.ready()]);
    const links = [mqttDriverOf(ga)!.link, mqttDriverOf(gb)!.link];
    expect(links.every((l) => l.connected)).toBe(true);

    const gone = Date.now();
    await live.host.broker!.close();
    await pollUntil(() => links.every((l) => !l.connected), 'the clients to lose the broker');
    for (const g of [ga, gb])
      await expect(g.result).rejects.toMatchObject({ code: 'host_lost', message: expect.stringMatching(/could not be reached for 2000 ms/) });
    // not before the idle timeout: the link had its chances to come back (it tries every second)
    expect(Date.now() - gone).toBeGreaterThanOrEqual(2_000);
    expect(links.every((l) => l.reconnectAttempts >= 1)).toBe(true);
    const attempts = links.map((l) => l.reconnectAttempts);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(links.map((l) => l.reconnectAttempts)).toEqual(attempts);
  }, 60_000);

  it('the host still shuts down: what it publishes to the dead broker waits at most its grace', async () => {
    // the first test closed the broker: this new session's room, grants and end go nowhere
    await live.pair();
    await live.host.close({ graceMs: 500 });
    expect(live.host.closing).toBe(true);
  }, 60_000);
});
