import path from 'node:path';

/** Default PKI folder: `--dir`, else env IYESMP_PKI_DIR, else ./pki. */
export const DEFAULT_PKI_DIR = './pki';

export function pkiDirDefault(): string {
  return process.env.IYESMP_PKI_DIR && process.env.IYESMP_PKI_DIR !== '' ? process.env.IYESMP_PKI_DIR : DEFAULT_PKI_DIR;
}

export function resolvePkiDir(opt: unknown): string {
  return path.resolve(typeof opt === 'string' && opt !== '' ? opt : pkiDirDefault());
}

export const DIR_FLAG = '--dir <path>';
export const DIR_HELP = 'PKI folder (default: $IYESMP_PKI_DIR or ./pki)';

/** Interactive only when both ends are a terminal: prompts must never hang a CI job. */
export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/** Collects repeatable flags (`--auth-name a --auth-name b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
