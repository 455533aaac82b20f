import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, run, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('iyesmp-demo-');
});
afterAll(() => tmp?.cleanup());

describe('iyesmp demo', () => {
  it('creates a dev PKI and configs in ./.iyesmp-dev and prints the table', () => {
    const r = run(['demo'], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*WITHOUT a passphrase/);
    const header = r.stdout.split('\n').find((l) => l.startsWith('ROLE'));
    expect(header).toMatch(/ROLE\s+NAME\s+SUBJECT\s+NOT AFTER\s+FINGERPRINT/);
    for (const role of ['master', 'clientauth', 'sessionauth', 'auth', 'host', 'client']) expect(r.stdout).toMatch(new RegExp(`^${role}\\s`, 'm'));
    const dev = path.join(tmp.dir, '.iyesmp-dev');
    for (const f of ['pki/manifest.json', 'auth.toml', 'host-1.toml', 'pki/netcode.key']) expect(existsSync(path.join(dev, f))).toBe(true);
    expect(Buffer.from(readFileSync(path.join(dev, 'pki/netcode.key'), 'utf8').trim(), 'base64')).toHaveLength(32);
    for (const cfg of ['auth.toml', 'host-1.toml']) {
      const c = run(['config', 'check', path.join(dev, cfg), '--json']);
      expect(c.code).toBe(0);
      expect(json(c).data.warnings).toEqual([]);
    }
    expect(run(['certs', 'check', '--dir', path.join(dev, 'pki')]).code).toBe(0);
  });

  it('recreates only its own folder on the next run (new Master) and reports JSON', () => {
    const first = json(run(['certs', 'list', '--json', '--dir', '.iyesmp-dev/pki'], { cwd: tmp.dir })).data.entries.find((e: any) => e.role === 'master');
    const sibling = path.join(tmp.dir, 'keep.txt');
    writeFileSync(sibling, 'mine');
    const r = run(['demo', '--hosts', '2', '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    const d = json(r).data;
    expect(d.pkiDir).toBe(path.join(tmp.dir, '.iyesmp-dev', 'pki'));
    const master = d.entries.find((e: any) => e.role === 'master');
    expect(master.fingerprint).not.toBe(first.fingerprint);
    expect(d.entries.filter((e: any) => e.role === 'host')).toHaveLength(2);
    expect(d.files.map((f: any) => path.basename(f.path))).toEqual(expect.arrayContaining(['auth.toml', 'host-1.toml', 'host-2.toml']));
    expect(readFileSync(sibling, 'utf8')).toBe('mine');
  });

  it('never replaces a folder it did not make', () => {
    const foreign = path.join(tmp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'data.txt'), 'precious');
    const r = run(['demo', '--dev-dir', foreign, '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(4);
    expect(json(r).error.code).toBe('not_a_dev_folder');
    expect(readFileSync(path.join(foreign, 'data.txt'), 'utf8')).toBe('precious');
  });
});
