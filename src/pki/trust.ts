/**
 * The trust bundle servers load: Master cert, the Master-signed list of ClientAuths (with status)
 * and the SessionAuth cert. Lives in `<pki>/trust/`; needs no private key to load. Rotation and
 * retirement rewrite the list, so accepting or refusing game builds is data, not code.
 */
import { X509Certificate as NodeCert, sign, verify, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import type { ClientAuthStatus, KeyAlgorithm, Role } from './types.js';
import { algorithmOf, hashOf } from './keys.js';
import { derToPem, pemToDerList, sha256Hex } from './pem.js';
import { ioError } from './fsutil.js';
import { x509 } from './x509.js';

export const TRUST_DIR = 'trust';
export const TRUST_LIST_FILE = 'clientauths.json';
export const TRUST_SIG_FILE = 'clientauths.json.sig';
export const TRUST_MASTER_FILE = 'master.pem';
const TRUST_LIST_VERSION = 1;

/** A CA of this PKI, parsed once and kept for the verifier. */
export interface TrustedCa {
  name: string;
  role: Role;
  pem: string;
  der: Uint8Array;
  fingerprint: string;
  /** hex SKI: children carry it as AKI */
  keyId: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  node: NodeCert;
  cert: x509.X509Certificate;
}

export interface TrustedClientAuth extends TrustedCa {
  id: number;
  status: ClientAuthStatus;
}

export interface TrustBundle {
  pkiId: string;
  /** increases with every rewrite of the list; a server can refuse to go back to an older one */
  sequence: number;
  issuedAt: string;
  master: TrustedCa;
  clientAuths: TrustedClientAuth[];
  sessionAuth: TrustedCa;
}

export interface LoadTrustOptions {
  /** pin the Master cert (PEM) instead of reading trust/master.pem */
  masterPem?: string;
  /** refuse a list older than this sequence (rollback protection) */
  minSequence?: number;
}

const caItem = z.object({ name: z.string().max(64), fingerprint: z.string().regex(/^[0-9a-f]{64}$/), certPem: z.string().max(20000) });
const listSchema = z.object({
  version: z.literal(TRUST_LIST_VERSION),
  pkiId: z.string().max(64),
  sequence: z.number().int().nonnegative(),
  issuedAt: z.string().max(64),
  masterFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  clientAuths: z.array(caItem.extend({ id: z.number().int().positive(), status: z.enum(['active', 'retired']) })).max(1000),
  sessionAuth: caItem,
});
export type TrustList = z.infer<typeof listSchema>;

/** Parses one CA cert PEM into a TrustedCa; throws IyesmpError on anything odd. */
export function parseCa(pem: string, name: string, role: Role, what: string): TrustedCa {
  const der = pemToDerList(pem, what)[0]!;
  // Both parsers are partly lazy (node: the key; @peculiar: extensions and names), so read every
  // field used later inside this try: damage must surface here, as an IyesmpError.
  try {
    const node = new NodeCert(der);
    const cert = new x509.X509Certificate(der);
    algorithmOf(node.publicKey, what);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    cert.extensions.forEach((e) => e.type);
    if (!ski) throw pkiError('bad_certificate', `${what}: no subject key identifier (not made by iyesmp?)`);
    return {
      name,
      role,
      pem: derToPem(der),
      der,
      fingerprint: sha256Hex(der),
      keyId: ski.keyId.toLowerCase(),
      subject: cert.subject,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      node,
      cert,
    };
  } catch (cause) {
    if (cause instanceof IyesmpError) throw cause;
    throw pkiError('bad_certificate', `${what}: not a valid X.509 certificate`, { cause });
  }
}

export function buildTrustList(args: {
  pkiId: string;
  sequence: number;
  issuedAt: Date;
  master: { der: Uint8Array };
  clientAuths: { id: number; name: string; status: ClientAuthStatus; der: Uint8Array }[];
  sessionAuth: { name: string; der: Uint8Array };
}): string {
  const list: TrustList = {
    version: TRUST_LIST_VERSION,
    pkiId: args.pkiId,
    sequence: args.sequence,
    issuedAt: args.issuedAt.toISOString(),
    masterFingerprint: sha256Hex(args.master.der),
    clientAuths: args.clientAuths.map((c) => ({ id: c.id, name: c.name, status: c.status, fingerprint: sha256Hex(c.der), certPem: derToPem(c.der) })),
    sessionAuth: { name: args.sessionAuth.name, fingerprint: sha256Hex(args.sessionAuth.der), certPem: derToPem(args.sessionAuth.der) },
  };
  return JSON.stringify(list, null, 2) + '\n';
}

/** Detached signature over the exact bytes of the list file, base64 in a text file. */
export function signTrustList(listText: string, masterKey: KeyObject): string {
  const alg: KeyAlgorithm = algorithmOf(masterKey, 'Master key');
  return sign(hashOf(alg), Buffer.from(listText), masterKey).toString('base64') + '\n';
}

/** Accepts the PKI folder or its trust/ folder. */
export async function loadTrustBundle(dir: string, opts: LoadTrustOptions = {}): Promise<TrustBundle> {
  const trustDir = path.basename(path.resolve(dir)) === TRUST_DIR ? dir : path.join(dir, TRUST_DIR);
  const read = async (f: string): Promise<string> => {
    const file = path.join(trustDir, f);
    try {
      return await fs.readFile(file, 'utf8');
    } catch (err) {
      throw ioError(err, 'read the trust bundle file', file);
    }
  };
  const masterPem = opts.masterPem ?? (await read(TRUST_MASTER_FILE));
  const [listText, sigText] = [await read(TRUST_LIST_FILE), await read(TRUST_SIG_FILE)];
  return parseTrustBundle(masterPem, listText, sigText, opts.minSequence);
}

/** Verifies and parses a trust bundle from its three texts. Only IyesmpErrors escape. */
export function parseTrustBundle(masterPem: string, listText: string, sigText: string, minSequence = 0): TrustBundle {
  const master = parseCa(masterPem, 'master', 'master', 'trust/master.pem');
  if (!master.node.verify(master.node.publicKey)) {
    throw pkiError('bad_trust_list', 'trust/master.pem is not a self-signed Master certificate');
  }
  const sig = sigText.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sig)) throw badSig('the signature file is not base64');
  let ok = false;
  try {
    const pub = master.node.publicKey;
    ok = verify(hashOf(algorithmOf(pub, 'Master public key')), Buffer.from(listText), pub, Buffer.from(sig, 'base64'));
  } catch (cause) {
    if (cause instanceof IyesmpError) throw cause;
    ok = false;
  }
  if (!ok) throw badSig('the signature does not match the list and the Master certificate');
  let raw: unknown;
  try {
    raw = JSON.parse(listText);
  } catch {
    throw badList('not valid JSON');
  }
  const parsed = listSchema.safeParse(raw);
  if (!parsed.success) throw badList(`${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const list = parsed.data;
  if (list.masterFingerprint !== master.fingerprint) throw badList('it names another Master certificate');
  if (list.sequence < minSequence) throw badList(`its sequence ${list.sequence} is older than the one already seen (${minSequence})`);
  const underMaster = (ca: TrustedCa, fp: string): TrustedCa => {
    if (ca.fingerprint !== fp) throw badList(`${ca.name}: fingerprint does not match its certificate`);
    if (!ca.node.verify(master.node.publicKey)) throw badList(`${ca.name}: not signed by the Master`);
    return ca;
  };
  const clientAuths = list.clientAuths.map((c) => ({
    ...underMaster(parseCa(c.certPem, c.name, 'clientauth', `trust list ${c.name}`), c.fingerprint),
    id: c.id,
    status: c.status,
  }));
  const sessionAuth = underMaster(
    parseCa(list.sessionAuth.certPem, list.sessionAuth.name, 'sessionauth', 'trust list sessionauth'),
    list.sessionAuth.fingerprint,
  );
  return { pkiId: list.pkiId, sequence: list.sequence, issuedAt: list.issuedAt, master, clientAuths, sessionAuth };
}

function badSig(why: string): IyesmpError {
  return pkiError('bad_trust_signature', `the ClientAuth list is not validly signed by the Master: ${why}`, {
    hint: 'copy trust/ again from the PKI folder (iyesmp certs rotate-clientauth / retire rewrite it)',
  });
}
function badList(why: string): IyesmpError {
  return pkiError('bad_trust_list', `the ClientAuth list is not usable: ${why}`, {
    hint: 'copy trust/ again from the PKI folder',
  });
}
