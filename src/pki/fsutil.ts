/**
 * Crash-safe file writes. A file is written to a temp name in the same folder, fsynced, then renamed
 * over the target, so a reader sees the old or the new content, never a half-written file.
 * FileTransaction groups several writes and puts every file back if one of them fails.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IyesmpError } from '../errors.js';

export const KEY_MODE = 0o600;
export const PUBLIC_MODE = 0o644;

export function ioError(err: unknown, action: string, file: string): IyesmpError {
  if (err instanceof IyesmpError) return err;
  const code = (err as NodeJS.ErrnoException)?.code ?? 'EIO';
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a parent of this path is not a folder',
    ENOENT: 'no such file or folder',
    EEXIST: 'it already exists',
    ENOSPC: 'no space left on the device',
    EISDIR: 'it is a folder',
  };
  return new IyesmpError('io', code === 'ENOENT' ? 'not_found' : 'fs_error', `cannot ${action} ${file}: ${why[code] ?? code}`, {
    cause: err,
    details: { errno: code, path: file },
  });
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable; some file systems refuse fsync on a folder, which is harmless.
  try {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const fh = await fs.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // the umask may have narrowed or widened nothing, but be exact
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(err, 'write', file);
  }
  await fsyncDir(dir);
}

export async function readFileOrNull(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(err, 'read', file);
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** Writes that are undone together. Commit the manifest last so a failure leaves the old state. */
export class FileTransaction {
  private readonly undo: { file: string; previous: Buffer | null; mode: number }[] = [];
  private readonly dirs: string[] = [];

  async mkdir(dir: string, mode = 0o755): Promise<void> {
    if (await exists(dir)) return;
    try {
      await fs.mkdir(dir, { mode });
      await fs.chmod(dir, mode); // exact, whatever the umask
    } catch (err) {
      throw ioError(err, 'create folder', dir);
    }
    this.dirs.push(dir);
  }

  /** `mustBeNew`: refuse to overwrite (a file we did not expect is in the way). */
  async write(file: string, data: string | Uint8Array, mode: number, mustBeNew = false): Promise<void> {
    const previous = await readFileOrNull(file);
    if (previous !== null && mustBeNew) {
      throw new IyesmpError('conflict', 'file_exists', `${file} already exists and is not in the manifest`, {
        hint: 'move it away, or choose another name',
      });
    }
    const st = previous === null ? null : await fs.stat(file).catch(() => null);
    await writeFileAtomic(file, data, mode);
    this.undo.push({ file, previous, mode: st ? st.mode & 0o777 : mode });
  }

  async rollback(): Promise<void> {
    for (const u of this.undo.reverse()) {
      if (u.previous === null) await fs.rm(u.file, { force: true }).catch(() => undefined);
      else await writeFileAtomic(u.file, u.previous, u.mode).catch(() => undefined);
    }
    for (const d of this.dirs.reverse()) await fs.rmdir(d).catch(() => undefined);
    this.undo.length = 0;
  }
}
