import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSI, json, run, STACK, tempDir } from './helpers.js';

const PASS = 'correct horse battery staple';
// SessionAuth has a secret of its own (issue #12)
const SESSION_PASS = 'online sessionauth secret';
let tmp: ReturnType<typeof tempDir>;
let pki: string;
let passFile: string;
let sessionPassFile: string;

beforeAll(() => {
  tmp = tempDir();
  pki = path.join(tmp.dir, 'pki');
  passFile = path.join(tmp.dir, 'ca.pass');
  writeFileSync(passFile, PASS + '\n');
  sessionPassFile = path.join(tmp.dir, 'sessionauth.pass');
  writeFileSync(sessionPassFile, SESSION_PASS + '\n');
  const r = run([
    'certs',
    'init',
    '--dir',
    pki,
    '--auth-name',
    'auth.example.com',
    '--auth-ip',
    '127.0.0.1',
    '--hosts',
    '2',
    '--host-ip',
    '10.0.0.1',
    '--host-ip',
    '10.0.0.2',
    '--passphrase-file',
    passFile,
    '--sessionauth-passphrase-file',
    sessionPassFile,
    '--json',
  ]);
  if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stdout}${r.stderr}`);
});
afterAll(() => tmp?.cleanup());

describe('certs init', () => {
  it('creates the whole hierarchy and reports it as JSON', () => {
    // re-read through list to check what is on disk, not just what init claimed
    const list = json(run(['certs', 'list', '--dir', pki, '--json']));
    expect(list.ok).toBe(true);
    expect(list.command).toBe('certs list');
    const byName = Object.fromEntries(list.data.entries.map((e: any) => [e.name, e]));
    expect(Object.keys(byName).sort()).toEqual(['auth', 'client-clientauth-1-1', 'clientauth-1', 'host-1', 'host-2', 'master', 'sessionauth']);
    expect(byName.auth.dnsNames).toEqual(['auth.example.com']);
    expect(byName.auth.ipAddresses).toEqual(['127.0.0.1']);
    expect(byName['host-1'].ipAddresses).toEqual(['10.0.0.1']);
    expect(byName.master.keyEncrypted).toBe(true);
    expect(byName['clientauth-1'].status).toBe('active');
    for (const e of list.data.entries) expect(e.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the key files are encrypted with the passphrase, never stored in clear', () => {
    const key = readFileSync(
      path.join(pki, JSON.parse(readFileSync(path.join(pki, 'manifest.json'), 'utf8')).entries.find((e: any) => e.name === 'master').keyFile),
      'utf8',
    );
    expect(key).toContain('ENCRYPTED PRIVATE KEY');
    expect(key).not.toContain(PASS);
  });

  it('refuses to overwrite an existing PKI without --force (exit 4)', () => {
    const r = run(['certs', 'init', '--dir', pki, '--yes', '--passphrase-file', passFile, '--json']);
    expect(r.code).toBe(4);
    const doc = json(r);
    expect(doc.ok).toBe(false);
    expect(doc.error.kind).toBe('conflict');
    expect(doc.error.code).toBe('pki_exists');
  });

  it('without a terminal and without answers fails with a usage error naming the flag, without hanging', () => {
    const dir = path.join(tmp.dir, 'never');
    const noName = run(['certs', 'init', '--dir', dir, '--passphrase-file', passFile]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('--auth-name');
    const noPass = run(['certs', 'init', '--dir', dir, '--auth-name', 'a.example.com', '--json']);
    expect(noPass.code).toBe(2);
    const doc = json(noPass);
    expect(doc.error.code).toBe('passphrase_required');
    expect(doc.error.hint).toContain('--passphrase-file');
    expect(existsSync(dir)).toBe(false);
  });

  it('--yes with --insecure-no-passphrase makes an unencrypted PKI and warns', () => {
    const dir = path.join(tmp.dir, 'dev');
    const r = run(['certs', 'init', '--dir', dir, '--yes', '--insecure-no-passphrase', '--algorithm', 'ed25519', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*WITHOUT a passphrase/);
    const doc = json(r);
    expect(doc.data.encrypted).toBe(false);
    expect(doc.data.entries.every((e: any) => e.algorithm === 'ed25519' && !e.keyEncrypted)).toBe(true);
    expect(doc.data.entries.find((e: any) => e.role === 'auth').dnsNames).toEqual(['localhost']);
  });

  it('takes the passphrase from IYESMP_PASSPHRASE', () => {
    const dir = path.join(tmp.dir, 'envpass');
    const r = run(['certs', 'init', '--dir', dir, '--yes', '--json'], { env: { IYESMP_PASSPHRASE: PASS, IYESMP_SESSIONAUTH_PASSPHRASE: SESSION_PASS } });
    expect(r.code).toBe(0);
    expect(json(r).data.encrypted).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(PASS);
  });
});

describe('certs show / verify / check', () => {
  it('show gives the entry, its issuer chain and PEM', () => {
    const doc = json(run(['certs', 'show', 'client-clientauth-1-1', '--dir', pki, '--json']));
    expect(doc.data.entry.role).toBe('client');
    expect(doc.data.chain).toEqual(['client-clientauth-1-1', 'clientauth-1', 'master']);
    expect(doc.data.certPem).toContain('BEGIN CERTIFICATE');
    const missing = run(['certs', 'show', 'nope', '--dir', pki, '--json']);
    expect(missing.code).toBe(3);
    expect(json(missing).error.code).toBe('unknown_cert');
  });

  it('verify accepts a cert of this PKI for its role and refuses the wrong role with exit 6', () => {
    const hostCert = path.join(pki, json(run(['certs', 'show', 'host-1', '--dir', pki, '--json'])).data.entry.certFile);
    const ok = run(['certs', 'verify', hostCert, '--dir', pki, '--role', 'host', '--json']);
    expect(ok.code).toBe(0);
    expect(json(ok).data).toMatchObject({ ok: true, role: 'host' });
    const refused = run(['certs', 'verify', hostCert, '--dir', pki, '--role', 'client', '--json']);
    expect(refused.code).toBe(6);
    expect(json(refused).error).toMatchObject({ kind: 'refused', code: 'wrong_role' });
    const junk = path.join(tmp.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    const malformed = run(['certs', 'verify', junk, '--dir', pki, '--json']);
    expect(malformed.code).toBe(6);
    expect(json(malformed).error.code).toBe('malformed');
    expect(run(['certs', 'verify', path.join(tmp.dir, 'absent.pem'), '--dir', pki]).code).toBe(3);
  });

  it('verify refuses a cert from a foreign PKI as unknown_issuer', () => {
    const other = path.join(tmp.dir, 'foreign');
    expect(run(['certs', 'init', '--dir', other, '--yes', '--insecure-no-passphrase']).code).toBe(0);
    const foreignHost = path.join(other, json(run(['certs', 'show', 'host-1', '--dir', other, '--json'])).data.entry.certFile);
    const r = run(['certs', 'verify', foreignHost, '--dir', pki, '--json']);
    expect(r.code).toBe(6);
    expect(json(r).error.code).toBe('unknown_issuer');
  });

  it('check passes for a 30-day window and fails (exit 1) when certs expire within the window', () => {
    const ok = run(['certs', 'check', '--dir', pki, '--within', '30d', '--json']);
    expect(ok.code).toBe(0);
    expect(json(ok).data.report.ok).toBe(true);
    const late = run(['certs', 'check', '--dir', pki, '--within', '400d', '--json']);
    expect(late.code).toBe(1);
    const doc = json(late);
    expect(doc.error.kind).toBe('check');
    const expiring = doc.error.details.report.findings.filter((f: any) => f.kind === 'expiring').map((f: any) => f.name);
    expect(expiring).toContain('host-1');
    expect(expiring).not.toContain('master');
  });

  it('check rejects a malformed window as a usage error', () => {
    const r = run(['certs', 'check', '--dir', pki, '--within', 'soon', '--json']);
    expect(r.code).toBe(2);
    expect(json(r).error.code).toBe('bad_duration');
  });
});

describe('passphrases', () => {
  it('a wrong passphrase file is a clear input error (exit 3) without a stack trace', () => {
    const bad = path.join(tmp.dir, 'bad.pass');
    writeFileSync(bad, 'not the passphrase\n');
    const r = run(['certs', 'issue', 'host', 'host-x', '--dir', pki, '--ip', '10.0.0.20', '--passphrase-file', bad]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/wrong passphrase/);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toContain('not the passphrase');
    // nothing was issued
    expect(json(run(['certs', 'list', '--dir', pki, '--json'])).data.entries.map((e: any) => e.name)).not.toContain('host-x');
  });

  it('a missing passphrase file is an input error naming the file', () => {
    const r = run(['certs', 'issue', 'host', 'host-y', '--dir', pki, '--ip', '10.0.0.21', '--passphrase-file', path.join(tmp.dir, 'nope.pass'), '--json']);
    expect(r.code).toBe(3);
    expect(json(r).error.code).toBe('passphrase_file_unreadable');
  });

  it('an encrypted PKI without a passphrase source and without a terminal is a usage error', () => {
    const r = run(['certs', 'issue', 'host', 'host-z', '--dir', pki, '--ip', '10.0.0.22', '--json']);
    expect(r.code).toBe(2);
    expect(json(r).error.code).toBe('passphrase_required');
  });
});

describe('issue, rotate-clientauth, retire', () => {
  it('issues a host with its SANs', () => {
    const r = run(['certs', 'issue', 'host', 'host-9', '--dir', pki, '--ip', '10.0.0.9', '--dns', 'h9.example.com', '--passphrase-file', passFile, '--json']);
    expect(r.code).toBe(0);
    const e = json(r).data.issued[0].entry;
    expect(e).toMatchObject({ name: 'host-9', role: 'host', ipAddresses: ['10.0.0.9'], dnsNames: ['h9.example.com'] });
    expect(run(['certs', 'issue', 'host', 'host-9', '--dir', pki, '--ip', '10.0.0.10', '--passphrase-file', passFile]).code).toBe(4);
  });

  it('rotate makes ClientAuth-2 and lists the game build files; retire flips old client certs to refused', () => {
    const oldClient = path.join(pki, json(run(['certs', 'show', 'client-clientauth-1-1', '--dir', pki, '--json'])).data.entry.certFile);
    expect(run(['certs', 'verify', oldClient, '--dir', pki, '--role', 'client']).code).toBe(0);

    const rot = run(['rotate-clientauth', '--dir', pki, '--passphrase-file', passFile, '--json']);
    expect(rot.code).toBe(0);
    const d = json(rot).data;
    expect(d.clientAuth).toMatchObject({ name: 'clientauth-2', status: 'active', clientAuthId: 2 });
    expect(d.active.map((e: any) => e.name).sort()).toEqual(['clientauth-1', 'clientauth-2']);
    expect(d.gameBuildFiles).toHaveLength(4);
    for (const f of d.gameBuildFiles) expect(existsSync(f)).toBe(true);
    // both builds accepted until retirement
    expect(run(['certs', 'verify', oldClient, '--dir', pki, '--role', 'client']).code).toBe(0);
    expect(run(['certs', 'verify', d.client.certPath, '--dir', pki, '--role', 'client']).code).toBe(0);

    const ret = run(['rotate-clientauth', '--retire', '1', '--dir', pki, '--passphrase-file', passFile, '--yes', '--json']);
    expect(ret.code).toBe(0);
    expect(json(ret).data.retired).toMatchObject({ name: 'clientauth-1', status: 'retired' });

    const refused = run(['certs', 'verify', oldClient, '--dir', pki, '--role', 'client', '--json']);
    expect(refused.code).toBe(6);
    expect(json(refused).error.code).toBe('retired_clientauth');
    expect(run(['certs', 'verify', d.client.certPath, '--dir', pki, '--role', 'client']).code).toBe(0);

    // retiring twice, or the last active one, is a conflict
    expect(run(['certs', 'retire', 'clientauth-1', '--dir', pki, '--passphrase-file', passFile]).code).toBe(4);
    expect(run(['certs', 'retire', '2', '--dir', pki, '--passphrase-file', passFile]).code).toBe(4);
    // the list and the signed trust list agree
    expect(run(['certs', 'check', '--dir', pki, '--within', '1d']).code).toBe(0);
  });

  it('issues client certs from the current ClientAuth', () => {
    const r = run(['certs', 'issue', 'client', 'build-7', '--count', '2', '--dir', pki, '--passphrase-file', passFile, '--json']);
    expect(r.code).toBe(0);
    const issued = json(r).data.issued.map((c: any) => c.entry);
    expect(issued.map((e: any) => e.name)).toEqual(['build-7-1', 'build-7-2']);
    expect(issued.every((e: any) => e.issuer === 'clientauth-2')).toBe(true);
  });
});

describe('session mint', () => {
  it('a minted session cert (generated key) verifies as a session cert', () => {
    const prefix = path.join(tmp.dir, 'sessions', 'alice');
    const r = run([
      'session',
      'mint',
      '--dir',
      pki,
      '--generate-key',
      '--session',
      's-42',
      '--player',
      'alice',
      '--ttl',
      '30m',
      '--out',
      prefix,
      '--sessionauth-passphrase-file',
      sessionPassFile,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const d = json(r).data;
    expect(d).toMatchObject({ sessionId: 's-42', playerId: 'alice' });
    expect(d).not.toHaveProperty('privateKeyPem');
    expect(r.stdout).not.toContain('PRIVATE KEY');
    const left = Date.parse(d.notAfter) - Date.now();
    expect(left).toBeGreaterThan(25 * 60_000);
    expect(left).toBeLessThanOrEqual(31 * 60_000);
    expect(readFileSync(prefix + '.key', 'utf8')).toContain('PRIVATE KEY');
    const v = run(['certs', 'verify', prefix + '.crt', '--dir', pki, '--role', 'session', '--json']);
    expect(v.code).toBe(0);
    expect(json(v).data).toMatchObject({ ok: true, role: 'session', fingerprint: d.fingerprint });
  });

  it('mints for a given public key and prints the PEM', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = path.join(tmp.dir, 'bob.pub.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const r = run([
      'session',
      'mint',
      '--dir',
      pki,
      '--public-key',
      pub,
      '--session',
      's-43',
      '--player',
      'bob',
      '--sessionauth-passphrase-file',
      sessionPassFile,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const crt = path.join(tmp.dir, 'bob.crt');
    writeFileSync(crt, r.stdout);
    expect(run(['certs', 'verify', crt, '--dir', pki, '--role', 'session']).code).toBe(0);
  });

  it('needs exactly one key source and refuses bad ids', () => {
    expect(run(['session', 'mint', '--dir', pki, '--session', 's', '--player', 'p']).code).toBe(2);
    expect(run(['session', 'mint', '--dir', pki, '--generate-key', '--session', 's', '--player', 'p']).code).toBe(2);
    const bad = run([
      'session',
      'mint',
      '--dir',
      pki,
      '--generate-key',
      '--out',
      path.join(tmp.dir, 'x'),
      '--session',
      'a/b',
      '--player',
      'p',
      '--sessionauth-passphrase-file',
      sessionPassFile,
      '--json',
    ]);
    expect(bad.code).toBe(2);
  });
});

describe('output conventions', () => {
  it('--json errors are one envelope on stdout with code and kind', () => {
    const r = run(['certs', 'list', '--dir', path.join(tmp.dir, 'absent'), '--json']);
    expect(r.code).not.toBe(0);
    const doc = json(r);
    expect(doc.ok).toBe(false);
    expect(typeof doc.error.code).toBe('string');
    expect(typeof doc.error.kind).toBe('string');
    expect(typeof doc.error.message).toBe('string');
  });

  it('usage errors from the parser are JSON envelopes too', () => {
    const r = run(['certs', 'list', '--role', 'wizard', '--json']);
    expect(r.code).toBe(2);
    expect(json(r).error.kind).toBe('usage');
  });

  it('FORCE_COLOR colours output, while NO_COLOR and --no-color remove every ANSI escape', () => {
    const coloured = run(['certs', 'list', '--dir', pki], { env: { FORCE_COLOR: '1' } });
    expect(coloured.stdout).toMatch(ANSI); // proves the two checks below can fail
    const noColorEnv = run(['certs', 'list', '--dir', pki], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(noColorEnv.code).toBe(0);
    expect(noColorEnv.stdout + noColorEnv.stderr).not.toMatch(ANSI);
    const flag = run(['certs', 'list', '--dir', pki, '--no-color'], { env: { FORCE_COLOR: '1' } });
    expect(flag.stdout + flag.stderr).not.toMatch(ANSI);
    const err = run(['certs', 'show', 'nope', '--dir', pki], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(err.code).toBe(3);
    expect(err.stderr).not.toMatch(ANSI);
  });

  it('--dir defaults to $IYESMP_PKI_DIR', () => {
    const r = run(['certs', 'list', '--json'], { env: { IYESMP_PKI_DIR: pki } });
    expect(r.code).toBe(0);
    expect(json(r).data.dir).toBe(pki);
  });

  it('help lists the subcommands, and every command has examples', () => {
    const r = run(['certs', '--help']);
    expect(r.code).toBe(0);
    for (const sub of ['init', 'issue', 'list', 'show', 'verify', 'check', 'retire']) expect(r.stdout).toMatch(new RegExp(`^\\s+${sub}\\b`, 'm'));
    for (const args of [
      ['certs', 'init', '--help'],
      ['rotate-clientauth', '--help'],
      ['session', 'mint', '--help'],
      ['config', 'scaffold', '--help'],
      ['demo', '--help'],
    ]) {
      expect(run(args).stdout).toContain('Examples:');
    }
  });
});
