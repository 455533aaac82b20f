import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { collect, DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, durationDays, openPkiForSigning, parseCount } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';

interface IssueFlags {
  dir?: string;
  dns?: string[];
  ip?: string[];
  validity?: string;
  clientauth?: string;
  count?: string;
  passphraseFile?: string;
  masterPassphraseFile?: string;
  clientauthPassphraseFile?: string;
}

export function register(group: Command): void {
  const cmd = group
    .command('issue')
    .description('issue another Auth server, Host, Client or Admin certificate')
    .argument('<kind>', 'auth, host, client or admin')
    .argument('[name]', 'manifest name (required for host and admin; default auth-N / client-clientauth-N-K)')
    .option(DIR_FLAG, DIR_HELP)
    .option('--dns <name>', 'DNS name peers dial, auth/host (repeatable; --dns or --ip is required)', collect)
    .option('--ip <addr>', 'IP address peers dial, auth/host (repeatable)', collect)
    .option('--validity <dur>', "lifetime, e.g. 365d or 1y (clipped to the issuer's)")
    .option('--clientauth <id>', 'client: which ClientAuth signs (default: the newest active one)')
    .option('--count <n>', 'client: issue this many (names get -1, -2, ... when a name is given)');
  addPassphraseOptions(cmd, { secrets: ['master', 'clientauth'] });
  cmd
    .addHelpText(
      'after',
      `
Signing needs the Master key (auth, host, admin) or a ClientAuth key (client), and only that key's
passphrase: --master-passphrase-file / --clientauth-passphrase-file, their $IYESMP_MASTER_PASSPHRASE /
$IYESMP_CLIENTAUTH_PASSPHRASE, the shared --passphrase-file / $IYESMP_PASSPHRASE, or a prompt.

Examples:
  $ iyesmp certs issue host host-4 --dns host4.example.com --ip 203.0.113.14
  $ iyesmp certs issue auth auth-eu --dns auth-eu.example.com --ip 203.0.113.5
  $ iyesmp certs issue client build-1-4-2 --clientauth-passphrase-file ./clientauth.pass --json
  $ iyesmp certs issue admin alice --validity 30d     # for iyesmp admin/top; only the admin channel accepts it`,
    )
    .action(action<IssueFlags>('certs issue', async (out, opts, [kind, name]) => runIssue(out, opts, String(kind), name as string | undefined)));
}

async function runIssue(out: Output, opts: IssueFlags, kind: string, name: string | undefined): Promise<void> {
  if (kind !== 'auth' && kind !== 'host' && kind !== 'client' && kind !== 'admin') {
    throw cliError('bad_kind', `certs issue: kind must be auth, host, client or admin, got "${kind}"`);
  }
  if (kind === 'host' && !name) throw cliError('missing_name', 'certs issue host needs a name, e.g. `iyesmp certs issue host host-4`');
  if (kind === 'admin' && !name) throw cliError('missing_name', "certs issue admin needs the operator's name, e.g. `iyesmp certs issue admin alice`");
  if ((kind === 'client' || kind === 'admin') && (opts.dns || opts.ip)) throw cliError('bad_flag', '--dns and --ip apply to auth and host certs only');
  if (kind !== 'client' && (opts.clientauth || opts.count)) throw cliError('bad_flag', '--clientauth and --count apply to client certs only');
  // peers check the name they dialled against the cert: a server cert without one is refused by all
  if ((kind === 'auth' || kind === 'host') && !opts.dns?.length && !opts.ip?.length) {
    throw cliError('missing_san', `${kind === 'auth' ? 'an Auth server' : 'a Host'} certificate needs the names its peers dial`, {
      hint: `pass --dns NAME and/or --ip ADDRESS (repeatable), e.g. --dns ${kind}.example.com`,
    });
  }
  const dir = resolvePkiDir(opts.dir);
  const validityDays = durationDays(opts.validity, '--validity');
  const { pki } = await openPkiForSigning(dir, opts);
  const common = validityDays !== undefined ? { validityDays } : {};
  const sans = { ...(opts.dns ? { dnsNames: opts.dns } : {}), ...(opts.ip ? { ipAddresses: opts.ip } : {}) };
  const issued: import('../pki/index.js').IssuedCert[] = [];
  if (kind === 'auth') issued.push(await pki.issueAuth({ ...common, ...sans, ...(name ? { name } : {}) }));
  else if (kind === 'host') issued.push(await pki.issueHost({ ...common, ...sans, name: name! }));
  else if (kind === 'admin') issued.push(await pki.issueAdmin({ ...common, name: name! }));
  else {
    const count = opts.count ? parseCount(opts.count, '--count', 100) : 1;
    const clientAuthId = opts.clientauth !== undefined ? parseCount(opts.clientauth.replace(/^clientauth-/, ''), '--clientauth', 1_000_000) : undefined;
    for (let i = 1; i <= count; i++) {
      const n = name ? (count > 1 ? `${name}-${i}` : name) : undefined;
      issued.push(await pki.issueClient({ ...common, ...(n ? { name: n } : {}), ...(clientAuthId !== undefined ? { clientAuthId } : {}) }));
    }
  }
  const { certTable } = await import('../cli/cert-table.js');
  const data = {
    dir,
    issued: issued.map((c) => ({ entry: c.entry, certPath: c.certPath, keyPath: c.keyPath, chainPem: c.chainPem })),
  };
  out.result('certs issue', data, () => {
    const lines = [
      certTable(
        issued.map((c) => c.entry),
        out.style,
      ),
      '',
    ];
    for (const c of issued) lines.push(`${c.entry.name}: ${c.certPath}`, `${' '.repeat(c.entry.name.length)}  ${c.keyPath}`);
    if (kind === 'client') lines.push('', 'A game build ships the client cert and key, its ClientAuth cert and the Master cert.');
    if (kind === 'admin')
      lines.push('', 'Give the cert and key to that operator only (iyesmp admin --cert/--key); the servers log every action under its name.');
    return lines.join('\n');
  });
}
