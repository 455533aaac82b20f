/** The example's host game validates what players send (issue #9, item 10: it threw on `ext: null`). */
import { describe, expect, it } from 'vitest';
import { ticTacToeHostGame, type TicTacToeHostSession } from '../../examples/tictactoe/host-game.js';

type Handler = (playerId: string, ext: unknown) => unknown;

/** A session of two players that keeps the action handler and what is broadcast. */
function session(): { s: TicTacToeHostSession; act: Handler; sent: unknown[] } {
  let handler: Handler | undefined;
  const sent: unknown[] = [];
  const s = {
    players: [{ playerId: 'a' }, { playerId: 'b' }],
    broadcast: (m: { ext?: unknown }) => sent.push(m.ext),
    onAction: (h: Handler) => {
      handler = h;
    },
    end: () => undefined,
    on: () => undefined,
  } as unknown as TicTacToeHostSession;
  ticTacToeHostGame.begin(s);
  return { s, act: (p, ext) => handler!(p, ext), sent };
}

describe('tic-tac-toe host game input', () => {
  it.each([null, 'move', 42, [], { t: 'move' }, { t: 'move', cell: '4' }, { t: 'state' }])('refuses %j as a bad move', (ext) => {
    const { act } = session();
    let err: unknown;
    try {
      act('a', ext);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'refused', code: 'bad_move' });
  });

  it('leaves the cell to the rules', () => {
    const { act } = session();
    expect(() => act('a', { t: 'move', cell: 9 })).toThrow(expect.objectContaining({ code: 'bad_cell' }));
  });

  it('still plays a valid move', () => {
    const { act, sent } = session();
    expect(act('a', { t: 'move', cell: 4 })).toEqual({ t: 'ok' });
    expect(sent.at(-1)).toMatchObject({ t: 'state', turn: 'O' });
  });
});
