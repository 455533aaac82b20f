import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, openPkiForSigning } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';
import type { PassphraseFlags } from '../cli/passphrase.js';

export interface RetireFlags extends PassphraseFlags {
  yes?: boolean;
  dryRun?: boolean;
}

export function register(group: Command): void {
  const cmd = group
    .command('retire')
    .description('retire a ClientAuth: servers then refuse game builds whose client cert it signed')
    .argument('<id>', 'ClientAuth number N or name clientauth-N')
    .option(DIR_FLAG, DIR_HELP);
  addPassphraseOptions(cmd, { secrets: ['master'] });
  // same meaning as for rotate-clientauth: the PKI's CA keys are unencrypted (a dev PKI), so no
  // passphrase is asked for; it contradicts --passphrase-file / IYESMP_PASSPHRASE
  cmd.option('--insecure-no-passphrase', 'the CA keys of this PKI are unencrypted (development only; no passphrase is asked for)');
  cmd
    .option('-y, --yes', 'retire without asking (scripts); without it a terminal asks and a script is refused')
    .option('--dry-run', 'list what would change (the game builds that would be refused) and change nothing')
    .addHelpText(
      'after',
      `
Re-signs the ClientAuth list with the Master key, after a dated backup of the PKI folder
(<dir>.bak-YYYYMMDD-HHMMSS, 0700). Copy the PKI's trust/ folder to the Auth servers.

Examples:
  $ iyesmp certs retire 1 --dry-run
  $ iyesmp certs retire 1 --master-passphrase-file ./master.pass --yes
  $ iyesmp certs retire clientauth-1 --json
  $ iyesmp certs retire 1 --dir ./dev-pki --insecure-no-passphrase --yes`,
    )
    .action(action<RetireFlags & { dir?: string }>('certs retire', async (out, opts, [id]) => retire(out, resolvePkiDir(opts.dir), String(id), opts)));
}

export function parseClientAuthId(text: string): number {
  const m = /^(?:clientauth-)?(\d{1,9})$/i.exec(text.trim());
  if (!m || Number(m[1]) < 1) throw cliError('bad_clientauth_id', `"${text}" is not a ClientAuth id (use N or clientauth-N)`);
  return Number(m[1]);
}

/** Shared by `certs retire` and `rotate-clientauth --retire`. */
export async function retire(out: Output, dir: string, idText: string, flags: RetireFlags, command = 'certs retire'): Promise<void> {
  const id = parseClientAuthId(idText);
  const { pki } = await openPkiForSigning(dir, flags);
  const plan = pki.retirePlan(id);
  const builds = plan.refusedClients.map((e) => e.name);
  if (flags.dryRun) {
    out.result(command, { dir, dryRun: true, wouldRetire: plan.target, newest: plan.newest, refusedBuilds: builds, stillActive: plan.stillActive }, () =>
      [
        `would retire ${plan.target.name}${plan.newest ? ' (the newest ClientAuth: it signs new game builds today)' : ''}`,
        builds.length ? `game builds refused from then on (client certs it signed): ${builds.join(', ')}` : 'no client cert of this PKI was signed by it',
        `still accepted: ${plan.stillActive.map((c) => c.name).join(', ')}`,
        'nothing changed (--dry-run)',
      ].join('\n'),
    );
    return;
  }
  const { confirmDestructive } = await import('../cli/confirm.js');
  await confirmDestructive({
    yes: flags.yes,
    what: `retiring ${plan.target.name}`,
    question: `Retire ${plan.target.name}${plan.newest ? ', the newest ClientAuth,' : ''}? Servers will refuse ${builds.length ? `game builds with ${builds.join(', ')}` : 'every game build it signed'}.`,
  });
  await pki.unlockMaster(); // the passphrase is proven before the backup and the change
  const backupDir = await pki.backup();
  const retired = await pki.retireClientAuth(id);
  const active = pki.clientAuths().filter((c) => c.status === 'active');
  const { TRUST_DIR } = await import('../pki/index.js');
  const trustDir = pki.path(TRUST_DIR);
  out.result(command, { dir, retired, refusedBuilds: builds, active, trustDir, backupDir }, () =>
    [
      `${out.style.yellow('retired')} ${retired.name}: game builds with client certs it signed are now refused (retired_clientauth)`,
      `still accepted: ${active.map((c) => c.name).join(', ')}`,
      `backup of the PKI before the change: ${backupDir}`,
      `copy ${trustDir} to every Auth server`,
    ].join('\n'),
  );
}
