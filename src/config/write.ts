import { randomBytes } from 'node:crypto';
import { link, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { IyesmpError } from '../errors.js';

/**
 * Writes a file atomically: a temporary file in the same folder, then rename (with `force`) or
 * hard-link (without: link fails with EEXIST, so there is no window where we could clobber a file
 * that appeared after a check). Readers never see a half-written config.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { force?: boolean; mode?: number } = {}): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, data, { mode: opts.mode ?? 0o644, flag: 'wx' });
  try {
    if (opts.force) {
      await rename(tmp, file);
    } else {
      try {
        await link(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new IyesmpError('conflict', 'exists', `${file} already exists`, { hint: 'pass --force to overwrite it' });
        }
        throw err;
      }
      await unlink(tmp);
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
