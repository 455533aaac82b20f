import type { Command } from 'commander';
import { addAdminOptions, checkAdminText, confirmAdminAction, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { action } from '../cli/output.js';

export function register(group: Command): void {
  addAdminOptions(
    group
      .command('kick')
      .description("on an Auth server: end a player's connection (it may log in again; see ban); on a Host: remove it from its games there")
      .argument('<player>', 'player id, as `admin players` lists it'),
  )
    .option('--reason <text>', 'told to the player', 'kicked by an administrator')
    .option('-y, --yes', 'act without asking (scripts); without it a terminal asks and a script is refused')
    .addHelpText(
      'after',
      `
Exit code 4 when no such player is logged in on that server (a Host: in none of its sessions).
On a Host the seat is removed from the session: its connection closes, the game hears it left, and
it cannot come back into that session (on MQTT the broker kicks its client too).

Examples:
  $ iyesmp admin kick guest:4f2a -c auth.toml --reason "AFK in a ranked lobby"
  $ iyesmp admin kick guest:4f2a -c host.toml --reason "cheating"          # out of its game on that host
  $ iyesmp admin kick guest:4f2a -c auth.toml --yes --json      # from a script`,
    )
    .action(
      action<AdminFlags & { reason: string }>('admin kick', async (out, opts, [player]) => {
        const playerId = checkAdminText('<player>', String(player), 128, { argument: true });
        checkAdminText('--reason', opts.reason, 1024);
        await confirmAdminAction(opts, `kicking ${playerId}`, `Kick ${playerId}? On an Auth server its connection ends; on a Host it leaves its games there.`);
        const r = await withAdmin(opts, 'iyesmp admin kick', (a) => a.proto.request('player.kick', { playerId, reason: opts.reason }));
        out.result('admin kick', { playerId, ...r }, () => `${playerId} kicked`);
      }),
    );
}
