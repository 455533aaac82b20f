import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, openPkiForSigning } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';

export function register(group: Command): void {
  const cmd = group
    .command('retire')
    .description('retire a ClientAuth: servers then refuse game builds whose client cert it signed')
    .argument('<id>', 'ClientAuth number N or name clientauth-N')
    .option(DIR_FLAG, DIR_HELP);
  addPassphraseOptions(cmd);
  // same meaning as for rotate-clientauth: the PKI's CA keys are unencrypted (a dev PKI), so no
  // passphrase is asked for; it contradicts --passphrase-file / IYESMP_PASSPHRASE
  cmd.option('--insecure-no-passphrase', 'the CA keys of this PKI are unencrypted (development only; no passphrase is asked for)');
  cmd
    .addHelpText('after', `
Re-signs the ClientAuth list with the Master key. Copy the PKI's trust/ folder to the Auth servers.

Examples:
  $ iyesmp certs retire 1 --passphrase-file ./ca.pass
  $ iyesmp certs retire clientauth-1 --json
  $ iyesmp certs retire 1 --dir ./dev-pki --insecure-no-passphrase`)
    .action(action<{ dir?: string; passphraseFile?: string; insecureNoPassphrase?: boolean }>('certs retire', async (out, opts, [id]) => retire(out, resolvePkiDir(opts.dir), String(id), opts)));
}

export function parseClientAuthId(text: string): number {
  const m = /^(?:clientauth-)?(\d{1,9})$/i.exec(text.trim());
  if (!m || Number(m[1]) < 1) throw cliError('bad_clientauth_id', `"${text}" is not a ClientAuth id (use N or clientauth-N)`);
  return Number(m[1]);
}

/** Shared by `certs retire` and `rotate-clientauth --retire`. */
export async function retire(out: Output, dir: string, idText: string, flags: { passphraseFile?: string; insecureNoPassphrase?: boolean }, command = 'certs retire'): Promise<void> {
  const id = parseClientAuthId(idText);
  const { pki } = await openPkiForSigning(dir, flags);
  const retired = await pki.retireClientAuth(id);
  const active = pki.clientAuths().filter((c) => c.status === 'active');
  const { TRUST_DIR } = await import('../pki/index.js');
  const trustDir = pki.path(TRUST_DIR);
  out.result(command, { dir, retired, active, trustDir }, () =>
    [
      `${out.style.yellow('retired')} ${retired.name}: game builds with client certs it signed are now refused (retired_clientauth)`,
      `still accepted: ${active.map((c) => c.name).join(', ')}`,
      `copy ${trustDir} to every Auth server`,
    ].join('\n'),
  );
}
