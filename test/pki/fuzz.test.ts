// Loaders fed random and mutated input: they accept it or throw a clean IyesmpError, nothing else.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { derToPem, initPki, pemToDerList, readPublicKey, type IyesmpVerifier, type Pki } from '../../src/pki/index.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { parseManifest } from '../../src/pki/manifest.js';
import { parseCa, parseTrustBundle } from '../../src/pki/trust.js';
import { parseClientKey } from '../../src/pki/spki.js';
import { tempDir } from './helpers.js';

const RUNS = 300;
// Deterministic by default (same inputs every run); set FC_SEED=<n> to explore other inputs.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261121) });

function onlyIyesmpErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof IyesmpError)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
  }
}

async function onlyIyesmpErrorsAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof IyesmpError)) throw err;
  }
}

/** Text mutations that resemble real damage: truncation, byte flips, insertions, deletions. */
const mutatedText = (base: string) =>
  fc.oneof(
    fc.nat({ max: base.length }).map((n) => base.slice(0, n)),
    fc.tuple(fc.nat({ max: base.length - 1 }), fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => base.slice(0, i) + s + base.slice(i + 1)),
    fc.tuple(fc.nat({ max: base.length }), fc.string({ maxLength: 20 })).map(([i, s]) => base.slice(0, i) + s + base.slice(i)),
    fc.tuple(fc.nat({ max: base.length }), fc.nat({ max: 40 })).map(([i, k]) => base.slice(0, i) + base.slice(i + k)),
    fc.string({ maxLength: 300 }),
  );

const mutatedBytes = (base: Uint8Array) =>
  fc.oneof(
    fc.nat({ max: base.length }).map((n) => base.slice(0, n)),
    fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = Uint8Array.from(base);
      b[i]! ^= x;
      return b;
    }),
    fc.uint8Array({ maxLength: 600 }),
  );

describe('fuzzed loaders', () => {
  let cleanup: () => void;
  let pki: Pki;
  let verifier: IyesmpVerifier;
  let manifestText: string;
  let certPem: string;
  let masterPem: string;
  let listText: string;
  let sigText: string;
  let keyPem: string;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    pki = await initPki({ dir: path.join(dir, 'pki'), passphrase: async () => 'pw', unencryptedSessionAuthKey: true });
    verifier = await pki.verifier();
    manifestText = readFileSync(pki.path('manifest.json'), 'utf8');
    certPem = await pki.certPem('host-1');
    masterPem = readFileSync(pki.path('trust/master.pem'), 'utf8');
    listText = readFileSync(pki.path('trust/clientauths.json'), 'utf8');
    sigText = readFileSync(pki.path('trust/clientauths.json.sig'), 'utf8');
    keyPem = readFileSync(pki.path('keys/master.key.pem'), 'utf8');
  });
  afterAll(() => cleanup());

  it('manifest parser', () => {
    expect(parseManifest(manifestText).entries.length).toBe(6);
    fc.assert(
      fc.property(mutatedText(manifestText), (t) => onlyIyesmpErrors(() => parseManifest(t))),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.json(), (t) => onlyIyesmpErrors(() => parseManifest(t))),
      { numRuns: RUNS },
    );
    // structurally valid JSON with random values in each field
    const base = JSON.parse(manifestText) as { entries: Record<string, unknown>[] };
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(base.entries[0]!)), fc.jsonValue(), (field, value) => {
        const copy = structuredClone(base);
        copy.entries[0]![field] = value;
        onlyIyesmpErrors(() => parseManifest(JSON.stringify(copy)));
      }),
      { numRuns: RUNS },
    );
  });

  it('PEM certificate loader', () => {
    fc.assert(
      fc.property(mutatedText(certPem), (t) => onlyIyesmpErrors(() => pemToDerList(t))),
      { numRuns: RUNS },
    );
  });

  it('public key reader', () => {
    const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
    fc.assert(
      fc.property(mutatedBytes(spki), (b) => onlyIyesmpErrors(() => readPublicKey(b))),
      { numRuns: RUNS },
    );
    const pem = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    fc.assert(
      fc.property(mutatedText(pem), (t) => onlyIyesmpErrors(() => readPublicKey(t))),
      { numRuns: RUNS },
    );
  });

  it('session minter client-key reader', () => {
    for (const k of [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
      generateKeyPairSync('ed25519').publicKey,
    ]) {
      const spki = new Uint8Array(k.export({ format: 'der', type: 'spki' }));
      // whatever it accepts, it returns the canonical SPKI, which node must also accept
      fc.assert(
        fc.property(mutatedBytes(spki), (b) =>
          onlyIyesmpErrors(() => {
            const parsed = parseClientKey(b);
            expect(createPublicKey({ key: Buffer.from(parsed.spki), format: 'der', type: 'spki' }).type).toBe('public');
          }),
        ),
        { numRuns: RUNS },
      );
      expect(Buffer.from(parseClientKey(spki).spki)).toEqual(Buffer.from(spki));
    }
  });

  it('private key loader (encrypted)', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedText(keyPem), async (t) => onlyIyesmpErrorsAsync(() => loadPrivateKey(t, 'key', async () => 'pw'))),
      { numRuns: 100 },
    );
  });

  it('CA certificate parser with mutated DER', () => {
    const der = pemToDerList(masterPem)[0]!;
    fc.assert(
      fc.property(mutatedBytes(der), (b) => onlyIyesmpErrors(() => parseCa(derToPem(b), 'master', 'master', 'fuzz'))),
      { numRuns: 1000 },
    );
  });

  it('signed trust list loader', () => {
    expect(parseTrustBundle(masterPem, listText, sigText).clientAuths).toHaveLength(1);
    fc.assert(
      fc.property(mutatedText(listText), (t) => onlyIyesmpErrors(() => parseTrustBundle(masterPem, t, sigText))),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(mutatedText(sigText), (t) => onlyIyesmpErrors(() => parseTrustBundle(masterPem, listText, t))),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(mutatedText(masterPem), (t) => onlyIyesmpErrors(() => parseTrustBundle(t, listText, sigText))),
      { numRuns: RUNS },
    );
  });

  it('verifier never throws on mutated DER', async () => {
    const der = pemToDerList(certPem)[0]!;
    await fc.assert(
      fc.asyncProperty(mutatedBytes(der), async (b) => {
        const r = await verifier.verify([b], { kind: 'host' });
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});
