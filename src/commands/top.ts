import type { Command } from 'commander';
import { addAdminOptions, connectAdmin, type AdminFlags } from '../cli/admin-client.js';
import { cliError } from '../cli/errors.js';
import { action } from '../cli/output.js';

interface TopFlags extends AdminFlags {
  interval: string;
  once?: boolean;
}

export function register(program: Command): void {
  addAdminOptions(
    program.command('top').description('a live view of a running server: hosts and their load, queues, hand-offs, recent refusals (from its admin port)'),
  )
    .option('--interval <seconds>', 'refresh period', '2')
    .option('--once', 'print one snapshot and exit (what happens anyway without a terminal)')
    .addHelpText(
      'after',
      `
Fits 80 columns; q quits. NO_COLOR or --no-color for plain text. --json prints one snapshot (the
admin \`server.status\` answer) and exits. Point it at an Auth server to see every host, or at a Host
to see that one (and its drain).

Examples:
  $ iyesmp top -c /etc/iyesmp/auth.toml
  $ iyesmp top --server 10.0.0.5:7352 --interval 5
  $ iyesmp top -c auth.toml --json | jq .data.handoffs`,
    )
    .action(
      action<TopFlags>('top', async (out, opts) => {
        const seconds = Number(opts.interval);
        if (!Number.isFinite(seconds) || seconds < 0.2 || seconds > 3600)
          throw cliError('bad_number', `--interval ${opts.interval}: expected 0.2 to 3600 seconds`);
        const admin = await connectAdmin(opts, 'iyesmp top');
        try {
          const fetch = () => admin.proto.request('server.status', {}, { timeoutMs: 10_000 });
          const live = !out.json && !opts.once && Boolean(process.stdout.isTTY && process.stdin.isTTY);
          if (!live) {
            const status = await fetch();
            const { renderTopOnce } = await import('../ui/Top.js');
            const text = out.json ? '' : await renderTopOnce({ status, address: admin.address, color: out.color });
            out.result('top', status, () => text);
            return;
          }
          const { runTop } = await import('../ui/Top.js');
          await runTop({ fetch, intervalMs: Math.round(seconds * 1000), address: admin.address, color: out.color });
        } finally {
          await admin.close();
        }
      }),
    );
}
