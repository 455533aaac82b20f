import { Command, CommanderError } from 'commander';
import { ExitCode } from './cli/exit-codes.js';
import { reportError } from './cli/output.js';
import { IyesmpError } from './errors.js';
import { registerCommands } from './commands/index.js';

/**
 * The `iyesmp` program. Command modules only declare flags and help here; each action imports
 * its heavy dependencies (crypto, ink, QUIC) lazily so that `iyesmp --help` stays fast.
 */
export function buildProgram(): Command {
  const program = new Command('iyesmp')
    .description('Administer iyesmp multiplayer infrastructure: PKI, auth and host servers')
    .version(VERSION, '-V, --version')
    .option('--json', 'print one machine-readable JSON document on stdout (human text goes to stderr)')
    .option('--no-color', 'disable colour (also NO_COLOR=1)')
    .option('-q, --quiet', 'suppress progress notes on stderr')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage and examples)')
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 check found problems, 2 usage, 3 bad input, 4 conflict (exists/state),
            5 I/O error, 6 refused by policy, 70 internal error. See docs/cli.md.

Examples:
  $ iyesmp certs init --dir ./pki --auth-name auth.example.com --passphrase-file ./ca.pass --sessionauth-passphrase-file ./sessionauth.pass
  $ iyesmp rotate-clientauth --dir ./pki --passphrase-file ./ca.pass
  $ iyesmp certs check --dir ./pki --within 30d --json`,
  );
  registerCommands(program);
  // exitOverride on every subcommand so usage errors come back to main() instead of process.exit
  const walk = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

const VERSION = '0.1.0';

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  const color = argv.includes('--no-color') ? false : undefined;
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" in commander's exit-override mode
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return ExitCode.ok;
      }
      if (json) {
        const message = err.message.replace(/^error: /, '');
        return reportError(argv.slice(2).filter((a) => !a.startsWith('-')).slice(0, 2).join(' '), new IyesmpError('usage', err.code.replace('commander.', ''), message), true, color);
      }
      return ExitCode.usage;
    }
    return reportError('iyesmp', err, json, color);
  }
}
