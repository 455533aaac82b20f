import type { Command } from 'commander';
import { addAdminOptions, checkAdminText, confirmAdminAction, withAdmin, type AdminFlags } from '../cli/admin-client.js';
import { parseDuration } from '../cli/duration.js';
import { cliError } from '../cli/errors.js';
import { action } from '../cli/output.js';

export function register(group: Command): void {
  addAdminOptions(
    group
      .command('ban')
      .description('ban a player: kicked now, and every login refused with the reason until the ban ends')
      .argument('<player>', 'player id, as `admin players` lists it'),
  )
    .requiredOption('--reason <text>', 'told to the player at each refused login')
    .option('--for <duration>', 'how long, e.g. 7d, 12h (default: permanent)')
    .option('--until <time>', 'until this ISO 8601 time (instead of --for)')
    .option('-y, --yes', 'act without asking (scripts); without it a terminal asks and a script is refused')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp admin ban guest:4f2a --reason "speed hack" --for 7d -c auth.toml
  $ iyesmp admin ban password:9c1e --reason "chargeback" -c auth.toml --yes --json`,
    )
    .action(
      action<AdminFlags & { reason: string; for?: string; until?: string }>('admin ban', async (out, opts, [player]) => {
        const playerId = checkAdminText('<player>', String(player), 128, { argument: true });
        checkAdminText('--reason', opts.reason, 1024);
        if (opts.for && opts.until) throw cliError('conflicting_flags', '--for and --until: give one of them');
        let until: number | undefined;
        if (opts.for) until = Date.now() + parseDuration(opts.for, '--for') * 1000;
        if (opts.until) {
          until = Date.parse(opts.until);
          if (!Number.isFinite(until)) throw cliError('bad_duration', `--until ${opts.until}: expected an ISO 8601 time such as 2027-01-31T00:00:00Z`);
        }
        // past Date's range the server cannot tell the player when the ban ends: leave --for out for a permanent ban
        if (until !== undefined && until > 8_640_000_000_000_000)
          throw cliError('bad_duration', `${opts.for ? `--for ${opts.for}` : `--until ${opts.until}`}: too far ahead (leave it out for a permanent ban)`);
        if (!opts.reason.trim()) throw cliError('missing_option', '--reason must say why (the player is told)');
        const span = until === undefined ? 'permanently' : `until ${new Date(until).toISOString()}`;
        await confirmAdminAction(opts, `banning ${playerId}`, `Ban ${playerId} ${span}? It is kicked now and its logins are refused.`);
        const r = await withAdmin(opts, 'iyesmp admin ban', (a) =>
          a.proto.request('player.ban', { playerId, reason: opts.reason, ...(until !== undefined ? { until } : {}) }),
        );
        out.result(
          'admin ban',
          r,
          () =>
            `${playerId} banned ${r.expiresAt === null ? 'permanently' : `until ${new Date(r.expiresAt).toISOString()}`}: ${r.reason}${r.kicked ? ' (kicked)' : ''}`,
        );
      }),
    );
}
