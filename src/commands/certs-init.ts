import { access, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { action } from '../cli/output.js';
import { collect, DIR_FLAG, DIR_HELP, isInteractive, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, algorithmOption, durationDays, parseCount } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';
import type { Output } from '../cli/output.js';
import type { CaPassphrases, CaSecret } from '../pki/api.js';
import type { KeyAlgorithm } from '../pki/types.js';

export interface InitFlags {
  dir?: string;
  algorithm?: KeyAlgorithm;
  organization?: string;
  authName?: string[];
  authIp?: string[];
  hosts?: string;
  hostName?: string[];
  hostIp?: string[];
  clientName?: string;
  masterValidity?: string;
  clientauthValidity?: string;
  sessionauthValidity?: string;
  serverValidity?: string;
  clientValidity?: string;
  passphraseFile?: string;
  masterPassphraseFile?: string;
  clientauthPassphraseFile?: string;
  sessionauthPassphraseFile?: string;
  oldPassphraseFile?: string;
  insecureNoPassphrase?: boolean;
  sessionauthUnencrypted?: boolean;
  unencryptedSessionauthKey?: boolean;
  yes?: boolean;
  force?: boolean;
  dryRun?: boolean;
}

export const DEFAULT_AUTH_NAME = 'localhost';
export const DEFAULT_HOSTS = 1;
/** What `--yes` puts in a host cert given no --host-name/--host-ip: reachable from this machine only. */
export const DEFAULT_HOST_NAMES = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };

export function register(group: Command): void {
  const cmd = group
    .command('init')
    .description('create a whole PKI: Master, Auth, Host(s), ClientAuth-1, SessionAuth and a Client cert')
    .option(DIR_FLAG, DIR_HELP)
    .addOption(algorithmOption().default('p256'))
    .option('--organization <name>', 'subject organisation (O=)', 'iyesmp')
    .option('--auth-name <dns>', 'DNS name of the Auth server cert (repeatable)', collect)
    .option('--auth-ip <ip>', 'IP address of the Auth server cert (repeatable)', collect)
    .option('--hosts <n>', 'number of host certs, named host-1..N (default 1)')
    .option('--host-name <dns>', 'DNS name clients dial for host i, in order (repeatable; implies at least that many hosts)', collect)
    .option('--host-ip <ip>', 'IP address clients dial for host i, in order (repeatable)', collect)
    .option('--client-name <name>', 'manifest name of the first client cert')
    .option('--master-validity <dur>', 'Master lifetime (default 10y)')
    .option('--clientauth-validity <dur>', 'ClientAuth-1 lifetime (default 2y)')
    .option('--sessionauth-validity <dur>', 'SessionAuth lifetime (default 1y)')
    .option('--server-validity <dur>', 'Auth and Host cert lifetime (default 1y)')
    .option('--client-validity <dur>', "Client cert lifetime (default: the ClientAuth's)");
  addPassphraseOptions(cmd, { forNewKeys: true, secrets: ['master', 'clientauth', 'sessionauth'] });
  cmd
    .option('--sessionauth-unencrypted', 'keep the SessionAuth key unencrypted (0600) so Auth servers start unattended; Master and ClientAuth stay encrypted')
    .addOption(new Option('--unencrypted-sessionauth-key', 'old name of --sessionauth-unencrypted').hideHelp())
    .option(
      '-y, --yes',
      'accept defaults for anything not given (auth name "localhost", 1 host, hosts named localhost and 127.0.0.1) and confirm --force; never prompts except for passphrases on a terminal',
    )
    .option('-f, --force', 'replace an existing PKI in --dir (it is moved to <dir>.bak-YYYYMMDD-HHMMSS; asks first unless --yes)')
    .option('--old-passphrase-file <file>', 'with --force over an encrypted PKI: the old Master passphrase, as proof')
    .option('--dry-run', 'with --force: show what would be replaced and change nothing')
    .addHelpText(
      'after',
      `
Each CA key has its own secret. Master and ClientAuth stay offline with the operator; SessionAuth
is online on every Auth server, so it gets its own passphrase (--sessionauth-passphrase-file) or is
kept unencrypted by choice (--sessionauth-unencrypted), never the Master's. --passphrase-file is
used for Master and ClientAuth when they have no file of their own.

On a terminal, missing answers (auth name, hosts, each host's address, passphrases) are asked in a
wizard. Without a terminal nothing is asked: a missing answer is a usage error naming its flag.
Every host cert carries the names clients dial (they refuse a host whose cert does not name the
address they were sent to): --host-name/--host-ip give them per host, in order; with --yes a host
given neither is named localhost and 127.0.0.1 (clients on this machine only).

Examples:
  $ iyesmp certs init                                   # wizard
  $ iyesmp certs init --dir ./pki --auth-name auth.example.com --auth-ip 203.0.113.5 \\
      --host-name h1.example.com --host-name h2.example.com --host-ip 203.0.113.7 \\
      --master-passphrase-file ./master.pass --clientauth-passphrase-file ./clientauth.pass \\
      --sessionauth-passphrase-file ./sessionauth.pass
  $ IYESMP_PASSPHRASE=... iyesmp certs init --yes --sessionauth-unencrypted --algorithm ed25519 --json
  $ iyesmp certs init --dir ./dev-pki --yes --insecure-no-passphrase --force`,
    )
    .action(action<InitFlags>('certs init', async (out, opts) => runInit(out, opts)));
}

async function runInit(out: Output, opts: InitFlags): Promise<void> {
  const dir = resolvePkiDir(opts.dir);
  const { MANIFEST_FILE, initPki } = await import('../pki/index.js');
  const replacing = await exists(path.join(dir, MANIFEST_FILE));
  if (!opts.force && replacing) {
    throw cliError('pki_exists', `a PKI already exists in ${dir}`, {
      hint: 'pass --force to replace it (every certificate in it becomes useless), or choose another --dir',
    });
  }
  const validityDays = {
    master: durationDays(opts.masterValidity, '--master-validity'),
    clientauth: durationDays(opts.clientauthValidity, '--clientauth-validity'),
    sessionauth: durationDays(opts.sessionauthValidity, '--sessionauth-validity'),
    auth: durationDays(opts.serverValidity, '--server-validity'),
    host: durationDays(opts.serverValidity, '--server-validity'),
    client: durationDays(opts.clientValidity, '--client-validity'),
  };
  for (const k of Object.keys(validityDays) as (keyof typeof validityDays)[]) if (validityDays[k] === undefined) delete validityDays[k];
  // flags are checked before the guard asks anything
  let oldMasterPassphrase: (() => Promise<string>) | undefined;
  if (replacing) {
    const guarded = await guardReplace(out, dir, opts);
    if (guarded === 'dry-run') return;
    oldMasterPassphrase = guarded;
  } else if (opts.dryRun) {
    out.result('certs init', { dir, dryRun: true, replaces: null }, () => `would create a new PKI in ${dir}; nothing changed (--dry-run)`);
    return;
  }

  let authNames = opts.authName ?? [];
  const authIps = opts.authIp ?? [];
  let hostCount = opts.hosts !== undefined ? parseCount(opts.hosts, '--hosts') : undefined;
  const hostNames = opts.hostName ?? [];
  const hostIps = opts.hostIp ?? [];
  const pass = await import('../cli/passphrase.js');
  const { INSECURE_WARNING, MIN_PASSPHRASE_LENGTH } = pass;
  // Master and ClientAuth: their own file/env, else the shared one. SessionAuth: only its own, since
  // it is opened on every Auth server and must not share a secret with the offline keys.
  const secrets: Partial<Record<CaSecret, string>> = {
    master: (await pass.passphraseFromFlags(opts, 'master'))?.passphrase,
    clientauth: (await pass.passphraseFromFlags(opts, 'clientauth'))?.passphrase,
    sessionauth: (await pass.ownPassphrase(opts, 'sessionauth'))?.passphrase,
  };
  const anyGiven = Object.values(secrets).some((v) => v !== undefined) || (await pass.passphraseFromFlags(opts)) !== undefined;
  if (anyGiven && opts.insecureNoPassphrase) {
    throw cliError('conflicting_flags', '--insecure-no-passphrase contradicts the passphrases given by --*passphrase-file or IYESMP_*PASSPHRASE');
  }
  const sessionUnencryptedFlag = Boolean(opts.sessionauthUnencrypted || opts.unencryptedSessionauthKey);
  if (sessionUnencryptedFlag && secrets.sessionauth !== undefined) {
    throw cliError(
      'conflicting_flags',
      '--sessionauth-unencrypted contradicts the SessionAuth passphrase given by --sessionauth-passphrase-file or IYESMP_SESSIONAUTH_PASSPHRASE',
    );
  }
  let sessionUnencrypted = sessionUnencryptedFlag || Boolean(opts.insecureNoPassphrase);

  const missing = {
    authName: authNames.length === 0 && authIps.length === 0 && !opts.yes,
    hosts: hostCount === undefined && hostNames.length === 0 && hostIps.length === 0 && !opts.yes,
    hostAddresses: hostNames.length === 0 && hostIps.length === 0 && !opts.yes,
    passphrase: secrets.master === undefined && !opts.insecureNoPassphrase,
    clientauthPassphrase: secrets.clientauth === undefined && !opts.insecureNoPassphrase,
    sessionauth: secrets.sessionauth === undefined && !sessionUnencrypted,
  };
  const interactive = isInteractive();
  let hostAddresses: string[] = [];
  if (interactive && Object.values(missing).some(Boolean)) {
    const { runInitWizard } = await import('../ui/InitWizard.js');
    const answers = await runInitWizard(
      {
        ask: missing,
        defaults: { authName: DEFAULT_AUTH_NAME, hosts: DEFAULT_HOSTS },
        ...(hostCount !== undefined ? { hostCount } : {}),
        minPassphraseLength: MIN_PASSPHRASE_LENGTH,
      },
      out.json ? process.stderr : process.stdout,
    );
    if (answers.authName !== undefined) {
      if (/^[0-9.]+$|:/.test(answers.authName)) authIps.push(answers.authName);
      else authNames = [answers.authName];
    }
    if (answers.hosts !== undefined) hostCount = answers.hosts;
    if (answers.hostAddresses !== undefined) hostAddresses = answers.hostAddresses;
    if (answers.passphrase !== undefined) secrets.master = answers.passphrase;
    if (answers.clientauthPassphrase !== undefined) secrets.clientauth = answers.clientauthPassphrase;
    if (answers.sessionauthPassphrase !== undefined) secrets.sessionauth = answers.sessionauthPassphrase;
    if (answers.sessionauthUnencrypted) sessionUnencrypted = true;
  } else {
    if (missing.authName) {
      throw cliError('missing_auth_name', 'no Auth server name given and no terminal to ask on', {
        hint: `pass --auth-name DNS (and/or --auth-ip IP), or --yes to use "${DEFAULT_AUTH_NAME}"`,
      });
    }
    // raises the documented usage error naming the flags
    if (missing.passphrase) secrets.master = (await pass.passphraseForNewKeys(opts, { interactive: false }, 'master')).passphrase;
    if (missing.clientauthPassphrase) secrets.clientauth = (await pass.passphraseForNewKeys(opts, { interactive: false }, 'clientauth')).passphrase;
    if (missing.sessionauth) {
      throw cliError('sessionauth_secret_required', 'SessionAuth needs its own secret and there is no terminal to ask on', {
        hint: 'pass --sessionauth-passphrase-file FILE (or set IYESMP_SESSIONAUTH_PASSPHRASE), or --sessionauth-unencrypted to keep it in clear at 0600',
      });
    }
  }
  for (const v of Object.values(secrets)) if (v !== undefined) pass.checkStrength(v);
  if (secrets.sessionauth !== undefined && (secrets.sessionauth === secrets.master || secrets.sessionauth === secrets.clientauth)) {
    throw cliError('passphrase_reused', 'the SessionAuth passphrase is the same as the Master or ClientAuth one', {
      hint: 'SessionAuth is opened on every Auth server: give it a passphrase of its own, or --sessionauth-unencrypted',
    });
  }
  if (secrets.master === undefined) out.warn(INSECURE_WARNING);

  const n = Math.max(hostCount ?? DEFAULT_HOSTS, hostNames.length, hostIps.length, hostAddresses.length);
  const hosts = Array.from({ length: n }, (_, i) => {
    const dns = hostNames[i] ?? (hostAddresses[i] !== undefined && !isIP(hostAddresses[i]!) ? hostAddresses[i] : undefined);
    const ip = hostIps[i] ?? (hostAddresses[i] !== undefined && isIP(hostAddresses[i]!) ? hostAddresses[i] : undefined);
    return { name: `host-${i + 1}`, ...(dns ? { dnsNames: [dns] } : {}), ...(ip ? { ipAddresses: [ip] } : {}) };
  });
  const unnamed = hosts.filter((h) => !h.dnsNames && !h.ipAddresses);
  if (unnamed.length > 0 && !opts.yes) {
    throw cliError('missing_host_name', `no address for ${unnamed.map((h) => h.name).join(', ')}: a host cert must carry the name clients dial`, {
      hint: 'pass --host-name DNS and/or --host-ip IP once per host, in order (or --yes for hosts named localhost and 127.0.0.1)',
    });
  }
  for (const h of unnamed) Object.assign(h, DEFAULT_HOST_NAMES);
  if (unnamed.length > 0)
    out.note(`${unnamed.map((h) => h.name).join(', ')}: named localhost and 127.0.0.1 (--yes); clients elsewhere need --host-name/--host-ip`);
  if (authNames.length === 0 && authIps.length === 0) authNames = [DEFAULT_AUTH_NAME];

  // the PKI is built beside its folder and renamed into place, so the parent must exist: make it, as mkdir -p
  const parent = path.dirname(dir);
  if (!(await exists(parent))) {
    await mkdir(parent, { recursive: true });
    out.note(`created the folder ${parent}`);
  }
  out.note(`creating a ${opts.algorithm ?? 'p256'} PKI in ${dir} …`);
  const providers: CaPassphrases = {};
  for (const secret of ['master', 'clientauth', 'sessionauth'] as const) {
    const value = secrets[secret];
    if (value !== undefined) providers[secret] = async () => value;
  }
  let backupDir: string | undefined;
  const pki = await initPki({
    dir,
    algorithm: opts.algorithm ?? 'p256',
    organization: opts.organization ?? 'iyesmp',
    validityDays,
    authDnsNames: authNames,
    authIpAddresses: authIps,
    hosts,
    ...(opts.clientName ? { clientName: opts.clientName } : {}),
    passphrases: providers,
    ...(opts.insecureNoPassphrase ? { allowUnencryptedCaKeys: true } : {}),
    unencryptedSessionAuthKey: sessionUnencrypted,
    force: Boolean(opts.force),
    ...(oldMasterPassphrase ? { oldMasterPassphrase } : {}),
    onBackup: (b) => (backupDir = b),
  });
  const entries = pki.manifest.entries;
  const { certTable } = await import('../cli/cert-table.js');
  const encryptedKeys = entries.filter((e) => e.keyEncrypted).map((e) => e.name);
  out.result(
    'certs init',
    { dir, algorithm: opts.algorithm ?? 'p256', encrypted: secrets.master !== undefined, encryptedKeys, entries, ...(backupDir ? { backupDir } : {}) },
    () =>
      [
        `Created ${entries.length} certificates in ${dir}:`,
        '',
        certTable(entries, out.style),
        ...(backupDir ? ['', `The PKI it replaced is kept in ${backupDir}`] : []),
      ].join('\n'),
  );
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * `--force` over an existing PKI: `--dry-run` shows what would go; otherwise a confirmation (y/N on a
 * terminal, `--yes` in scripts) and, for an encrypted PKI, the old Master passphrase as proof.
 */
async function guardReplace(out: Output, dir: string, opts: InitFlags): Promise<'dry-run' | (() => Promise<string>) | undefined> {
  const { openPki } = await import('../pki/index.js');
  const old = await openPki(dir);
  const m = old.manifest;
  const encrypted = m.entries.some((e) => e.role === 'master' && e.keyEncrypted);
  const summary = { pkiId: m.pkiId, organization: m.organization, createdAt: m.createdAt, certificates: m.entries.map((e) => e.name), encrypted };
  if (opts.dryRun) {
    out.result('certs init', { dir, dryRun: true, replaces: summary, backup: `${dir}.bak-YYYYMMDD-HHMMSS` }, () =>
      [
        `would replace the PKI ${m.pkiId} in ${dir} (${m.entries.length} certificates${encrypted ? ', encrypted' : ''}, made ${m.createdAt})`,
        `every certificate it issued stops being trusted; the folder would be kept as ${dir}.bak-YYYYMMDD-HHMMSS`,
        'nothing changed (--dry-run)',
      ].join('\n'),
    );
    return 'dry-run';
  }
  const { confirmDestructive } = await import('../cli/confirm.js');
  await confirmDestructive({
    yes: opts.yes,
    what: `replacing the PKI in ${dir}`,
    question: `Replace the PKI ${m.pkiId} in ${dir} (${m.entries.length} certificates)? Every game build and server of it stops being trusted; the old folder is kept as a dated backup.`,
  });
  if (!encrypted) return undefined;
  const pass = await import('../cli/passphrase.js');
  if (opts.oldPassphraseFile) {
    const value = await pass.readPassphraseFile(opts.oldPassphraseFile);
    return async () => value;
  }
  if (!isInteractive()) return undefined; // the library refuses with old_passphrase_required
  const value = await pass.promptHidden('Passphrase of the Master key of the PKI being replaced: ');
  return async () => value;
}
