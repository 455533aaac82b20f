/**
 * Fast, strict reading of a client's SubjectPublicKeyInfo for session minting. Hand-written because
 * OpenSSL 3's key decoders (createPublicKey / export) cost several times one signature, and minting
 * happens at every hand-off. EC points are checked to lie on the curve. An Ed25519 key is any 32
 * bytes to OpenSSL (its import validates nothing more, we measured), so only the length is checked.
 * Anything else is refused as 'bad_public_key'.
 *
 * The canonical encodings (what node, OpenSSL and @peculiar/x509 export) are recognised by their
 * fixed prefix, without a DER walk or any allocation; other layouts take the general path.
 */
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import type { KeyAlgorithm } from './types.js';
import * as der from './der.js';
import { parsePem } from './pem.js';

const ID_EC = der.hex('06072a8648ce3d0201');
const P256_OID = der.hex('06082a8648ce3d030107');
const P384_OID = der.hex('06052b81040022');
const ED25519_OID = der.hex('06032b6570');

const CURVES = {
  p256: {
    size: 32,
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  p384: {
    size: 48,
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
} as const;

/** May be views into the caller's input (the canonical path copies nothing): use it before changing that. */
export interface ClientKey {
  algorithm: KeyAlgorithm;
  /** canonical SPKI DER */
  spki: Uint8Array;
  /** subjectPublicKey bits: EC uncompressed point or Ed25519 key */
  raw: Uint8Array;
}

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/** The whole canonical SPKI before the key bits, per algorithm (the key is the rest). */
const CANONICAL: { algorithm: KeyAlgorithm; prefix: Uint8Array; length: number }[] = [
  { algorithm: 'p256', prefix: der.hex('3059 3013 06072a8648ce3d0201 06082a8648ce3d030107 034200'), length: 91 },
  { algorithm: 'ed25519', prefix: der.hex('302a 3005 06032b6570 032100'), length: 44 },
  { algorithm: 'p384', prefix: der.hex('3076 3010 06072a8648ce3d0201 06052b81040022 036200'), length: 120 },
];

/**
 * Big-endian bytes to BigInt eight at a time: building the BigInt from a hex string was most of the
 * check's cost (1.8 µs against 0.55 µs). Hand-written limb arithmetic without BigInt was tried and
 * measured slower still in V8 (2.5 µs), so BigInt stays for the arithmetic itself.
 */
function bigFrom(b: Uint8Array, at: number, size: number): bigint {
  const view = new DataView(b.buffer, b.byteOffset + at, size);
  let v = 0n;
  for (let i = 0; i < size; i += 8) v = (v << 64n) | view.getBigUint64(i);
  return v;
}

/** y^2 = x^3 - 3x + b (mod p) with both coordinates in range, for an uncompressed point (0x04 || X || Y) */
function onCurve(algorithm: 'p256' | 'p384', point: Uint8Array): boolean {
  const c = CURVES[algorithm];
  const x = bigFrom(point, 1, c.size);
  const y = bigFrom(point, 1 + c.size, c.size);
  return x < c.p && y < c.p && (y * y - x * (x * x - 3n) - c.b) % c.p === 0n;
}

function checkEcPoint(algorithm: 'p256' | 'p384', raw: Uint8Array, what: string): void {
  const c = CURVES[algorithm];
  if (raw.length !== 1 + 2 * c.size || raw[0] !== 4) throw bad(what, 'the EC point must be uncompressed');
  if (!onCurve(algorithm, raw)) throw bad(what, 'the EC point is not on the curve');
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function bad(what: string, why: string): IyesmpError {
  return pkiError('bad_public_key', `${what}: ${why}`, {
    hint: 'send an ECDSA P-256/P-384 or Ed25519 public key as SubjectPublicKeyInfo (DER or PEM)',
  });
}

export function parseClientKey(input: Uint8Array | string, what = 'client public key'): ClientKey {
  if (typeof input !== 'string') {
    // canonical DER first: a byte string that matches a whole SPKI prefix is no PEM text
    for (const c of CANONICAL) {
      if (input.length === c.length && startsWith(input, c.prefix)) {
        // a plain view: subarray() of a Buffer (a key read from a file or the wire) goes through Buffer's species constructor
        const raw = new Uint8Array(input.buffer, input.byteOffset + c.prefix.length, input.length - c.prefix.length);
        if (c.algorithm !== 'ed25519') checkEcPoint(c.algorithm, raw, what);
        return { algorithm: c.algorithm, spki: input, raw };
      }
    }
  }
  let bytes: Uint8Array;
  if (typeof input === 'string' || Buffer.from(input.subarray(0, 64)).toString('latin1').includes('-----BEGIN')) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
    const block = parsePem(text, what).find((b) => b.label === 'PUBLIC KEY');
    if (!block) throw bad(what, 'no PUBLIC KEY block');
    bytes = block.der;
  } else {
    bytes = input;
  }
  let algId: Uint8Array;
  let raw: Uint8Array;
  try {
    const top = der.read(bytes, 0);
    if (top.tag !== 0x30 || top.end !== bytes.length) throw new Error('not one SEQUENCE');
    const [alg, bits, extra] = der.children(bytes, top);
    if (!alg || !bits || extra || alg.tag !== 0x30 || bits.tag !== 0x03 || bytes[bits.body] !== 0) throw new Error('layout');
    algId = bytes.subarray(alg.body, alg.end);
    raw = bytes.subarray(bits.body + 1, bits.end);
  } catch {
    throw bad(what, 'not a SubjectPublicKeyInfo');
  }
  let algorithm: KeyAlgorithm;
  if (eq(algId, ED25519_OID)) {
    algorithm = 'ed25519';
    if (raw.length !== 32) throw bad(what, 'an Ed25519 key must be 32 bytes');
  } else if (eq(algId, der.concat([ID_EC, P256_OID])) || eq(algId, der.concat([ID_EC, P384_OID]))) {
    algorithm = eq(algId, der.concat([ID_EC, P256_OID])) ? 'p256' : 'p384';
    checkEcPoint(algorithm, raw, what);
  } else {
    throw bad(what, 'unsupported key type (iyesmp uses ECDSA P-256, P-384 or Ed25519)');
  }
  const spki = der.seq(der.seq(...(algorithm === 'ed25519' ? [ED25519_OID] : [ID_EC, algorithm === 'p256' ? P256_OID : P384_OID])), der.bitString(raw));
  return { algorithm, spki, raw: Uint8Array.from(raw) };
}
