// `iyesmp certs retire --insecure-no-passphrase` on a development PKI, as rotate-clientauth takes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { json, run, tempDir } from './helpers.js';

let tmp: { dir: string; cleanup(): void };
let pki: string;

beforeAll(() => {
  tmp = tempDir();
  pki = path.join(tmp.dir, 'dev-pki');
  const r = run([
    'certs',
    'init',
    '--dir',
    pki,
    '--auth-name',
    'auth.example.com',
    '--hosts',
    '1',
    '--host-ip',
    '10.0.0.1',
    '--yes',
    '--insecure-no-passphrase',
  ]);
  if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stdout}${r.stderr}`);
  const rot = run(['rotate-clientauth', '--dir', pki, '--insecure-no-passphrase', '--json']);
  if (rot.code !== 0) throw new Error(`rotate failed (${rot.code}): ${rot.stdout}${rot.stderr}`);
}, 120_000);

afterAll(() => tmp?.cleanup());

describe('certs retire --insecure-no-passphrase', () => {
  it('retires a ClientAuth of an unencrypted PKI without asking for a passphrase', () => {
    const r = run(['certs', 'retire', 'clientauth-1', '--dir', pki, '--insecure-no-passphrase', '--yes', '--json']);
    expect(r.code).toBe(0);
    const d = json(r).data;
    expect(d.retired).toMatchObject({ name: 'clientauth-1', status: 'retired' });
    expect(d.active.map((c: { name: string }) => c.name)).toEqual(['clientauth-2']);
    // the listed state agrees with what was signed
    expect(json(run(['certs', 'list', '--dir', pki, '--json'])).data.entries.find((e: { name: string }) => e.name === 'clientauth-1').status).toBe('retired');
  });

  it('refuses the flag together with a passphrase source, like rotate-clientauth', () => {
    const pass = path.join(tmp.dir, 'p.txt');
    writeFileSync(pass, 'x\n');
    for (const cmd of [
      ['certs', 'retire', '2'],
      ['rotate-clientauth', '--retire', '2'],
    ]) {
      const r = run([...cmd, '--dir', pki, '--insecure-no-passphrase', '--passphrase-file', pass, '--json']);
      expect(r.code).toBe(2);
      expect(json(r).error.code).toBe('conflicting_flags');
    }
  });
});
