/**
 * Session-cert minting. Runs at every hand-off, so the SessionAuth key is parsed once and the
 * constant parts of the cert (issuer name, fixed extensions, AKI) are encoded once; a mint is one
 * strict SPKI read, one small DER encoding and one node:crypto signature.
 */
import { promises as fs } from 'node:fs';
import { pkiError } from './errors.js';
import type { MintedSessionWithKey, PassphraseProvider } from './api.js';
import type { KeyAlgorithm, MintSessionRequest, MintedSession, SessionMinter } from './types.js';
import { createHash, sign } from 'node:crypto';
import { parseClientKey, type ClientKey } from './spki.js';
import { algorithmOf, generateKeyPair, loadPrivateKey, exportPrivateKeyPem, hashOf, spkiDer } from './keys.js';
import { roleUri, sessionUri, validatePlayerId, validateSessionId } from './names.js';
import { floorSeconds, randomSerial } from './profiles.js';
import { derToPem, sha256Hex } from './pem.js';
import { ioError } from './fsutil.js';
import { parseCa } from './trust.js';
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
const SIG_ALG: Record<KeyAlgorithm, Uint8Array> = {
  p256: der.seq(der.hex('06082a8648ce3d040302')), // ecdsa-with-SHA256, no parameters (RFC 5758)
  p384: der.seq(der.hex('06082a8648ce3d040303')), // ecdsa-with-SHA384
  ed25519: der.seq(der.hex('06032b6570')), // id-Ed25519 (RFC 8410)
};

function ext(oid: Uint8Array, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? der.seq(oid, der.hex('0101ff'), der.octets(value)) : der.seq(oid, der.octets(value));
}

/**
 * The parts of a session cert that never change for one SessionAuth, encoded once. The extensions
 * are PROFILES.session (profiles.ts) written out: BC CA:false (critical), KU digitalSignature
 * (critical), EKU clientAuth, then per cert SKI, AKI (SessionAuth's SKI), SAN role + session URIs.
 */
function sessionTemplate(issuerDer: Uint8Array, issuerKeyId: string, algorithm: KeyAlgorithm) {
  const cert = der.read(issuerDer, 0);
  const tbs = der.children(issuerDer, cert)[0]!;
  const fields = der.children(issuerDer, tbs);
  const subject = fields[fields[0]!.tag === 0xa0 ? 5 : 4]!;
  return {
    version: der.tlv(0xa0, der.hex('020102')), // v3
    sigAlg: SIG_ALG[algorithm],
    issuer: issuerDer.slice(subject.start, subject.end),
    fixedExtensions: der.concat([
      ext(OID_BC, true, der.seq()),
      ext(OID_KU, true, der.hex('03020780')), // digitalSignature
      ext(OID_EKU, false, der.seq(OID_CLIENT_AUTH)),
    ]),
    aki: ext(OID_AKI, false, der.seq(der.tlv(0x80, der.hex(issuerKeyId)))),
  };
}

export const DEFAULT_SESSION_TTL = 3600;
/** a session cert is for one game; a week is already generous */
export const MAX_SESSION_TTL = 7 * 24 * 3600;
/** tolerate small clock differences between auth server and host */
const BACKDATE_MS = 60_000;

export interface FastSessionMinter extends SessionMinter {
  readonly algorithm: KeyAlgorithm;
  /** SessionAuth cert, PEM */
  readonly issuerPem: string;
  /** seed-design option: generate the client's key pair here and return its private key too */
  mintWithNewKey(req: Omit<MintSessionRequest, 'publicKey'> & { algorithm?: KeyAlgorithm }): Promise<MintedSessionWithKey>;
}

export interface SessionMinterOptions {
  /** SessionAuth cert PEM */
  certPem: string;
  /** SessionAuth key, PKCS#8 PEM (maybe encrypted) */
  keyPem: string;
  passphrase?: PassphraseProvider;
}

export interface LoadSessionMinterOptions {
  certFile: string;
  keyFile: string;
  passphrase?: PassphraseProvider;
}

export async function loadSessionMinter(opts: LoadSessionMinterOptions): Promise<FastSessionMinter> {
  const read = (f: string) => fs.readFile(f, 'utf8').catch((err: unknown) => Promise.reject(ioError(err, 'read', f)));
  return createSessionMinter({ certPem: await read(opts.certFile), keyPem: await read(opts.keyFile), passphrase: opts.passphrase });
}

export async function createSessionMinter(opts: SessionMinterOptions): Promise<FastSessionMinter> {
  const ca = parseCa(opts.certPem, 'sessionauth', 'sessionauth', 'SessionAuth certificate');
  const key = await loadPrivateKey(opts.keyPem, 'SessionAuth key', opts.passphrase);
  const algorithm = algorithmOf(key, 'SessionAuth key');
  if (!ca.node.checkPrivateKey(key)) {
    throw pkiError('key_mismatch', 'the SessionAuth key does not belong to the SessionAuth certificate');
  }
  const organization = ca.cert.subjectName.getField('O')[0] ?? 'iyesmp';
  const template = sessionTemplate(ca.der, ca.keyId, algorithm);
  const hash = hashOf(algorithm);

  async function mintFor(client: ClientKey, req: Omit<MintSessionRequest, 'publicKey'>): Promise<MintedSession> {
    const sessionId = validateSessionId(req.sessionId);
    const playerId = validatePlayerId(req.playerId);
    const ttl = req.ttlSeconds ?? DEFAULT_SESSION_TTL;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_SESSION_TTL) {
      throw pkiError('bad_ttl', `session ttl ${ttl}s is out of range (1..${MAX_SESSION_TTL})`);
    }
    const now = floorSeconds(req.now ?? new Date());
    if (now.getTime() < ca.notBefore.getTime()) {
      throw pkiError('issuer_not_yet_valid', `SessionAuth is not valid before ${ca.notBefore.toISOString()}`, {
        hint: 'check the clock of this machine',
      });
    }
    if (now.getTime() >= ca.notAfter.getTime()) {
      throw pkiError('issuer_expired', `SessionAuth expired at ${ca.notAfter.toISOString()}`, {
        hint: 'issue a new PKI or SessionAuth',
      });
    }
    // validity nested inside SessionAuth's, as for every cert of this PKI
    const notBefore = new Date(Math.max(now.getTime() - BACKDATE_MS, ca.notBefore.getTime()));
    const notAfter = new Date(Math.min(now.getTime() + ttl * 1000, ca.notAfter.getTime()));
    const spki = client.spki;
    const serial = Buffer.from(randomSerial(), 'hex');
    const tbs = der.seq(
      template.version,
      der.uint(serial),
      template.sigAlg,
      template.issuer,
      der.seq(der.time(notBefore), der.time(notAfter)),
      der.seq(der.set(der.seq(OID_O, der.utf8(organization))), der.set(der.seq(OID_OU, der.utf8(sessionId))), der.set(der.seq(OID_CN, der.utf8(playerId)))),
      spki,
      der.tlv(
        0xa3,
        der.seq(
          template.fixedExtensions,
          ext(OID_SKI, false, der.octets(createHash('sha1').update(client.raw).digest())),
          template.aki,
          ext(OID_SAN, false, der.seq(der.tlv(0x86, Buffer.from(roleUri('session', playerId))), der.tlv(0x86, Buffer.from(sessionUri(sessionId, playerId))))),
        ),
      ),
    );
    const signature = sign(hash, tbs, key);
    const certDer = der.seq(tbs, template.sigAlg, der.bitString(signature));
    return {
      certPem: derToPem(certDer),
      certDer,
      fingerprint: sha256Hex(certDer),
      serial: serial.toString('hex'),
      notAfter,
      issuerPem: ca.pem,
    };
  }

  return {
    algorithm,
    issuerPem: ca.pem,
    async mint(req) {
      return mintFor(parseClientKey(req.publicKey), req);
    },
    async mintWithNewKey(req) {
      const pair = generateKeyPair(req.algorithm ?? algorithm);
      const minted = await mintFor(parseClientKey(new Uint8Array(spkiDer(pair.publicKey))), req);
      return { ...minted, privateKeyPem: exportPrivateKeyPem(pair.privateKey) };
    },
  };
}
