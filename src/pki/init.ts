/**
 * `certs init`: the whole hierarchy in one go. Built in a hidden sibling folder and renamed into
 * place, so a failure leaves no half-made PKI behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pkiError } from './errors.js';
import type { CaSecret, HostSpec, InitOptions, PassphraseProvider } from './api.js';
import { BACKUP_MODE, backupPath } from './backup.js';
import { ioError } from './fsutil.js';
import { checkAlgorithm, loadPrivateKey } from './keys.js';
import { MANIFEST_FILE, MANIFEST_VERSION, parseManifest, type Manifest } from './manifest.js';
import { validateName } from './names.js';
import { DEFAULT_DAYS, checkDays, checkSans, memoPassphrase, unencryptedRefused } from './options.js';
import { floorSeconds } from './profiles.js';
import { Pki, openPki } from './pki.js';

/**
 * Clients refuse a host whose certificate does not name the address they dial: hosts given by
 * count get the names of this machine (as the Auth cert gets `localhost` by default). Explicit
 * specs carry the names their caller chose (the CLI requires one per host).
 */
const LOCAL_HOST_NAMES = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };

function normaliseHosts(h: InitOptions['hosts']): HostSpec[] {
  if (h === undefined) return [{ name: 'host-1', ...LOCAL_HOST_NAMES }];
  if (typeof h === 'number') {
    if (!Number.isInteger(h) || h < 0 || h > 1000) throw pkiError('bad_hosts', `host count ${h} is out of range (0..1000)`);
    return Array.from({ length: h }, (_, i) => ({ name: `host-${i + 1}`, ...LOCAL_HOST_NAMES }));
  }
  return h;
}

/** Creates the whole hierarchy in one go: Master, Auth, hosts, ClientAuth-1, SessionAuth, one client. */
export async function initPki(opts: InitOptions): Promise<Pki> {
  const dir = path.resolve(opts.dir);
  const algorithm = checkAlgorithm(opts.algorithm ?? 'p256');
  const organization = opts.organization ?? 'iyesmp';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (typeof organization !== 'string' || organization.length < 1 || organization.length > 64 || /[\u0000-\u001f]/.test(organization)) {
    throw pkiError('bad_organization', 'the organisation name must be 1-64 printable characters');
  }
  const vd = opts.validityDays ?? {};
  const days = {
    master: checkDays(vd.master ?? DEFAULT_DAYS.master, 'master'),
    clientauth: checkDays(vd.clientauth ?? DEFAULT_DAYS.clientauth, 'clientauth'),
    sessionauth: checkDays(vd.sessionauth ?? DEFAULT_DAYS.sessionauth, 'sessionauth'),
    auth: checkDays(vd.auth ?? DEFAULT_DAYS.auth, 'auth'),
    host: checkDays(vd.host ?? DEFAULT_DAYS.host, 'host'),
    client: vd.client === undefined ? undefined : checkDays(vd.client, 'client'),
  };
  const authDns = opts.authDnsNames ?? (opts.authIpAddresses?.length ? [] : ['localhost']);
  checkSans(authDns, opts.authIpAddresses);
  const hosts = normaliseHosts(opts.hosts);
  const clientName = opts.clientName ?? 'client-clientauth-1-1';
  const names = new Set(['master', 'auth', 'clientauth-1', 'sessionauth']);
  for (const n of [...hosts.map((h) => h.name), clientName]) {
    validateName(n);
    if (names.has(n)) throw pkiError.as('usage', 'name_taken', `the name ${n} is used twice`);
    names.add(n);
  }
  for (const h of hosts) checkSans(h.dnsNames, h.ipAddresses);

  // refuse before asking for a passphrase
  const existing = await fs.lstat(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(ioError(err, 'inspect', dir))));
  /** 'empty': an empty folder to take over; 'pki': an old PKI, kept as a dated backup */
  let replace: 'empty' | 'pki' | undefined;
  if (existing) {
    if (!existing.isDirectory()) throw pkiError('path_exists', `${dir} exists and is not a folder`);
    const contents = await fs.readdir(dir).catch((err) => Promise.reject(ioError(err, 'read', dir)));
    if (contents.length > 0) {
      if (!opts.force) {
        throw pkiError('pki_exists', `${dir} already exists and is not empty`, {
          hint: 'use --force to replace it (the old PKI is kept as a dated backup), or choose another folder',
        });
      }
      // force deletes the old folder: only ever an iyesmp PKI, never some other non-empty folder
      if (!contents.includes(MANIFEST_FILE)) {
        throw pkiError('not_a_pki', `${dir} is not empty and holds no ${MANIFEST_FILE}; --force only replaces an iyesmp PKI folder`, {
          hint: 'choose an empty or new folder',
        });
      }
    }
    replace = contents.length > 0 ? 'pki' : 'empty';
  }
  if (replace === 'pki') await proveOldMaster(dir, opts.oldMasterPassphrase);
  // each CA key its own secret; SessionAuth may be kept in clear by an explicit choice
  const shared = memoPassphrase(opts.passphrase);
  const providers: Record<CaSecret, PassphraseProvider | undefined> = {
    master: memoPassphrase(opts.passphrases?.master) ?? shared,
    clientauth: memoPassphrase(opts.passphrases?.clientauth) ?? shared,
    sessionauth: opts.unencryptedSessionAuthKey ? undefined : (memoPassphrase(opts.passphrases?.sessionauth) ?? shared),
  };
  const pass: Partial<Record<CaSecret, string>> = {};
  for (const secret of ['master', 'clientauth', 'sessionauth'] as const) {
    const provider = providers[secret];
    if (provider) pass[secret] = await provider();
    else if (!opts.allowUnencryptedCaKeys && !(secret === 'sessionauth' && opts.unencryptedSessionAuthKey)) throw unencryptedRefused();
  }
  const now = opts.now ?? new Date();

  const parent = path.dirname(dir);
  const tmp = path.join(parent, `.${path.basename(dir)}.init-${randomBytes(6).toString('hex')}`);
  try {
    await fs.mkdir(tmp, { mode: 0o700 });
  } catch (err) {
    throw ioError(err, 'create the PKI folder in', parent);
  }
  try {
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      pkiId: randomBytes(8).toString('hex'),
      organization,
      algorithm,
      createdAt: floorSeconds(now).toISOString(),
      trustSequence: 0,
      entries: [],
    };
    const secrets = {
      ...(pass.master !== undefined ? { master: async () => pass.master! } : {}),
      ...(pass.clientauth !== undefined ? { clientauth: async () => pass.clientauth! } : {}),
      ...(pass.sessionauth !== undefined ? { sessionauth: async () => pass.sessionauth! } : {}),
    };
    const pki = new Pki(tmp, manifest, { passphrases: secrets, allowUnencryptedCaKeys: opts.allowUnencryptedCaKeys });
    await pki._build({ days, authDns, authIps: opts.authIpAddresses, hosts, clientName, pass, now });
    await fs.chmod(tmp, 0o755);
    if (replace === 'pki') {
      // the old PKI is kept, never deleted: its keys may still be the only copy
      const backup = await backupPath(dir, now);
      await fs.rename(dir, backup);
      try {
        await fs.rename(tmp, dir);
      } catch (err) {
        await fs.rename(backup, dir).catch(() => undefined);
        throw err;
      }
      if (opts.keepBackup === false) await fs.rm(backup, { recursive: true, force: true });
      else {
        await fs.chmod(backup, BACKUP_MODE);
        opts.onBackup?.(backup);
      }
    } else {
      if (replace === 'empty') await fs.rmdir(dir);
      await fs.rename(tmp, dir);
    }
    return await openPki(dir, { passphrases: secrets, allowUnencryptedCaKeys: opts.allowUnencryptedCaKeys });
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw ioError(err, 'create PKI in', dir);
  }
}

/** An encrypted PKI is only replaced by someone who can open its Master key. */
async function proveOldMaster(dir: string, passphrase: PassphraseProvider | undefined): Promise<void> {
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const text = await fs.readFile(manifestFile, 'utf8').catch((err) => Promise.reject(ioError(err, 'read', manifestFile)));
  const master = parseManifest(text, manifestFile).entries.find((e) => e.role === 'master');
  if (!master?.keyEncrypted || !master.keyFile) return;
  if (!passphrase) {
    throw pkiError('old_passphrase_required', `${dir} holds an encrypted PKI; replacing it needs its Master passphrase`, {
      hint: 'give the old Master passphrase (prompt, or --old-passphrase-file)',
    });
  }
  const keyFile = path.join(dir, master.keyFile);
  const pem = await fs.readFile(keyFile, 'utf8').catch((err) => Promise.reject(ioError(err, 'read', keyFile)));
  await loadPrivateKey(pem, `the old Master key ${keyFile}`, passphrase);
}
