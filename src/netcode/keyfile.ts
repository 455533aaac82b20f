import { readFile } from 'node:fs/promises';
import { IyesmpError } from '../errors.js';
import { netcodeError } from './errors.js';
import { SECRET_MODE, writeFileAtomic } from '../fs/atomic.js';
import { KEY_BYTES } from './constants.js';
import { randomBytes } from './sodium.js';

/** A new random 32-byte netcode private key. */
export function generatePrivateKey(): Uint8Array {
  return randomBytes(KEY_BYTES);
}

/** Text form written to key files: 64 lower-case hex digits and a newline. */
export function formatPrivateKey(key: Uint8Array): string {
  return Buffer.from(key).toString('hex') + '\n';
}

/** Accepts 64 hex digits or standard base64 of 32 bytes, surrounding whitespace ignored. */
export function parsePrivateKey(text: string, source = 'key'): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=$/.test(t)) return new Uint8Array(Buffer.from(t, 'base64'));
  throw netcodeError('netcode_bad_key', `${source} is not a netcode private key (expected 64 hex digits or base64 of 32 bytes)`, {
    hint: 'create one with `iyesmp netcode keygen -o FILE`',
  });
}

export async function readPrivateKeyFile(file: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw netcodeError('not_found', `key file ${file} does not exist`, { hint: 'create one with `iyesmp netcode keygen -o FILE`' });
    throw err;
  }
  return parsePrivateKey(text, `key file ${file}`);
}

/** Writes a key file with mode 0600 atomically (src/fs); without `force` an existing file is kept. */
export async function writePrivateKeyFile(file: string, key: Uint8Array, force: boolean): Promise<void> {
  try {
    await writeFileAtomic(file, formatPrivateKey(key), { mode: SECRET_MODE, overwrite: force });
  } catch (err) {
    if (err instanceof IyesmpError && err.code === 'exists') {
      throw netcodeError('exists', `${file} already exists; refusing to overwrite a key`, { hint: 'pass --force to replace it' });
    }
    throw err;
  }
}
