/**
 * PKI file writes through src/fs/atomic.ts (a reader sees the old or the new content, never a
 * half-written file). FileTransaction groups several writes and puts every file back if one of them fails.
 */
import { promises as fs } from 'node:fs';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import { PUBLIC_MODE, SECRET_MODE, writeFileAtomic as writeAtomic } from '../fs/atomic.js';

export const KEY_MODE = SECRET_MODE;
export { PUBLIC_MODE };

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
  return pkiError.as('io', code === 'ENOENT' ? 'not_found' : 'fs_error', `cannot ${action} ${file}: ${why[code] ?? code}`, {
    cause: err,
    details: { errno: code, path: file },
  });
}

/** src/fs's atomic write with pki's error wording (`io`/`fs_error`, `not_found`). */
async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  try {
    await writeAtomic(file, data, { mode });
  } catch (err) {
    throw ioError(err, 'write', file);
  }
}

/** A text file of the PKI; a failure is an `io` error naming what was being read (`what`) and the file. */
export async function readText(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw ioError(err, what, file);
  }
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
      throw pkiError('file_exists', `${file} already exists and is not in the manifest`, {
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
