/**
 * LAN mode: Auth + Host in this process with a throwaway PKI; two players join with invites,
 * matchmake and play tic-tac-toe to the end. Loopback only (the advertised address is 127.0.0.1).
 */
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectToAuth, IyesmpError, type AuthClient } from '../../src/client/index.js';
import { inviteConnectOptions, startLanServer, type LanServer } from '../../src/lan/index.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';

let lan: LanServer<TicTacToeExt>;
const clients: AuthClient<TicTacToeExt>[] = [];

beforeAll(async () => {
  lan = await startLanServer<TicTacToeExt>({ game: ticTacToeHostGame, gameVersion: GAME_VERSION, advertise: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await lan?.close();
}, 30_000);

describe('LAN mode', () => {
  it('the local player and an invited player matchmake and play a full game', async () => {
    expect(lan.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const local = await connectToAuth<TicTacToeExt>(await lan.connectOptions({ gameVersion: GAME_VERSION, extSchema: TicTacToeExt }));
    // the invite travels as text (a file, a chat message) and is checked on the way in
    const invite = JSON.parse(JSON.stringify(await lan.invite())) as unknown;
    const friend = await connectToAuth<TicTacToeExt>(inviteConnectOptions(invite, { gameVersion: '1.4.0', extSchema: TicTacToeExt }));
    clients.push(local, friend);
    await Promise.all([local.login({ method: 'guest', displayName: 'me' }), friend.login({ method: 'guest', displayName: 'friend' })]);
    const [ta, tb] = await Promise.all([local.matchmake({ mode: MODE, timeoutMs: 30_000 }), friend.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
    expect(ta.host.host).toBe('127.0.0.1');
    const [ga, gb] = await Promise.all([local.joinHost(ta), friend.joinHost(tb)]);
    const bot = (s: Parameters<typeof chooseMove>[0], m: Parameters<typeof chooseMove>[1]) => chooseMove(s, m, () => 0.3)!;
    const [ea, eb] = await Promise.all([playTicTacToe(ga, bot), playTicTacToe(gb, bot)]);
    expect(ea.reason).toBe('completed');
    expect(ea.results).toEqual(eb.results);
    expect(ea.results.map((r) => r.playerId).sort()).toEqual([ta.playerId, tb.playerId].sort());
  }, 60_000);

  it('a build of another major version is refused; a damaged invite is refused before any network', async () => {
    const e = await connectToAuth(await lan.connectOptions({ gameVersion: '2.0.0' })).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(IyesmpError);
    expect((e as IyesmpError).code).toBe('version_too_new');
    expect(() => inviteConnectOptions({ v: 1, address: 'x' }, { gameVersion: '1.0.0' })).toThrow(/not an iyesmp LAN invite/);
  }, 60_000);

  it('closing removes the throwaway PKI', async () => {
    const other = await startLanServer({ game: ticTacToeHostGame, gameVersion: GAME_VERSION, advertise: '127.0.0.1' });
    const dir = other.pki.dir;
    await access(dir);
    await other.close();
    await expect(access(dir)).rejects.toThrow();
  }, 60_000);
});
