/**
 * Less common paths of the client library against real servers on loopback: no host registered
 * (the server waits, then gives up: "no game host is available"), a game host that disappears
 * mid-game (`host_lost` on the game session, the result rejects), and an Auth server configured
 * for the seed design (it makes the session key pair and sends the private key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type MatchmakingStatus } from '../../src/client/index.js';
import { IyesmpError } from '../../src/errors.js';
import type { Pki } from '../../src/pki/index.js';
import { AuthServer } from '../../src/auth/server.js';
import { HostServer } from '../../src/host/server.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { authOptions, devPki, hostOptions, silent, type DevPki } from '../support/live-servers.js';

let dev: DevPki;
let pki: Pki;
const servers: Array<{ close(o: { graceMs: number }): Promise<void> }> = [];
const clients: AuthClient<TicTacToeExt>[] = [];

beforeAll(async () => {
  dev = await devPki('iyesmp-client-fail-', new Date(Date.now() - 86_400_000));
  pki = dev.pki;
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of servers.reverse()) await s.close({ graceMs: 100 }).catch(() => undefined);
  await dev?.cleanup();
}, 30_000);

async function startAuth(over: { noHostTimeoutMs?: number; keyDelivery?: 'client' | 'seed' } = {}): Promise<AuthServer> {
  const s = await AuthServer.start(
    await authOptions(pki, {
      gameVersion: GAME_VERSION,
      heartbeatIntervalMs: 300,
      tickIntervalMs: 100,
      logger: silent,
      ...over,
    }),
  );
  servers.push(s);
  return s;
}

async function startHost(auth: AuthServer): Promise<HostServer<TicTacToeExt>> {
  const host = await HostServer.start<TicTacToeExt>(
    await hostOptions(pki, auth.hostPort, {
      version: GAME_VERSION,
      reconnectInitialMs: 200,
      logger: silent,
    }),
    ticTacToeHostGame,
  );
  servers.push(host);
  const end = Date.now() + 15_000;
  while (!auth.connectedHosts().includes('host-1') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return host;
}

async function twoClients(auth: AuthServer): Promise<[AuthClient<TicTacToeExt>, AuthClient<TicTacToeExt>]> {
  const make = () =>
    connectToAuth<TicTacToeExt>({
      address: { host: '127.0.0.1', port: auth.clientPort },
      identity: { cert: pki.path(pki.get('client-clientauth-1-1').certFile), key: pki.path(pki.get('client-clientauth-1-1').keyFile!) },
      trust: { trustDir: pki.dir },
      gameVersion: GAME_VERSION,
      extSchema: TicTacToeExt,
    });
  const pair = await Promise.all([make(), make()]);
  clients.push(...pair);
  await Promise.all(pair.map((c) => c.login({ method: 'guest' })));
  return pair;
}

describe('less common paths against real servers', () => {
  it('no host registered: matchmaking ends with "no game host is available"', async () => {
    const auth = await startAuth({ noHostTimeoutMs: 1_000 });
    const [a, b] = await twoClients(auth);
    const phases: MatchmakingStatus['phase'][] = [];
    const results = await Promise.all([
      a.matchmake({ mode: MODE, timeoutMs: 20_000, onStatus: (s) => phases.push(s.phase) }).catch((e: unknown) => e),
      b.matchmake({ mode: MODE, timeoutMs: 20_000 }).catch((e: unknown) => e),
    ]);
    for (const e of results) {
      expect(e).toBeInstanceOf(IyesmpError);
      expect((e as IyesmpError).code).toBe('no_host_available');
      expect((e as IyesmpError).message).toBe('no game host is available right now: try again in a moment');
    }
    // the Auth server (iyesmp-auth 1.1) says it is looking for a host before it gives up
    expect(phases).toEqual(['queued', 'found', 'confirmed', 'waiting', 'cancelled']);
  }, 60_000);

  it('a host that vanishes mid-game is host_lost for the players', async () => {
    const auth = await startAuth();
    const host = await startHost(auth);
    const [a, b] = await twoClients(auth);
    const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 20_000 }), b.matchmake({ mode: MODE, timeoutMs: 20_000 })]);
    const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
    const begun = Promise.all([ga.waitForBegin({ timeoutMs: 15_000 }), gb.waitForBegin({ timeoutMs: 15_000 })]);
    await Promise.all([ga.ready(), gb.ready()]);
    await begun;
    // the game host's endpoint goes away without ending the game (crash, network cut)
    const closed = ga.next('close', { timeoutMs: 20_000 });
    await host.playerServer.close({ graceMs: 0 });
    const { error } = await closed;
    expect(error?.code).toBe('host_lost');
    expect(error?.message).toMatch(/^the connection to the game host was lost/);
    await expect(ga.result).rejects.toMatchObject({ code: 'host_lost' });
    await expect(ga.action({ t: 'move', cell: 4 })).rejects.toMatchObject({ code: 'host_lost' });
  }, 60_000);

  it('seed design: the hand-off carries the private key and the game is played with it', async () => {
    const auth = await startAuth({ keyDelivery: 'seed' });
    await startHost(auth);
    const [a, b] = await twoClients(auth);
    const [ta, tb] = await Promise.all([a.matchmake({ mode: MODE, timeoutMs: 20_000 }), b.matchmake({ mode: MODE, timeoutMs: 20_000 })]);
    expect(ta.serverMadeKey).toBe(true);
    expect(tb.serverMadeKey).toBe(true);
    const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
    const bot = (s: Parameters<typeof chooseMove>[0], m: Parameters<typeof chooseMove>[1]) => chooseMove(s, m, () => 0.9)!;
    const [ea] = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
    expect(ea.reason).toBe('completed');
  }, 60_000);
});
