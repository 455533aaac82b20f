// `iyesmp certs issue admin`: an operator's Admin certificate, listed, shown and verified like the other roles.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, run, STACK, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let pki: string;

beforeAll(() => {
  tmp = tempDir();
  pki = path.join(tmp.dir, 'pki');
  const r = run(['certs', 'init', '--yes', '--insecure-no-passphrase', '--dir', pki, '--json']);
  if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stdout}${r.stderr}`);
});
afterAll(() => tmp?.cleanup());

describe('certs issue admin', () => {
  it('issues admin-<name> signed by Master; list, show, verify and check know the role', () => {
    const r = run(['certs', 'issue', 'admin', 'alice', '--validity', '60d', '--dir', pki, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const issued = json(r).data.issued[0];
    expect(issued.entry).toMatchObject({ name: 'admin-alice', role: 'admin', issuer: 'master' });
    const list = json(run(['certs', 'list', '--role', 'admin', '--dir', pki, '--json']));
    expect(list.data.entries.map((e: { name: string }) => e.name)).toEqual(['admin-alice']);
    expect(run(['certs', 'show', 'admin-alice', '--dir', pki]).stdout).toContain('admin');
    expect(json(run(['certs', 'verify', issued.certPath, '--role', 'admin', '--dir', pki, '--json'])).data).toMatchObject({ ok: true, role: 'admin' });
    // it is no client: the client role refuses it with the reason (exit 6)
    const asClient = run(['certs', 'verify', issued.certPath, '--role', 'client', '--dir', pki, '--json']);
    expect(asClient.code).toBe(6);
    expect(json(asClient).error.code).toBe('wrong_role');
    expect(json(run(['certs', 'check', '--dir', pki, '--json'])).data.report.entries.some((e: { role: string }) => e.role === 'admin')).toBe(true);
  });

  it('needs a name, takes no --dns/--ip, and refuses a taken name, each with exit 2/4 and no stack', () => {
    const noName = run(['certs', 'issue', 'admin', '--dir', pki, '--json']);
    expect(noName.code).toBe(2);
    expect(json(noName).error.code).toBe('missing_name');
    const dns = run(['certs', 'issue', 'admin', 'bob', '--dns', 'x.example.com', '--dir', pki]);
    expect(dns.code).toBe(2);
    expect(dns.stderr).not.toMatch(STACK);
    run(['certs', 'issue', 'admin', 'carol', '--dir', pki]);
    const again = run(['certs', 'issue', 'admin', 'carol', '--dir', pki, '--json']);
    expect(again.code).toBe(4);
    expect(json(again).error.code).toBe('name_taken');
  });
});
