/** `certs check`: expiry within a window, nesting of every chain, files and signed list vs manifest. */
import { X509Certificate as NodeCert } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { IyesmpError } from '../errors.js';
import type { CheckFinding, CheckReport } from './api.js';
import { exists } from './fsutil.js';
import { isCurrentKeyEncryption } from './keys.js';
import type { ManifestEntry } from './types.js';
import { DAY } from './options.js';
import { parsePem, pemToDerList, sha256Hex } from './pem.js';
import type { Pki } from './pki.js';

/** Expiry within `withinDays`, nesting of every chain, files matching the manifest, trust list. */
export async function checkPki(pki: Pki, o: { withinDays?: number; now?: Date } = {}): Promise<CheckReport> {
  const now = o.now ?? new Date();
  const withinDays = o.withinDays ?? 30;
  const findings: CheckFinding[] = [];
  const add = (name: string, kind: CheckFinding['kind'], severity: CheckFinding['severity'], message: string) =>
    findings.push({ name, kind, severity, message });
  const certs = new Map<string, NodeCert>();
  for (const e of pki.manifest.entries) {
    try {
      const pem = await fs.readFile(pki.path(e.certFile), 'utf8');
      const der = pemToDerList(pem, e.certFile)[0]!;
      if (sha256Hex(der) !== e.fingerprint) add(e.name, 'fingerprint_mismatch', 'error', `${e.certFile} is not the certificate the manifest lists`);
      else certs.set(e.name, new NodeCert(der));
    } catch (err) {
      add(e.name, 'missing_file', 'error', err instanceof IyesmpError ? err.message : `${e.certFile} cannot be read`);
    }
    if (e.keyFile && !(await exists(pki.path(e.keyFile)))) add(e.name, 'missing_file', 'error', `${e.keyFile} is missing`);
    else if (e.keyFile) await checkKeyFile(pki.path(e.keyFile), e, add);
  }
  const entries: CheckReport['entries'] = [];
  for (const e of pki.manifest.entries) {
    const nb = new Date(e.notBefore).getTime();
    const na = new Date(e.notAfter).getTime();
    const daysLeft = Math.floor((na - now.getTime()) / DAY);
    entries.push({ name: e.name, role: e.role, notAfter: e.notAfter, daysLeft, ...(e.status ? { status: e.status } : {}) });
    const retired = e.status === 'retired';
    if (now.getTime() > na) add(e.name, 'expired', retired ? 'warning' : 'error', `${e.name} expired at ${e.notAfter}`);
    else if (now.getTime() < nb) add(e.name, 'not_yet_valid', 'error', `${e.name} is not valid before ${e.notBefore}`);
    else if (daysLeft < withinDays) add(e.name, 'expiring', 'warning', `${e.name} expires in ${daysLeft} days (${e.notAfter})`);
    if (e.role !== 'master') {
      const issuer = pki.manifest.entries.find((x) => x.name === e.issuer);
      if (issuer && (nb < new Date(issuer.notBefore).getTime() || na > new Date(issuer.notAfter).getTime())) {
        add(e.name, 'not_nested', 'error', `${e.name}'s validity is not inside ${issuer.name}'s`);
      }
    }
    const c = certs.get(e.name);
    const ic = certs.get(e.issuer);
    if (c && ic && !c.verify(ic.publicKey)) add(e.name, 'bad_signature', 'error', `${e.name} is not signed by ${e.issuer}`);
  }
  try {
    const bundle = await pki.trustBundle();
    for (const ca of pki.clientAuths()) {
      const listed = bundle.clientAuths.find((c) => c.fingerprint === ca.fingerprint);
      if (!listed) add(ca.name, 'trust_list', 'error', `${ca.name} is missing from the signed ClientAuth list`);
      else if (listed.status !== ca.status)
        add(ca.name, 'trust_list', 'error', `${ca.name} is ${ca.status} in the manifest but ${listed.status} in the signed list`);
    }
  } catch (err) {
    add('trust', 'trust_list', 'error', err instanceof IyesmpError ? err.message : 'the signed ClientAuth list cannot be loaded');
  }
  return { ok: !findings.some((f) => f.severity === 'error'), now: now.toISOString(), withinDays, entries, findings };
}

/** The manifest's `keyEncrypted` against the file, and encrypted keys still under an outdated KDF (no passphrase needed). */
async function checkKeyFile(
  file: string,
  e: ManifestEntry,
  add: (name: string, kind: CheckFinding['kind'], severity: CheckFinding['severity'], message: string) => void,
): Promise<void> {
  let block;
  try {
    block = parsePem(await fs.readFile(file, 'latin1'), e.keyFile!).find((b) => b.label === 'PRIVATE KEY' || b.label === 'ENCRYPTED PRIVATE KEY');
  } catch (err) {
    add(e.name, 'missing_file', 'error', err instanceof IyesmpError ? err.message : `${e.keyFile} cannot be read`);
    return;
  }
  if (!block) return add(e.name, 'missing_file', 'error', `${e.keyFile} holds no PKCS#8 private key`);
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY';
  if (encrypted !== e.keyEncrypted) {
    add(e.name, 'key_encryption', 'error', `${e.keyFile} is ${encrypted ? 'encrypted' : 'not encrypted'} but the manifest says the opposite`);
  } else if (encrypted && !isCurrentKeyEncryption(block.der)) {
    add(
      e.name,
      'key_encryption',
      'warning',
      `${e.keyFile} is encrypted with an outdated KDF; the next command that opens it and writes the PKI re-encrypts it`,
    );
  }
}
