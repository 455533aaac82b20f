/**
 * The session cert's TBSCertificate, two ways. `encodeSessionTbs` is the reference: it nests DER
 * elements the plain way (der.ts). `SessionTemplates` is what minting uses: for each layout (the
 * lengths that move other bytes: the client key's SPKI, the session and player ids, and whether
 * each validity bound needs GeneralizedTime) it encodes the reference once with placeholders,
 * remembers where the changing fields sit, and from then on a TBS is one copy of that template
 * with the serial, validity, ids, key and key id written in place: no nested allocation. A property
 * test (test/pki/session-template.test.ts) checks both give the same bytes for random inputs.
 */
import { randomFillSync } from 'node:crypto';
import type { KeyAlgorithm } from './types.js';
import { roleUri, sessionUri, SESSION_URI_PREFIX } from './names.js';
import * as der from './der.js';

const OID_O = der.hex('06035504 0a');
const OID_OU = der.hex('06035504 0b');
const OID_CN = der.hex('06035504 03');
const OID_BC = der.hex('0603551d13');
const OID_KU = der.hex('0603551d0f');
const OID_EKU = der.hex('0603551d25');
const OID_SKI = der.hex('0603551d0e');
const OID_AKI = der.hex('0603551d23');
const OID_SAN = der.hex('0603551d11');
const OID_CLIENT_AUTH = der.hex('06082b06010505070302');
export const SIG_ALG: Record<KeyAlgorithm, Uint8Array> = {
  p256: der.seq(der.hex('06082a8648ce3d040302')), // ecdsa-with-SHA256, no parameters (RFC 5758)
  p384: der.seq(der.hex('06082a8648ce3d040303')), // ecdsa-with-SHA384
  ed25519: der.seq(der.hex('06032b6570')), // id-Ed25519 (RFC 8410)
};

function ext(oid: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? der.seq(oid, der.hex('0101ff'), der.octets(value)) : der.seq(oid, der.octets(value));
}

/** What never changes for one SessionAuth, encoded once. */
export interface SessionIssuer {
  version: Uint8Array;
  sigAlg: Uint8Array;
  /** the SessionAuth subject, DER */
  issuer: Uint8Array;
  organization: string;
  fixedExtensions: Uint8Array;
  aki: Uint8Array;
}

/**
 * The extensions are PROFILES.session (profiles.ts) written out: BC CA:false (critical), KU
 * digitalSignature (critical), EKU clientAuth, then per cert SKI, AKI (SessionAuth's SKI), SAN
 * role + session URIs.
 */
export function sessionIssuer(issuerDer: Uint8Array, issuerKeyId: string, algorithm: KeyAlgorithm, organization: string): SessionIssuer {
  const cert = der.read(issuerDer, 0);
  const tbs = der.children(issuerDer, cert)[0]!;
  const fields = der.children(issuerDer, tbs);
  const subject = fields[fields[0]!.tag === 0xa0 ? 5 : 4]!;
  return {
    version: der.tlv(0xa0, der.hex('020102')), // v3
    sigAlg: SIG_ALG[algorithm],
    issuer: issuerDer.slice(subject.start, subject.end),
    organization,
    fixedExtensions: der.concat([
      ext(OID_BC, true, der.seq()),
      ext(OID_KU, true, der.hex('03020780')), // digitalSignature
      ext(OID_EKU, false, der.seq(OID_CLIENT_AUTH)),
    ]),
    aki: ext(OID_AKI, false, der.seq(der.tlv(0x80, der.hex(issuerKeyId)))),
  };
}

export interface SessionTbsFields {
  /** 16 bytes, first byte 0x40-0x7f (positive, no leading zero) */
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** validated ids (ID_PATTERN: ASCII, 1-64 characters) */
  sessionId: string;
  playerId: string;
  /** the client's canonical SubjectPublicKeyInfo */
  spki: Uint8Array;
  /** subject key identifier, 20 bytes (or a latin1 string of 20 characters: saves a Buffer per mint) */
  ski: Uint8Array | string;
}

/** The reference encoding, element by element. */
export function encodeSessionTbs(issuer: SessionIssuer, f: SessionTbsFields): Uint8Array {
  return der.seq(
    issuer.version,
    der.uint(f.serial),
    issuer.sigAlg,
    issuer.issuer,
    der.seq(der.time(f.notBefore), der.time(f.notAfter)),
    der.seq(
      der.set(der.seq(OID_O, der.utf8(issuer.organization))),
      der.set(der.seq(OID_OU, der.utf8(f.sessionId))),
      der.set(der.seq(OID_CN, der.utf8(f.playerId))),
    ),
    f.spki,
    der.tlv(
      0xa3,
      der.seq(
        issuer.fixedExtensions,
        ext(OID_SKI, false, der.octets(typeof f.ski === 'string' ? Buffer.from(f.ski, 'latin1') : f.ski)),
        issuer.aki,
        ext(
          OID_SAN,
          false,
          der.seq(der.tlv(0x86, Buffer.from(roleUri('session', f.playerId))), der.tlv(0x86, Buffer.from(sessionUri(f.sessionId, f.playerId)))),
        ),
      ),
    ),
  );
}

interface Layout {
  bytes: Uint8Array;
  serial: number;
  notBefore: number;
  notAfter: number;
  ou: number;
  cn: number;
  spki: number;
  ski: number;
  /** the player id inside the role URI */
  sanRolePlayer: number;
  sanSession: number;
  sanSessionPlayer: number;
}

/** UTCTime covers 1950-2049 (RFC 5280 4.1.2.5); outside it the element is two digits longer. */
const UTC_FROM = Date.UTC(1950, 0, 1);
const UTC_UNTIL = Date.UTC(2050, 0, 1);
const isUtcTime = (d: Date): boolean => {
  const t = d.getTime();
  return t >= UTC_FROM && t < UTC_UNTIL;
};

function two(out: Uint8Array, at: number, v: number): number {
  out[at] = 48 + Math.floor(v / 10);
  out[at + 1] = 48 + (v % 10);
  return at + 2;
}

/** Writes the digits of an X.509 Time body, in the form der.time picks. */
function writeTime(out: Uint8Array, at: number, d: Date): void {
  const y = d.getUTCFullYear();
  let i = at;
  if (!isUtcTime(d)) i = two(out, i, Math.floor(y / 100));
  i = two(out, i, y % 100);
  i = two(out, i, d.getUTCMonth() + 1);
  i = two(out, i, d.getUTCDate());
  i = two(out, i, d.getUTCHours());
  i = two(out, i, d.getUTCMinutes());
  i = two(out, i, d.getUTCSeconds());
  out[i] = 0x5a; // 'Z'
}

/** one byte per character: ids that passed ID_PATTERN (ASCII), or latin1 strings */
function writeAscii(out: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
}

/** at most this many layouts are kept; past it the cache starts over (ids have few lengths in practice) */
const MAX_LAYOUTS = 512;

export class SessionTemplates {
  readonly #issuer: SessionIssuer;
  readonly #layouts = new Map<number, Layout>();
  #scratch = new Uint8Array(2048);

  constructor(issuer: SessionIssuer) {
    this.#issuer = issuer;
  }

  /**
   * The TBS for `f`, as a view into a buffer this object reuses: valid until the next call (the
   * minter signs and copies it right away, synchronously).
   */
  tbs(f: SessionTbsFields): Uint8Array {
    const l = this.#layout(f);
    if (this.#scratch.length < l.bytes.length) this.#scratch = new Uint8Array(2 * l.bytes.length);
    const out = this.#scratch;
    out.set(l.bytes, 0);
    out.set(f.serial, l.serial);
    writeTime(out, l.notBefore, f.notBefore);
    writeTime(out, l.notAfter, f.notAfter);
    writeAscii(out, l.ou, f.sessionId);
    writeAscii(out, l.cn, f.playerId);
    out.set(f.spki, l.spki);
    if (typeof f.ski === 'string') writeAscii(out, l.ski, f.ski);
    else out.set(f.ski, l.ski);
    writeAscii(out, l.sanRolePlayer, f.playerId);
    writeAscii(out, l.sanSession, f.sessionId);
    writeAscii(out, l.sanSessionPlayer, f.playerId);
    return out.subarray(0, l.bytes.length);
  }

  #layout(f: SessionTbsFields): Layout {
    if (f.serial.length !== 16 || f.serial[0]! < 0x40 || f.serial[0]! > 0x7f || f.ski.length !== 20) {
      throw new Error('session template: serial must be 16 bytes (0x40-0x7f first) and the key id 20 bytes');
    }
    // the layout key below packs these lengths into 8 + 7 + 7 bits
    if (f.spki.length > 255 || f.sessionId.length > 127 || f.playerId.length > 127) {
      throw new Error('session template: SPKI over 255 bytes or an id over 127 characters');
    }
    const key =
      f.spki.length | (f.sessionId.length << 8) | (f.playerId.length << 15) | (isUtcTime(f.notBefore) ? 0 : 1 << 22) | (isUtcTime(f.notAfter) ? 0 : 1 << 23);
    let l = this.#layouts.get(key);
    if (!l) {
      if (this.#layouts.size >= MAX_LAYOUTS) this.#layouts.clear();
      l = this.#build(f);
      this.#layouts.set(key, l);
    }
    return l;
  }

  /** Encodes placeholders of the same lengths with the reference encoder, then finds each field. */
  #build(f: SessionTbsFields): Layout {
    const sessionId = 'a'.repeat(f.sessionId.length);
    const playerId = 'a'.repeat(f.playerId.length);
    const bytes = encodeSessionTbs(this.#issuer, { ...f, sessionId, playerId });
    const kids = (el: der.Tlv) => der.children(bytes, el);
    const [, serial, , , validity, subject, spki, exts] = kids(der.read(bytes, 0));
    const [notBefore, notAfter] = kids(validity!);
    const [, ouSet, cnSet] = kids(subject!);
    const value = (set: der.Tlv) => kids(kids(set)[0]!)[1]!.body;
    const extList = kids(kids(exts!)[0]!);
    const extValue = (i: number) => {
      const parts = kids(extList[i]!);
      return parts[parts.length - 1]!; // the OCTET STRING holding the value
    };
    // the fixed extensions, then SKI, AKI, SAN (encodeSessionTbs)
    const ski = der.read(bytes, extValue(extList.length - 3).body); // OCTET STRING (key id) inside
    const [roleUriEl, sessionUriEl] = kids(der.read(bytes, extValue(extList.length - 1).body));
    const sanSession = sessionUriEl!.body + SESSION_URI_PREFIX.length;
    return {
      bytes,
      serial: serial!.body,
      notBefore: notBefore!.body,
      notAfter: notAfter!.body,
      ou: value(ouSet!),
      cn: value(cnSet!),
      spki: spki!.start,
      ski: ski.body,
      sanRolePlayer: roleUriEl!.body + roleUri('session', '').length,
      sanSession,
      sanSessionPlayer: sessionUriEl!.body + sessionUri(sessionId, '').length,
    };
  }
}

/**
 * Serials from a pooled random buffer: one randomFillSync per 256 serials instead of a
 * randomBytes call (and its allocation) per cert. 128 bits as before, first byte 0x40-0x7f
 * so the INTEGER is positive with no leading zero and always 16 bytes.
 */
export class SerialPool {
  readonly #pool: Uint8Array;
  #at: number;

  constructor(size = 4096) {
    this.#pool = new Uint8Array(size - (size % 16));
    this.#at = this.#pool.length;
  }

  /** The next serial, copied into `out` at `at`. */
  next(out: Uint8Array, at = 0): void {
    if (this.#at + 16 > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    const s = this.#pool.subarray(this.#at, this.#at + 16);
    out.set(s, at);
    out[at] = (s[0]! & 0x3f) | 0x40;
    s.fill(0); // a serial is drawn once
    this.#at += 16;
  }
}
