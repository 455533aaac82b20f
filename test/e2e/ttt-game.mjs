/**
 * A small tic-tac-toe host game for the end-to-end tests, loaded by
 * `iyesmp serve host --game test/e2e/ttt-game.mjs`. Plain ESM JavaScript on purpose: the host
 * process runs the built CLI (dist/), which cannot load the TypeScript example directly.
 * Same wire shape as examples/tictactoe: actions `{ t: 'move', cell }` answered `{ t: 'ok' }`,
 * every accepted move broadcast as `{ t: 'state', board, turn, marks, result? }`.
 */
import { IyesmpError } from '../../dist/errors.js';

const LINES = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [0, 3, 6],
  [1, 4, 7],
  [2, 5, 8],
  [0, 4, 8],
  [2, 4, 6],
];

function winner(board) {
  for (const [a, b, c] of LINES) if (board[a] && board[a] === board[b] && board[a] === board[c]) return board[a];
  return board.every((x) => x !== null) ? 'draw' : undefined;
}

export const game = {
  begin(s) {
    const ids = s.players.map((p) => p.playerId);
    const marks = { [ids[0]]: 'X', [ids[1]]: 'O' };
    const board = Array(9).fill(null);
    let turn = 'X';
    let over = false;
    const state = (result) => ({ t: 'state', board: [...board], turn, marks, ...(result ? { result } : {}) });
    const finish = (outcomes, reason) =>
      // after the current action's answer went out: ending closes the players' connections
      setImmediate(() => s.end({ outcomes, gameData: { board: [...board], reason } }));

    s.broadcast({ ext: state() });
    s.onAction((playerId, ext) => {
      if (over) throw new IyesmpError('refused', 'game_over', 'the game is over');
      if (!ext || ext.t !== 'move' || !Number.isInteger(ext.cell) || ext.cell < 0 || ext.cell > 8) {
        throw new IyesmpError('refused', 'bad_move', 'send a move: { t: "move", cell: 0..8 }');
      }
      if (marks[playerId] !== turn) throw new IyesmpError('refused', 'not_your_turn', 'it is not your turn');
      if (board[ext.cell] !== null) throw new IyesmpError('refused', 'cell_taken', 'that cell is taken');
      board[ext.cell] = turn;
      const result = winner(board);
      if (!result) turn = turn === 'X' ? 'O' : 'X';
      s.broadcast({ ext: state(result) });
      if (result) {
        over = true;
        const outcome = (id) => (result === 'draw' ? 'draw' : marks[id] === result ? 'win' : 'loss');
        finish(Object.fromEntries(ids.map((id) => [id, { result: outcome(id), score: outcome(id) === 'win' ? 1 : 0 }])), 'completed');
      }
      return { t: 'ok' };
    });
    s.on('player', ({ playerId, status }) => {
      if (status !== 'left' || over) return;
      over = true;
      finish(Object.fromEntries(ids.map((id) => [id, { result: id === playerId ? 'abandoned' : 'win' }])), 'forfeit');
    });
  },
};

export default game;
