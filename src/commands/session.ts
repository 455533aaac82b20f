import type { Command } from 'commander';
import { register as registerMint } from './session-mint.js';

/** `iyesmp session ...`: player session certificates (normally minted by the Auth server at hand-off). */
export function register(program: Command): void {
  const group = program
    .command('session')
    .description('session certificates for players (testing and tools; Auth servers mint them at hand-off)')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp session mint --generate-key --session s-1 --player p-1 --out ./p1`,
    );
  registerMint(group);
}
