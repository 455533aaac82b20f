/**
 * Role profiles: which extensions each role's certificate carries (see the table in docs/pki.md),
 * and the builder that turns a profile into a signed certificate.
 */
import { randomBytes, createHash, type KeyObject, type webcrypto } from 'node:crypto';
import type { KeyAlgorithm, Role } from './types.js';
import { webAlgorithm, spkiDer } from './keys.js';
import { roleUri, sessionUri } from './names.js';
import { x509 } from './x509.js';

const KU = x509.KeyUsageFlags;
const EKU = x509.ExtendedKeyUsage;

export interface RoleProfile {
  ca: boolean;
  /** CAs only; undefined = unlimited (Master) */
  pathLength?: number;
  keyUsage: number;
  eku?: string[];
  /** role of the issuer, for the verifier */
  issuerRole: Role;
}

export const PROFILES: Record<Role, RoleProfile> = {
  // Master also signs the ClientAuth list (a data signature), hence digitalSignature.
  master: { ca: true, keyUsage: KU.keyCertSign | KU.cRLSign | KU.digitalSignature, issuerRole: 'master' },
  clientauth: { ca: true, pathLength: 0, keyUsage: KU.keyCertSign | KU.cRLSign, eku: [EKU.clientAuth], issuerRole: 'master' },
  sessionauth: { ca: true, pathLength: 0, keyUsage: KU.keyCertSign | KU.cRLSign, eku: [EKU.clientAuth], issuerRole: 'master' },
  auth: { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.serverAuth], issuerRole: 'master' },
  host: { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.serverAuth, EKU.clientAuth], issuerRole: 'master' },
  client: { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.clientAuth], issuerRole: 'clientauth' },
  session: { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.clientAuth], issuerRole: 'sessionauth' },
  // An operator: a TLS client only (no serverAuth, so it cannot pose as a server), signed by Master so
  // it chains to neither ClientAuth nor SessionAuth; its role URI is what the admin channel demands.
  admin: { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.clientAuth], issuerRole: 'master' },
};

/** The signing side of a certificate: a CA already loaded in memory. */
export interface Issuer {
  cert: x509.X509Certificate;
  /** hex SKI of the issuer: becomes the AKI of what it signs */
  keyId: string;
  signingKey: webcrypto.CryptoKey;
  algorithm: KeyAlgorithm;
}

export interface CertRequest {
  role: Role;
  /** name carried in the role URI (manifest name, host name, player id...) */
  name: string;
  subject: x509.JsonName;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  dnsNames?: string[];
  ipAddresses?: string[];
  session?: { sessionId: string; playerId: string };
}

/** 16 random bytes, top bit clear (positive) and second bit set (no leading zero to strip). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING contents (the raw public point/key). */
export function keyIdentifier(publicKey: KeyObject): string {
  return createHash('sha1').update(rawPublicKey(publicKey)).digest('hex');
}

export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  if (jwk.kty === 'OKP') return x;
  // EC: uncompressed point 04 || X || Y, as in the SPKI BIT STRING node writes
  return Buffer.concat([Buffer.from([4]), x, Buffer.from(jwk.y ?? '', 'base64url')]);
}

/** Whole seconds: X.509 times carry no fractions, and nesting must hold after encoding. */
export function floorSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

export function buildExtensions(req: CertRequest, subjectKeyId: string, authorityKeyId: string): x509.Extension[] {
  const p = PROFILES[req.role];
  const exts: x509.Extension[] = [new x509.BasicConstraintsExtension(p.ca, p.pathLength, true), new x509.KeyUsagesExtension(p.keyUsage, true)];
  if (p.eku) exts.push(new x509.ExtendedKeyUsageExtension(p.eku, false));
  exts.push(new x509.SubjectKeyIdentifierExtension(subjectKeyId));
  exts.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId));
  const san: x509.JsonGeneralNames = [];
  for (const d of req.dnsNames ?? []) san.push({ type: 'dns', value: d });
  for (const ip of req.ipAddresses ?? []) san.push({ type: 'ip', value: ip });
  san.push({ type: 'url', value: roleUri(req.role, req.name) });
  if (req.session) san.push({ type: 'url', value: sessionUri(req.session.sessionId, req.session.playerId) });
  exts.push(new x509.SubjectAlternativeNameExtension(san, false));
  return exts;
}

/** Signs `req` with `issuer`, or self-signs when issuer is 'self' (Master). */
export async function createCertificate(
  req: CertRequest,
  issuer: Issuer | { self: true; signingKey: webcrypto.CryptoKey; algorithm: KeyAlgorithm },
): Promise<x509.X509Certificate> {
  const ski = keyIdentifier(req.publicKey);
  const self = 'self' in issuer;
  const exts = buildExtensions(req, ski, self ? ski : issuer.keyId);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: req.subject,
    issuer: self ? req.subject : issuer.cert.subjectName,
    notBefore: floorSeconds(req.notBefore),
    notAfter: floorSeconds(req.notAfter),
    publicKey: spkiDer(req.publicKey),
    signingKey: issuer.signingKey,
    signingAlgorithm: webAlgorithm(issuer.algorithm).signParams,
    extensions: exts,
  });
}

export function subjectFor(organization: string, pkiId: string, cn: string, ou?: string): x509.JsonName {
  return [{ O: [organization] }, { OU: [ou ?? `iyesmp pki ${pkiId}`] }, { CN: [cn] }];
}
