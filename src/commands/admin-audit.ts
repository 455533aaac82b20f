import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { parseDuration } from '../cli/duration.js';
import { action } from '../cli/output.js';
import { parseLimit } from './admin-hosts.js';

export function register(group: Command): void {
  addAdminOptions(group.command('audit').description("an Auth server's audit log: who kicked, banned, unbanned or drained what, and when"))
    .option('--limit <n>', 'at most this many, the newest (1..1000)', '50')
    .option('--since <duration>', 'only entries within this, e.g. 24h')
    .option('--action <verb>', 'only kick, ban, unban or drain')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin audit -c auth.toml --since 24h
  $ iyesmp admin audit -c auth.toml --action ban --json`,
    )
    .action(
      action<AdminFlags & { limit: string; since?: string; action?: string }>('admin audit', async (out, opts) => {
        const limit = parseLimit(opts.limit);
        const since = opts.since !== undefined ? Date.now() - parseDuration(opts.since, '--since') * 1000 : undefined;
        const r = await withAdmin(opts, 'iyesmp admin audit', (a) =>
          a.proto.request('audit.list', { limit, ...(since !== undefined ? { since } : {}), ...(opts.action ? { action: opts.action } : {}) }),
        );
        const { renderTable } = await import('../cli/table.js');
        const { printable } = await import('../net/printable.js');
        out.result('admin audit', r, () =>
          r.entries.length === 0
            ? 'no entries'
            : renderTable(
                ['at', 'admin', 'action', 'target', 'outcome', 'details'],
                r.entries.map((e) => [
                  new Date(e.at).toISOString().slice(0, 19),
                  e.actor.name,
                  e.action,
                  e.target ?? '',
                  e.outcome === 'ok' ? e.outcome : `${e.outcome} (${e.error ?? '?'})`,
                  printable(JSON.stringify(e.details)),
                ]),
                { header: out.style.dim },
              ) + (r.truncated ? `\n(older entries left out: the answer must fit one message; narrow it with --since or --limit)` : ''),
        );
      }),
    );
}
