/**
 * The one crash-safe file write. Data goes to a temp file in the target's folder (same file system,
 * so the last step is atomic), is fsynced, then renamed over the target, or hard-linked to it when
 * overwriting is refused: link fails with EEXIST, so there is no window between a check and the
 * write where a file that appeared could be clobbered. A reader sees the old content or the new,
 * never half a file; the temp file is removed on every path.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fsError } from './errors.js';

/** Private keys, passphrases, shared secrets. */
export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;

export interface AtomicWriteOptions {
  /** exact permission bits, whatever the umask; default PUBLIC_MODE */
  mode?: number;
  /** false: refuse with a `conflict`/`exists` IyesmpError when the target exists; default true */
  overwrite?: boolean;
}

/** Other failures are the file system's own errors (errno codes), for the caller to word. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? PUBLIC_MODE;
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // open's mode is narrowed by the umask; be exact
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.overwrite === false) {
      await link(tmp, file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        throw fsError('exists', `${file} already exists`, { hint: 'pass --force to overwrite it', cause: err });
      });
    } else {
      await rename(tmp, file);
    }
  } finally {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable; some file systems refuse fsync on a folder, which is harmless.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}
