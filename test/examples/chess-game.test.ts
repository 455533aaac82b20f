/**
 * The chess example on real servers (LAN mode: Auth + Host in this process over QUIC): two players
 * matchmake and play fool's mate to checkmate; an illegal move is refused with its reason on the
 * way; the terminal view draws the board, whose move it is and a refused move.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { connectToAuth, type AuthClient, type IyesmpError } from '../../src/client/index.js';
import { startLanServer, type LanServer } from '../../src/lan/index.js';
import { FOOLS_MATE, scriptedBot } from '../../examples/chess/bot.js';
import { chessHostGame } from '../../examples/chess/host-game.js';
import { ChessExt, GAME_VERSION, MODE, type StateMsg } from '../../examples/chess/messages.js';
import { playChess } from '../../examples/chess/player.js';
import { replay } from '../../examples/chess/rules.js';
import { boardLines, ChessView, parseCommand } from '../../examples/chess/view.js';

let lan: LanServer<ChessExt>;
const clients: AuthClient<ChessExt>[] = [];

beforeAll(async () => {
  lan = await startLanServer<ChessExt>({ game: chessHostGame(), gameVersion: GAME_VERSION, advertise: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await lan?.close();
}, 30_000);

describe('chess on iyesmp', () => {
  it("two players matchmake and play fool's mate; an illegal move is refused with its reason", async () => {
    const opts = await lan.connectOptions({ gameVersion: GAME_VERSION, extSchema: ChessExt });
    const [p1, p2] = await Promise.all([connectToAuth<ChessExt>(opts), connectToAuth<ChessExt>(opts)]);
    clients.push(p1, p2);
    await Promise.all([p1.login({ method: 'guest', displayName: 'one' }), p2.login({ method: 'guest', displayName: 'two' })]);
    const [t1, t2] = await Promise.all([p1.matchmake({ mode: MODE, timeoutMs: 30_000 }), p2.matchmake({ mode: MODE, timeoutMs: 30_000 })]);
    const [g1, g2] = await Promise.all([p1.joinHost(t1), p2.joinHost(t2)]);
    const refusals: string[] = [];
    const states: StateMsg[] = [];
    // each player first tries an illegal move (a king walk), then follows the script
    const tried = new Set<string>();
    const decide = (who: string) => {
      const script = scriptedBot(FOOLS_MATE);
      return (chess: ReturnType<typeof replay>) => {
        if (!tried.has(who)) {
          tried.add(who);
          return 'Ke3';
        }
        return script(chess);
      };
    };
    const [e1, e2] = await Promise.all([
      playChess(g1, decide('1'), { onRefused: (e: IyesmpError) => refusals.push(e.code), onState: (_c, s) => states.push(s) }),
      playChess(g2, decide('2'), { onRefused: (e: IyesmpError) => refusals.push(e.code) }),
    ]);
    expect(refusals).toEqual(['illegal_move', 'illegal_move']);
    expect(e1.reason).toBe('completed');
    expect(e1.results).toEqual(e2.results);
    const final = e1.ext as StateMsg;
    expect(final).toMatchObject({ t: 'state', moves: [...FOOLS_MATE], result: { winner: 'b', reason: 'checkmate' } });
    const black = Object.entries(final.colors).find(([, c]) => c === 'b')![0];
    expect(e1.results.find((r) => r.playerId === black)?.outcome).toBe('win');
    expect(states.map((s) => s.moves.length)).toEqual([0, 1, 2, 3, 4]);
  }, 90_000);
});

describe('the terminal view', () => {
  it('draws the board from the player side, whose move it is and a refused move', () => {
    const chess = replay(['e4']);
    const state: StateMsg = {
      t: 'state',
      moves: ['e4'],
      fen: chess.fen(),
      turn: 'b',
      colors: { me: 'b', you: 'w' },
      check: false,
      last: { san: 'e4', by: 'you' },
      moveTimeMs: 60_000,
    };
    const { lastFrame } = render(createElement(ChessView, { chess, state, me: 'me', mine: 'b', input: 'Qh5', refused: 'Qh5 is not a legal move here' }));
    const frame = lastFrame()!;
    // Black sees its own pieces at the bottom: rank 1 on top, files h..a
    expect(frame.split('\n')[0]).toContain('1  R N B K Q B N R');
    expect(frame).toContain('   h g f e d c b a');
    expect(frame).toContain('You play Black');
    expect(frame).toContain('Your move');
    expect(frame).toContain('Last: opponent played e4');
    expect(frame).toContain('Refused: Qh5 is not a legal move here');
    expect(frame).toContain('60 s per move');
    expect(Math.max(...frame.split('\n').map((l) => l.length))).toBeLessThanOrEqual(80);

    const over = { ...state, moves: [...FOOLS_MATE], result: { winner: 'b' as const, reason: 'checkmate' as const } };
    expect(render(createElement(ChessView, { chess: replay([...FOOLS_MATE]), state: over, me: 'me', mine: 'b' })).lastFrame()).toContain(
      'Black wins: checkmate',
    );
    expect(boardLines(replay([]))[0]).toBe('8  r n b q k b n r');
  });

  it('reads what the player types', () => {
    expect(parseCommand(' e4 ')).toEqual({ t: 'move', move: 'e4' });
    expect(parseCommand('resign')).toEqual({ t: 'resign' });
    expect(parseCommand('draw')).toEqual({ t: 'draw', op: 'offer' });
    expect(parseCommand('accept')).toEqual({ t: 'draw', op: 'accept' });
    expect(parseCommand('')).toBeUndefined();
  });
});
