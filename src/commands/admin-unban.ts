import type { Command } from 'commander';
import { addAdminOptions, checkAdminText, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { action } from '../cli/output.js';

export function register(group: Command): void {
  addAdminOptions(group.command('unban').description('lift every ban on a player').argument('<player>', 'player id'))
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin unban guest:4f2a -c auth.toml`,
    )
    .action(
      action<AdminFlags>('admin unban', async (out, opts, [player]) => {
        const playerId = checkAdminText('<player>', String(player), 128, { argument: true });
        const r = await withAdmin(opts, 'iyesmp admin unban', (a) => a.proto.request('player.unban', { playerId }));
        out.result('admin unban', { playerId, ...r }, () => (r.lifted ? `${playerId}: ${r.lifted} ban(s) lifted` : `${playerId} was not banned`));
      }),
    );
}
