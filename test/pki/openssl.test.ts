// Every chain the library writes must pass `openssl verify -x509_strict`, for each key algorithm.
// OpenSSL 3.0 accepts Ed25519 leaves and CAs for -purpose sslserver/sslclient (the purpose checks
// look at key usage / EKU / basic constraints, not at the key type), so all three run the same checks.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, type KeyAlgorithm, type Pki } from '../../src/pki/index.js';
import { openssl, opensslVerify, tempDir } from './helpers.js';

const PASS = 'correct horse battery staple';

describe.each<KeyAlgorithm>(['p256', 'p384', 'ed25519'])('openssl verify -x509_strict (%s)', (algorithm) => {
  let dir: string;
  let cleanup: () => void;
  let pki: Pki;
  const p = (rel: string) => path.join(dir, 'pki', rel);
  const root = () => p('certs/master.pem');

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    pki = await initPki({
      dir: path.join(dir, 'pki'),
      algorithm,
      passphrase: async () => PASS,
      hosts: [{ name: 'eu-1', dnsNames: ['eu-1.example.net'], ipAddresses: ['192.0.2.10', '2001:db8::10'] }, { name: 'us-1' }],
      authDnsNames: ['auth.example.net', 'localhost'],
      authIpAddresses: ['127.0.0.1'],
      organization: 'Example Games, Inc.',
    });
  });
  afterAll(() => cleanup());

  it('accepts every chain written by init', () => {
    for (const leaf of ['auth', 'eu-1', 'us-1']) {
      expect(opensslVerify({ root: root(), leaf: p(`certs/${leaf}.pem`), purpose: 'sslserver' }).status, leaf).toBe(0);
    }
    for (const host of ['eu-1', 'us-1']) {
      expect(opensslVerify({ root: root(), leaf: p(`certs/${host}.pem`), purpose: 'sslclient' }).status).toBe(0);
    }
    const r = opensslVerify({ root: root(), untrusted: p('certs/clientauth-1.pem'), leaf: p('certs/client-clientauth-1-1.pem'), purpose: 'sslclient' });
    expect(r.stdout + r.stderr).toContain('OK');
    expect(r.status).toBe(0);
    for (const ca of ['master', 'clientauth-1', 'sessionauth']) {
      expect(opensslVerify({ root: root(), leaf: p(`certs/${ca}.pem`) }).status, ca).toBe(0);
    }
    // the copy in trust/ is the same Master
    expect(opensslVerify({ root: p('trust/master.pem'), leaf: p('certs/auth.pem'), purpose: 'sslserver' }).status).toBe(0);
  });

  it('refuses a client cert without its ClientAuth intermediate (the check is real)', () => {
    expect(opensslVerify({ root: root(), leaf: p('certs/client-clientauth-1-1.pem'), purpose: 'sslclient' }).status).not.toBe(0);
  });

  it('accepts certs from issue and rotate', async () => {
    const auth2 = await pki.issueAuth({ dnsNames: ['auth2.example.net'] });
    const host3 = await pki.issueHost({ name: 'ap-1', ipAddresses: ['198.51.100.7'] });
    const client2 = await pki.issueClient({});
    expect(opensslVerify({ root: root(), leaf: auth2.certPath, purpose: 'sslserver' }).status).toBe(0);
    expect(opensslVerify({ root: root(), leaf: host3.certPath, purpose: 'sslserver' }).status).toBe(0);
    expect(opensslVerify({ root: root(), leaf: host3.certPath, purpose: 'sslclient' }).status).toBe(0);
    expect(opensslVerify({ root: root(), untrusted: p('certs/clientauth-1.pem'), leaf: client2.certPath, purpose: 'sslclient' }).status).toBe(0);

    const rot = await pki.rotateClientAuth();
    expect(rot.clientAuth.name).toBe('clientauth-2');
    expect(opensslVerify({ root: root(), leaf: p(rot.clientAuth.certFile) }).status).toBe(0);
    expect(opensslVerify({ root: root(), untrusted: p(rot.clientAuth.certFile), leaf: rot.client!.certPath, purpose: 'sslclient' }).status).toBe(0);
    // the chain PEM (leaf + ClientAuth) works as the untrusted bundle too
    const chainFile = path.join(dir, 'chain.pem');
    writeFileSync(chainFile, rot.client!.chainPem);
    expect(opensslVerify({ root: root(), untrusted: chainFile, leaf: rot.client!.certPath, purpose: 'sslclient' }).status).toBe(0);
  });

  it('accepts session certs minted from an OpenSSL-made public key and from a generated key', async () => {
    const keyFile = path.join(dir, 'client.key');
    const genArgs =
      algorithm === 'ed25519'
        ? ['genpkey', '-algorithm', 'ED25519', '-out', keyFile]
        : ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${algorithm === 'p256' ? 'P-256' : 'P-384'}`, '-out', keyFile];
    expect(openssl(genArgs).status).toBe(0);
    const pubPem = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout'], { encoding: 'utf8' });
    const minter = await pki.sessionMinter();
    const s1 = await minter.mint({ publicKey: pubPem, sessionId: 'sess-42', playerId: 'alice' });
    const s2 = await minter.mintWithNewKey({ sessionId: 'sess-42', playerId: 'bob' });
    const issuer = path.join(dir, 'sessionauth.pem');
    writeFileSync(issuer, s1.issuerPem);
    for (const [i, s] of [s1, s2].entries()) {
      const f = path.join(dir, `session-${i}.pem`);
      writeFileSync(f, s.certPem);
      expect(opensslVerify({ root: root(), untrusted: issuer, leaf: f, purpose: 'sslclient' }).status).toBe(0);
    }
    // the minted cert carries the client's key: OpenSSL's private key matches it
    const certPub = execFileSync('openssl', ['x509', '-in', path.join(dir, 'session-0.pem'), '-noout', '-pubkey'], { encoding: 'utf8' });
    expect(certPub.trim()).toBe(pubPem.trim());
    // the generated key (seed-design option) is a PKCS#8 key OpenSSL reads
    const genKey = path.join(dir, 'gen.key');
    writeFileSync(genKey, s2.privateKeyPem);
    const genPub = execFileSync('openssl', ['pkey', '-in', genKey, '-pubout'], { encoding: 'utf8' });
    const s2Pub = execFileSync('openssl', ['x509', '-in', path.join(dir, 'session-1.pem'), '-noout', '-pubkey'], { encoding: 'utf8' });
    expect(genPub.trim()).toBe(s2Pub.trim());
  });

  it('writes encrypted CA keys OpenSSL reads with the passphrase, and plain leaf keys', () => {
    for (const ca of ['master', 'clientauth-1', 'sessionauth']) {
      expect(openssl(['pkey', '-in', p(`keys/${ca}.key.pem`), '-passin', `pass:${PASS}`, '-noout']).status, ca).toBe(0);
      expect(openssl(['pkey', '-in', p(`keys/${ca}.key.pem`), '-passin', 'pass:wrong', '-noout']).status, ca).not.toBe(0);
    }
    expect(openssl(['pkey', '-in', p('keys/auth.key.pem'), '-passin', 'pass:', '-noout']).status).toBe(0);
  });

  it('shows pathlen 0 and the role URI in openssl x509 -text', () => {
    const text = execFileSync('openssl', ['x509', '-in', p('certs/clientauth-1.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toContain('URI:iyesmp:role/clientauth/clientauth-1');
    const auth = execFileSync('openssl', ['x509', '-in', p('certs/auth.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(auth).toContain('DNS:auth.example.net');
    expect(auth).toContain('IP Address:127.0.0.1');
    expect(auth).toContain('TLS Web Server Authentication');
  });
});
