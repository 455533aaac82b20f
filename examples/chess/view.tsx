/**
 * What the terminal client shows, as pure ink components (tested with ink-testing-library): the
 * board from the player's side, whose move it is, the last move, a refused move and why, an open
 * draw offer, and the input line. Pieces are letters (White upper case), so it reads over SSH, at
 * 80 columns and without colour.
 */
import { Box, Text } from 'ink';
import type { Chess } from 'chess.js';
import type { Color, StateMsg } from './messages.js';
import { COLOR_NAME, describeResult } from './rules.js';

const FILES = 'abcdefgh';

/** The board as text lines, rank 8 at the top for White, rank 1 at the top for Black. */
export function boardLines(chess: Chess, side: Color = 'w'): string[] {
  const grid = chess.board();
  const ranks = side === 'w' ? [0, 1, 2, 3, 4, 5, 6, 7] : [7, 6, 5, 4, 3, 2, 1, 0];
  const files = side === 'w' ? [0, 1, 2, 3, 4, 5, 6, 7] : [7, 6, 5, 4, 3, 2, 1, 0];
  const lines = ranks.map((r) => {
    const cells = files.map((f) => {
      const p = grid[r]![f];
      return p ? (p.color === 'w' ? p.type.toUpperCase() : p.type) : '.';
    });
    return `${8 - r}  ${cells.join(' ')}`;
  });
  lines.push(`   ${files.map((f) => FILES[f]).join(' ')}`);
  return lines;
}

export interface ChessViewProps {
  chess: Chess;
  state: StateMsg;
  /** this player's id and colour (undefined when watching) */
  me?: string;
  mine?: Color;
  /** what the player is typing (no input line when undefined: a bot or a spectator) */
  input?: string;
  /** the last refusal from the host, shown until the next move */
  refused?: string;
  /** a line about the connection or the game's end */
  status?: string;
}

export function ChessView({ chess, state, me, mine, input, refused, status }: ChessViewProps) {
  const over = state.result !== undefined;
  const myTurn = !over && mine !== undefined && state.turn === mine;
  const lastMoves = state.moves.slice(-8);
  const firstNo = state.moves.length - lastMoves.length;
  return (
    <Box flexDirection="column">
      <Box flexDirection="row" gap={4}>
        <Box flexDirection="column">
          {boardLines(chess, mine ?? 'w').map((line) => (
            <Text key={line}>{line}</Text>
          ))}
        </Box>
        <Box flexDirection="column">
          <Text>{mine ? `You play ${COLOR_NAME[mine]}` : 'Watching'}</Text>
          <Text>Moves: {lastMoves.map((m, i) => `${(firstNo + i) % 2 === 0 ? `${Math.floor((firstNo + i) / 2) + 1}.` : ''}${m}`).join(' ') || '-'}</Text>
          {state.last ? <Text>{`Last: ${state.last.by === me ? 'you' : 'opponent'} played ${state.last.san}`}</Text> : null}
          {state.check && !over ? <Text bold>Check!</Text> : null}
          {state.drawOffer && !over ? (
            <Text color="yellow">{state.drawOffer === me ? 'You offered a draw' : 'Your opponent offers a draw: type accept or decline'}</Text>
          ) : null}
          {state.moveTimeMs !== undefined && !over ? <Text dimColor>{`${Math.round(state.moveTimeMs / 1000)} s per move`}</Text> : null}
        </Box>
      </Box>
      {over ? (
        <Text bold>{describeResult(state.result!)}</Text>
      ) : (
        <Text bold>{myTurn ? 'Your move' : `${COLOR_NAME[state.turn]} to move${mine ? ' (waiting for your opponent)' : ''}`}</Text>
      )}
      {refused ? <Text color="red">{`Refused: ${refused}`}</Text> : null}
      {status ? <Text>{status}</Text> : null}
      {!over && mine !== undefined && input !== undefined ? (
        <Box>
          <Text dimColor>{'move (e4, Nf3, g1f3), resign, draw, accept, decline > '}</Text>
          <Text>{input ?? ''}</Text>
          <Text inverse> </Text>
        </Box>
      ) : null}
    </Box>
  );
}

/** What a line typed at the prompt asks for. */
export function parseCommand(line: string): { t: 'move'; move: string } | { t: 'resign' } | { t: 'draw'; op: 'offer' | 'accept' | 'decline' } | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  if (text === 'resign') return { t: 'resign' };
  if (text === 'draw') return { t: 'draw', op: 'offer' };
  if (text === 'accept' || text === 'decline') return { t: 'draw', op: text };
  return { t: 'move', move: text };
}
