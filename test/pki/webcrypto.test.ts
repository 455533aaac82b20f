import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { x509 } from '../../src/pki/x509.js';

const root = join(import.meta.dirname, '../..');

/** Node 20's own WebCrypto is the provider @peculiar/x509 runs on: no polyfill package is needed. */
describe('WebCrypto provider for the PKI', () => {
  const algorithms = [
    { name: 'p256', gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
    { name: 'p384', gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
    { name: 'ed25519', gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  ] as const;

  it('is the runtime WebCrypto', () => {
    expect(x509.cryptoProvider.get()).toBe(webcrypto);
  });

  for (const a of algorithms) {
    it(`issues and verifies a ${a.name} certificate with it`, async () => {
      const keys = (await webcrypto.subtle.generateKey(a.gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01',
        name: `CN=${a.name}`,
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2027-01-01T00:00:00Z'),
        signingAlgorithm: a.sign,
        keys,
      });
      const reparsed = new x509.X509Certificate(cert.rawData);
      expect(await reparsed.verify({ date: new Date('2026-06-01T00:00:00Z') })).toBe(true);
    });
  }
});

describe('runtime dependencies', () => {
  it('every dependency in package.json is loaded by the library', () => {
    const deps = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.tsx?$/.test(f))
      .map((f) => readFileSync(join(root, 'src', f), 'utf8'))
      .join('\n');
    const unused = deps.filter((d) => {
      const q = d.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      return !new RegExp(`(from |import |import\\(|require\\()\\s*'${q}(/[^']*)?'`).test(sources) && !new RegExp(`\\('${q}'\\)`).test(sources);
    });
    expect(unused).toEqual([]);
  });
});
