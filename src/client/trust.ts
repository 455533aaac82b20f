/**
 * What a game client trusts: the servers it dials (Auth, then a Host) must hold certificates issued
 * by this PKI's Master with the right role. A game build ships the Master certificate; a client
 * needs nothing else to check servers, so a Master-only verifier is built here.
 */
import { readFile } from 'node:fs/promises';
import { createVerifier, loadTrustBundle } from '../pki/index.js';
import { parseCa, type TrustBundle } from '../pki/trust.js';
import type { PeerVerifier } from '../pki/types.js';
import { clientError } from './errors.js';

export type ClientTrust =
  /** the Master certificate: PEM text or a path to a PEM file (what a game build ships) */
  | { caPem: string }
  /** a PKI folder or its `trust/` folder (signed ClientAuth list + Master) */
  | { trustDir: string }
  /** an existing verifier (shared between connections, or made by the caller) */
  | { verifier: PeerVerifier };

export async function resolveTrust(trust: ClientTrust): Promise<PeerVerifier> {
  if ('verifier' in trust) return trust.verifier;
  if ('trustDir' in trust) return createVerifier(await loadTrustBundle(trust.trustDir));
  return masterOnlyVerifier(await readPemSource(trust.caPem, 'Master CA certificate'));
}

/**
 * A verifier that knows only the Master: enough for the `auth-server` and `host` policies (both
 * roles are issued by the Master). createVerifier wants a whole trust bundle, so the bundle here
 * has no ClientAuth and names the Master in the SessionAuth slot; a client never verifies client or
 * session certificates, and such a cert would be refused (no matching issuer), which is safe.
 */
export function masterOnlyVerifier(masterPem: string): PeerVerifier {
  const master = parseCa(masterPem, 'master', 'master', 'the Master CA certificate');
  if (!master.node.verify(master.node.publicKey)) {
    throw clientError('bad_ca', 'the trusted CA certificate is not a self-signed Master certificate', {
      hint: "give the PKI's master certificate (pki/certs/master.pem or pki/trust/master.pem)",
    });
  }
  const bundle: TrustBundle = { pkiId: '', sequence: 0, issuedAt: '', master, clientAuths: [], sessionAuth: master };
  return createVerifier(bundle);
}

/** PEM text, or a path to a PEM file. */
export async function readPemSource(src: string | Uint8Array, what: string): Promise<string> {
  if (typeof src !== 'string') return Buffer.from(src).toString('utf8');
  if (src.includes('-----BEGIN')) return src;
  try {
    return await readFile(src, 'utf8');
  } catch (cause) {
    throw clientError('file_unreadable', `cannot read the ${what} file ${src}: ${(cause as Error).message}`, { cause });
  }
}
