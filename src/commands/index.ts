import type { Command } from 'commander';

/**
 * Every command module exports `register(program)`. Keep this list the single place that knows them.
 * Command modules must not import heavy libraries at top level (see src/cli.ts).
 */
export function registerCommands(_program: Command): void {
  // filled in as commands land
}
