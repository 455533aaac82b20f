import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { parseDuration } from '../cli/duration.js';
import { action } from '../cli/output.js';
import { parseLimit } from './admin-hosts.js';

export function register(group: Command): void {
  addAdminOptions(group.command('results').description('results of the latest games an Auth server recorded (since it started)'))
    .option('--limit <n>', 'at most this many, the newest (1..1000)', '20')
    .option('--since <duration>', 'only games that ended within this, e.g. 1h')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin results -c auth.toml --since 1h
  $ iyesmp admin results -c auth.toml --json | jq '.data.results[-1].results'`,
    )
    .action(
      action<AdminFlags & { limit: string; since?: string }>('admin results', async (out, opts) => {
        const limit = parseLimit(opts.limit);
        const since = opts.since !== undefined ? Date.now() - parseDuration(opts.since, '--since') * 1000 : undefined;
        const r = await withAdmin(opts, 'iyesmp admin results', (a) => a.proto.request('results.list', { limit, ...(since !== undefined ? { since } : {}) }));
        const { renderTable } = await import('../cli/table.js');
        const { printable } = await import('../net/printable.js');
        const outcome = (x: unknown): string =>
          Array.isArray(x)
            ? x.map((p: { playerId?: string; outcome?: string; rank?: number }) => `${p.playerId ?? '?'}:${p.outcome ?? p.rank ?? '?'}`).join(' ')
            : '';
        out.result('admin results', r, () =>
          r.results.length === 0
            ? 'no results recorded'
            : renderTable(
                ['ended', 'session', 'host', 'reason', 'results'],
                r.results.map((x) => [new Date(x.endedAt).toISOString().slice(0, 19), x.sessionId, x.host, printable(x.reason), printable(outcome(x.results))]),
                { header: out.style.dim },
              ) + (r.truncated ? `\n(older results left out: the answer must fit one message; narrow it with --since or --limit)` : ''),
        );
      }),
    );
}
