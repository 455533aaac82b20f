import { Command, CommanderError, Help } from 'commander';
import { ExitCode } from './cli/exit-codes.js';
import { registerCommands, registerCommandsFor } from './commands/index.js';

/** Commander's usage errors under the project's snake_case codes, so `--json` speaks one style. */
type CommanderCode =
  | 'unknown_option'
  | 'unknown_command'
  | 'missing_argument'
  | 'option_missing_argument'
  | 'missing_option'
  | 'excess_arguments'
  | 'invalid_argument'
  | 'conflicting_flags'
  | 'bad_usage';
const COMMANDER_CODES: Record<string, CommanderCode> = {
  'commander.unknownOption': 'unknown_option',
  'commander.unknownCommand': 'unknown_command',
  'commander.missingArgument': 'missing_argument',
  'commander.optionMissingArgument': 'option_missing_argument',
  'commander.missingMandatoryOptionValue': 'missing_option',
  'commander.excessArguments': 'excess_arguments',
  'commander.invalidArgument': 'invalid_argument',
  'commander.conflictingOption': 'conflicting_flags',
};

/** The command a parse error belongs to ("certs issue"), as commander parsed it, whatever flags came first. */
const commandOf = new WeakMap<CommanderError, string>();

/**
 * The `iyesmp` program. Command modules only declare flags and help here; each action imports
 * its heavy dependencies (crypto, ink, QUIC) lazily so that `iyesmp --help` stays fast.
 * Without `argv` every command is registered; with it, only the group of the command it runs
 * (the others are stubs that list the same in help: src/commands/index.ts).
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  let stubs = new Map<Command, string>();
  const program = new Command('iyesmp')
    .description('Administer iyesmp multiplayer infrastructure: PKI, auth and host servers')
    .version(VERSION, '-V, --version')
    .option('--json', 'print one machine-readable JSON document on stdout (human text goes to stderr)')
    .option('--no-color', 'disable colour (also NO_COLOR=1)')
    .option('-q, --quiet', 'suppress progress notes on stderr')
    .configureHelp({
      showGlobalOptions: true,
      subcommandTerm(this: Help, cmd: Command): string {
        return stubs.get(cmd) ?? Help.prototype.subcommandTerm.call(this, cmd);
      },
    })
    .showHelpAfterError('(run with --help for usage and examples)')
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 check found problems, 2 usage, 3 bad input, 4 conflict (exists/state),
            5 I/O error, 6 refused by policy, 70 internal error. See docs/cli.md.

Examples:
  $ iyesmp certs init --dir ./pki --auth-name auth.example.com --host-name h1.example.com --passphrase-file ./ca.pass --sessionauth-passphrase-file ./sessionauth.pass
  $ iyesmp rotate-clientauth --dir ./pki --passphrase-file ./ca.pass
  $ iyesmp certs check --dir ./pki --within 30d --json`,
  );
  if (argv) stubs = await registerCommandsFor(program, argv);
  else await registerCommands(program);
  // exitOverride on every subcommand so usage errors come back to main() instead of process.exit,
  // each tagged with the command that raised it
  const walk = (c: Command, path: string[]): void => {
    const name = path.join(' ') || 'iyesmp';
    c.exitOverride((err) => {
      commandOf.set(err, name);
      throw err;
    });
    for (const sub of c.commands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  return program;
}

const VERSION = '0.1.0';

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = await buildProgram(argv);
  const json = argv.includes('--json');
  const color = argv.includes('--no-color') ? false : undefined;
  // with --json, stdout carries one JSON document: the version is printed as one below
  let versionText = '';
  if (json) program.configureOutput({ writeOut: (text) => (versionText = text) });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" in commander's exit-override mode
      if (err.code === 'commander.version' && json) {
        process.stdout.write(JSON.stringify({ ok: true, command: 'version', data: { version: VERSION } }, null, 2) + '\n');
        return ExitCode.ok;
      }
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        if (versionText) process.stdout.write(versionText);
        return ExitCode.ok;
      }
      if (json) {
        const message = err.message.replace(/^error: /, '');
        const [{ reportError }, { cliError }] = await Promise.all([import('./cli/output.js'), import('./cli/errors.js')]);
        return reportError(commandOf.get(err) ?? 'iyesmp', cliError(COMMANDER_CODES[err.code] ?? 'bad_usage', message), true, color);
      }
      return ExitCode.usage;
    }
    // error paths only: their modules stay out of the start of every run (`iyesmp --help`)
    const { reportError } = await import('./cli/output.js');
    return reportError('iyesmp', err, json, color);
  }
}
