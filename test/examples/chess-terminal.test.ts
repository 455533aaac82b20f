/**
 * The chess terminal client, run for real in a terminal (tmux): it logs in to its own LAN
 * deployment, is matched against the built-in bot, draws the board, shows a refused move with the
 * host's reason, and ends the game when the player resigns.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/wait.js';

const PLAY = path.resolve('examples/chess/build/examples/chess/play.js');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const session = `iyesmp-chess-${process.pid}`;

// a server of its own (-L): another test ending its sessions cannot take this one down
function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' });
}
const screen = () => tmux('capture-pane', '-p', '-t', session);

afterAll(() => {
  if (hasTmux) spawnSync('tmux', ['-L', session, 'kill-server']);
});

describe.skipIf(!hasTmux)('chess in a terminal', () => {
  it('draws the board, shows a refused move and its reason, and resigns', async () => {
    expect(existsSync(PLAY), 'run `npm run build` first').toBe(true);
    // ink draws only the last frame when it believes it runs in CI (the CI variable): a player's
    // terminal has none, so neither does this one
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '30', `env -u CI NO_COLOR=1 node ${PLAY} --name tester; sleep 30`);
    await pollUntil(() => /You play (White|Black)/.test(screen()), 'the board', 90_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}; the terminal shows:\n${screen()}`);
    });
    const first = screen();
    expect(first).toMatch(/^\s*[18] {2}[rnbqkpRNBQKP.](?: [rnbqkpRNBQKP.]){7}/m);
    expect(first).toMatch(/ {3}[a-h](?: [a-h]){7}/);
    // a king walk is never legal on move one (or it is not our turn): the host refuses with a reason
    tmux('send-keys', '-t', session, 'Ke3', 'Enter');
    await pollUntil(() => /Refused: /.test(screen()), 'a refusal', 20_000, 200);
    expect(screen()).toMatch(/Refused: .*(Ke3 is not a legal move here|it is (White|Black)'s move)/);
    tmux('send-keys', '-t', session, 'resign', 'Enter');
    await pollUntil(() => /You lose\./.test(screen()), 'the end of the game', 20_000, 200);
    expect(screen()).toMatch(/(White|Black) wins: resigned/);
  }, 150_000);
});
