import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { action } from '../cli/output.js';
import { parseLimit } from './admin-hosts.js';

export function register(group: Command): void {
  addAdminOptions(group.command('players').description('logged-in players (an Auth server) or connected players (a Host)'))
    .option('--limit <n>', 'at most this many (1..1000)', '100')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin players -c auth.toml
  $ iyesmp admin players -c auth.toml --json | jq -r '.data.players[].playerId'`,
    )
    .action(
      action<AdminFlags & { limit: string }>('admin players', async (out, opts) => {
        const limit = parseLimit(opts.limit);
        const r = await withAdmin(opts, 'iyesmp admin players', (a) => a.proto.request('players.list', { limit }));
        const { renderTable } = await import('../cli/table.js');
        out.result('admin players', r, () =>
          r.players.length === 0
            ? 'no players'
            : `${renderTable(
                ['player', 'name', 'address', 'lobby', 'queued', 'session'],
                r.players.map((p) => [p.playerId, p.displayName, p.address, p.lobbyId ?? '', p.queued ?? '', p.sessionId ?? '']),
                { header: out.style.dim },
              )}${r.total > r.players.length ? `\n(${r.players.length} of ${r.total})` : ''}`,
        );
      }),
    );
}
