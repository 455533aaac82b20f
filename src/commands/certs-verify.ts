import { Option, type Command } from 'commander';
import { action } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { IyesmpError } from '../errors.js';
import { cliError } from '../cli/errors.js';
import type { Role } from '../pki/types.js';
import { ROLE_CHOICES } from './certs-list.js';

export function register(group: Command): void {
  group
    .command('verify')
    .description('check a certificate file (PEM chain or DER) against this PKI; exit 6 with the reason when refused')
    .argument('<file>', 'certificate file: leaf first, intermediates optional')
    .option(DIR_FLAG, DIR_HELP)
    .addOption(new Option('--role <role>', 'require this role').choices(ROLE_CHOICES))
    .addHelpText(
      'after',
      `
Refusal reasons (stable, also in --json error.code): malformed, expired, not_yet_valid,
unknown_issuer, retired_clientauth, wrong_role, wrong_session, wrong_fingerprint, bad_signature.

Examples:
  $ iyesmp certs verify ./build/client.crt --role client
  $ iyesmp certs verify ./pki/certs/host-1.crt --json`,
    )
    .action(
      action<{ dir?: string; role?: Role }>('certs verify', async (out, opts, [file]) => {
        const dir = resolvePkiDir(opts.dir);
        const { access } = await import('node:fs/promises');
        // a missing argument file is bad input (3), not an I/O failure of the PKI folder (5)
        await access(String(file)).catch(() => {
          throw cliError('not_found', `certificate file ${String(file)} does not exist or cannot be read`);
        });
        const { openPki } = await import('../pki/index.js');
        const pki = await openPki(dir);
        const report = await pki.verifyCertFile(String(file), opts.role ? { role: opts.role } : {});
        if (!report.ok) {
          throw new IyesmpError('refused', report.reason ?? 'refused', `${String(file)} is refused (${report.reason ?? 'refused'}): ${report.message}`, {
            details: { file: String(file), ...report },
          });
        }
        out.result('certs verify', { file: String(file), ...report }, () =>
          [`${out.style.green('accepted')} ${report.message}`, ...report.chain.map((s, i) => `${'  '.repeat(i + 1)}${i ? '<- ' : ''}${s}`)].join('\n'),
        );
      }),
    );
}
