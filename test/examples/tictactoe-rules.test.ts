/**
 * Tic-tac-toe rules, bot and the host-side match: unit cases for each rule, and properties over
 * random games (legal play always ends within nine moves with a consistent result; the bot only
 * plays legal moves, takes a win when there is one and blocks when it must).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyMove, LINES, legalMoves, newGame, renderBoard, stateFromBoard, winnerOf, type GameState, type Mark } from '../../examples/tictactoe/rules.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { TicTacToeMatch } from '../../examples/tictactoe/match.js';
import { TicTacToeExt } from '../../examples/tictactoe/messages.js';

function play(cells: number[]): GameState {
  let s = newGame();
  for (const c of cells) {
    const r = applyMove(s, s.turn, c);
    if (!r.ok) throw new Error(`illegal ${c}: ${r.error}`);
    s = r.state;
  }
  return s;
}

/** A reachable position: a prefix of a random legal game (picks are indexes into the legal moves). */
const reachable = fc.array(fc.nat(), { maxLength: 9 }).map((picks) => {
  let s = newGame();
  for (const p of picks) {
    const legal = legalMoves(s);
    if (legal.length === 0) break;
    const r = applyMove(s, s.turn, legal[p % legal.length]!);
    if (!r.ok) throw new Error('a legal move was refused');
    s = r.state;
  }
  return s;
});

describe('rules', () => {
  it('X starts, turns alternate, and a move fills exactly one cell', () => {
    const s0 = newGame();
    expect(s0.turn).toBe('X');
    const r = applyMove(s0, 'X', 4);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.state.turn).toBe('O');
    expect(r.state.board.filter((c) => c !== null)).toEqual(['X']);
    expect(s0.board.every((c) => c === null)).toBe(true); // immutable
  });

  it('refuses a move out of turn, on a taken cell, off the board, and after the end', () => {
    const s = play([4]);
    expect(applyMove(s, 'X', 0)).toEqual({ ok: false, error: 'not_your_turn' });
    expect(applyMove(s, 'O', 4)).toEqual({ ok: false, error: 'cell_taken' });
    expect(applyMove(s, 'O', 9)).toEqual({ ok: false, error: 'bad_cell' });
    expect(applyMove(s, 'O', 1.5)).toEqual({ ok: false, error: 'bad_cell' });
    const won = play([0, 3, 1, 4, 2]);
    expect(won.result).toBe('X');
    expect(applyMove(won, 'O', 8)).toEqual({ ok: false, error: 'game_over' });
    expect(legalMoves(won)).toEqual([]);
  });

  it('detects every winning line for both marks', () => {
    for (const line of LINES) {
      for (const mark of ['X', 'O'] as Mark[]) {
        const board = Array(9).fill(null);
        for (const i of line) board[i] = mark;
        expect(winnerOf(board)?.mark).toBe(mark);
        expect(winnerOf(board)?.line).toEqual(line);
      }
    }
  });

  it('a full board without a line is a draw', () => {
    const s = play([0, 1, 2, 4, 3, 5, 7, 6, 8]);
    expect(s.result).toBe('draw');
    expect(s.line).toBeUndefined();
  });

  it('stateFromBoard agrees with the state built move by move', () => {
    fc.assert(
      fc.property(reachable, (s) => {
        const rebuilt = stateFromBoard(s.board);
        expect(rebuilt.turn).toBe(s.turn);
        expect(rebuilt.result).toBe(s.result);
        expect(rebuilt.moves).toBe(s.moves);
      }),
    );
  });

  it('renders empty cells as their numbers', () => {
    const text = renderBoard(play([4]).board);
    expect(text).toContain(' 0 | 1 | 2');
    expect(text).toContain(' 3 | X | 5');
  });

  it('random legal games always end within nine moves, with a result that matches the board', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 9, maxLength: 9 }), (picks) => {
        let s = newGame();
        let moves = 0;
        for (const p of picks) {
          const legal = legalMoves(s);
          if (legal.length === 0) break;
          const r = applyMove(s, s.turn, legal[p % legal.length]!);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          s = r.state;
          moves++;
        }
        expect(moves).toBeLessThanOrEqual(9);
        expect(s.result).toBeDefined();
        const w = winnerOf(s.board);
        if (s.result === 'draw') {
          expect(w).toBeUndefined();
          expect(s.board.every((c) => c !== null)).toBe(true);
        } else {
          expect(w?.mark).toBe(s.result);
        }
      }),
    );
  });
});

describe('bot', () => {
  it('never makes an illegal move from any reachable position', () => {
    fc.assert(
      fc.property(reachable, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (s, rnd) => {
        const cell = chooseMove(s, s.turn, () => rnd);
        if (s.result !== undefined) {
          expect(cell).toBeUndefined();
          return;
        }
        expect(cell).toBeDefined();
        expect(applyMove(s, s.turn, cell!).ok).toBe(true);
      }),
    );
  });

  it('does not move when it is not its turn', () => {
    expect(chooseMove(newGame(), 'O')).toBeUndefined();
  });

  it('takes a winning move when one exists, else blocks the opponent', () => {
    fc.assert(
      fc.property(reachable, (s) => {
        if (s.result !== undefined) return;
        const me = s.turn;
        const winning = legalMoves(s).filter((c) => {
          const r = applyMove(s, me, c);
          return r.ok && r.state.result === me;
        });
        const cell = chooseMove(s, me, () => 0.5)!;
        if (winning.length > 0) {
          expect(winning).toContain(cell);
          return;
        }
        // the opponent's immediate wins, if it were their turn
        const them: Mark = me === 'X' ? 'O' : 'X';
        const threats = legalMoves(s).filter((c) => {
          const board = s.board.slice();
          board[c] = them;
          return winnerOf(board)?.mark === them;
        });
        if (threats.length > 0) expect(threats).toContain(cell);
      }),
    );
  });

  it('bot against bot always finishes, and two bots never let each other win from the start', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 9, maxLength: 9 }), (rnds) => {
        let s = newGame();
        for (let i = 0; i < 9 && s.result === undefined; i++) {
          const cell = chooseMove(s, s.turn, () => rnds[i]!);
          const r = applyMove(s, s.turn, cell!);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          s = r.state;
        }
        expect(s.result).toBe('draw');
      }),
    );
  });
});

describe('host-side match', () => {
  it('judges moves by player id, broadcasts state, and ends with win/loss results', () => {
    const m = new TicTacToeMatch(['ada', 'bob']);
    expect(m.marks).toEqual({ ada: 'X', bob: 'O' });
    expect(m.move('bob', 0)).toMatchObject({ ok: false, error: 'not_your_turn' });
    expect(m.move('eve', 0)).toMatchObject({ ok: false, error: 'not_a_player' });
    for (const [p, c] of [
      ['ada', 0],
      ['bob', 3],
      ['ada', 1],
      ['bob', 4],
    ] as const) {
      const v = m.move(p, c);
      expect(v.ok).toBe(true);
      expect(v.ok && v.end).toBeUndefined();
    }
    expect(m.move('bob', 5)).toMatchObject({ ok: false, error: 'not_your_turn' });
    const last = m.move('ada', 2);
    expect(last.ok).toBe(true);
    if (!last.ok) return;
    expect(last.state).toMatchObject({ t: 'state', result: 'X', last: { cell: 2, by: 'ada' } });
    expect(last.end?.results).toEqual([
      { playerId: 'ada', outcome: 'win', rank: 1, score: 1 },
      { playerId: 'bob', outcome: 'loss', rank: 2, score: 0 },
    ]);
    expect(m.move('bob', 8)).toMatchObject({ ok: false, error: 'game_over' });
    expect(m.forfeit('bob')).toBeUndefined();
  });

  it('a draw gives both players a draw; a player who leaves forfeits', () => {
    const m = new TicTacToeMatch(['a', 'b']);
    const seq = [0, 1, 2, 4, 3, 5, 7, 6, 8];
    let end;
    seq.forEach((c, i) => {
      const v = m.move(i % 2 === 0 ? 'a' : 'b', c);
      if (v.ok && v.end) end = v.end;
    });
    expect(end).toMatchObject({ reason: 'completed', results: [{ outcome: 'draw' }, { outcome: 'draw' }] });

    const f = new TicTacToeMatch(['a', 'b']);
    f.move('a', 4);
    expect(f.forfeit('a')).toMatchObject({
      reason: 'aborted',
      results: [
        { playerId: 'b', outcome: 'win' },
        { playerId: 'a', outcome: 'abandoned' },
      ],
    });
    expect(f.over).toBe(true);
  });

  it('needs two different players', () => {
    expect(() => new TicTacToeMatch(['a'])).toThrow();
    expect(() => new TicTacToeMatch(['a', 'a'])).toThrow();
  });

  it('every state the match sends passes the message schema, and the schema never throws on junk', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 9 }), (picks) => {
        const m = new TicTacToeMatch(['p1', 'p2']);
        expect(TicTacToeExt.safeParse(m.snapshot()).success).toBe(true);
        for (const p of picks) {
          const s = m.current;
          const legal = legalMoves(s);
          if (legal.length === 0) break;
          const v = m.move(s.turn === 'X' ? 'p1' : 'p2', legal[p % legal.length]!);
          if (v.ok) expect(TicTacToeExt.safeParse(v.state).success).toBe(true);
        }
      }),
    );
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        expect(() => TicTacToeExt.safeParse(junk)).not.toThrow();
      }),
    );
  });
});
