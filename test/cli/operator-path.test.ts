/**
 * Issue 12, "the operator's path": a PKI made by `certs init`, configs made by `config scaffold`,
 * and `config check` as the CI gate that refuses exactly what `serve` refuses.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, run, tempDir } from './helpers.js';
import { freeUdpPort } from '../support/net.js';
// built output (npm test builds first); tsconfig.test.json types it from src/
import { checkConfigText } from '../../dist/config/load.js';
import { authOptionsFromConfig } from '../../dist/serve/config.js';
import { initPki } from '../../dist/pki/index.js';

const PASS = 'operator-passphrase';
const SESSION_PASS = 'sessionauth-own-passphrase'; // SessionAuth has a secret of its own
let tmp: ReturnType<typeof tempDir>;
let quick: string; // certs init --yes, unencrypted
let locked: string; // encrypted CA and SessionAuth keys
let passFile: string;
let sessionPassFile: string;

beforeAll(() => {
  tmp = tempDir('iyesmp-operator-');
  quick = path.join(tmp.dir, 'quick');
  locked = path.join(tmp.dir, 'locked');
  passFile = path.join(tmp.dir, 'ca.pass');
  writeFileSync(passFile, PASS + '\n');
  sessionPassFile = path.join(tmp.dir, 'sessionauth.pass');
  writeFileSync(sessionPassFile, SESSION_PASS + '\n');
  const a = run(['certs', 'init', '--dir', quick, '--yes', '--insecure-no-passphrase']);
  if (a.code !== 0) throw new Error(a.stderr);
  const b = run([
    'certs',
    'init',
    '--dir',
    locked,
    '--auth-name',
    'localhost',
    '--host-ip',
    '127.0.0.1',
    '--passphrase-file',
    passFile,
    '--sessionauth-passphrase-file',
    sessionPassFile,
  ]);
  if (b.code !== 0) throw new Error(b.stderr);
}, 120_000);
afterAll(() => tmp?.cleanup());

function scaffold(kind: 'auth' | 'host', dir: string, file: string, extra: string[] = []) {
  const r = run(['config', 'scaffold', kind, '--dir', dir, '--out', file, '--force', ...extra]);
  if (r.code !== 0) throw new Error(r.stderr);
  return readFileSync(file, 'utf8');
}

describe('certs init gives host certs the names clients dial', () => {
  it('--yes names hosts localhost and 127.0.0.1 and says so; scaffold and check agree with the cert', () => {
    const hosts = json(run(['certs', 'list', '--dir', quick, '--json'])).data.entries.filter((e: { role: string }) => e.role === 'host');
    expect(hosts.map((h: { dnsNames?: string[]; ipAddresses?: string[] }) => [h.dnsNames, h.ipAddresses])).toEqual([[['localhost'], ['127.0.0.1']]]);
    const file = path.join(tmp.dir, 'quick-host.toml');
    expect(scaffold('host', quick, file)).toContain('public_address = "127.0.0.1"');
    expect(run(['config', 'check', file]).code).toBe(0);
  });

  it('the library names hosts given by count for this machine, as it does the Auth cert', async () => {
    const pki = await initPki({ dir: path.join(tmp.dir, 'lib'), allowUnencryptedCaKeys: true, hosts: 2 });
    const hosts = pki.manifest.entries.filter((e) => e.role === 'host');
    expect(hosts.map((h) => [h.name, h.dnsNames, h.ipAddresses])).toEqual([
      ['host-1', ['localhost'], ['127.0.0.1']],
      ['host-2', ['localhost'], ['127.0.0.1']],
    ]);
  });

  it('without --yes, a host given no name or IP is a usage error naming it and the flags', () => {
    const r = run([
      'certs',
      'init',
      '--dir',
      path.join(tmp.dir, 'never'),
      '--auth-name',
      'a.example.com',
      '--hosts',
      '2',
      '--host-ip',
      '203.0.113.1',
      '--insecure-no-passphrase',
      '--json',
    ]);
    expect(r.code).toBe(2);
    const e = json(r).error;
    expect(e.code).toBe('missing_host_name');
    expect(e.message).toContain('host-2');
    expect(e.message).not.toContain('host-1');
    expect(e.hint).toContain('--host-name');
  });
});

describe('config scaffold takes the cert names; config check refuses a mismatch', () => {
  it('scaffold refuses a --public-address the host cert does not carry', () => {
    const r = run(['config', 'scaffold', 'host', '--dir', quick, '--public-address', '203.0.113.9', '--json']);
    expect(r.code).toBe(3);
    expect(json(r).error.code).toBe('address_not_in_cert');
    expect(json(r).error.message).toContain('127.0.0.1');
  });

  it('check exits 1 when public_address is not a name in the host cert', () => {
    const file = path.join(tmp.dir, 'mismatch.toml');
    writeFileSync(file, scaffold('host', quick, file).replace('public_address = "127.0.0.1"', 'public_address = "203.0.113.9"'));
    const r = run(['config', 'check', file, '--json']);
    expect(r.code).toBe(1);
    expect(json(r).error.message).toContain('203.0.113.9');
    expect(json(r).error.details.problems[0].code).toBe('address_not_in_cert');
  });
});

describe('config check runs what serve runs (exit 1 on each)', () => {
  const authFile = () => path.join(tmp.dir, 'gate', 'auth.toml');
  const checked = (text: string) => {
    mkdirSync(path.dirname(authFile()), { recursive: true });
    writeFileSync(authFile(), text);
    return run(['config', 'check', authFile(), '--json']);
  };

  it('key_passphrase_file on the server key', () => {
    const text = scaffold('auth', quick, authFile()).replace(/^\[pki\]\n/m, '[pki]\nkey_passphrase_file = "../ca.pass"\n');
    const r = checked(text);
    expect(r.code).toBe(1);
    expect(json(r).error.details.problems[0].code).toBe('config_unsupported');
  });

  it('token accounts with only jwks_url: check says what serve says', async () => {
    const text = scaffold('auth', quick, authFile())
      .replace(/^\[accounts\]\n/m, '[accounts]\nmode = "token"\n')
      .replace(/^mode = "guest"\n/m, '')
      .replace(/^\[accounts\.token\]\n/m, '[accounts.token]\njwks_url = "https://id.example.com/.well-known/jwks.json"\n');
    const c = checkConfigText(text, { baseDir: path.dirname(authFile()) });
    if (!c.ok) throw new Error(JSON.stringify(c.problems));
    // whatever serve builds for jwks_url, check follows: one function decides for both
    const served = await authOptionsFromConfig(c.config as never, pino({ level: 'silent' })).then(
      () => undefined,
      (e: { code: string }) => e.code,
    );
    const r = checked(text);
    if (served === undefined) expect(r.code).toBe(0);
    else {
      expect(r.code).toBe(1);
      expect(json(r).error.details.problems[0].code).toBe(served);
    }
  });

  it('an encrypted SessionAuth key with no passphrase source names only the sources serve takes', () => {
    const r = checked(scaffold('auth', locked, authFile()));
    expect(r.code).toBe(1);
    const e = json(r).error;
    expect(e.details.problems[0].code).toBe('sessionauth_passphrase_required');
    for (const way of ['--passphrase-file', 'IYESMP_SESSIONAUTH_PASSPHRASE', 'LoadCredential']) expect(e.hint).toContain(way);
    // the CA-key ways (a prompt, IYESMP_PASSPHRASE) do not reach serve
    expect(e.hint).not.toContain('IYESMP_PASSPHRASE');
    expect(e.hint).not.toContain('prompt');
  });

  it('the SessionAuth passphrase from --passphrase-file, the environment or systemd credentials', () => {
    scaffold('auth', locked, authFile());
    expect(run(['config', 'check', authFile(), '--passphrase-file', sessionPassFile]).code).toBe(0);
    expect(run(['config', 'check', authFile()], { env: { IYESMP_SESSIONAUTH_PASSPHRASE: SESSION_PASS } }).code).toBe(0);
    const creds = path.join(tmp.dir, 'creds');
    mkdirSync(creds, { recursive: true });
    writeFileSync(path.join(creds, 'sessionauth-passphrase'), SESSION_PASS);
    expect(run(['config', 'check', authFile()], { env: { CREDENTIALS_DIRECTORY: creds } }).code).toBe(0);
    const wrong = run(['config', 'check', authFile(), '--json'], { env: { IYESMP_SESSIONAUTH_PASSPHRASE: 'not-the-passphrase' } });
    expect(wrong.code).toBe(1);
    expect(json(wrong).error.details.problems[0].code).toBe('sessionauth_bad_passphrase');
  });

  it('a server cert whose key does not match', () => {
    const text = scaffold('auth', quick, authFile()).replace(/^key = "(.*)\/auth\.key\.pem"$/m, 'key = "$1/host-1.key.pem"');
    expect(text).toContain('host-1.key.pem');
    const r = checked(text);
    expect(r.code).toBe(1);
    expect(json(r).error.details.problems[0].code).toBe('tls_key_mismatch');
  });

  it('a server cert of the wrong role', () => {
    const text = scaffold('auth', quick, authFile())
      .replace(/^cert = "(.*)\/auth\.pem"$/m, 'cert = "$1/host-1.pem"')
      .replace(/^key = "(.*)\/auth\.key\.pem"$/m, 'key = "$1/host-1.key.pem"');
    expect(text).toContain('host-1.pem');
    const r = checked(text);
    expect(r.code).toBe(1);
    expect(json(r).error.details.problems[0].code).toBe('server_cert_refused');
  });
});

describe('serve auth takes the SessionAuth passphrase the ways its hint names', () => {
  it('from systemd credentials ($CREDENTIALS_DIRECTORY), then stops cleanly', async () => {
    const file = path.join(tmp.dir, 'serve', 'auth.toml');
    mkdirSync(path.dirname(file), { recursive: true });
    const [clients, hosts] = [await freeUdpPort(), await freeUdpPort()];
    writeFileSync(
      file,
      scaffold('auth', locked, file)
        .replace('port = 7350', `port = ${clients}`)
        .replace('port = 7351', `port = ${hosts}`)
        .replaceAll('"0.0.0.0"', '"127.0.0.1"')
        // any free port for /metrics: other tests run servers at the same time
        .replace('listen = "127.0.0.1:9464"', 'listen = "127.0.0.1:0"'),
    );
    const creds = path.join(tmp.dir, 'serve-creds');
    mkdirSync(creds, { recursive: true });
    writeFileSync(path.join(creds, 'sessionauth-passphrase'), SESSION_PASS + '\n');
    const env: NodeJS.ProcessEnv = { ...process.env, CREDENTIALS_DIRECTORY: creds };
    delete env.IYESMP_PASSPHRASE;
    const child = spawn(process.execPath, [BIN, 'serve', 'auth', '--config', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening:\n${out}`)), 30_000);
        child.once('exit', (code) => reject(new Error(`serve auth exited (${code}):\n${out}`)));
        child.stdout.on('data', () => {
          if (out.includes('auth server listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
