/**
 * A PKI folder, opened (openPki; initPki in init.ts creates one), and the operator's operations on it.
 * Layout: manifest.json, certs/<name>.pem, keys/<name>.key.pem (0600), trust/ (what servers load).
 * Every operation writes its new files first and the manifest last, undoing everything on failure.
 */
import { type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pkiError } from './errors.js';
import type {
  CaSecret,
  CheckReport,
  IssueAdminOptions,
  IssueAuthOptions,
  IssueClientOptions,
  IssueHostOptions,
  IssuedCert,
  OpenOptions,
  PassphraseProvider,
  RotateOptions,
  RotateResult,
  HostSpec,
  ValidityRole,
  VerifyFileOptions,
  VerifyFileReport,
} from './api.js';
import type { KeyAlgorithm, ManifestEntry, Role } from './types.js';
import { FileTransaction, KEY_MODE, PUBLIC_MODE, ioError, readText } from './fsutil.js';
import { copyToBackup } from './backup.js';
import { checkPki } from './check.js';
import { ADMIN_DEFAULT_DAYS, DAY, DEFAULT_DAYS, checkDays, checkSans, memoPassphrase, unencryptedRefused } from './options.js';
import { algorithmOf, encryptPrivateKeyPem, exportPrivateKeyPem, generateKeyPair, loadPrivateKeyInfo, toCryptoKey } from './keys.js';
import { MANIFEST_FILE, parseManifest, serializeManifest, type Manifest } from './manifest.js';
import { validateName } from './names.js';
import { derToPem, pemToDerList, sha256Hex } from './pem.js';
import { createCertificate, floorSeconds, subjectFor, type Issuer } from './profiles.js';
import { createSessionMinter, type FastSessionMinter } from './session.js';
import {
  TRUST_DIR,
  TRUST_LIST_FILE,
  TRUST_MASTER_FILE,
  TRUST_SIG_FILE,
  buildTrustList,
  loadTrustBundle,
  parseCa,
  signTrustList,
  type TrustBundle,
  type TrustedCa,
} from './trust.js';
import { createVerifier, type IyesmpVerifier } from './verifier.js';
import { x509 } from './x509.js';

interface LoadedCa extends Issuer {
  entry: ManifestEntry;
  privateKey: KeyObject;
  /** the passphrase of a key encrypted with an outdated KDF: the next write re-encrypts it */
  rewrap?: string;
}

/** Which secret protects a CA key; leaves have none. */
function secretOf(role: Role): CaSecret | undefined {
  return role === 'master' || role === 'clientauth' || role === 'sessionauth' ? role : undefined;
}

export class Pki {
  #dir: string;
  #manifest: Manifest;
  readonly #secrets: Record<CaSecret, PassphraseProvider | undefined>;
  readonly #allowUnencrypted: boolean;
  readonly #cas = new Map<string, LoadedCa>();

  /** use initPki / openPki */
  constructor(dir: string, manifest: Manifest, opts: OpenOptions = {}) {
    this.#dir = dir;
    this.#manifest = manifest;
    // one memo for the shared passphrase, so a PKI under one passphrase asks once
    const shared = memoPassphrase(opts.passphrase);
    const own = (s: CaSecret) => memoPassphrase(opts.passphrases?.[s]) ?? shared;
    this.#secrets = { master: own('master'), clientauth: own('clientauth'), sessionauth: own('sessionauth') };
    this.#allowUnencrypted = Boolean(opts.allowUnencryptedCaKeys);
  }

  get dir(): string {
    return this.#dir;
  }
  get manifest(): Readonly<Manifest> {
    return this.#manifest;
  }
  get algorithm(): KeyAlgorithm {
    return this.#manifest.algorithm;
  }

  list(role?: Role): ManifestEntry[] {
    return this.#manifest.entries.filter((e) => role === undefined || e.role === role).map((e) => ({ ...e }));
  }

  get(name: string): ManifestEntry {
    const e = this.#manifest.entries.find((x) => x.name === name);
    if (!e) {
      throw pkiError.as('usage', 'not_found', `no certificate named ${JSON.stringify(name)} in ${this.#dir}`, {
        hint: `known: ${this.#manifest.entries.map((x) => x.name).join(', ')}`,
      });
    }
    return { ...e };
  }

  path(rel: string): string {
    return path.join(this.#dir, rel);
  }

  clientAuths(): ManifestEntry[] {
    return this.list('clientauth').sort((a, b) => (a.clientAuthId ?? 0) - (b.clientAuthId ?? 0));
  }

  /** The ClientAuth that signs new client certs: the newest active one. */
  currentClientAuth(): ManifestEntry {
    const active = this.clientAuths().filter((e) => e.status === 'active');
    const cur = active[active.length - 1];
    if (!cur) throw pkiError('no_active_clientauth', 'every ClientAuth is retired', { hint: 'run iyesmp certs rotate-clientauth' });
    return cur;
  }

  async certPem(name: string): Promise<string> {
    const e = this.get(name);
    const file = this.path(e.certFile);
    const text = await readText(file, 'read certificate');
    const der = pemToDerList(text, file)[0]!;
    if (sha256Hex(der) !== e.fingerprint) {
      throw pkiError('fingerprint_mismatch', `${file} is not the certificate the manifest lists for ${name}`, {
        hint: 'the file was replaced or damaged; restore it from a backup',
      });
    }
    return derToPem(der);
  }

  /** Leaf then intermediates, without Master (what a TLS peer sends). */
  async chainPem(name: string): Promise<string> {
    const parts: string[] = [];
    let e = this.get(name);
    parts.push(await this.certPem(e.name));
    while (e.issuer !== 'master' && e.role !== 'master') {
      e = this.get(e.issuer);
      parts.push(await this.certPem(e.name));
    }
    return parts.join('');
  }

  // ---- CA keys ---------------------------------------------------------------------------------

  async #loadCa(name: string): Promise<LoadedCa> {
    const hit = this.#cas.get(name);
    if (hit) return hit;
    const entry = this.get(name);
    if (!entry.keyFile) throw pkiError('no_key', `the key of ${name} is not kept in this PKI folder`);
    const keyFile = this.path(entry.keyFile);
    const keyPem = await readText(keyFile, 'read key');
    const ca = parseCa(await this.certPem(name), name, entry.role, this.path(entry.certFile));
    const secret = secretOf(entry.role);
    const { key: privateKey, passphrase, outdated } = await loadPrivateKeyInfo(keyPem, keyFile, secret && this.#secrets[secret]);
    if (!ca.node.checkPrivateKey(privateKey)) {
      throw pkiError('key_mismatch', `${keyFile} does not belong to the certificate of ${name}`);
    }
    const algorithm = algorithmOf(privateKey, keyFile);
    const loaded: LoadedCa = { entry, privateKey, cert: ca.cert, keyId: ca.keyId, algorithm, signingKey: await toCryptoKey(privateKey, algorithm) };
    if (outdated && passphrase !== undefined) loaded.rewrap = passphrase;
    this.#cas.set(name, loaded);
    return loaded;
  }

  /** Loads (and so proves the passphrase of) the Master key, before a change the operator confirmed. */
  async unlockMaster(): Promise<void> {
    await this.#loadCa('master');
  }

  /** Copies the folder to a dated `<dir>.bak-YYYYMMDD-HHMMSS` (0700) before a destructive change; returns its path. */
  async backup(now = new Date()): Promise<string> {
    return copyToBackup(this.#dir, now);
  }

  /** The passphrase for a new CA key, or undefined when unencrypted keys are explicitly allowed. */
  async #caKeyPassphrase(secret: CaSecret): Promise<string | undefined> {
    const provider = this.#secrets[secret];
    if (provider) return provider();
    if (this.#allowUnencrypted) return undefined;
    throw unencryptedRefused();
  }

  // ---- issuing ---------------------------------------------------------------------------------

  #unusedName(base: string): string {
    const taken = new Set(this.#manifest.entries.map((e) => e.name));
    if (!taken.has(base)) return base;
    for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
  }

  #requireNewName(name: string): string {
    validateName(name);
    if (this.#manifest.entries.some((e) => e.name === name)) {
      throw pkiError.as('conflict', 'name_taken', `a certificate named ${name} already exists in this PKI`, { hint: 'choose another name' });
    }
    return name;
  }

  /**
   * Makes one cert + key and stages the files in `tx`; returns the entry (not yet in the manifest).
   * Validity is clipped to the issuer's so every chain stays nested.
   */
  async #make(
    tx: FileTransaction,
    a: {
      role: Role;
      name: string;
      issuer: LoadedCa | 'self';
      days?: number;
      now: Date;
      dnsNames?: string[];
      ipAddresses?: string[];
      clientAuthId?: number;
      keyPassphrase?: string;
      keyPair?: ReturnType<typeof generateKeyPair>;
    },
  ): Promise<{ entry: ManifestEntry; certPem: string; privateKey: KeyObject; cert: x509.X509Certificate }> {
    const m = this.#manifest;
    const pair = a.keyPair ?? generateKeyPair(m.algorithm);
    const notBefore = floorSeconds(a.now);
    const issuerNotAfter = a.issuer === 'self' ? Infinity : new Date(a.issuer.entry.notAfter).getTime();
    const issuerNotBefore = a.issuer === 'self' ? -Infinity : new Date(a.issuer.entry.notBefore).getTime();
    if (notBefore.getTime() < issuerNotBefore || notBefore.getTime() >= issuerNotAfter) {
      throw pkiError('issuer_not_valid', `${a.issuer === 'self' ? '' : a.issuer.entry.name} is not valid at ${notBefore.toISOString()}`, {
        hint: 'its certificate has expired (or the clock is wrong)',
      });
    }
    const wanted = a.days === undefined ? issuerNotAfter : notBefore.getTime() + a.days * DAY;
    const notAfter = new Date(Math.min(wanted, issuerNotAfter));
    const cn =
      a.role === 'master'
        ? 'Master'
        : a.role === 'clientauth'
          ? `ClientAuth-${a.clientAuthId}`
          : a.role === 'sessionauth'
            ? 'SessionAuth'
            : `${a.role} ${a.name}`;
    const subject = subjectFor(m.organization, m.pkiId, cn);
    const cert =
      a.issuer === 'self'
        ? await createCertificate(
            { role: a.role, name: a.name, subject, publicKey: pair.publicKey, notBefore, notAfter },
            { self: true, signingKey: await toCryptoKey(pair.privateKey, pair.algorithm), algorithm: pair.algorithm },
          )
        : await createCertificate(
            { role: a.role, name: a.name, subject, publicKey: pair.publicKey, notBefore, notAfter, dnsNames: a.dnsNames, ipAddresses: a.ipAddresses },
            a.issuer,
          );
    const der = new Uint8Array(cert.rawData);
    const certPem = derToPem(der);
    const certFile = `certs/${a.name}.pem`;
    const keyFile = `keys/${a.name}.key.pem`;
    await tx.write(this.path(certFile), certPem, PUBLIC_MODE, true);
    const keyPem = a.keyPassphrase === undefined ? exportPrivateKeyPem(pair.privateKey) : await encryptPrivateKeyPem(pair.privateKey, a.keyPassphrase);
    await tx.write(this.path(keyFile), keyPem, KEY_MODE, true);
    const entry: ManifestEntry = {
      name: a.name,
      role: a.role,
      certFile,
      keyFile,
      keyEncrypted: a.keyPassphrase !== undefined,
      algorithm: pair.algorithm,
      serial: cert.serialNumber.toLowerCase(),
      fingerprint: sha256Hex(der),
      subject: cert.subject,
      issuer: a.issuer === 'self' ? a.name : a.issuer.entry.name,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    };
    if (a.role === 'clientauth') {
      entry.status = 'active';
      entry.clientAuthId = a.clientAuthId;
    }
    if (a.dnsNames?.length) entry.dnsNames = [...a.dnsNames];
    if (a.ipAddresses?.length) entry.ipAddresses = [...a.ipAddresses];
    return { entry, certPem, privateKey: pair.privateKey, cert };
  }

  /** Runs `work` in a transaction; `work` returns the new manifest, which is written last. */
  async #commit<T>(work: (tx: FileTransaction) => Promise<{ manifest: Manifest; result: T; trust?: boolean }>): Promise<T> {
    const tx = new FileTransaction();
    const before = this.#manifest;
    try {
      await tx.mkdir(this.path('certs'));
      await tx.mkdir(this.path('keys'), 0o700);
      const { manifest, result, trust } = await work(tx);
      if (trust) {
        manifest.trustSequence += 1;
        this.#manifest = manifest;
        await this.#writeTrust(tx);
      }
      const rewrapped = await this.#rewrapOutdated(tx);
      await tx.write(this.path(MANIFEST_FILE), serializeManifest(manifest), PUBLIC_MODE);
      this.#manifest = manifest;
      for (const ca of rewrapped) delete ca.rewrap;
      return result;
    } catch (err) {
      this.#manifest = before;
      await tx.rollback();
      throw ioError(err, 'update', this.#dir);
    }
  }

  /** CA keys this command opened that still use an old KDF: rewritten in the current format (atomic, 0600) with the same passphrase. */
  async #rewrapOutdated(tx: FileTransaction): Promise<LoadedCa[]> {
    const done: LoadedCa[] = [];
    for (const ca of this.#cas.values()) {
      if (ca.rewrap === undefined || !ca.entry.keyFile) continue;
      await tx.write(this.path(ca.entry.keyFile), await encryptPrivateKeyPem(ca.privateKey, ca.rewrap), KEY_MODE);
      done.push(ca);
    }
    return done;
  }

  async #writeTrust(tx: FileTransaction, now = new Date()): Promise<void> {
    const m = this.#manifest;
    const master = await this.#loadCa('master');
    const derOf = async (name: string) => pemToDerList(await this.certPem(name), name)[0]!;
    const sessionAuth = m.entries.find((e) => e.role === 'sessionauth');
    if (!sessionAuth) throw pkiError.as('internal', 'no_sessionauth', 'the manifest has no SessionAuth');
    const clientAuths = [];
    for (const e of this.clientAuths()) clientAuths.push({ id: e.clientAuthId!, name: e.name, status: e.status!, der: await derOf(e.name) });
    const masterDer = await derOf('master');
    const listText = buildTrustList({
      pkiId: m.pkiId,
      sequence: m.trustSequence,
      issuedAt: now,
      master: { der: masterDer },
      clientAuths,
      sessionAuth: { name: sessionAuth.name, der: await derOf(sessionAuth.name) },
    });
    await tx.mkdir(this.path(TRUST_DIR));
    await tx.write(this.path(`${TRUST_DIR}/${TRUST_MASTER_FILE}`), derToPem(masterDer), PUBLIC_MODE);
    await tx.write(this.path(`${TRUST_DIR}/${TRUST_LIST_FILE}`), listText, PUBLIC_MODE);
    await tx.write(this.path(`${TRUST_DIR}/${TRUST_SIG_FILE}`), signTrustList(listText, master.privateKey), PUBLIC_MODE);
  }

  #issued(entry: ManifestEntry, chainPem: string): IssuedCert {
    return { entry, certPath: this.path(entry.certFile), keyPath: this.path(entry.keyFile!), chainPem };
  }

  async issueAuth(o: IssueAuthOptions = {}): Promise<IssuedCert> {
    const dnsNames = o.dnsNames ?? (o.ipAddresses?.length ? [] : ['localhost']);
    checkSans(dnsNames, o.ipAddresses);
    const name = o.name !== undefined ? this.#requireNewName(o.name) : this.#unusedName('auth');
    const days = checkDays(o.validityDays ?? DEFAULT_DAYS.auth, 'auth');
    return this.#issueLeaf({ role: 'auth', name, issuerName: 'master', days, now: o.now, dnsNames, ipAddresses: o.ipAddresses });
  }

  async issueHost(o: IssueHostOptions): Promise<IssuedCert> {
    checkSans(o.dnsNames, o.ipAddresses);
    const name = this.#requireNewName(o.name);
    const days = checkDays(o.validityDays ?? DEFAULT_DAYS.host, 'host');
    return this.#issueLeaf({ role: 'host', name, issuerName: 'master', days, now: o.now, dnsNames: o.dnsNames, ipAddresses: o.ipAddresses });
  }

  /** An operator's cert for the admin channel: Master signs it, its role URI names the operator. */
  async issueAdmin(o: IssueAdminOptions): Promise<IssuedCert> {
    validateName(o.name);
    const name = this.#requireNewName(o.name.startsWith('admin') ? o.name : `admin-${o.name}`);
    const days = checkDays(o.validityDays ?? ADMIN_DEFAULT_DAYS, 'admin');
    return this.#issueLeaf({ role: 'admin', name, issuerName: 'master', days, now: o.now });
  }

  async issueClient(o: IssueClientOptions = {}): Promise<IssuedCert> {
    const ca = o.clientAuthId === undefined ? this.currentClientAuth() : this.#clientAuthById(o.clientAuthId);
    if (ca.status !== 'active') throw pkiError('clientauth_retired', `${ca.name} is retired and signs no more client certs`);
    const name = o.name !== undefined ? this.#requireNewName(o.name) : this.#nextClientName(ca);
    const days = o.validityDays === undefined ? undefined : checkDays(o.validityDays, 'client');
    return this.#issueLeaf({ role: 'client', name, issuerName: ca.name, days, now: o.now });
  }

  #nextClientName(ca: ManifestEntry): string {
    const taken = new Set(this.#manifest.entries.map((e) => e.name));
    for (let k = 1; ; k++) if (!taken.has(`client-${ca.name}-${k}`)) return `client-${ca.name}-${k}`;
  }

  #clientAuthById(id: number): ManifestEntry {
    const e = this.clientAuths().find((c) => c.clientAuthId === id);
    if (!e) {
      throw pkiError.as('usage', 'not_found', `no ClientAuth-${id} in this PKI`, {
        hint: `known: ${this.clientAuths()
          .map((c) => `${c.clientAuthId} (${c.status})`)
          .join(', ')}`,
      });
    }
    return e;
  }

  async #issueLeaf(a: {
    role: Role;
    name: string;
    issuerName: string;
    days?: number;
    now?: Date;
    dnsNames?: string[];
    ipAddresses?: string[];
  }): Promise<IssuedCert> {
    const issuer = await this.#loadCa(a.issuerName);
    const entry = await this.#commit(async (tx) => {
      const made = await this.#make(tx, { ...a, issuer, now: a.now ?? new Date() });
      return { manifest: { ...this.#manifest, entries: [...this.#manifest.entries, made.entry] }, result: made.entry };
    });
    return this.#issued(entry, await this.chainPem(entry.name));
  }

  /** New ClientAuth-(N+1) signs new client certs from now on; older ones stay active until retired. */
  async rotateClientAuth(o: RotateOptions = {}): Promise<RotateResult> {
    const days = checkDays(o.validityDays ?? DEFAULT_DAYS.clientauth, 'clientauth');
    const master = await this.#loadCa('master'); // an encrypted Master asks for the passphrase first
    const keyPassphrase = await this.#caKeyPassphrase('clientauth');
    const id = Math.max(0, ...this.clientAuths().map((c) => c.clientAuthId ?? 0)) + 1;
    const now = o.now ?? new Date();
    const name = this.#requireNewName(`clientauth-${id}`);
    const issueClient = o.issueClient ?? true;
    const clientName = issueClient ? (o.clientName !== undefined ? this.#requireNewName(o.clientName) : `client-${name}-1`) : undefined;
    const { caEntry, clientEntry } = await this.#commit(async (tx) => {
      const ca = await this.#make(tx, { role: 'clientauth', name, issuer: master, days, now, clientAuthId: id, keyPassphrase });
      let clientEntry: ManifestEntry | undefined;
      if (clientName) {
        const alg = ca.entry.algorithm;
        const loaded: LoadedCa = {
          entry: ca.entry,
          privateKey: ca.privateKey,
          cert: ca.cert,
          keyId: keyIdOf(ca.cert),
          algorithm: alg,
          signingKey: await toCryptoKey(ca.privateKey, alg),
        };
        clientEntry = (await this.#make(tx, { role: 'client', name: clientName, issuer: loaded, now })).entry;
      }
      const entries = [...this.#manifest.entries, ca.entry, ...(clientEntry ? [clientEntry] : [])];
      return { manifest: { ...this.#manifest, entries }, result: { caEntry: ca.entry, clientEntry }, trust: true };
    });
    const client = clientEntry ? this.#issued(clientEntry, await this.chainPem(clientEntry.name)) : undefined;
    const gameBuildFiles = client
      ? [client.certPath, client.keyPath, this.path(caEntry.certFile), this.path(this.get('master').certFile)]
      : [this.path(caEntry.certFile), this.path(this.get('master').certFile)];
    return { clientAuth: caEntry, client, active: this.clientAuths().filter((c) => c.status === 'active'), gameBuildFiles };
  }

  /**
   * What retiring ClientAuth `id` would do, without a passphrase or a write: the game builds (client
   * certs it signed) servers would refuse, and the ClientAuths still accepted. Refuses as retire does.
   */
  retirePlan(id: number): RetirePlan {
    const target = this.#clientAuthById(id);
    if (target.status === 'retired') throw pkiError('already_retired', `${target.name} is already retired`);
    const active = this.clientAuths().filter((c) => c.status === 'active');
    if (active.length === 1) {
      throw pkiError('last_active_clientauth', `${target.name} is the only active ClientAuth; retiring it would refuse every game build`, {
        hint: 'run iyesmp rotate-clientauth first',
      });
    }
    return {
      target,
      newest: target.name === this.currentClientAuth().name,
      refusedClients: this.list('client').filter((e) => e.issuer === target.name),
      stillActive: active.filter((c) => c.name !== target.name),
    };
  }

  /** Servers refuse client certs of a retired ClientAuth once they reload the trust list. */
  async retireClientAuth(id: number): Promise<ManifestEntry> {
    const { target } = this.retirePlan(id);
    await this.#loadCa('master'); // ask for the passphrase before changing anything
    return this.#commit(async () => {
      const entries = this.#manifest.entries.map((e) => (e.name === target.name ? { ...e, status: 'retired' as const } : e));
      return { manifest: { ...this.#manifest, entries }, result: { ...target, status: 'retired' as const }, trust: true };
    });
  }

  /** @internal init's body: fills an empty (temp) folder; initPki renames it into place. */
  async _build(plan: BuildPlan): Promise<void> {
    const tx = new FileTransaction();
    await tx.mkdir(this.path('certs'));
    await tx.mkdir(this.path('keys'), 0o700);
    const d = plan.days;
    const remember = async (made: { entry: ManifestEntry; privateKey: KeyObject; cert: x509.X509Certificate }): Promise<LoadedCa> => {
      const ca: LoadedCa = {
        entry: made.entry,
        privateKey: made.privateKey,
        cert: made.cert,
        keyId: keyIdOf(made.cert),
        algorithm: made.entry.algorithm,
        signingKey: await toCryptoKey(made.privateKey, made.entry.algorithm),
      };
      this.#cas.set(made.entry.name, ca);
      this.#manifest.entries.push(made.entry);
      return ca;
    };
    const now = plan.now;
    const master = await remember(
      await this.#make(tx, { role: 'master', name: 'master', issuer: 'self', days: d.master, now, keyPassphrase: plan.pass.master }),
    );
    const clientAuth = await remember(
      await this.#make(tx, {
        role: 'clientauth',
        name: 'clientauth-1',
        issuer: master,
        days: d.clientauth,
        now,
        clientAuthId: 1,
        keyPassphrase: plan.pass.clientauth,
      }),
    );
    await remember(
      await this.#make(tx, { role: 'sessionauth', name: 'sessionauth', issuer: master, days: d.sessionauth, now, keyPassphrase: plan.pass.sessionauth }),
    );
    const leaves: ManifestEntry[] = [];
    leaves.push(
      (await this.#make(tx, { role: 'auth', name: 'auth', issuer: master, days: d.auth, now, dnsNames: plan.authDns, ipAddresses: plan.authIps })).entry,
    );
    for (const h of plan.hosts) {
      leaves.push(
        (await this.#make(tx, { role: 'host', name: h.name, issuer: master, days: d.host, now, dnsNames: h.dnsNames, ipAddresses: h.ipAddresses })).entry,
      );
    }
    leaves.push((await this.#make(tx, { role: 'client', name: plan.clientName, issuer: clientAuth, days: d.client, now })).entry);
    this.#manifest.entries.push(...leaves);
    this.#manifest.trustSequence = 1;
    await this.#writeTrust(tx, now);
    await tx.write(this.path(MANIFEST_FILE), serializeManifest(this.#manifest), PUBLIC_MODE);
  }

  // ---- reading back ----------------------------------------------------------------------------

  async trustBundle(): Promise<TrustBundle> {
    return loadTrustBundle(this.#dir);
  }

  async verifier(): Promise<IyesmpVerifier> {
    return createVerifier(await this.trustBundle());
  }

  async sessionMinter(): Promise<FastSessionMinter> {
    const e = this.list('sessionauth')[0];
    if (!e?.keyFile) throw pkiError.as('conflict', 'no_sessionauth', 'this PKI has no SessionAuth key');
    const keyPem = await readText(this.path(e.keyFile), 'read key');
    const passphrase = this.#secrets.sessionauth;
    return createSessionMinter({ certPem: await this.certPem(e.name), keyPem, ...(passphrase ? { passphrase } : {}) });
  }

  /** Checks a cert file (PEM chain or DER) against this PKI, optionally for a role. */
  async verifyCertFile(file: string, o: VerifyFileOptions = {}): Promise<VerifyFileReport> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch (err) {
      throw ioError(err, 'read', file);
    }
    const chain = bytes.subarray(0, 100).toString('latin1').includes('-----BEGIN') ? pemToDerList(bytes.toString('latin1'), file) : [new Uint8Array(bytes)];
    const verifier = createVerifier(await this.#bundleFromManifest());
    const fp = sha256Hex(chain[0]!);
    const ca = verifier.caByFingerprint(fp);
    const now = o.now ?? new Date();
    if (ca) {
      const chainNames = ca.role === 'master' ? [ca.subject] : [ca.subject, this.get('master').subject];
      const status = this.#manifest.entries.find((e) => e.fingerprint === fp)?.status;
      const base = { role: ca.role, name: ca.name, subject: ca.subject, fingerprint: fp, chain: chainNames };
      if (o.role && o.role !== ca.role) return { ok: false, reason: 'wrong_role', message: `expected a ${o.role} certificate, got ${ca.name}`, ...base };
      if (now < ca.notBefore) return { ok: false, reason: 'not_yet_valid', message: `${ca.name} is not valid before ${ca.notBefore.toISOString()}`, ...base };
      if (now > ca.notAfter) return { ok: false, reason: 'expired', message: `${ca.name} expired at ${ca.notAfter.toISOString()}`, ...base };
      if (status === 'retired') return { ok: false, reason: 'retired_clientauth', message: `${ca.name} is retired`, ...base };
      return { ok: true, message: `${ca.name}: a valid ${ca.role} CA of this PKI`, ...base };
    }
    const r = verifier.verifyLeaf(chain, o.role ? { role: o.role } : {}, now);
    if (!r.ok) return { ok: false, reason: r.reason, message: r.message, chain: [] };
    const issuerEntry = this.#manifest.entries.find((e) => isIssuerOf(e, r.peer.role, r.peer.clientAuthId));
    const chainNames = [r.peer.subject, ...(issuerEntry ? [issuerEntry.subject] : []), this.get('master').subject];
    return {
      ok: true,
      message: `a valid ${r.peer.role} certificate (${r.peer.name}) of this PKI`,
      role: r.peer.role,
      name: r.peer.name,
      subject: r.peer.subject,
      fingerprint: r.peer.fingerprint,
      chain: chainNames,
    };
  }

  /** The trust bundle as the manifest sees it (no signature involved: the operator's own view). */
  async #bundleFromManifest(): Promise<TrustBundle> {
    const load = async (e: ManifestEntry): Promise<TrustedCa> => parseCa(await this.certPem(e.name), e.name, e.role, this.path(e.certFile));
    const sessionAuth = this.list('sessionauth')[0];
    if (!sessionAuth) throw pkiError.as('internal', 'no_sessionauth', 'the manifest has no SessionAuth');
    const clientAuths = [];
    for (const e of this.clientAuths()) clientAuths.push({ ...(await load(e)), id: e.clientAuthId!, status: e.status! });
    return {
      pkiId: this.#manifest.pkiId,
      sequence: this.#manifest.trustSequence,
      issuedAt: new Date().toISOString(),
      master: await load(this.get('master')),
      clientAuths,
      sessionAuth: await load(sessionAuth),
    };
  }

  /** Expiry within `withinDays`, nesting of every chain, files matching the manifest, trust list. */
  async check(o: { withinDays?: number; now?: Date } = {}): Promise<CheckReport> {
    return checkPki(this, o);
  }
}

function isIssuerOf(e: ManifestEntry, role: Role, clientAuthId?: number): boolean {
  if (role === 'client') return e.role === 'clientauth' && e.clientAuthId === clientAuthId;
  if (role === 'session') return e.role === 'sessionauth';
  return false;
}

function keyIdOf(cert: x509.X509Certificate): string {
  return cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId.toLowerCase();
}

// ---- open / init ---------------------------------------------------------------------------------

export async function openPki(dir: string, opts: OpenOptions = {}): Promise<Pki> {
  const abs = path.resolve(dir);
  let st;
  try {
    st = await fs.stat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw pkiError('no_pki', `no PKI folder at ${abs}`, { hint: 'create one with iyesmp certs init' });
    }
    throw ioError(err, 'open PKI folder', abs);
  }
  if (!st.isDirectory()) throw pkiError('no_pki', `${abs} is not a folder`);
  const file = path.join(abs, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw pkiError('no_manifest', `${abs} has no ${MANIFEST_FILE}: not an iyesmp PKI folder (or an interrupted one)`, {
        hint: 'create one with iyesmp certs init, or restore manifest.json from a backup',
      });
    }
    throw ioError(err, 'read', file);
  }
  return new Pki(abs, parseManifest(text, file), opts);
}

export interface RetirePlan {
  target: ManifestEntry;
  /** the ClientAuth that signs new client certs today */
  newest: boolean;
  /** client certs of this PKI that ClientAuth signed: the game builds servers would refuse */
  refusedClients: ManifestEntry[];
  stillActive: ManifestEntry[];
}

export interface BuildPlan {
  days: Record<Exclude<ValidityRole, 'client'>, number> & { client?: number };
  authDns: string[];
  authIps?: string[];
  hosts: HostSpec[];
  clientName: string;
  /** each CA key's passphrase; undefined writes that key unencrypted */
  pass: Partial<Record<CaSecret, string>>;
  now: Date;
}
