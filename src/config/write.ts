import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic as writeAtomic } from '../fs/atomic.js';

/**
 * Writes a config (or other operator-facing) file atomically through src/fs, creating its folder.
 * Without `force` an existing file is refused (`conflict`/`exists`, hint: pass --force).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { force?: boolean; mode?: number } = {}): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeAtomic(file, data, { overwrite: Boolean(opts.force), ...(opts.mode !== undefined ? { mode: opts.mode } : {}) });
}
