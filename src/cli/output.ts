import type { Command } from 'commander';
import { IyesmpError, isIyesmpError } from '../errors.js';
import { cliError } from './errors.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';

/**
 * Output conventions shared by every command:
 * - `--json`: exactly one JSON document on stdout, `{ ok: true, command, data }` or
 *   `{ ok: false, command, error: { code, kind, message, hint? } }`. Nothing else on stdout.
 * - human text (results) on stdout without --json; progress and notes always on stderr.
 * - colour off with NO_COLOR, --no-color, or when the stream is not a TTY.
 */
export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  /** progress / notes: stderr, suppressed by --quiet */
  note(text: string): void;
  warn(text: string): void;
  /** the command's result: JSON `data` with --json, else `human()` printed to stdout */
  result(command: string, data: unknown, human: () => string): void;
  /** colours for the result (stdout; stderr with --json) */
  style: Styler;
  /** colours for text written through note/warn: stderr may be a file while stdout is a terminal */
  noteStyle: Styler;
}

export interface Styler {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

const plain: Styler = { bold: (s) => s, dim: (s) => s, green: (s) => s, yellow: (s) => s, red: (s) => s, cyan: (s) => s };

export interface GlobalOptions {
  json?: boolean;
  color?: boolean;
  quiet?: boolean;
}

export function wantsColor(opts: GlobalOptions, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (opts.color === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

/** Builds the Output for a command from its merged options (global flags included). */
export async function makeOutput(opts: GlobalOptions): Promise<Output> {
  const json = Boolean(opts.json);
  const color = wantsColor(opts, json ? process.stderr : process.stdout);
  const noteColor = wantsColor(opts, process.stderr);
  let coloured = plain;
  if (color || noteColor) {
    const { Chalk } = await import('chalk');
    const c = new Chalk({ level: 1 });
    coloured = { bold: c.bold, dim: c.dim, green: c.green, yellow: c.yellow, red: c.red, cyan: c.cyan };
  }
  const style = color ? coloured : plain;
  const noteStyle = noteColor ? coloured : plain;
  const quiet = Boolean(opts.quiet);
  return {
    json,
    color,
    style,
    noteStyle,
    note(text) {
      if (!quiet) process.stderr.write(text.endsWith('\n') ? text : text + '\n');
    },
    warn(text) {
      process.stderr.write(`${noteStyle.yellow('warning:')} ${text}\n`);
    },
    result(command, data, human) {
      if (json) {
        process.stdout.write(JSON.stringify({ ok: true, command, data }, jsonReplacer, 2) + '\n');
      } else {
        const text = human();
        if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
      }
    },
  };
}

/** bigint and Uint8Array are common in our data; make them JSON-safe and stable. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value instanceof Date) return value.toISOString();
  return value;
}

/** Reports an error the documented way and returns the exit code. Never prints a stack unless IYESMP_DEBUG is set. */
export function reportError(command: string, err: unknown, json: boolean, color?: boolean): number {
  const e = toIyesmpError(err);
  if (json) {
    const error: Record<string, unknown> = { code: e.code, kind: e.kind, message: e.message };
    if (e.hint) error.hint = e.hint;
    if (e.details) error.details = e.details;
    process.stdout.write(JSON.stringify({ ok: false, command, error }, jsonReplacer, 2) + '\n');
  }
  const useColor = wantsColor(color === false ? { color } : {}, process.stderr);
  const label = useColor ? '\u001b[31merror:\u001b[39m' : 'error:';
  process.stderr.write(`${label} ${e.message}\n`);
  if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
  if (process.env.IYESMP_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return exitCodeFor(e.kind);
}

function toIyesmpError(err: unknown): IyesmpError {
  if (isIyesmpError(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EADDRINUSE', 'EADDRNOTAVAIL'].includes(code)) {
    return new IyesmpError('io', code.toLowerCase(), (err as Error).message);
  }
  if (typeof code === 'string' && code === 'ENOENT') {
    return cliError('not_found', (err as Error).message);
  }
  const message = err instanceof Error ? err.message : String(err);
  return cliError('internal', `internal error: ${message}`, {
    hint: 'this is a bug in iyesmp; rerun with IYESMP_DEBUG=1 for a stack trace and report it',
  });
}

/**
 * Wraps a command action: builds the Output, runs the body, maps errors to exit codes.
 * The body gets the command's options merged with the global ones, and the positional arguments.
 */
export function action<O extends object = Record<string, unknown>>(
  name: string,
  body: (out: Output, opts: O & GlobalOptions, args: unknown[]) => Promise<number | void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as O & GlobalOptions;
    try {
      const out = await makeOutput(opts);
      const code = await body(out, opts, args.slice(0, -2));
      process.exitCode = code ?? ExitCode.ok;
    } catch (err) {
      process.exitCode = reportError(name, err, Boolean(opts.json), opts.color);
    }
  };
}
