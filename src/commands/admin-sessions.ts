import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { action } from '../cli/output.js';
import { parseLimit } from './admin-hosts.js';

export function register(group: Command): void {
  addAdminOptions(group.command('sessions').description('game sessions being set up or running'))
    .option('--limit <n>', 'at most this many (1..1000)', '100')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin sessions -c auth.toml
  $ iyesmp admin sessions --server 10.0.0.7:7402 --json`,
    )
    .action(
      action<AdminFlags & { limit: string }>('admin sessions', async (out, opts) => {
        const limit = parseLimit(opts.limit);
        const r = await withAdmin(opts, 'iyesmp admin sessions', (a) => a.proto.request('sessions.list', { limit }));
        const { renderTable } = await import('../cli/table.js');
        const { ago } = await import('../cli/admin-view.js');
        const now = Date.now();
        out.result('admin sessions', r, () =>
          r.sessions.length === 0
            ? 'no sessions'
            : `${renderTable(
                ['session', 'state', 'host', 'mode', 'age', 'players'],
                r.sessions.map((s) => [s.sessionId, s.state, s.host, s.mode ?? '', ago(s.createdAt, now), s.players.join(' ')]),
                { header: out.style.dim },
              )}${r.total > r.sessions.length ? `\n(${r.sessions.length} of ${r.total})` : ''}`,
        );
      }),
    );
}
