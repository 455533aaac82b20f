/** Issue 12, the operator's small frictions: each as an operator or a script meets it. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, run, tempDir } from './helpers.js';
// built output (npm test builds first); tsconfig.test.json types it from src/
import { makeOutput } from '../../dist/cli/output.js';

let tmp: ReturnType<typeof tempDir>;
let pki: string;
beforeAll(() => {
  tmp = tempDir('iyesmp-frictions-');
  // a parent folder that does not exist yet: init makes it, as mkdir -p would
  pki = path.join(tmp.dir, 'a', 'b', 'pki');
  const r = run(['certs', 'init', '--dir', pki, '--yes', '--insecure-no-passphrase', '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(() => tmp?.cleanup());

describe('small frictions (issue 12)', () => {
  it('certs init --dir with a missing parent creates it and says so', () => {
    expect(existsSync(path.join(pki, 'manifest.json'))).toBe(true);
    const again = run(['certs', 'init', '--dir', path.join(tmp.dir, 'c', 'd', 'pki'), '--yes', '--insecure-no-passphrase']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`created the folder ${path.join(tmp.dir, 'c', 'd')}`);
  });

  it('certs issue auth|host without --dns/--ip is a usage error, not a cert for localhost', () => {
    for (const args of [['auth'], ['host', 'host-7']]) {
      const r = run(['certs', 'issue', ...args, '--dir', pki, '--json']);
      expect(r.code).toBe(2);
      expect(json(r).error.code).toBe('missing_san');
      expect(json(r).error.hint).toContain('--dns');
    }
    const ok = json(run(['certs', 'issue', 'auth', 'auth-2', '--dir', pki, '--dns', 'auth2.example.com', '--json']));
    expect(ok.data.issued[0].entry.dnsNames).toEqual(['auth2.example.com']);
  });

  it('-o/--out everywhere; --output stays as a hidden alias', () => {
    const a = path.join(tmp.dir, 'a.key');
    const b = path.join(tmp.dir, 'b.key');
    expect(run(['netcode', 'keygen', '--out', a]).code).toBe(0);
    expect(run(['netcode', 'keygen', '--output', b]).code).toBe(0);
    expect(readFileSync(a, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(readFileSync(b, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    for (const cmd of [
      ['netcode', 'keygen'],
      ['netcode', 'token'],
      ['config', 'scaffold'],
      ['session', 'mint'],
    ]) {
      const help = run([...cmd, '--help']).stdout;
      expect(help, cmd.join(' ')).toContain('-o, --out <');
      expect(help, cmd.join(' ')).not.toContain('--output');
    }
    const conf = path.join(tmp.dir, 'auth.toml');
    expect(run(['config', 'scaffold', 'auth', '--dir', pki, '--output', conf]).code).toBe(0);
    expect(readFileSync(conf, 'utf8')).toContain('kind = "auth"');
  });

  it('--json: parser errors carry snake_case codes and the command that was parsed, whatever comes first', () => {
    const r = run(['--json', '-q', 'demo', '--auth-port', '7', '--bogus']);
    expect(r.code).toBe(2);
    expect(json(r)).toMatchObject({ ok: false, command: 'demo', error: { code: 'unknown_option', kind: 'usage' } });
    const sub = json(run(['--no-color', '--json', 'certs', 'issue']));
    expect(sub).toMatchObject({ command: 'certs issue', error: { code: 'missing_argument' } });
    expect(json(run(['--json', 'certs', 'lst'])).error.code).toBe('unknown_command');
  });

  it('--version --json prints one JSON document', () => {
    const r = run(['--version', '--json']);
    expect(r.code).toBe(0);
    expect(json(r)).toEqual({ ok: true, command: 'version', data: { version: expect.stringMatching(/^\d+\.\d+\.\d+/) } });
    expect(run(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('netcode inspect says "expired N s ago", not "in -N s"', async () => {
    const key = path.join(tmp.dir, 'nc.key');
    const token = path.join(tmp.dir, 'p.token');
    expect(run(['netcode', 'keygen', '-o', key]).code).toBe(0);
    expect(run(['netcode', 'token', '--key', key, '--server', '127.0.0.1:40000', '--client-id', '1', '--expire', '1', '-o', token]).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2100));
    const text = run(['netcode', 'inspect', token, '--key', key]).stdout;
    expect(text).toMatch(/expires\s+\d+ \(expired \d+ s ago\)/);
    expect(text).not.toContain('in -');
  });

  it('notes on stderr are not coloured when stderr is not a terminal, even if stdout is', async () => {
    const saved = { out: process.stdout.isTTY, err: process.stderr.isTTY, force: process.env.FORCE_COLOR, no: process.env.NO_COLOR };
    delete process.env.FORCE_COLOR;
    delete process.env.NO_COLOR;
    process.stdout.isTTY = true;
    process.stderr.isTTY = false;
    try {
      const out = await makeOutput({});
      expect(out.style.bold('x')).not.toBe('x');
      expect(out.noteStyle.bold('x')).toBe('x');
    } finally {
      process.stdout.isTTY = saved.out;
      process.stderr.isTTY = saved.err;
      if (saved.force !== undefined) process.env.FORCE_COLOR = saved.force;
      if (saved.no !== undefined) process.env.NO_COLOR = saved.no;
    }
  });
});
