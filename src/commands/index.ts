import type { Command } from 'commander';

/**
 * Every command module exports `register(program)`; `registerCommands` below is the single place
 * that registers them all. Command modules must not import heavy libraries at top level (see
 * src/main.ts).
 *
 * Loaded lazily: `iyesmp --help` lists the commands from the names, terms and descriptions in
 * COMMANDS without importing any command module (about 25 files), and a run imports only the
 * module of the command it names. A new top-level command also needs its line in COMMANDS, in help
 * order; test/cli/lazy-commands.test.ts checks the table against what the modules really register.
 */
export interface LazyCommand {
  name: string;
  /** what the parent's help shows before the description (commander's subcommand term) */
  term: string;
  description: string;
  load: () => Promise<{ register: (program: Command) => void }>;
}

export const COMMANDS: readonly LazyCommand[] = [
  {
    name: 'demo',
    term: 'demo [options]',
    description: 'run a complete local deployment: dev PKI, an Auth and a Host server, two bots playing tic-tac-toe (or chess)',
    load: () => import('./demo.js'),
  },
  {
    name: 'certs',
    term: 'certs',
    description: 'create and inspect the PKI: Master, Auth, Host, ClientAuth, SessionAuth and Client certificates',
    load: () => import('./certs.js'),
  },
  {
    name: 'rotate-clientauth',
    term: 'rotate-clientauth [options]',
    description: 'make a new ClientAuth (and its first client cert) for new game builds; old builds stay accepted until retired',
    load: () => import('./rotate-clientauth.js'),
  },
  {
    name: 'session',
    term: 'session',
    description: 'session certificates for players (testing and tools; Auth servers mint them at hand-off)',
    load: () => import('./session.js'),
  },
  { name: 'config', term: 'config', description: 'write and check Auth and Host server config files (TOML)', load: () => import('./config.js') },
  {
    name: 'netcode',
    term: 'netcode',
    description: 'netcode.io 1.02 (or 1.00): keys, connect tokens, a standalone server and a client probe',
    load: () => import('./netcode.js'),
  },
  { name: 'serve', term: 'serve', description: 'run an Auth server or a Host server from its config file', load: () => import('./serve.js') },
  { name: 'db', term: 'db', description: "the Auth servers' database: schema status and migrations", load: () => import('./db.js') },
  {
    name: 'admin',
    term: 'admin',
    description: 'administer running servers through their admin port (Admin certificate): players, bans, hosts, drain',
    load: () => import('./admin-group.js'),
  },
  {
    name: 'top',
    term: 'top [options]',
    description: 'a live view of a running server: hosts and their load, queues, hand-offs, recent refusals (from its admin port)',
    load: () => import('./top.js'),
  },
  {
    name: 'bundle',
    term: 'bundle [options] <kind> <name>',
    description: "pack one server's config, certificate, key and trust list into a .tar.gz to copy to it",
    load: () => import('./bundle.js'),
  },
  {
    name: 'completion',
    term: 'completion <shell>',
    description: 'print a shell completion script (bash, zsh or fish) for every command and option',
    load: () => import('./completion.js'),
  },
];

/** Registers every command for real (a run of a name COMMANDS does not know, tests, docs tools). */
export async function registerCommands(program: Command): Promise<void> {
  (await import('./pki-commands.js')).register(program); // demo, certs, rotate-clientauth, session, config
  (await import('./netcode.js')).register(program); // netcode keygen|token|inspect|serve|connect
  (await import('./serve.js')).register(program); // serve auth|host|broker
  (await import('./db.js')).register(program); // db migrate|status
  (await import('./admin-group.js')).register(program); // admin status|players|sessions|hosts|kick|ban|unban|drain|results|audit
  (await import('./top.js')).register(program); // top
  (await import('./bundle.js')).register(program); // bundle auth|host NAME
  (await import('./completion.js')).register(program); // completion bash|zsh|fish (last: it reads every command registered before it)
}

/**
 * The command an argv runs: the first operand (global flags take no values), or the one after
 * `help`. Undefined for a bare `iyesmp` / `iyesmp --help`.
 */
export function commandNameOf(argv: readonly string[]): string | undefined {
  const operands = argv.slice(2).filter((a) => !a.startsWith('-'));
  return operands[0] === 'help' ? operands[1] : operands[0];
}

/**
 * Registers the command `argv` runs for real and the others as stubs (name, term and description
 * only), so the help that lists them reads the same. A name COMMANDS does not know registers
 * everything, so commander's own "unknown command" handling (and its suggestions) see every
 * command. Returns the stubs with their terms, for the help's subcommandTerm.
 */
export async function registerCommandsFor(program: Command, argv: readonly string[]): Promise<Map<Command, string>> {
  const name = commandNameOf(argv);
  const stubs = new Map<Command, string>();
  if (name !== undefined && !COMMANDS.some((c) => c.name === name)) {
    await registerCommands(program);
    return stubs;
  }
  for (const c of COMMANDS) {
    if (c.name === name) (await c.load()).register(program);
    else stubs.set(program.command(c.name).description(c.description), c.term);
  }
  return stubs;
}
