// `iyesmp --help` lists commands from a table instead of importing every command module; the
// help must read exactly as when every command is registered, and the table must not drift.
import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandNameOf } from '../../src/commands/index.js';
import { buildProgram } from '../../src/main.js';

const argv = (...args: string[]) => ['node', 'iyesmp', ...args];

/** The help of `path` (e.g. ['certs', 'init']) as commander renders it at a fixed width. */
function helpOf(program: Command, path: string[]): string {
  let cmd = program;
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  for (let c: Command | null = cmd; c; c = c.parent) c.configureOutput({ getOutHelpWidth: () => 80, getOutHasColors: () => false });
  return cmd.helpInformation();
}

describe('lazy command loading', () => {
  it('the table lists every top-level command, in help order', async () => {
    const full = await buildProgram();
    expect(COMMANDS.map((c) => c.name)).toEqual(full.commands.map((c) => c.name()));
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))('the table says what %s really registers (term and description)', async (_name, entry) => {
    const program = new Command('iyesmp');
    (await entry.load()).register(program);
    const cmd = program.commands.find((c) => c.name() === entry.name);
    expect(cmd).toBeDefined();
    expect(new Help().subcommandTerm(cmd!)).toBe(entry.term);
    expect(cmd!.description()).toBe(entry.description);
  });

  it('top-level help reads the same with stubs as with every module loaded', async () => {
    const full = helpOf(await buildProgram(), []);
    expect(full).toContain('rotate-clientauth [options]');
    for (const args of [['--help'], [], ['--json', '--help'], ['help']]) {
      expect(helpOf(await buildProgram(argv(...args)), [])).toBe(full);
    }
  });

  it.each([
    [['certs', '--help'], ['certs']],
    [
      ['certs', 'init', '--help'],
      ['certs', 'init'],
    ],
    [['help', 'certs'], ['certs']],
    [
      ['--json', 'netcode', 'serve', '--help'],
      ['netcode', 'serve'],
    ],
    [
      ['serve', 'host', '--help'],
      ['serve', 'host'],
    ],
    [['demo', '--help'], ['demo']],
  ])('%j loads its command for real: its help and the top-level help are unchanged', async (args, path) => {
    const full = await buildProgram();
    const lazy = await buildProgram(argv(...args));
    expect(helpOf(lazy, path)).toBe(helpOf(full, path));
    expect(helpOf(lazy, [])).toBe(helpOf(full, []));
    // the other commands are stubs: nothing below them
    const others = lazy.commands.filter((c) => c.name() !== path[0]);
    expect(others.every((c) => c.commands.length === 0)).toBe(true);
  });

  it('an unknown command registers everything, so commander can suggest the right one', async () => {
    const program = await buildProgram(argv('cert', 'list'));
    expect(program.commands.find((c) => c.name() === 'certs')!.commands.length).toBeGreaterThan(0);
    expect(program.commands.find((c) => c.name() === 'netcode')!.commands.length).toBeGreaterThan(0);
  });

  it('finds the command an argv runs', () => {
    expect(commandNameOf(argv())).toBeUndefined();
    expect(commandNameOf(argv('--help'))).toBeUndefined();
    expect(commandNameOf(argv('--json', '-q', 'certs', 'list'))).toBe('certs');
    expect(commandNameOf(argv('help', 'serve'))).toBe('serve');
    expect(commandNameOf(argv('help'))).toBeUndefined();
  });
});
