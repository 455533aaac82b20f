/**
 * For tests that run compiled code (the CLI in a child process, a worker thread: neither loads
 * TypeScript): dist/ is built first when what they run is missing or older than its sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Builds dist/ (tsc -p tsconfig.json) when one of `outs` is missing or older than the newest of
 * `sources` (files, or folders whose entries count); both are paths in the repository.
 */
export function ensureBuilt(outs: string[], sources: string[]): void {
  const files = sources.flatMap((s) => {
    const p = path.join(repoRoot, s);
    return statSync(p).isDirectory() ? readdirSync(p).map((f) => path.join(p, f)) : [p];
  });
  const newest = Math.max(...files.map((f) => statSync(f).mtimeMs));
  const built = outs.map((o) => path.join(repoRoot, o));
  if (built.every((o) => existsSync(o) && statSync(o).mtimeMs >= newest)) return;
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: repoRoot,
      stdio: 'ignore',
      timeout: 180_000,
    });
  } catch {
    // tsc exits non-zero when other areas have type errors but still emits; the check below decides
  }
  for (const o of built) if (!existsSync(o)) throw new Error(`build did not produce ${path.relative(repoRoot, o)}`);
}
