// The minting fast path (DER template, pooled serials, prefix-matched SPKI, cheap on-curve check)
// must give exactly the bytes of the plain element-by-element encoder, and certs every parser and
// OpenSSL accept.
import { X509Certificate, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { x509 } from '../../src/pki/x509.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, type KeyAlgorithm, type Pki } from '../../src/pki/index.js';
import { SerialPool, SessionTemplates, encodeSessionTbs, sessionIssuer, type SessionTbsFields } from '../../src/pki/session-template.js';
import { parseClientKey } from '../../src/pki/spki.js';
import { parseCa } from '../../src/pki/trust.js';
import { opensslVerify, tempDir } from './helpers.js';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261206) });

const ID_CHARS = 'ABCXYZabcxyz0189._-';
const id = fc.tuple(fc.constantFrom(...'Aa0z9'), fc.array(fc.constantFrom(...ID_CHARS), { maxLength: 63 })).map(([first, rest]) => first + rest.join(''));
// 1950..2100 in whole seconds: both UTCTime and GeneralizedTime, and the switch at 2050
const time = fc.integer({ min: Date.UTC(1950, 0, 1) / 1000, max: Date.UTC(2100, 0, 1) / 1000 }).map((s) => new Date(s * 1000));
const CANONICAL_SPKI: Record<KeyAlgorithm, Uint8Array> = {
  p256: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' })),
  p384: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'der', type: 'spki' })),
  ed25519: new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' })),
};
// the template copies the SPKI as it is: random key bits in a canonical frame are enough here
const spki = fc.tuple(fc.constantFrom<KeyAlgorithm>('p256', 'p384', 'ed25519'), fc.uint8Array({ minLength: 97, maxLength: 97 })).map(([alg, bits]) => {
  const s = Uint8Array.from(CANONICAL_SPKI[alg]);
  const keyLen = alg === 'p256' ? 64 : alg === 'p384' ? 96 : 32;
  s.set(bits.subarray(0, keyLen), s.length - keyLen);
  return s;
});
const serial = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
});
const ski = fc.oneof(
  fc.uint8Array({ minLength: 20, maxLength: 20 }),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('latin1')),
);
const fields: fc.Arbitrary<SessionTbsFields> = fc.record({ serial, notBefore: time, notAfter: time, sessionId: id, playerId: id, spki, ski });

describe('session cert template', () => {
  let dir: string;
  let cleanup: () => void;
  const pkis = new Map<KeyAlgorithm, Pki>();

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    for (const algorithm of ['p256', 'ed25519'] as const) {
      // a non-ASCII organization: the template must carry its UTF-8 bytes unchanged
      pkis.set(
        algorithm,
        await initPki({ dir: path.join(dir, algorithm), algorithm, allowUnencryptedCaKeys: true, organization: 'Jeux Élysée — 東京 Studio' }),
      );
    }
  }, 60_000);
  afterAll(() => cleanup());

  async function issuerOf(algorithm: KeyAlgorithm) {
    const pki = pkis.get(algorithm)!;
    const ca = parseCa(await pki.certPem('sessionauth'), 'sessionauth', 'sessionauth', 'SessionAuth');
    return sessionIssuer(ca.der, ca.keyId, algorithm, ca.cert.subjectName.getField('O')[0]!);
  }

  it('writes exactly the bytes of the reference encoder, for random ids, times, keys and serials', async () => {
    for (const algorithm of ['p256', 'ed25519'] as const) {
      const issuer = await issuerOf(algorithm);
      // one template set for the whole run: layouts are cached and the buffer is reused, so a
      // short cert after a long one must not keep stale bytes
      const templates = new SessionTemplates(issuer);
      fc.assert(
        fc.property(fields, (f) => {
          const expected = encodeSessionTbs(issuer, f);
          expect(Buffer.from(templates.tbs(f)).equals(Buffer.from(expected))).toBe(true);
        }),
        { numRuns: 500 },
      );
    }
  });

  it('refuses fields the template cannot hold rather than writing a wrong cert', async () => {
    const templates = new SessionTemplates(await issuerOf('p256'));
    const base = fc.sample(fields, 1)[0]!;
    expect(() => templates.tbs({ ...base, serial: new Uint8Array(15) })).toThrow(/serial/);
    expect(() => templates.tbs({ ...base, serial: Uint8Array.from({ length: 16 }, () => 0x80) })).toThrow(/serial/);
    expect(() => templates.tbs({ ...base, ski: new Uint8Array(19) })).toThrow(/key id/);
  });

  it('certs minted one after another keep their own bytes (they share slabs, never memory)', async () => {
    const minter = await pkis.get('p256')!.sessionMinter();
    const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const minted = [];
    for (let i = 0; i < 200; i++) minted.push(await minter.mint({ publicKey: pub, sessionId: `s-${i}`, playerId: 'p' }));
    const { createHash } = await import('node:crypto');
    for (const [i, m] of minted.entries()) {
      expect(createHash('sha256').update(m.certDer).digest('hex')).toBe(m.fingerprint);
      expect(new X509Certificate(m.certDer).subject).toContain(`OU=s-${i}`);
    }
  });

  it('writes the cert around the signature right for many random keys, ids of edge lengths and validities', async () => {
    const pki = pkis.get('p256')!;
    const minter = await pki.sessionMinter();
    const issuer = new X509Certificate(await pki.certPem('sessionauth'));
    const issuerKey = await new x509.X509Certificate(await pki.certPem('sessionauth')).publicKey.export();
    const keys = (['p256', 'p384', 'ed25519'] as const).flatMap((c) =>
      Array.from({ length: 4 }, () =>
        (c === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: c === 'p256' ? 'P-256' : 'P-384' })).publicKey.export({
          format: 'der',
          type: 'spki',
        }),
      ),
    );
    const edgeId = fc.oneof(id, fc.constantFrom('a', 'Z'.repeat(64), `0${'.'.repeat(63)}`));
    const sigLengths = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.nat(keys.length - 1), edgeId, edgeId, fc.integer({ min: 1, max: 7 * 24 * 3600 }), async (k, sessionId, playerId, ttlSeconds) => {
        const m = await minter.mint({ publicKey: keys[k]!, sessionId, playerId, ttlSeconds });
        const node = new X509Certificate(m.certDer);
        expect(node.verify(issuer.publicKey)).toBe(true);
        expect(Buffer.from(node.raw).equals(Buffer.from(m.certDer))).toBe(true);
        expect(node.serialNumber.toLowerCase()).toBe(m.serial);
        expect(node.publicKey.export({ format: 'der', type: 'spki' }).equals(keys[k]!)).toBe(true);
        const peculiar = new x509.X509Certificate(m.certDer);
        expect(await peculiar.verify({ publicKey: issuerKey, signatureOnly: true })).toBe(true);
        expect(peculiar.subjectName.getField('CN')).toEqual([playerId]);
        expect(peculiar.notAfter.getTime()).toBe(m.notAfter.getTime());
        sigLengths.add(peculiar.signature.byteLength);
        // the PEM made on first read, and the JSON form, hold the same cert
        expect(new X509Certificate(m.certPem).fingerprint256).toBe(node.fingerprint256);
        expect(JSON.parse(JSON.stringify(m)).certPem).toBe(m.certPem);
      }),
      { numRuns: 150 },
    );
    // ECDSA signatures vary in DER length (r and s lose a leading zero now and then): several were written
    expect(sigLengths.size).toBeGreaterThan(1);
    const withKey = await minter.mintWithNewKey({ sessionId: 's', playerId: 'p' });
    expect(new X509Certificate(withKey.certPem).verify(issuer.publicKey)).toBe(true);
    expect(withKey.privateKeyPem).toContain('PRIVATE KEY');
  }, 60_000);

  it('draws 16-byte positive serials without repeats from the pool, across refills', () => {
    const pool = new SerialPool(64); // four serials per refill
    const seen = new Set<string>();
    const out = new Uint8Array(16);
    for (let i = 0; i < 2000; i++) {
      pool.next(out);
      expect(out[0]! >= 0x40 && out[0]! <= 0x7f).toBe(true);
      seen.add(Buffer.from(out).toString('hex'));
    }
    expect(seen.size).toBe(2000);
  });

  it.each(['p256', 'ed25519'] as const)(
    'mints certs that node, @peculiar/x509 and openssl verify accept (%s SessionAuth)',
    async (algorithm) => {
      const pki = pkis.get(algorithm)!;
      const minter = await pki.sessionMinter();
      const issuerPem = await pki.certPem('sessionauth');
      const issuerNode = new X509Certificate(issuerPem);
      const files: string[] = [];
      let i = 0;
      for (const client of ['p256', 'p384', 'ed25519'] as const) {
        for (const [sessionId, playerId] of [
          ['s', 'p'],
          ['match-0001', 'seat-2'],
          ['x'.repeat(64), 'Y'.repeat(64)],
        ] as const) {
          const pair = client === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: client === 'p256' ? 'P-256' : 'P-384' });
          const pub = pair.publicKey.export({ format: 'der', type: 'spki' });
          const m = await minter.mint({ publicKey: pub, sessionId, playerId, ttlSeconds: 600 });
          const node = new X509Certificate(m.certPem);
          expect(node.verify(issuerNode.publicKey)).toBe(true);
          expect(node.checkIssued(issuerNode)).toBe(true);
          expect(Buffer.from(node.raw).equals(Buffer.from(m.certDer))).toBe(true);
          expect(node.serialNumber.toLowerCase()).toBe(m.serial);
          expect(node.fingerprint256.replaceAll(':', '').toLowerCase()).toBe(m.fingerprint);
          expect(node.publicKey.export({ format: 'der', type: 'spki' }).equals(pub)).toBe(true);
          expect(node.subjectAltName).toBe(`URI:iyesmp:role/session/${playerId}, URI:iyesmp:session/${sessionId}/player/${playerId}`);
          expect(new Date(node.validTo).getTime()).toBe(m.notAfter.getTime());
          const peculiar = new x509.X509Certificate(m.certDer);
          expect(peculiar.subjectName.getField('OU')).toEqual([sessionId]);
          expect(peculiar.subjectName.getField('CN')).toEqual([playerId]);
          expect(peculiar.subjectName.getField('O')).toEqual(['Jeux Élysée — 東京 Studio']);
          expect(await peculiar.verify({ publicKey: await new x509.X509Certificate(issuerPem).publicKey.export() })).toBe(true);
          const f = path.join(dir, `${algorithm}-session-${i++}.pem`);
          writeFileSync(f, m.certPem);
          files.push(f);
        }
      }
      const issuerFile = path.join(dir, `${algorithm}-sessionauth.pem`);
      writeFileSync(issuerFile, issuerPem);
      for (const leaf of files) {
        const r = opensslVerify({ root: path.join(dir, algorithm, 'certs/master.pem'), untrusted: issuerFile, leaf, purpose: 'sslclient' });
        expect(r.stdout + r.stderr).toContain('OK');
        expect(r.status).toBe(0);
      }
    },
    60_000,
  );
});

describe('client key fast path', () => {
  const CURVES = {
    p256: {
      name: 'P-256',
      size: 32,
      p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
      b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    },
    p384: {
      name: 'P-384',
      size: 48,
      p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
      b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    },
  } as const;
  const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`);

  it.each(['p256', 'p384'] as const)('accepts exactly the %s points the curve equation accepts', (curve) => {
    const c = CURVES[curve];
    const keys = Array.from(
      { length: 20 },
      () => new Uint8Array(generateKeyPairSync('ec', { namedCurve: c.name }).publicKey.export({ format: 'der', type: 'spki' })),
    );
    fc.assert(
      fc.property(fc.nat({ max: keys.length - 1 }), fc.nat({ max: 2 * c.size - 1 }), fc.nat({ max: 255 }), (k, at, xor) => {
        const spki = Uint8Array.from(keys[k]!);
        spki[spki.length - 2 * c.size + at]! ^= xor;
        const x = big(spki.subarray(spki.length - 2 * c.size, spki.length - c.size));
        const y = big(spki.subarray(spki.length - c.size));
        const valid = x < c.p && y < c.p && (((y * y - (x * x * x - 3n * x + c.b)) % c.p) + c.p) % c.p === 0n;
        let accepted = true;
        try {
          parseClientKey(spki);
        } catch (err) {
          expect(err).toMatchObject({ code: 'bad_public_key' });
          accepted = false;
        }
        expect(accepted).toBe(valid);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses coordinates at or above p even when they reduce to a point on the curve', () => {
    const c = CURVES.p256;
    const key = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
    const x = big(key.subarray(27, 59));
    if (x + c.p < 1n << 256n) {
      const shifted = Uint8Array.from(key);
      shifted.set(Buffer.from((x + c.p).toString(16).padStart(64, '0'), 'hex'), 27);
      expect(() => parseClientKey(shifted)).toThrow(expect.objectContaining({ code: 'bad_public_key' }));
    }
    const allOnes = Uint8Array.from(key);
    allOnes.fill(0xff, 27, 59);
    expect(() => parseClientKey(allOnes)).toThrow(expect.objectContaining({ code: 'bad_public_key' }));
  });

  it('reads canonical DER, PEM and a non-canonical encoding of the same key alike', () => {
    for (const alg of ['p256', 'p384', 'ed25519'] as const) {
      const pair = alg === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: alg === 'p256' ? 'P-256' : 'P-384' });
      const der = new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }));
      const pem = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
      // the same SPKI with a long-form outer length (BER, not DER): takes the general path
      const long = Buffer.concat([Buffer.from([0x30, 0x81, der[1]!]), der.subarray(2)]);
      const a = parseClientKey(der);
      const b = parseClientKey(pem);
      const c = parseClientKey(long);
      for (const k of [b, c]) {
        expect(k.algorithm).toBe(alg);
        expect(Buffer.from(k.spki).equals(Buffer.from(a.spki))).toBe(true);
        expect(Buffer.from(k.raw).equals(Buffer.from(a.raw))).toBe(true);
      }
      expect(createPublicKey({ key: Buffer.from(a.spki), format: 'der', type: 'spki' }).asymmetricKeyType).toBe(alg === 'ed25519' ? 'ed25519' : 'ec');
    }
    // a canonical frame with the wrong length is not taken for a key
    expect(() => parseClientKey(new Uint8Array([...CANONICAL_SPKI.p256, 0]))).toThrow(expect.objectContaining({ code: 'bad_public_key' }));
    expect(() => parseClientKey(randomBytes(91))).toThrow(expect.objectContaining({ code: 'bad_public_key' }));
  });
});
