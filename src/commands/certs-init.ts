import { access, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../cli/output.js';
import { collect, DIR_FLAG, DIR_HELP, isInteractive, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, algorithmOption, durationDays, parseCount } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';
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
  insecureNoPassphrase?: boolean;
  unencryptedSessionauthKey?: boolean;
  yes?: boolean;
  force?: boolean;
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
    .option('--client-validity <dur>', 'Client cert lifetime (default: the ClientAuth\'s)');
  addPassphraseOptions(cmd, { forNewKeys: true });
  cmd
    .option('--unencrypted-sessionauth-key', 'keep the SessionAuth key unencrypted so auth servers start unattended')
    .option('-y, --yes', 'accept defaults for anything not given (auth name "localhost", 1 host, hosts named localhost and 127.0.0.1); never prompts except for a passphrase on a terminal')
    .option('-f, --force', 'replace an existing PKI in --dir')
    .addHelpText('after', `
On a terminal, missing answers (auth name, hosts, each host's address, passphrase) are asked in a
wizard. Without a terminal nothing is asked: a missing answer is a usage error naming its flag.
Every host cert carries the names clients dial (they refuse a host whose cert does not name the
address they were sent to): --host-name/--host-ip give them per host, in order; with --yes a host
given neither is named localhost and 127.0.0.1 (clients on this machine only).

Examples:
  $ iyesmp certs init                                   # wizard
  $ iyesmp certs init --dir ./pki --auth-name auth.example.com --auth-ip 203.0.113.5 \\
      --host-name h1.example.com --host-name h2.example.com --host-ip 203.0.113.7 --passphrase-file ./ca.pass
  $ IYESMP_PASSPHRASE=... iyesmp certs init --yes --algorithm ed25519 --json
  $ iyesmp certs init --dir ./dev-pki --yes --insecure-no-passphrase --force`)
    .action(action<InitFlags>('certs init', async (out, opts) => runInit(out, opts)));
}

async function runInit(out: import('../cli/output.js').Output, opts: InitFlags): Promise<void> {
  const dir = resolvePkiDir(opts.dir);
  const { MANIFEST_FILE, initPki } = await import('../pki/index.js');
  if (!opts.force && (await exists(path.join(dir, MANIFEST_FILE)))) {
    throw cliError('pki_exists', `a PKI already exists in ${dir}`, { hint: 'pass --force to replace it (every certificate in it becomes useless), or choose another --dir' });
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

  let authNames = opts.authName ?? [];
  const authIps = opts.authIp ?? [];
  let hostCount = opts.hosts !== undefined ? parseCount(opts.hosts, '--hosts') : undefined;
  const hostNames = opts.hostName ?? [];
  const hostIps = opts.hostIp ?? [];
  const { passphraseFromFlags, passphraseForNewKeys, INSECURE_WARNING, MIN_PASSPHRASE_LENGTH } = await import('../cli/passphrase.js');
  let passphrase = (await passphraseFromFlags(opts))?.passphrase;
  if (passphrase !== undefined && opts.insecureNoPassphrase) {
    throw cliError('conflicting_flags', '--insecure-no-passphrase contradicts the passphrase given by --passphrase-file or IYESMP_PASSPHRASE');
  }

  const missing = {
    authName: authNames.length === 0 && authIps.length === 0 && !opts.yes,
    hosts: hostCount === undefined && hostNames.length === 0 && hostIps.length === 0 && !opts.yes,
    hostAddresses: hostNames.length === 0 && hostIps.length === 0 && !opts.yes,
    passphrase: passphrase === undefined && !opts.insecureNoPassphrase,
  };
  const interactive = isInteractive();
  let hostAddresses: string[] = [];
  if (interactive && (missing.authName || missing.hosts || missing.hostAddresses || missing.passphrase)) {
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
    if (answers.passphrase !== undefined) passphrase = answers.passphrase;
  } else {
    if (missing.authName) {
      throw cliError('missing_auth_name', 'no Auth server name given and no terminal to ask on', {
        hint: `pass --auth-name DNS (and/or --auth-ip IP), or --yes to use "${DEFAULT_AUTH_NAME}"`,
      });
    }
    if (missing.passphrase) {
      // validates strength / raises the documented usage error naming the flags
      passphrase = (await passphraseForNewKeys(opts, { interactive: false })).passphrase;
    }
  }
  if (passphrase !== undefined && passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw cliError('passphrase_too_short', `the passphrase is shorter than ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  if (passphrase === undefined) out.warn(INSECURE_WARNING);

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
  if (unnamed.length > 0) out.note(`${unnamed.map((h) => h.name).join(', ')}: named localhost and 127.0.0.1 (--yes); clients elsewhere need --host-name/--host-ip`);
  if (authNames.length === 0 && authIps.length === 0) authNames = [DEFAULT_AUTH_NAME];

  // the PKI is built beside its folder and renamed into place, so the parent must exist: make it, as mkdir -p
  const parent = path.dirname(dir);
  if (!(await exists(parent))) {
    await mkdir(parent, { recursive: true });
    out.note(`created the folder ${parent}`);
  }
  out.note(`creating a ${opts.algorithm ?? 'p256'} PKI in ${dir} …`);
  const secret = passphrase;
  const pki = await initPki({
    dir,
    algorithm: opts.algorithm ?? 'p256',
    organization: opts.organization ?? 'iyesmp',
    validityDays,
    authDnsNames: authNames,
    authIpAddresses: authIps,
    hosts,
    ...(opts.clientName ? { clientName: opts.clientName } : {}),
    ...(secret !== undefined ? { passphrase: async () => secret } : { allowUnencryptedCaKeys: true }),
    unencryptedSessionAuthKey: Boolean(opts.unencryptedSessionauthKey),
    force: Boolean(opts.force),
  });
  const entries = pki.manifest.entries;
  const { certTable } = await import('../cli/cert-table.js');
  out.result('certs init', { dir, algorithm: opts.algorithm ?? 'p256', encrypted: passphrase !== undefined, entries }, () =>
    [`Created ${entries.length} certificates in ${dir}:`, '', certTable(entries, out.style)].join('\n'),
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
