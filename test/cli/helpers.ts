// Runs the built CLI (`node bin/iyesmp.js`) as a subprocess, as an operator or CI job would.
// `npm test` builds first; in your own iterations run `npx tsc -p tsconfig.json` before vitest.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'iyesmp.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): RunResult {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: undefined,
    FORCE_COLOR: undefined,
    IYESMP_PASSPHRASE: undefined,
    IYESMP_MASTER_PASSPHRASE: undefined,
    IYESMP_CLIENTAUTH_PASSPHRASE: undefined,
    IYESMP_SESSIONAUTH_PASSPHRASE: undefined,
    IYESMP_PKI_DIR: undefined,
    IYESMP_DEBUG: undefined,
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  // stdin ignored: the CLI must never wait for input without a terminal
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Parses the single JSON document a `--json` run prints on stdout. */
export function json(r: RunResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

export function tempDir(prefix = 'iyesmp-cli-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ESC of a colour sequence
export const ANSI = /\u001b\[[0-9;]*m/;
export const STACK = /\n\s+at .+\(.+:\d+:\d+\)/;
