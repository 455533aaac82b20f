// Issue #12, CA secrets on the command line: a secret per CA key, and the guards in front of
// `certs init --force` and `certs retire` (confirmation, --yes, --dry-run, dated backup, proof).
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmDestructive } from '../../src/cli/confirm.js';
import { json, run, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let pki: string;
const files: Record<'master' | 'clientauth' | 'sessionauth' | 'wrong', string> = { master: '', clientauth: '', sessionauth: '', wrong: '' };
const secretFlags = () => [
  '--master-passphrase-file',
  files.master,
  '--clientauth-passphrase-file',
  files.clientauth,
  '--sessionauth-passphrase-file',
  files.sessionauth,
];
const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));

beforeAll(() => {
  tmp = tempDir();
  for (const k of Object.keys(files) as (keyof typeof files)[]) {
    files[k] = path.join(tmp.dir, `${k}.pass`);
    writeFileSync(files[k], `${k} passphrase, long enough\n`);
  }
  pki = path.join(tmp.dir, 'pki');
  const r = run(['certs', 'init', '--dir', pki, '--auth-name', 'auth.example.com', '--hosts', '1', '--host-ip', '10.0.0.1', ...secretFlags(), '--json']);
  if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stdout}${r.stderr}`);
}, 120_000);
afterAll(() => tmp?.cleanup());

describe('a secret per CA key', () => {
  it('records which keys are encrypted, and each command reads only the secret of the CA it uses', () => {
    const m = manifest(pki);
    for (const name of ['master', 'clientauth-1', 'sessionauth']) expect(m.entries.find((e: any) => e.name === name).keyEncrypted).toBe(true);
    // minting needs SessionAuth's secret only; the Master's does not open it
    const mint = ['session', 'mint', '--dir', pki, '--generate-key', '--session', 's-1', '--player', 'p1'];
    expect(run([...mint, '--out', path.join(tmp.dir, 'p1'), '--sessionauth-passphrase-file', files.sessionauth]).code).toBe(0);
    const wrong = run([...mint, '--out', path.join(tmp.dir, 'p2'), '--passphrase-file', files.master, '--json']);
    expect(wrong.code).toBe(3);
    expect(json(wrong).error.code).toBe('bad_passphrase');
    expect(run(['certs', 'issue', 'host', 'host-8', '--dir', pki, '--ip', '10.0.0.8', '--master-passphrase-file', files.master]).code).toBe(0);
    expect(run(['certs', 'issue', 'client', '--dir', pki, '--clientauth-passphrase-file', files.clientauth]).code).toBe(0);
    // a host cert is signed by Master: the ClientAuth secret cannot do it
    expect(run(['certs', 'issue', 'host', 'host-9', '--dir', pki, '--ip', '10.0.0.9', '--passphrase-file', files.clientauth]).code).toBe(3);
  });

  it("without a terminal, init refuses a SessionAuth without its own secret, and one equal to the Master's", () => {
    const dir = path.join(tmp.dir, 'never');
    const shared = run(['certs', 'init', '--dir', dir, '--yes', '--passphrase-file', files.master, '--json']);
    expect(shared.code).toBe(2);
    expect(json(shared).error.code).toBe('sessionauth_secret_required');
    expect(json(shared).error.hint).toContain('--sessionauth-unencrypted');
    const reused = run(['certs', 'init', '--dir', dir, '--yes', '--passphrase-file', files.master, '--sessionauth-passphrase-file', files.master, '--json']);
    expect(reused.code).toBe(2);
    expect(json(reused).error.code).toBe('passphrase_reused');
    expect(existsSync(dir)).toBe(false);
  });

  it('--sessionauth-unencrypted keeps SessionAuth in clear at 0600 and the offline keys encrypted', () => {
    const dir = path.join(tmp.dir, 'clear-session');
    const r = run(['certs', 'init', '--dir', dir, '--yes', '--passphrase-file', files.master, '--sessionauth-unencrypted', '--json']);
    expect(r.code).toBe(0);
    expect(json(r).data.encryptedKeys.sort()).toEqual(['clientauth-1', 'master']);
    expect(manifest(dir).entries.find((e: any) => e.name === 'sessionauth').keyEncrypted).toBe(false);
    expect(statSync(path.join(dir, 'keys/sessionauth.key.pem')).mode & 0o777).toBe(0o600);
    expect(run(['session', 'mint', '--dir', dir, '--generate-key', '--session', 's', '--player', 'p', '--out', path.join(tmp.dir, 'q')]).code).toBe(0);
  });
});

describe('certs retire is guarded', () => {
  let dir: string;
  beforeAll(() => {
    dir = path.join(tmp.dir, 'retire-pki');
    expect(run(['certs', 'init', '--dir', dir, '--yes', ...secretFlags()]).code).toBe(0);
    expect(run(['rotate-clientauth', '--dir', dir, '--master-passphrase-file', files.master, '--clientauth-passphrase-file', files.clientauth]).code).toBe(0);
  }, 120_000);

  it('without a terminal and without --yes it refuses (exit 2) and changes nothing', () => {
    const before = readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    for (const cmd of [
      ['certs', 'retire', '2'],
      ['rotate-clientauth', '--retire', '2'],
    ]) {
      const r = run([...cmd, '--dir', dir, '--master-passphrase-file', files.master, '--json']);
      expect(r.code).toBe(2);
      expect(json(r).error.code).toBe('confirmation_required');
      expect(json(r).error.hint).toContain('--yes');
    }
    expect(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
  });

  it('--dry-run lists the game builds that would be refused, asks for no passphrase and changes nothing', () => {
    const before = readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    const r = run(['certs', 'retire', '1', '--dir', dir, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const d = json(r).data;
    expect(d).toMatchObject({ dryRun: true, wouldRetire: { name: 'clientauth-1' }, newest: false, refusedBuilds: ['client-clientauth-1-1'] });
    expect(d.stillActive.map((e: any) => e.name)).toEqual(['clientauth-2']);
    const human = run(['certs', 'retire', '2', '--dir', dir, '--dry-run']);
    expect(human.stdout).toContain('the newest ClientAuth');
    expect(human.stdout).toContain('client-clientauth-2-1');
    expect(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
  });

  it('with --yes it proves the Master passphrase, backs up the folder (0700, dated) and retires', () => {
    const bad = run(['certs', 'retire', '1', '--dir', dir, '--yes', '--master-passphrase-file', files.wrong]);
    expect(bad.code).toBe(3);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('retire-pki.bak-'))).toEqual([]);
    const r = run(['certs', 'retire', '1', '--dir', dir, '--yes', '--master-passphrase-file', files.master, '--json']);
    expect(r.code).toBe(0);
    const d = json(r).data;
    expect(d.retired).toMatchObject({ name: 'clientauth-1', status: 'retired' });
    expect(path.basename(d.backupDir)).toMatch(/^retire-pki\.bak-\d{8}-\d{6}$/);
    expect(statSync(d.backupDir).mode & 0o777).toBe(0o700);
    expect(manifest(d.backupDir).entries.find((e: any) => e.name === 'clientauth-1').status).toBe('active');
    expect(statSync(path.join(d.backupDir, 'keys/master.key.pem')).mode & 0o777).toBe(0o600);
  });
});

describe('certs init --force is guarded', () => {
  let dir: string;
  beforeAll(() => {
    dir = path.join(tmp.dir, 'force-pki');
    expect(run(['certs', 'init', '--dir', dir, '--yes', ...secretFlags()]).code).toBe(0);
  }, 120_000);
  const again = (...extra: string[]) => run(['certs', 'init', '--dir', dir, '--yes', '--insecure-no-passphrase', '--force', '--json', ...extra]);
  const base = (...extra: string[]) =>
    run(['certs', 'init', '--dir', dir, '--insecure-no-passphrase', '--force', '--auth-name', 'a.example.com', '--hosts', '1', '--json', ...extra]);

  it('without a terminal and without --yes it refuses (exit 2)', () => {
    const id = manifest(dir).pkiId;
    const r = base();
    expect(r.code).toBe(2);
    expect(json(r).error.code).toBe('confirmation_required');
    expect(manifest(dir).pkiId).toBe(id);
  });

  it('--dry-run says what would be replaced and changes nothing', () => {
    const id = manifest(dir).pkiId;
    const r = base('--dry-run');
    expect(r.code).toBe(0);
    expect(json(r).data).toMatchObject({ dryRun: true, replaces: { pkiId: id, encrypted: true } });
    expect(manifest(dir).pkiId).toBe(id);
  });

  it('an encrypted PKI needs its old Master passphrase; then the old folder is kept as a dated 0700 backup', () => {
    const id = manifest(dir).pkiId;
    const none = again();
    expect(none.code).toBe(2);
    expect(json(none).error.code).toBe('old_passphrase_required');
    const wrong = again('--old-passphrase-file', files.sessionauth);
    expect(wrong.code).toBe(3);
    expect(json(wrong).error.code).toBe('bad_passphrase');
    expect(manifest(dir).pkiId).toBe(id);
    const ok = again('--old-passphrase-file', files.master);
    expect(ok.code).toBe(0);
    const backupDir = json(ok).data.backupDir;
    expect(path.basename(backupDir)).toMatch(/^force-pki\.bak-\d{8}-\d{6}$/);
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    expect(manifest(backupDir).pkiId).toBe(id);
    expect(manifest(dir).pkiId).not.toBe(id);
  });
});

describe('confirmDestructive', () => {
  it('goes on only on y/yes, and --yes skips the question', async () => {
    const asked: string[] = [];
    const ask = (answer: string) => async (q: string) => (asked.push(q), answer);
    await confirmDestructive({ yes: false, what: 'x', question: 'Do it?', ask: ask('y') });
    await confirmDestructive({ yes: false, what: 'x', question: 'Do it?', ask: ask('YES') });
    await expect(confirmDestructive({ yes: false, what: 'x', question: 'Do it?', ask: ask('') })).rejects.toMatchObject({ code: 'cancelled' });
    await expect(confirmDestructive({ yes: false, what: 'x', question: 'Do it?', ask: ask('n') })).rejects.toMatchObject({ code: 'cancelled' });
    await confirmDestructive({ yes: true, what: 'x', question: 'Do it?', ask: ask('n') });
    expect(asked).toEqual(['Do it? [y/N] ', 'Do it? [y/N] ', 'Do it? [y/N] ', 'Do it? [y/N] ']);
  });
});
