import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, durationDays, openPkiForSigning } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';

interface RotateFlags {
  dir?: string;
  retire?: string;
  validity?: string;
  client?: boolean;
  clientName?: string;
  passphraseFile?: string;
  masterPassphraseFile?: string;
  clientauthPassphraseFile?: string;
  yes?: boolean;
  dryRun?: boolean;
  insecureNoPassphrase?: boolean;
}

/** `iyesmp rotate-clientauth`: a new ClientAuth for new game builds; old ones stay accepted until retired. */
export function register(program: Command): void {
  const cmd = program
    .command('rotate-clientauth')
    .description('make a new ClientAuth (and its first client cert) for new game builds; old builds stay accepted until retired')
    .option(DIR_FLAG, DIR_HELP)
    .option('--retire <id>', 'instead of rotating, retire ClientAuth N (same as `iyesmp certs retire N`)')
    .option('-y, --yes', 'with --retire: retire without asking (scripts)')
    .option('--dry-run', 'with --retire: list the game builds that would be refused, change nothing')
    .option('--validity <dur>', 'lifetime of the new ClientAuth (default 2y)')
    .option('--client-name <name>', 'manifest name of the new client cert (default client-clientauth-N-1)')
    .option('--no-client', 'do not issue a client cert from the new ClientAuth');
  addPassphraseOptions(cmd, { forNewKeys: true, secrets: ['master', 'clientauth'] });
  cmd
    .addHelpText(
      'after',
      `
Rotation is data, not code: the Master-signed ClientAuth list in the PKI's trust/ folder changes,
servers reload it. Typical sequence:
  1. iyesmp rotate-clientauth            -> ship the printed files in the next game build
  2. wait until players have updated
  3. iyesmp rotate-clientauth --retire 1 -> old builds get "update your game" (asks first; --yes in scripts)

Examples:
  $ iyesmp rotate-clientauth --passphrase-file ./ca.pass
  $ iyesmp rotate-clientauth --master-passphrase-file ./master.pass --clientauth-passphrase-file ./clientauth.pass
  $ iyesmp rotate-clientauth --retire 1 --master-passphrase-file ./master.pass --yes
  $ iyesmp rotate-clientauth --json | jq -r '.data.gameBuildFiles[]'`,
    )
    .action(action<RotateFlags>('rotate-clientauth', async (out, opts) => rotate(out, opts)));
}

async function rotate(out: Output, opts: RotateFlags): Promise<void> {
  const dir = resolvePkiDir(opts.dir);
  if (opts.retire !== undefined) {
    const { retire } = await import('./certs-retire.js');
    return retire(out, dir, opts.retire, opts, 'rotate-clientauth');
  }
  if (opts.dryRun) throw cliError('bad_flag', '--dry-run applies to --retire only');
  const validityDays = durationDays(opts.validity, '--validity');
  const { pki, unencryptedNewKeys } = await openPkiForSigning(dir, opts, { newKey: 'clientauth' });
  if (unencryptedNewKeys) {
    const { INSECURE_WARNING } = await import('../cli/passphrase.js');
    out.warn(INSECURE_WARNING);
  }
  const r = await pki.rotateClientAuth({
    ...(validityDays !== undefined ? { validityDays } : {}),
    issueClient: opts.client !== false,
    ...(opts.clientName ? { clientName: opts.clientName } : {}),
  });
  const { TRUST_DIR } = await import('../pki/index.js');
  const trustDir = pki.path(TRUST_DIR);
  const data = {
    dir,
    clientAuth: r.clientAuth,
    client: r.client ? { entry: r.client.entry, certPath: r.client.certPath, keyPath: r.client.keyPath } : null,
    active: r.active,
    gameBuildFiles: r.gameBuildFiles,
    trustDir,
  };
  out.result('rotate-clientauth', data, () =>
    [
      `${out.style.green('new')} ${r.clientAuth.name} (until ${r.clientAuth.notAfter.slice(0, 10)}) now signs new client certs.`,
      `Accepted by servers: ${r.active.map((c) => c.name).join(', ')} (retire old ones with \`iyesmp certs retire N\` once players have updated).`,
      '',
      'New game builds must ship these files:',
      ...r.gameBuildFiles.map((f) => `  ${f}`),
      '',
      `Copy ${trustDir} to every Auth server so they accept the new builds.`,
    ].join('\n'),
  );
}
