// On-disk behaviour: passphrases, file modes, clear errors, and nothing half-written after a failure.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { initPki, loadTrustBundle, openPki, readPublicKey, type Pki } from '../../src/pki/index.js';
import { snapshot, tempDir } from './helpers.js';

const PASS = 's3cret passphrase';
let root: string;
let cleanup: () => void;
beforeAll(() => ({ dir: root, cleanup } = tempDir()));
afterAll(() => cleanup());

let n = 0;
const fresh = () => path.join(root, `pki-${++n}`);

async function expectError(p: Promise<unknown>, kind: string, code: string): Promise<IyesmpError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IyesmpError);
  expect(err).toMatchObject({ kind, code });
  expect((err as Error).message.length).toBeGreaterThan(10);
  return err as IyesmpError;
}

describe('passphrases and key files', () => {
  let pki: Pki;
  let dir: string;
  let asked = 0;
  beforeEach(async () => {
    dir = fresh();
    asked = 0;
    pki = await initPki({
      dir,
      passphrase: async () => {
        asked++;
        return PASS;
      },
      hosts: 1,
    });
  });

  it('encrypts CA keys, leaves leaf keys plain, and writes every key 0600', () => {
    expect(asked).toBe(1);
    for (const e of pki.list()) {
      const pem = readFileSync(pki.path(e.keyFile!), 'utf8');
      const ca = ['master', 'clientauth', 'sessionauth'].includes(e.role);
      expect(pem.includes('BEGIN ENCRYPTED PRIVATE KEY'), e.name).toBe(ca);
      expect(e.keyEncrypted, e.name).toBe(ca);
      expect(statSync(pki.path(e.keyFile!)).mode & 0o777, e.name).toBe(0o600);
    }
    expect(statSync(path.join(dir, 'keys')).mode & 0o777).toBe(0o700);
  });

  it('round-trips: reopened with the passphrase it issues, asking once', async () => {
    let count = 0;
    const again = await openPki(dir, { passphrase: async () => (count++, PASS) });
    const rot = await again.rotateClientAuth();
    await again.issueHost({ name: 'extra' });
    expect(count).toBe(1);
    expect(readFileSync(again.path(rot.clientAuth.keyFile!), 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(statSync(again.path('keys/extra.key.pem')).mode & 0o777).toBe(0o600);
    const minter = await again.sessionMinter();
    expect((await minter.mintWithNewKey({ sessionId: 'a', playerId: 'b' })).certPem).toContain('BEGIN CERTIFICATE');
  });

  it('refuses a wrong passphrase clearly and writes nothing', async () => {
    const before = snapshot(dir);
    const again = await openPki(dir, { passphrase: async () => 'nope' });
    const err = await expectError(again.issueHost({ name: 'h9' }), 'input', 'bad_passphrase');
    expect(err.message).toMatch(/wrong passphrase/);
    await expectError(again.rotateClientAuth(), 'input', 'bad_passphrase');
    await expectError(again.sessionMinter(), 'input', 'bad_passphrase');
    expect(snapshot(dir)).toEqual(before);
  });

  it('asks for a passphrase when an encrypted key is needed and none was given', async () => {
    const again = await openPki(dir);
    await expectError(again.issueHost({ name: 'h9' }), 'usage', 'passphrase_required');
    // listing needs no key at all
    expect(again.list().length).toBe(6);
  });
});

describe('unencrypted CA keys need an explicit option', () => {
  it('refuses without passphrase or option, creating nothing', async () => {
    const dir = fresh();
    await expectError(initPki({ dir }), 'usage', 'unencrypted_ca_keys');
    expect(existsSync(dir)).toBe(false);
  });

  it('allows them with allowUnencryptedCaKeys, and rotation needs the option again', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, allowUnencryptedCaKeys: true });
    expect(readFileSync(pki.path('keys/master.key.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    await expectError((await openPki(dir)).rotateClientAuth(), 'usage', 'unencrypted_ca_keys');
    const rot = await (await openPki(dir, { allowUnencryptedCaKeys: true })).rotateClientAuth();
    expect(rot.clientAuth.keyEncrypted).toBe(false);
  });

  it('can keep only the SessionAuth key plain, for unattended auth servers', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, passphrase: async () => PASS, unencryptedSessionAuthKey: true });
    expect(pki.get('sessionauth').keyEncrypted).toBe(false);
    expect(pki.get('master').keyEncrypted).toBe(true);
    const minter = await (await openPki(dir)).sessionMinter();
    expect(minter.algorithm).toBe('p256');
  });
});

describe('opening damaged or missing PKI folders', () => {
  let dir: string;
  beforeEach(async () => {
    dir = fresh();
    await initPki({ dir, allowUnencryptedCaKeys: true });
  });

  it('reports a missing folder, a missing manifest, corrupt and truncated manifests', async () => {
    await expectError(openPki(path.join(root, 'does-not-exist')), 'io', 'no_pki');
    const manifest = path.join(dir, 'manifest.json');
    const text = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, text.slice(0, text.length / 2));
    await expectError(openPki(dir), 'input', 'bad_manifest');
    writeFileSync(manifest, text.replace('"version": 1', '"version": 99'));
    await expectError(openPki(dir), 'input', 'manifest_version');
    writeFileSync(manifest, text.replace(/"role": "auth"/, '"role": "wizard"'));
    await expectError(openPki(dir), 'input', 'bad_manifest');
    writeFileSync(manifest, text.replace('"certFile": "certs/auth.pem"', '"certFile": "../../etc/passwd"'));
    await expectError(openPki(dir), 'input', 'bad_manifest');
    writeFileSync(manifest, '');
    await expectError(openPki(dir), 'input', 'bad_manifest');
    const { rmSync } = await import('node:fs');
    rmSync(manifest);
    const err = await expectError(openPki(dir), 'input', 'no_manifest');
    expect(err.hint).toBeTruthy();
  });

  it('reports corrupt and truncated PEM files', async () => {
    const pki = await openPki(dir, { allowUnencryptedCaKeys: true });
    const hostPem = pki.path('certs/host-1.pem');
    const text = readFileSync(hostPem, 'utf8');
    writeFileSync(hostPem, text.slice(0, 200));
    await expectError(pki.certPem('host-1'), 'input', 'bad_pem');
    writeFileSync(hostPem, text.replace(/[A-Za-z0-9]{10}/, '!!!!!!!!!!'));
    await expectError(pki.certPem('host-1'), 'input', 'bad_pem');
    writeFileSync(hostPem, readFileSync(pki.path('certs/host-1.pem').replace('host-1', 'auth')));
    await expectError(pki.certPem('host-1'), 'input', 'fingerprint_mismatch');
    const report = await pki.check();
    expect(report.ok).toBe(false);
    expect(report.findings).toContainEqual(expect.objectContaining({ name: 'host-1', kind: 'fingerprint_mismatch' }));

    const before = snapshot(dir);
    const masterKey = pki.path('keys/master.key.pem');
    const keyText = readFileSync(masterKey, 'utf8');
    writeFileSync(masterKey, keyText.slice(0, 60));
    await expectError(pki.issueHost({ name: 'h2' }), 'input', 'bad_pem');
    writeFileSync(masterKey, keyText);
    expect(snapshot(dir)).toEqual(before);
  });

  it('rejects a tampered ClientAuth list', async () => {
    const list = path.join(dir, 'trust/clientauths.json');
    const text = readFileSync(list, 'utf8');
    await expect(loadTrustBundle(dir)).resolves.toMatchObject({ sequence: 1 });
    writeFileSync(list, text.replace('"status": "active"', '"status": "retired"'));
    await expectError(loadTrustBundle(dir), 'input', 'bad_trust_signature');
    writeFileSync(list, text);
    // a list signed by another PKI's Master does not pass either
    const other = fresh();
    await initPki({ dir: other, allowUnencryptedCaKeys: true });
    await expectError(loadTrustBundle(dir, { masterPem: readFileSync(path.join(other, 'trust/master.pem'), 'utf8') }), 'input', 'bad_trust_signature');
    await expectError(loadTrustBundle(dir, { minSequence: 2 }), 'input', 'bad_trust_list');
  });
});

describe('init overwrite rules', () => {
  it('refuses an existing non-empty folder unless forced, and force replaces it whole', async () => {
    const dir = fresh();
    const first = await initPki({ dir, allowUnencryptedCaKeys: true });
    const before = snapshot(dir);
    await expectError(initPki({ dir, allowUnencryptedCaKeys: true }), 'conflict', 'pki_exists');
    expect(snapshot(dir)).toEqual(before);
    const second = await initPki({ dir, allowUnencryptedCaKeys: true, force: true, hosts: 3 });
    expect(second.manifest.pkiId).not.toBe(first.manifest.pkiId);
    expect(second.list('host')).toHaveLength(3);
    // no temp or backup folders left next to it
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('never force-replaces a non-empty folder that is not a PKI', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
    await expectError(initPki({ dir, allowUnencryptedCaKeys: true, force: true }), 'conflict', 'not_a_pki');
    expect(readdirSync(dir)).toEqual(['precious.txt']);
  });

  it('accepts an existing empty folder', async () => {
    const dir = fresh();
    mkdirSync(dir);
    await initPki({ dir, allowUnencryptedCaKeys: true });
    expect(existsSync(path.join(dir, 'manifest.json'))).toBe(true);
  });
});

describe('unwritable places leave nothing half-written', () => {
  // Tests run as root, where chmod 0500 does not stop writes; these failures are real for root too.
  it('init under a path whose parent is a regular file fails cleanly', async () => {
    const file = path.join(root, `plain-file-${++n}`);
    writeFileSync(file, 'x');
    const err = await expectError(initPki({ dir: path.join(file, 'pki'), allowUnencryptedCaKeys: true }), 'io', 'fs_error');
    expect(err.message).toMatch(/not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('a failure in the middle of issuing rolls back the files already written', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, allowUnencryptedCaKeys: true });
    // the key path is taken by a folder: the cert is written first, then the key write fails
    mkdirSync(path.join(dir, 'keys/h2.key.pem'));
    const before = snapshot(dir);
    const manifestBefore = readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    await expect(pki.issueHost({ name: 'h2' })).rejects.toBeInstanceOf(IyesmpError);
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(manifestBefore);
    expect(pki.list().some((e) => e.name === 'h2')).toBe(false);
  });

  it('a failure while rewriting the trust list restores the old list and manifest', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, allowUnencryptedCaKeys: true });
    const sig = path.join(dir, 'trust/clientauths.json.sig');
    const sigText = readFileSync(sig, 'utf8');
    const listText = readFileSync(path.join(dir, 'trust/clientauths.json'), 'utf8');
    // make the trust folder refuse new entries for the signature: replace the file by a folder
    const { rmSync } = await import('node:fs');
    rmSync(sig);
    mkdirSync(sig);
    writeFileSync(path.join(sig, 'keep'), 'x');
    const before = snapshot(dir);
    await expect(pki.rotateClientAuth()).rejects.toBeInstanceOf(IyesmpError);
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(path.join(dir, 'trust/clientauths.json'), 'utf8')).toBe(listText);
    expect(pki.clientAuths().map((c) => c.name)).toEqual(['clientauth-1']);
    expect((await openPki(dir)).clientAuths().map((c) => c.name)).toEqual(['clientauth-1']);
    rmSync(sig, { recursive: true });
    writeFileSync(sig, sigText);
    await expect(loadTrustBundle(dir)).resolves.toMatchObject({ sequence: 1 });
  });

  it('an existing stray file is never overwritten by issue', async () => {
    const dir = fresh();
    const pki = await initPki({ dir, allowUnencryptedCaKeys: true });
    writeFileSync(path.join(dir, 'certs/h3.pem'), 'mine');
    chmodSync(path.join(dir, 'certs/h3.pem'), 0o644);
    const before = snapshot(dir);
    await expectError(pki.issueHost({ name: 'h3' }), 'conflict', 'file_exists');
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(path.join(dir, 'certs/h3.pem'), 'utf8')).toBe('mine');
  });
});

describe('check, verify a file, inputs', () => {
  let pki: Pki;
  const t0 = new Date('2032-06-01T00:00:00Z');
  beforeAll(async () => {
    pki = await initPki({ dir: fresh(), allowUnencryptedCaKeys: true, now: t0, validityDays: { host: 20 } });
  });

  it('reports expiry within a window and nesting', async () => {
    const ok = await pki.check({ now: new Date(t0.getTime() + 86_400_000), withinDays: 7 });
    expect(ok.ok).toBe(true);
    expect(ok.findings).toEqual([]);
    expect(ok.entries.find((e) => e.name === 'host-1')!.daysLeft).toBe(19);
    const soon = await pki.check({ now: new Date(t0.getTime() + 15 * 86_400_000), withinDays: 7 });
    expect(soon.ok).toBe(true);
    expect(soon.findings).toContainEqual(expect.objectContaining({ name: 'host-1', kind: 'expiring', severity: 'warning' }));
    const late = await pki.check({ now: new Date(t0.getTime() + 21 * 86_400_000) });
    expect(late.ok).toBe(false);
    expect(late.findings).toContainEqual(expect.objectContaining({ name: 'host-1', kind: 'expired', severity: 'error' }));
  });

  it('reports validity that is not nested and a manifest that disagrees with the signed list', async () => {
    const dir = fresh();
    await initPki({ dir, allowUnencryptedCaKeys: true, now: t0 });
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as { entries: { name: string; notAfter: string; status?: string }[] };
    const ca = m.entries.find((e) => e.name === 'clientauth-1')!;
    ca.notAfter = new Date(t0.getTime() + 86_400_000).toISOString();
    ca.status = 'retired';
    writeFileSync(file, JSON.stringify(m));
    const report = await (await openPki(dir)).check({ now: new Date(t0.getTime() + 1000) });
    expect(report.ok).toBe(false);
    expect(report.findings).toContainEqual(expect.objectContaining({ name: 'client-clientauth-1-1', kind: 'not_nested' }));
    expect(report.findings).toContainEqual(expect.objectContaining({ name: 'clientauth-1', kind: 'trust_list' }));
  });

  it('verifies cert files, optionally for a role', async () => {
    const now = new Date(t0.getTime() + 1000);
    expect(await pki.verifyCertFile(pki.path('certs/host-1.pem'), { now })).toMatchObject({ ok: true, role: 'host', name: 'host-1' });
    expect(await pki.verifyCertFile(pki.path('certs/host-1.pem'), { now, role: 'auth' })).toMatchObject({ ok: false, reason: 'wrong_role' });
    expect(await pki.verifyCertFile(pki.path('certs/clientauth-1.pem'), { now })).toMatchObject({ ok: true, role: 'clientauth' });
    const client = await pki.verifyCertFile(pki.path('certs/client-clientauth-1-1.pem'), { now });
    expect(client).toMatchObject({ ok: true, role: 'client' });
    expect(client.chain).toHaveLength(3);
    const other = await initPki({ dir: fresh(), allowUnencryptedCaKeys: true, now: t0 });
    expect(await pki.verifyCertFile(other.path('certs/host-1.pem'), { now })).toMatchObject({ ok: false, reason: 'unknown_issuer' });
    await expectError(pki.verifyCertFile(path.join(root, 'nope.pem')), 'io', 'not_found');
  });

  it('reads public keys as PEM or DER and refuses other key types', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect(readPublicKey(ec.export({ format: 'pem', type: 'spki' }).toString()).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(readPublicKey(new Uint8Array(ec.export({ format: 'der', type: 'spki' }))).type).toBe('public');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() => readPublicKey(rsa.export({ format: 'pem', type: 'spki' }).toString())).toThrow(expect.objectContaining({ code: 'unsupported_key' }));
    expect(() => readPublicKey(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'bad_public_key' }));
  });

  it('mints only for well-formed client keys (on-curve EC points, Ed25519)', async () => {
    const m = await pki.sessionMinter();
    const now = new Date(t0.getTime() + 1000);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const offCurve = Buffer.from(ec);
    offCurve[offCurve.length - 1]! ^= 1;
    await expect(m.mint({ publicKey: offCurve, sessionId: 's', playerId: 'p', now })).rejects.toMatchObject({ code: 'bad_public_key' });
    // the same point in compressed form (02/03 || X) is refused: certs carry uncompressed points
    // P-256 SPKI = 23-byte header (SEQ + AlgorithmIdentifier) then BIT STRING 00 04 X Y
    const x = ec.subarray(27, 59);
    const compressed = Buffer.concat([Buffer.from([0x30, 0x39]), ec.subarray(2, 23), Buffer.from([0x03, 0x22, 0x00, 0x02 | (ec[ec.length - 1]! & 1)]), x]);
    expect((await import('node:crypto')).createPublicKey({ key: compressed, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec');
    const err = await m.mint({ publicKey: compressed, sessionId: 's', playerId: 'p', now }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/uncompressed/);
    await expect(m.mint({ publicKey: compressed, sessionId: 's', playerId: 'p', now })).rejects.toMatchObject({ code: 'bad_public_key' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await expect(m.mint({ publicKey: rsa, sessionId: 's', playerId: 'p', now })).rejects.toMatchObject({ code: 'bad_public_key' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    // a P-256 SessionAuth can certify P-384 and Ed25519 client keys too: the key is the client's choice
    const v = await pki.verifier();
    for (const key of [ec, p384, new Uint8Array(ed), Buffer.from(p384)]) {
      const s = await m.mint({ publicKey: key, sessionId: 's', playerId: 'p', now });
      expect((await v.verify([s.certDer], { kind: 'session', sessionId: 's', playerId: 'p' }, now)).ok).toBe(true);
    }
  });

  it('validates session and player ids before minting', async () => {
    const m = await pki.sessionMinter();
    const now = new Date(t0.getTime() + 1000);
    for (const bad of ['', 'a/b', '../x', 'a b', 'x'.repeat(65), 'é']) {
      await expect(m.mintWithNewKey({ sessionId: bad, playerId: 'p', now })).rejects.toMatchObject({ kind: 'usage', code: 'bad_session_id' });
      await expect(m.mintWithNewKey({ sessionId: 's', playerId: bad, now })).rejects.toMatchObject({ kind: 'usage', code: 'bad_player_id' });
    }
    await expect(m.mintWithNewKey({ sessionId: 's', playerId: 'p', ttlSeconds: 0, now })).rejects.toMatchObject({ code: 'bad_ttl' });
    // ttl is clipped to SessionAuth's end
    const late = new Date(new Date(pki.get('sessionauth').notAfter).getTime() - 60_000);
    const s = await m.mintWithNewKey({ sessionId: 's', playerId: 'p', now: late, ttlSeconds: 3600 });
    expect(s.notAfter.toISOString()).toBe(pki.get('sessionauth').notAfter);
  });
});
