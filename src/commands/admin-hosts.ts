import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { cliError } from '../cli/errors.js';
import { action } from '../cli/output.js';

export function parseLimit(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 1000) throw cliError('bad_number', `--limit ${text}: expected a whole number from 1 to 1000`);
  return n;
}

export function register(group: Command): void {
  addAdminOptions(group.command('hosts').description('Host servers registered with an Auth server: state, load, players'))
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin hosts -c auth.toml
  $ iyesmp admin hosts -c auth.toml --json | jq '.data.hosts[] | select(.draining)'`,
    )
    .action(
      action<AdminFlags>('admin hosts', async (out, opts) => {
        const r = await withAdmin(opts, 'iyesmp admin hosts', (a) => a.proto.request('hosts.list', {}));
        const { hostsTable } = await import('../cli/admin-view.js');
        out.result('admin hosts', r, () => hostsTable(r.hosts, out.style));
      }),
    );
}
