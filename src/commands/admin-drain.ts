import type { Command } from 'commander';
import { addAdminOptions, checkAdminText, confirmAdminAction, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { parseDuration } from '../cli/duration.js';
import { cliError } from '../cli/errors.js';
import { action } from '../cli/output.js';

export function register(group: Command): void {
  addAdminOptions(
    group
      .command('drain')
      .description('drain a host: no new sessions, running games finish (up to a deadline), results delivered, then it exits 0')
      .argument('[host]', "the host's name (through an Auth server); omit when --server/--config is the Host itself"),
  )
    .option('--deadline <duration>', "how long running games may go on, e.g. 15m (default: the host's drain_timeout_seconds)")
    .option('--reason <text>', 'for the logs and the audit log', 'drained by an administrator')
    .option('-y, --yes', 'act without asking (scripts); without it a terminal asks and a script is refused')
    .addHelpText(
      'after',
      `
Through an Auth server the host also stops getting new sessions from it at once, even if it runs
an older build; the host then drains and exits. Exit code 4 when no such host is registered.

Examples:
  $ iyesmp admin drain host-3 -c /etc/iyesmp/auth.toml --deadline 15m
  $ iyesmp admin drain -c /etc/iyesmp/host-3.toml --yes      # from a deploy script`,
    )
    .action(
      action<AdminFlags & { deadline?: string; reason: string }>('admin drain', async (out, opts, [host]) => {
        if (host !== undefined) checkAdminText('<host>', String(host), 128, { argument: true });
        checkAdminText('--reason', opts.reason, 1024);
        const deadlineMs = opts.deadline !== undefined ? parseDuration(opts.deadline, '--deadline') * 1000 : undefined;
        if (deadlineMs !== undefined && (deadlineMs < 1000 || deadlineMs > 7 * 86_400_000)) {
          throw cliError('bad_duration', `--deadline ${opts.deadline}: expected 1s to 7d`);
        }
        const name = host ? `host ${String(host)}` : 'this host';
        await confirmAdminAction(opts, `draining ${name}`, `Drain ${name}? It takes no new sessions, lets its games finish, then exits.`);
        const r = await withAdmin(opts, 'iyesmp admin drain', async (a) => {
          if (a.kind === 'auth' && !host)
            throw cliError('missing_argument', `${a.node} is an Auth server: name the host to drain (iyesmp admin hosts lists them)`);
          return a.proto.request('host.drain', {
            ...(host ? { host: String(host) } : {}),
            reason: opts.reason,
            ...(deadlineMs !== undefined ? { deadlineMs } : {}),
          });
        });
        out.result(
          'admin drain',
          r,
          () => `${r.host} draining: ${r.sessions} session(s) to finish${r.deadline !== undefined ? ` by ${new Date(r.deadline).toISOString()}` : ''}`,
        );
      }),
    );
}
