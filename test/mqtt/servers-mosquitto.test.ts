/**
 * Turn-based tic-tac-toe over a real Mosquitto 2 that this test starts on a free port with the
 * config `iyesmp config scaffold mosquitto` writes (mutual TLS, identities from the certificate
 * subject, the dynamic-security plugin): the host keeps each room's ACL through
 * `$CONTROL/dynamic-security/v1`; two bots finish a game; a session cert of another session can
 * subscribe neither to the wildcard nor to the round topic; nothing of the session stays retained.
 * Skips when mosquitto or its plugin is missing (fails under IYESMP_REQUIRE_SERVICES=1).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect as tcpConnect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerClientIdOf, topicIdOf } from '../../src/mqtt/acl.js';
import { dynsecInitialState, findDynsecPlugin, mosquittoUsernameOfCert, renderMosquittoConfig } from '../../src/mqtt/mosquitto.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { missingService } from '../support/require-service.js';
import type { DevPki } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';
import { bot, dropAndReconnect, grantedQos, kickMidGame, mqttAs, otherSession, retainedUnder, startMqttLive, type MqttLive } from './tictactoe-live.js';

const T = 90_000;
const plugin = await findDynsecPlugin();
const hasBinary = spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error === undefined;
const skip = missingService('mosquitto', !hasBinary ? 'no mosquitto binary on PATH' : plugin === undefined ? 'no mosquitto_dynamic_security.so' : undefined);

let live: MqttLive;
let port = 0;
const url = () => `mqtts://localhost:${port}`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Mosquitto with the scaffolded config (mutual TLS, dynamic security) for `dev`'s PKI, once it listens. */
async function startMosquitto(dev: DevPki): Promise<ChildProcess> {
  const pki = dev.pki;
  const hostPem = await pki.chainPem('host-1');
  const certfile = path.join(dev.dir, 'broker.pem');
  await writeFile(certfile, hostPem);
  port = await freePort();
  const conf = path.join(dev.dir, 'mosquitto.conf');
  const dynsecFile = path.join(dev.dir, 'dynamic-security.json');
  await writeFile(dynsecFile, dynsecInitialState(mosquittoUsernameOfCert(hostPem), 'game'));
  await writeFile(
    conf,
    renderMosquittoConfig({
      host: '127.0.0.1',
      port,
      cafile: dev.masterPem,
      certfile,
      keyfile: pki.path(pki.get('host-1').keyFile!),
      plugin: plugin!,
      dynsecFile,
      // started by root, mosquitto would become "mosquitto", who cannot read this temp folder
      user: userInfo().username,
    }),
  );
  const broker = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  broker.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.IYESMP_TEST_LOG) process.stderr.write(d);
  });
  try {
    await pollUntil(
      () =>
        new Promise<boolean>((resolve) => {
          if (broker.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
          const s = tcpConnect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          }).on('error', () => resolve(false));
        }),
      'mosquitto to listen',
      10_000,
      100,
    );
  } catch (e) {
    broker.kill('SIGTERM');
    throw e;
  }
  return broker;
}

beforeAll(async () => {
  if (skip) return;
  live = await startMqttLive('iyesmp-mosquitto-', async (dev) => {
    const broker = await startMosquitto(dev);
    return { host: { mqtt: { broker: url(), acl: 'dynsec', game: 'tictactoe' } }, stop: () => broker.kill('SIGTERM') };
  });
}, 120_000);

afterAll(async () => {
  if (skip) return;
  await live?.close();
}, 30_000);

describe.skipIf(skip !== undefined)('tic-tac-toe over Mosquitto (dynamic security)', () => {
  it(
    'two bots finish a game; another session cannot subscribe to the wildcard nor the round topic; nothing stays retained',
    async () => {
      const { a, b, ta, tb } = await live.pair();
      expect(ta.transport).toBe('mqtt');
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      // listening from the start: the host sends the first state as the game begins
      const results = Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      const room = live.host.mqtt!.room(ta.sessionId)!;
      await pollUntil(() => room.acl.roundTopic, 'the first round');
      const eve = await otherSession(live, url(), brokerClientIdOf('other-session', 'eve'));
      const seen: string[] = [];
      eve.on('message', (t) => seen.push(t));
      expect(await grantedQos(eve, 'game/#')).toBeGreaterThanOrEqual(128);
      expect(await grantedQos(eve, room.acl.roundTopic!)).toBeGreaterThanOrEqual(128);

      const ends = await results;
      for (const e of ends) expect(e.reason).toBe('completed');
      expect(ends[0]!.results.every((r) => r.outcome === 'draw')).toBe(true);
      await pollUntil(() => live.ended.find((r) => r.id === ta.sessionId), 'the auth server to record the results');
      expect(seen).toEqual([]);
      await eve.endAsync();

      // read back every retained message under the prefix as the host identity
      await pollUntil(() => ga.closed && gb.closed, 'the sessions to close');
      await new Promise((r) => setTimeout(r, 500));
      const retained = await retainedUnder(live, url(), 'game');
      expect(retained).toEqual([]);
    },
    T,
  );

  it(
    'a kick removes the player: dynamic security deletes its client (disconnecting it), a reconnect gets no topic, the other player wins, and its own client ends its game (host_lost) and stops',
    async () => {
      const { ta, room } = await kickMidGame(live, async (ta) => {
        expect(live.host.kickPlayer(ta.playerId, 'cheating')).toEqual([ta.sessionId]);
      });
      // Mosquitto does not ask the plugin about a certificate identity: the seat connects, but its
      // topics are gone (the room's ctl topic and its own register topic)
      const again = await mqttAs(live, url(), { cert: ta.credentials!.certPem, key: ta.credentials!.keyPem }, brokerClientIdOf(ta.sessionId, ta.playerId));
      expect(await grantedQos(again, `${room.acl.base}/ctl`)).toBeGreaterThanOrEqual(128);
      expect(await grantedQos(again, room.topics.register(topicIdOf(ta.playerId)))).toBeGreaterThanOrEqual(128);
      await again.endAsync();
    },
    T,
  );

  it("the transport's disconnect drops a player's broker client but not its seat: it reconnects and the game finishes", () => dropAndReconnect(live), T);
});
