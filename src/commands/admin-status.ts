import type { Command } from 'commander';
import { addAdminOptions, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { action } from '../cli/output.js';

export function register(group: Command): void {
  addAdminOptions(group.command('status').description("a server's state: players, sessions, hosts, queues, hand-offs, recent refusals"))
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin status -c /etc/iyesmp/auth.toml
  $ iyesmp admin status --server 127.0.0.1:7402 --json | jq .data.drain`,
    )
    .action(
      action<AdminFlags>('admin status', async (out, opts) => {
        const status = await withAdmin(opts, 'iyesmp admin status', (a) => a.proto.request('server.status', {}));
        const { hostsTable, ms } = await import('../cli/admin-view.js');
        const { printable } = await import('../net/printable.js');
        const { renderFields } = await import('../cli/table.js');
        out.result('admin status', status, () => {
          const h = status.handoffs;
          const lines = [
            renderFields([
              ['node', `${status.node} (${status.kind} server, ${status.version})`],
              ['up since', new Date(status.startedAt).toISOString()],
              ['players', String(status.players)],
              ['sessions', String(status.sessions)],
              ...(status.kind === 'auth'
                ? ([
                    ['hand-offs', `${h.total} (${h.failed} failed, ${h.pending} pending), ${h.perSecond.toFixed(2)}/s, p50 ${ms(h.p50Ms)} p95 ${ms(h.p95Ms)}`],
                    ['queues', status.queues.map((q) => `${q.mode}: ${q.players}`).join(', ') || 'empty'],
                  ] as [string, string][])
                : []),
              ...(status.drain
                ? ([
                    [
                      'draining',
                      `since ${new Date(status.drain.since).toISOString()}, deadline ${new Date(status.drain.deadline).toISOString()} (${printable(status.drain.reason)})`,
                    ],
                  ] as [string, string][])
                : []),
            ]),
            '',
            hostsTable(status.hosts, out.style, status.time),
          ];
          if (status.refusals.length) {
            lines.push('', out.style.dim('recent refusals'));
            // printable: a server of an older build may pass on what a peer sent as it came
            for (const r of status.refusals.slice(-5))
              lines.push(printable(`  ${new Date(r.at).toISOString().slice(11, 19)} ${r.endpoint} ${r.reason}: ${r.message}`));
          }
          return lines.join('\n');
        });
      }),
    );
}
