/**
 * Dated backups of a PKI folder before a destructive command (`init --force`, `retire`): a sibling
 * `<dir>.bak-YYYYMMDD-HHMMSS`, mode 0700 since it holds CA keys.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { exists, ioError } from './fsutil.js';

export const BACKUP_MODE = 0o700;

/** A name beside `dir` that does not exist yet (a second backup in the same second gets `-2`, ...). */
export async function backupPath(dir: string, now: Date): Promise<string> {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const base = path.join(path.dirname(dir), `${path.basename(dir)}.bak-${stamp}`);
  if (!(await exists(base))) return base;
  for (let i = 2; ; i++) if (!(await exists(`${base}-${i}`))) return `${base}-${i}`;
}

/** Copies the whole folder (keys keep their 0600) and returns where. */
export async function copyToBackup(dir: string, now: Date): Promise<string> {
  const target = await backupPath(dir, now);
  try {
    await fs.cp(dir, target, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true });
    await fs.chmod(target, BACKUP_MODE);
  } catch (err) {
    await fs.rm(target, { recursive: true, force: true }).catch(() => undefined);
    throw ioError(err, 'back up the PKI to', target);
  }
  return target;
}
