import { Option, type Command } from 'commander';
import { action } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';

export const ROLE_CHOICES = ['master', 'auth', 'host', 'clientauth', 'sessionauth', 'client', 'session', 'admin'];

export function register(group: Command): void {
  group
    .command('list')
    .description('list the certificates of a PKI folder')
    .option(DIR_FLAG, DIR_HELP)
    .addOption(new Option('--role <role>', 'only this role').choices(ROLE_CHOICES))
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp certs list
  $ iyesmp certs list --role clientauth
  $ iyesmp certs list --json | jq '.data.entries[] | select(.role=="host") | .name'`,
    )
    .action(
      action<{ dir?: string; role?: string }>('certs list', async (out, opts) => {
        const dir = resolvePkiDir(opts.dir);
        const { openPki } = await import('../pki/index.js');
        const pki = await openPki(dir);
        const entries = pki.manifest.entries.filter((e) => !opts.role || e.role === opts.role);
        const { certTable } = await import('../cli/cert-table.js');
        out.result('certs list', { dir, entries }, () => (entries.length ? certTable(entries, out.style, { status: true }) : 'no certificates'));
      }),
    );
}
