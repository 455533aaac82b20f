/**
 * Turn-based tic-tac-toe over a real Mosquitto 2 that this test starts on a free port with the
 * config `iyesmp config scaffold mosquitto` writes (mutual TLS, identities from the certificate
 * subject, the dynamic-security plugin): the host keeps each room's ACL through
 * `$CONTROL/dynamic-security/v1`; two bots finish a game; a session cert of another session can
 * subscribe neither to the wildcard nor to the round topic; nothing of the session stays retained.
 * Skips when mosquitto or its plugin is missing (fails under IYESMP_REQUIRE_SERVICES=1).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect as tcpConnect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { connect as mqttConnect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type ConnectOptions } from '../../src/client/index.js';
import { AuthServer } from '../../src/auth/server.js';
import { HostServer } from '../../src/host/server.js';
import { brokerClientIdOf, topicIdOf } from '../../src/mqtt/acl.js';
import { mqttDriverOf } from '../../src/client/mqtt-host.js';
import { dynsecInitialState, findDynsecPlugin, mosquittoUsernameOfCert, renderMosquittoConfig } from '../../src/mqtt/mosquitto.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { authAddress, authOptions, closeLive, devPki, hostOptions, quickAuth, quickHost, silent, type DevPki } from '../support/live-servers.js';
import { missingService } from '../support/require-service.js';
import { pollUntil } from '../support/wait.js';

const T = 90_000;
const plugin = await findDynsecPlugin();
const hasBinary = spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error === undefined;
const skip = missingService('mosquitto', !hasBinary ? 'no mosquitto binary on PATH' : plugin === undefined ? 'no mosquitto_dynamic_security.so' : undefined);

let dev: DevPki;
let auth: AuthServer;
let host: HostServer<TicTacToeExt>;
let broker: ChildProcess | undefined;
let port = 0;
let client: { cert: string; key: string };
const ended: SessionRecord[] = [];
const open: AuthClient<TicTacToeExt>[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  if (skip) return;
  dev = await devPki('iyesmp-mosquitto-', new Date(Date.now() - 86_400_000));
  const pki = dev.pki;
  const c = pki.list().find((e) => e.role === 'client')!;
  client = { cert: await pki.chainPem(c.name), key: pki.path(c.keyFile!) };
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
  broker = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  broker.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.IYESMP_TEST_LOG) process.stderr.write(d);
  });
  await pollUntil(
    () =>
      new Promise<boolean>((resolve) => {
        if (broker!.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
        const s = tcpConnect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        }).on('error', () => resolve(false));
      }),
    'mosquitto to listen',
    10_000,
    100,
  );
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
      mqtt: { broker: `mqtts://localhost:${port}`, acl: 'dynsec', game: 'tictactoe' },
    }),
    ticTacToeHostGame,
  );
  await pollUntil(() => auth.connectedHosts().includes('host-1'), 'the host to register');
}, 120_000);

afterAll(async () => {
  if (skip) return;
  await closeLive(open, [host, auth], undefined);
  broker?.kill('SIGTERM');
  await dev?.cleanup();
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

async function mqttAs(creds: { cert: string; key: string }, clientId: string) {
  const c = mqttConnect(`mqtts://localhost:${port}`, { ...creds, ca: await readFile(dev.masterPem, 'utf8'), clientId, reconnectPeriod: 0 });
  await new Promise<void>((r, j) => {
    c.once('connect', () => r());
    c.once('error', j);
  });
  return c;
}

describe.skipIf(skip !== undefined)('tic-tac-toe over Mosquitto (dynamic security)', () => {
  it(
    'two bots finish a game; another session cannot subscribe to the wildcard nor the round topic; nothing stays retained',
    async () => {
      const { a, b, ta, tb } = await pair();
      expect(ta.transport).toBe('mqtt');
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      // listening from the start: the host sends the first state as the game begins
      const results = Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
      const room = host.mqtt!.room(ta.sessionId)!;
      await pollUntil(() => room.acl.roundTopic, 'the first round');
      const m = await (await dev.pki.sessionMinter()).mintWithNewKey({ sessionId: 'other-session', playerId: 'eve' });
      const eve = await mqttAs({ cert: m.certPem + m.issuerPem, key: m.privateKeyPem }, brokerClientIdOf('other-session', 'eve'));
      const seen: string[] = [];
      eve.on('message', (t) => seen.push(t));
      const sub = (f: string) =>
        new Promise<boolean>((r) =>
          eve.subscribe(f, { qos: 1 }, (e, g) => r(!e && (g?.[0]?.qos as number | undefined) !== 128 && (g?.[0]?.qos as number | undefined) !== 135)),
        );
      expect(await sub('game/#')).toBe(false);
      expect(await sub(room.acl.roundTopic!)).toBe(false);

      const ends = await results;
      for (const e of ends) expect(e.reason).toBe('completed');
      expect(ends[0]!.results.every((r) => r.outcome === 'draw')).toBe(true);
      await pollUntil(() => ended.find((r) => r.id === ta.sessionId), 'the auth server to record the results');
      expect(seen).toEqual([]);
      await eve.endAsync();

      // read back every retained message under the prefix as the host identity
      await pollUntil(() => ga.closed && gb.closed, 'the sessions to close');
      await new Promise((r) => setTimeout(r, 500));
      const probe = await mqttAs(
        { cert: await dev.pki.chainPem('host-1'), key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8') },
        'probe',
      );
      const retained: string[] = [];
      probe.on('message', (t, p, pk) => {
        if (pk.retain && p.length > 0) retained.push(t);
      });
      await probe.subscribeAsync('game/#', { qos: 1 });
      await new Promise((r) => setTimeout(r, 500));
      await probe.endAsync();
      expect(retained).toEqual([]);
    },
    T,
  );

  it(
    'a kick removes the player: dynamic security deletes its client (disconnecting it), a reconnect gets no topic, the other player wins',
    async () => {
      const { a, b, ta, tb } = await pair();
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      const endOfB = playTicTacToe(gb, bot);
      void playTicTacToe(ga, bot).catch(() => undefined);
      const room = host.mqtt!.room(ta.sessionId)!;
      await pollUntil(() => room.acl.roundTopic, 'the first round');
      const link = mqttDriverOf(ga)!.link;
      expect(host.kickPlayer(ta.playerId, 'cheating')).toEqual([ta.sessionId]);
      await pollUntil(() => !link.connected, 'the kicked client to be disconnected', 20_000);
      const end = await endOfB;
      expect(end.reason).toBe('completed');
      expect(end.results.find((r) => r.playerId === ta.playerId)?.outcome).toBe('abandoned');
      expect(end.results.find((r) => r.playerId === tb.playerId)?.outcome).toBe('win');
      expect(room.removed(topicIdOf(ta.playerId))).toBe(true);
      // Mosquitto does not ask the plugin about a certificate identity: the seat connects, but its
      // topics are gone (the room's ctl topic and its own register topic)
      const again = await mqttAs({ cert: ta.credentials!.certPem, key: ta.credentials!.keyPem }, brokerClientIdOf(ta.sessionId, ta.playerId));
      const sub = (f: string) =>
        new Promise<number>((r) => again.subscribe(f, { qos: 1 }, (e, g) => r(e ? 128 : ((g?.[0]?.qos as number | undefined) ?? 128))));
      expect(await sub(`${room.acl.base}/ctl`)).toBeGreaterThanOrEqual(128);
      expect(await sub(room.topics.register(topicIdOf(ta.playerId)))).toBeGreaterThanOrEqual(128);
      await again.endAsync();
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
