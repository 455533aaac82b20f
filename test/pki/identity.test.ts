import { X509Certificate, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_PATTERN, initPki, pemToDerList, sessionIdentityOf } from '../../src/pki/index.js';
import { uriSansOf, uriSansOfNode } from '../../src/pki/names.js';
import { x509 } from '../../src/pki/x509.js';
import { tempDir } from './helpers.js';

describe('sessionIdentityOf', () => {
  let cleanup: () => void;
  let sessionDer: Uint8Array;
  let hostDer: Uint8Array;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    const pki = await initPki({ dir: path.join(dir, 'pki'), allowUnencryptedCaKeys: true, hosts: [{ name: 'h1', dnsNames: ['h1.example.org'] }] });
    sessionDer = (await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 'S-1', playerId: 'guest.p_1' })).certDer;
    const host = pki.list().find((e) => e.role === 'host')!;
    hostDer = pemToDerList(readFileSync(pki.path(host.certFile), 'utf8'))[0]!;
  });
  afterAll(() => cleanup());

  it('reads the session and seat a session certificate names', () => {
    expect(sessionIdentityOf(sessionDer)).toEqual({ sessionId: 'S-1', playerId: 'guest.p_1' });
  });

  it('is undefined for other certificates and for bytes that are not one', () => {
    expect(sessionIdentityOf(hostDer)).toBeUndefined();
    expect(sessionIdentityOf(new Uint8Array([0x30, 0x03, 1, 2, 3]))).toBeUndefined();
  });

  it('shares one id charset', () => {
    for (const ok of ['a', 'S-1', 'guest.p_1', 'x'.repeat(64)]) expect(ID_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['', '-a', '.a', 'a/b', 'a:b', 'x'.repeat(65), 'a b']) expect(ID_PATTERN.test(bad), bad).toBe(false);
  });
});

describe('uriSansOfNode (node:crypto reading of URI SANs, as the verifier uses it)', () => {
  async function certWith(names: Array<{ type: 'url' | 'dns' | 'email'; value: string }>): Promise<Uint8Array> {
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=t',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2030-01-01T00:00:00Z'),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      keys,
      extensions: [new x509.SubjectAlternativeNameExtension(names)],
    });
    return new Uint8Array(cert.rawData);
  }

  it('reads the same URIs as @peculiar/x509, whatever other SANs hold', async () => {
    const cases = [
      [
        { type: 'url', value: 'iyesmp:role/session/p-1' },
        { type: 'url', value: 'iyesmp:session/S-1/player/p-1' },
      ],
      // values that would fool a naive split on ", " or on "URI:"
      [
        { type: 'dns', value: 'a.example, URI:iyesmp:role/host/evil' },
        { type: 'url', value: 'iyesmp:role/client/c' },
      ],
      [
        { type: 'url', value: 'iyesmp:role/client/a,b' },
        { type: 'url', value: 'x:"quoted" \\ back' },
      ],
      [{ type: 'email', value: 'a@b.c' }],
    ] as const;
    for (const names of cases) {
      const der = await certWith(names.map((n) => ({ ...n })));
      expect(uriSansOfNode(new X509Certificate(der)), JSON.stringify(names)).toEqual(uriSansOf(new x509.X509Certificate(der)));
    }
  });
});
