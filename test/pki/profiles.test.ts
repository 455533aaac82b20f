// Each role's certificate carries exactly the profile of the architecture table.
import { X509Certificate as NodeCert, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, pemToDerList, type ManifestEntry, type Pki, type Role } from '../../src/pki/index.js';
import { tempDir } from './helpers.js';

const KU = x509.KeyUsageFlags;
const SERVER = '1.3.6.1.5.5.7.3.1';
const CLIENT = '1.3.6.1.5.5.7.3.2';

const expected: Record<Role, { ca: boolean; pathLength?: number; ku: number; eku?: string[] }> = {
  master: { ca: true, ku: KU.keyCertSign | KU.cRLSign | KU.digitalSignature },
  clientauth: { ca: true, pathLength: 0, ku: KU.keyCertSign | KU.cRLSign, eku: [CLIENT] },
  sessionauth: { ca: true, pathLength: 0, ku: KU.keyCertSign | KU.cRLSign, eku: [CLIENT] },
  auth: { ca: false, ku: KU.digitalSignature, eku: [SERVER] },
  host: { ca: false, ku: KU.digitalSignature, eku: [SERVER, CLIENT] },
  client: { ca: false, ku: KU.digitalSignature, eku: [CLIENT] },
  session: { ca: false, ku: KU.digitalSignature, eku: [CLIENT] },
  admin: { ca: false, ku: KU.digitalSignature, eku: [CLIENT] },
};

/** SHA-1 over the subjectPublicKey bits, taken straight from the SPKI DER (independent of the library). */
function expectedKeyId(cert: NodeCert): string {
  const spki = cert.publicKey.export({ format: 'der', type: 'spki' });
  const jwk = cert.publicKey.export({ format: 'jwk' });
  const rawLen = jwk.kty === 'OKP' ? 32 : jwk.crv === 'P-256' ? 65 : 97;
  return createHash('sha1')
    .update(spki.subarray(spki.length - rawLen))
    .digest('hex');
}

describe('role profiles', () => {
  let cleanup: () => void;
  let pki: Pki;
  const certs = new Map<string, { entry: ManifestEntry; cert: x509.X509Certificate; node: NodeCert }>();
  const now = new Date('2030-01-01T12:00:00.250Z');

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    pki = await initPki({
      dir: path.join(dir, 'pki'),
      allowUnencryptedCaKeys: true,
      now,
      authDnsNames: ['auth.example.org'],
      authIpAddresses: ['10.0.0.1'],
      hosts: [{ name: 'h1', dnsNames: ['h1.example.org'] }],
      validityDays: { master: 1000, clientauth: 500, sessionauth: 100, auth: 50, host: 2000 },
    });
    for (const entry of pki.list()) {
      const der = pemToDerList(readFileSync(pki.path(entry.certFile), 'utf8'))[0]!;
      certs.set(entry.name, { entry, cert: new x509.X509Certificate(der), node: new NodeCert(der) });
    }
    await pki.issueAdmin({ name: 'ops', now });
    for (const entry of pki.list('admin')) {
      const der = pemToDerList(readFileSync(pki.path(entry.certFile), 'utf8'))[0]!;
      certs.set(entry.name, { entry, cert: new x509.X509Certificate(der), node: new NodeCert(der) });
    }
    const minted = await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 'S1', playerId: 'P1', now: new Date(now.getTime() + 3_600_000) });
    const entry: ManifestEntry = { ...certs.get('sessionauth')!.entry, name: 'session', role: 'session', issuer: 'sessionauth' };
    certs.set('session', { entry, cert: new x509.X509Certificate(minted.certDer), node: new NodeCert(minted.certDer) });
  });
  afterAll(() => cleanup());

  it('covers every role', () => {
    expect(new Set([...certs.values()].map((c) => c.entry.role))).toEqual(new Set(Object.keys(expected)));
  });

  it('has the extensions of its role', () => {
    for (const [name, { entry, cert, node }] of certs) {
      const want = expected[entry.role];
      const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
      expect(bc.critical, name).toBe(true);
      expect(bc.ca, name).toBe(want.ca);
      expect(bc.pathLength, name).toBe(want.pathLength);
      const ku = cert.getExtension(x509.KeyUsagesExtension)!;
      expect(ku.critical, name).toBe(true);
      expect(ku.usages, name).toBe(want.ku);
      const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
      expect(eku?.usages.map(String).sort(), name).toEqual(want.eku?.slice().sort());
      const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
      expect(ski.keyId.toLowerCase(), name).toBe(expectedKeyId(node));
      const issuer = certs.get(entry.issuer)!;
      const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)!;
      expect(aki.keyId?.toLowerCase(), name).toBe(issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId.toLowerCase());
      expect(node.verify(issuer.node.publicKey), name).toBe(true);
      expect(cert.issuer, name).toBe(issuer.cert.subject);
      const uris = cert
        .getExtension(x509.SubjectAlternativeNameExtension)!
        .names.items.filter((n) => n.type === 'url')
        .map((n) => n.value);
      const roleName = entry.role === 'session' ? 'P1' : name;
      expect(uris, name).toContain(`iyesmp:role/${entry.role}/${roleName}`);
    }
  });

  it('names servers by DNS and IP, sessions by session and player', () => {
    const san = (n: string) =>
      certs
        .get(n)!
        .cert.getExtension(x509.SubjectAlternativeNameExtension)!
        .names.items.map((i) => `${i.type}:${i.value}`);
    expect(san('auth')).toEqual(expect.arrayContaining(['dns:auth.example.org', 'ip:10.0.0.1']));
    expect(san('h1')).toContain('dns:h1.example.org');
    expect(san('session')).toContain('url:iyesmp:session/S1/player/P1');
  });

  it('uses unique subjects and random positive 16-byte serials', () => {
    const all = [...certs.values()];
    expect(new Set(all.map((c) => c.cert.subject)).size).toBe(all.length);
    for (const { cert } of all) {
      const serial = Buffer.from(cert.serialNumber, 'hex');
      expect(serial.length).toBeGreaterThanOrEqual(16);
      expect(serial[0]! & 0x80).toBe(0);
      expect(serial[0]).not.toBe(0);
    }
    expect(new Set(all.map((c) => c.cert.serialNumber)).size).toBe(all.length);
  });

  it('nests every validity inside its issuer, clipping what would overrun', () => {
    for (const [name, { entry, cert }] of certs) {
      const issuer = certs.get(entry.issuer)!.cert;
      expect(cert.notBefore.getTime(), name).toBeGreaterThanOrEqual(issuer.notBefore.getTime());
      expect(cert.notAfter.getTime(), name).toBeLessThanOrEqual(issuer.notAfter.getTime());
    }
    // host asked for 2000 days under a 1000-day Master: clipped to the Master's end
    expect(certs.get('h1')!.cert.notAfter.getTime()).toBe(certs.get('master')!.cert.notAfter.getTime());
    // the client lives as long as its ClientAuth by default
    expect(certs.get('client-clientauth-1-1')!.cert.notAfter.getTime()).toBe(certs.get('clientauth-1')!.cert.notAfter.getTime());
    expect(certs.get('master')!.cert.notBefore.toISOString()).toBe('2030-01-01T12:00:00.000Z');
  });

  it('records each cert faithfully in the manifest', () => {
    for (const [name, { entry, cert, node }] of certs) {
      if (name === 'session') continue;
      expect(entry.serial).toBe(cert.serialNumber.toLowerCase());
      expect(entry.fingerprint).toBe(node.fingerprint256.replace(/:/g, '').toLowerCase());
      expect(entry.notAfter).toBe(cert.notAfter.toISOString());
      expect(entry.algorithm).toBe('p256');
    }
    expect(certs.get('clientauth-1')!.entry).toMatchObject({ status: 'active', clientAuthId: 1 });
  });
});
