import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SECRET_MODE, writeFileAtomic } from '../../src/fs/atomic.js';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'iyesmp-fs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes with the exact mode and leaves no temp file', async () => {
    const f = path.join(dir, 'key.pem');
    await writeFileAtomic(f, 'secret', { mode: SECRET_MODE });
    expect(readFileSync(f, 'utf8')).toBe('secret');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    await writeFileAtomic(f, 'public');
    expect(readFileSync(f, 'utf8')).toBe('public');
    expect(statSync(f).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['key.pem']);
  });

  it('refuses to replace an existing file unless told to, keeping its content', async () => {
    const f = path.join(dir, 'a.toml');
    writeFileSync(f, 'old');
    await expect(writeFileAtomic(f, 'new', { overwrite: false })).rejects.toMatchObject({ kind: 'conflict', code: 'exists' });
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['a.toml']);
  });

  it('cleans up when the write fails', async () => {
    await expect(writeFileAtomic(path.join(dir, 'missing', 'x'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(writeFileAtomic(dir, 'x')).rejects.toBeInstanceOf(Error); // the target is a folder
    expect(readdirSync(dir)).toEqual([]);
  });
});
