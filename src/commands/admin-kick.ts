import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { action } from '../cli/output.js';

export function register(group: Command): void {
  addAdminOptions(
    group
      .command('kick')
      .description("end a player's connection to the Auth server (it may log in again; see ban)")
      .argument('<player>', 'player id, as `admin players` lists it'),
  )
    .option('--reason <text>', 'told to the player', 'kicked by an administrator')
    .addHelpText(
      'after',
      `
Exit code 4 when no such player is logged in on that server.

Examples:
  $ iyesmp admin kick guest:4f2a -c auth.toml --reason "AFK in a ranked lobby"`,
    )
    .action(
      action<AdminFlags & { reason: string }>('admin kick', async (out, opts, [player]) => {
        const playerId = String(player);
        const r = await withAdmin(opts, 'iyesmp admin kick', (a) => a.proto.request('player.kick', { playerId, reason: opts.reason }));
        out.result('admin kick', { playerId, ...r }, () => `${playerId} kicked`);
      }),
    );
}
