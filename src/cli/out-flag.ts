import { Option } from 'commander';

/**
 * `-o, --out` names what a command writes, in every command. `--output` was the spelling of the
 * netcode commands: it stays accepted (hidden from help) so scripts written for it keep working.
 */
export function outOption(help: string, opts: { arg?: string; default?: string } = {}): Option {
  const o = new Option(`-o, --out <${opts.arg ?? 'file'}>`, help);
  return opts.default === undefined ? o : o.default(opts.default);
}

export function outputAlias(): Option {
  return new Option('--output <file>', 'same as --out').hideHelp().conflicts('out');
}

export interface OutFlags {
  out?: string;
  output?: string;
}

/** The file given by --out or its alias --output (the alias wins over --out's default). */
export function outFile(opts: OutFlags): string | undefined {
  return opts.output ?? opts.out;
}
