// CA secrets: a passphrase per CA key, a KDF at today's cost that OpenSSL reads, outdated keys
// re-encrypted on the next write, and `init --force` that proves the old Master passphrase and backs up.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, openPki } from '../../src/pki/index.js';
import { isCurrentKeyEncryption, KDF_ITERATIONS } from '../../src/pki/keys.js';
import { parsePem } from '../../src/pki/pem.js';
import { openssl, tempDir } from './helpers.js';

const MASTER = 'master passphrase';
const CLIENTAUTH = 'clientauth passphrase';
const SESSIONAUTH = 'sessionauth passphrase';
let root: string;
let cleanup: () => void;
beforeAll(() => ({ dir: root, cleanup } = tempDir()));
afterAll(() => cleanup());
let n = 0;
const fresh = () => path.join(root, `pki-${++n}`);
const provider = (value: string, log: string[], name: string) => async () => {
  log.push(name);
  return value;
};
const passFile = (value: string) => {
  const f = path.join(root, `pass-${++n}`);
  writeFileSync(f, value);
  return f;
};
const readsWith = (key: string, pass: string) => openssl(['pkey', '-in', key, '-passin', `file:${passFile(pass)}`, '-noout']).status === 0;

describe('a secret per CA key', () => {
  it('encrypts Master, ClientAuth and SessionAuth each under its own passphrase', async () => {
    const dir = fresh();
    await initPki({ dir, passphrases: { master: async () => MASTER, clientauth: async () => CLIENTAUTH, sessionauth: async () => SESSIONAUTH } });
    const key = (name: string) => path.join(dir, 'keys', `${name}.key.pem`);
    expect(readsWith(key('master'), MASTER)).toBe(true);
    expect(readsWith(key('clientauth-1'), CLIENTAUTH)).toBe(true);
    expect(readsWith(key('sessionauth'), SESSIONAUTH)).toBe(true);
    // the online SessionAuth secret opens nothing else, and the Master secret does not open SessionAuth
    expect(readsWith(key('master'), SESSIONAUTH)).toBe(false);
    expect(readsWith(key('clientauth-1'), SESSIONAUTH)).toBe(false);
    expect(readsWith(key('sessionauth'), MASTER)).toBe(false);
  });

  it('asks each operation for the secret of the CA it uses, and only that one', async () => {
    const dir = fresh();
    await initPki({ dir, passphrases: { master: async () => MASTER, clientauth: async () => CLIENTAUTH, sessionauth: async () => SESSIONAUTH } });
    const log: string[] = [];
    const open = () =>
      openPki(dir, {
        passphrases: {
          master: provider(MASTER, log, 'master'),
          clientauth: provider(CLIENTAUTH, log, 'clientauth'),
          sessionauth: provider(SESSIONAUTH, log, 'sessionauth'),
        },
      });
    await (await (await open()).sessionMinter()).mintWithNewKey({ sessionId: 's-1', playerId: 'p1' });
    expect(log).toEqual(['sessionauth']);
    log.length = 0;
    await (await open()).issueHost({ name: 'host-9', dnsNames: ['h9.example.com'] });
    expect(log).toEqual(['master']);
    log.length = 0;
    await (await open()).issueClient();
    expect(log).toEqual(['clientauth']);
    log.length = 0;
    await (await open()).rotateClientAuth({ issueClient: false });
    expect(log.sort()).toEqual(['clientauth', 'master']);
    // the new ClientAuth key is under the ClientAuth secret, not the Master's
    expect(readsWith(path.join(dir, 'keys', 'clientauth-2.key.pem'), CLIENTAUTH)).toBe(true);
  });

  it('keeps SessionAuth unencrypted (0600) by an explicit choice, the others encrypted', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, passphrases: { master: async () => MASTER, clientauth: async () => CLIENTAUTH }, unencryptedSessionAuthKey: true });
    expect(pki.get('sessionauth').keyEncrypted).toBe(false);
    expect(pki.get('master').keyEncrypted).toBe(true);
    expect(pki.get('clientauth-1').keyEncrypted).toBe(true);
    expect(statSync(path.join(dir, 'keys/sessionauth.key.pem')).mode & 0o777).toBe(0o600);
    await expect(initPki({ dir: fresh(), passphrases: { master: async () => MASTER } })).rejects.toMatchObject({ code: 'unencrypted_ca_keys' });
  });

  it('opens a PKI made under one shared passphrase with that passphrase', async () => {
    const dir = fresh();
    await initPki({ dir, passphrase: async () => MASTER });
    const pki = await openPki(dir, { passphrase: async () => MASTER });
    await pki.issueClient();
    await pki.sessionMinter();
  });
});

describe('key encryption', () => {
  it(`uses PBKDF2-HMAC-SHA256 at ${KDF_ITERATIONS} iterations, which openssl pkey reads`, async () => {
    const dir = fresh();
    await initPki({ dir, passphrases: { master: async () => MASTER, clientauth: async () => CLIENTAUTH, sessionauth: async () => SESSIONAUTH } });
    const key = path.join(dir, 'keys/master.key.pem');
    const parsed = openssl(['asn1parse', '-in', key]).stdout;
    expect(parsed).toContain(':PBES2');
    expect(parsed).toContain(':hmacWithSHA256');
    expect(parsed).toContain(':aes-256-cbc');
    expect(parsed).toMatch(/INTEGER\s+:0927C0/); // 600000
    expect(readsWith(key, MASTER)).toBe(true);
    expect(isCurrentKeyEncryption(parsePem(readFileSync(key, 'utf8'), 'key')[0]!.der)).toBe(true);
  });

  it('re-encrypts a key in the old format (2,048 iterations) on the next write, atomically and 0600', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, passphrases: { master: async () => MASTER, clientauth: async () => CLIENTAUTH, sessionauth: async () => SESSIONAUTH } });
    const keyFile = path.join(dir, 'keys/master.key.pem');
    // what earlier releases wrote: node's export, OpenSSL's PKCS#8 default
    const key = createPrivateKey({ key: readFileSync(keyFile, 'utf8'), passphrase: MASTER });
    writeFileSync(keyFile, key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: MASTER }), { mode: 0o600 });
    const der = () => parsePem(readFileSync(keyFile, 'utf8'), 'key')[0]!.der;
    expect(isCurrentKeyEncryption(der())).toBe(false);
    expect(pki.get('master').keyEncrypted).toBe(true);
    // `certs check` points at it without a passphrase, as a warning
    const report = await pki.check();
    expect(report.ok).toBe(true);
    expect(report.findings).toContainEqual(expect.objectContaining({ name: 'master', kind: 'key_encryption', severity: 'warning' }));

    // reading alone (a minter that never writes) leaves the file as it is
    const reopened = await openPki(dir, { passphrases: { master: async () => MASTER } });
    await reopened.unlockMaster();
    expect(isCurrentKeyEncryption(der())).toBe(false);
    await reopened.issueHost({ name: 'host-7', ipAddresses: ['10.0.0.7'] });
    expect(isCurrentKeyEncryption(der())).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readsWith(keyFile, MASTER)).toBe(true);
    expect(readdirSync(path.join(dir, 'keys')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await reopened.check()).findings.filter((f) => f.kind === 'key_encryption')).toEqual([]);
  });

  it('tells an outdated key from a current one and never throws on foreign input', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const old = key.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' });
    expect(isCurrentKeyEncryption(new Uint8Array(old))).toBe(false);
    expect(isCurrentKeyEncryption(Uint8Array.of(0x30, 0x80))).toBe(false);
    expect(isCurrentKeyEncryption(new Uint8Array(0))).toBe(false);
  });
});

describe('init --force over an existing PKI', () => {
  it('needs the old Master passphrase of an encrypted PKI, and keeps the old one as a dated 0700 backup', async () => {
    const dir = fresh();
    const first = await initPki({ dir, passphrases: { master: async () => MASTER, clientauth: async () => CLIENTAUTH, sessionauth: async () => SESSIONAUTH } });
    const opts = { dir, force: true, allowUnencryptedCaKeys: true };
    await expect(initPki(opts)).rejects.toMatchObject({ kind: 'usage', code: 'old_passphrase_required' });
    await expect(initPki({ ...opts, oldMasterPassphrase: async () => 'not it' })).rejects.toMatchObject({ code: 'bad_passphrase' });
    expect((await openPki(dir)).manifest.pkiId).toBe(first.manifest.pkiId);

    let backup = '';
    const now = new Date('2026-03-04T05:06:07Z');
    const second = await initPki({ ...opts, now, oldMasterPassphrase: async () => MASTER, onBackup: (b) => (backup = b) });
    expect(second.manifest.pkiId).not.toBe(first.manifest.pkiId);
    expect(path.basename(backup)).toBe(`${path.basename(dir)}.bak-20260304-050607`);
    expect(statSync(backup).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(path.join(backup, 'manifest.json'), 'utf8')).pkiId).toBe(first.manifest.pkiId);
    expect(existsSync(path.join(backup, 'keys/master.key.pem'))).toBe(true);
  });

  it('deletes the old PKI instead only when asked to (throw-away development PKIs)', async () => {
    const parent = path.join(root, `dev-${++n}`);
    const dir = path.join(parent, 'pki');
    mkdirSync(parent);
    await initPki({ dir, allowUnencryptedCaKeys: true });
    let told = false;
    await initPki({ dir, allowUnencryptedCaKeys: true, force: true, keepBackup: false, onBackup: () => (told = true) });
    expect(readdirSync(parent)).toEqual(['pki']);
    expect(told).toBe(false);
  });
});
