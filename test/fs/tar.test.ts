/** The bundle's tar.gz writer, read back by the system's tar: modes, folders, long paths, same bytes for the same input. */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarGz } from '../../src/fs/tar.js';
import { tempDir } from '../cli/helpers.js';

const t = tempDir('iyesmp-tar-');
afterAll(() => t.cleanup());
const when = new Date('2026-01-02T03:04:05Z');
const long = `b/${'x'.repeat(90)}/${'y'.repeat(60)}/file.txt`;

describe('tarGz', () => {
  it('is read by tar with its folders, modes, contents and a path longer than 100 bytes', () => {
    const bytes = tarGz(
      [
        { path: 'b/', mode: 0o755 },
        { path: 'b/key', mode: 0o600, data: 'secret\n' },
        { path: 'b/empty', mode: 0o644, data: '' },
        { path: 'b/big', mode: 0o644, data: Buffer.alloc(1500, 7) },
        { path: long, mode: 0o640, data: 'deep' },
      ],
      when,
    );
    const file = path.join(t.dir, 'x.tar.gz');
    writeFileSync(file, bytes);
    const list = spawnSync('tar', ['-tzvf', file], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^drwxr-xr-x 0\/0 .* b\/$/m);
    expect(list.stdout).toMatch(/^-rw------- 0\/0 +7 2026-01-02 .* b\/key$/m);
    const out = path.join(t.dir, 'out');
    spawnSync('mkdir', ['-p', out]);
    const x = spawnSync('tar', ['-xzf', file, '-C', out], { encoding: 'utf8' });
    expect(x.status, x.stderr).toBe(0);
    expect(statSync(path.join(out, 'b/key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(out, 'b/key'), 'utf8')).toBe('secret\n');
    expect(readFileSync(path.join(out, 'b/empty'), 'utf8')).toBe('');
    expect(readFileSync(path.join(out, 'b/big')).equals(Buffer.alloc(1500, 7))).toBe(true);
    expect(readFileSync(path.join(out, long), 'utf8')).toBe('deep');
  });

  it('gives the same bytes for the same input, and refuses a path no ustar header holds', () => {
    const entries = [{ path: 'a/f', mode: 0o644, data: 'x' }];
    expect(Buffer.from(tarGz(entries, when)).equals(Buffer.from(tarGz(entries, when)))).toBe(true);
    expect(() => tarGz([{ path: 'z'.repeat(120), mode: 0o644, data: '' }], when)).toThrow(RangeError);
  });
});
