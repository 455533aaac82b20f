import type { Command } from 'commander';
import { action } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { cliError } from '../cli/errors.js';

export function register(group: Command): void {
  group
    .command('check')
    .description('check expiry, nesting, signatures, files and the signed ClientAuth list; exit 1 on any finding')
    .option(DIR_FLAG, DIR_HELP)
    .option('--within <dur>', 'report certificates that expire within this window', '30d')
    .addHelpText(
      'after',
      `
Made for CI cron jobs: exit 0 when nothing expires within --within and every chain is sound,
1 otherwise (findings listed; with --json in error.details.report).

Examples:
  $ iyesmp certs check --within 30d
  $ iyesmp certs check --dir /srv/pki --within 60d --json`,
    )
    .action(
      action<{ dir?: string; within: string }>('certs check', async (out, opts) => {
        const dir = resolvePkiDir(opts.dir);
        const { parseDuration } = await import('../cli/duration.js');
        const withinDays = parseDuration(opts.within, '--within') / 86_400;
        const { openPki } = await import('../pki/index.js');
        const pki = await openPki(dir);
        const report = await pki.check({ withinDays });
        const { renderTable } = await import('../cli/table.js');
        const s = out.style;
        const table = () =>
          renderTable(
            ['NAME', 'ROLE', 'NOT AFTER', 'DAYS LEFT'],
            report.entries.map((e) => [e.name, e.role + (e.status === 'retired' ? ' (retired)' : ''), e.notAfter.slice(0, 10), String(e.daysLeft)]),
            { header: s.bold },
          );
        if (report.findings.length > 0) {
          if (!out.json)
            process.stdout.write(
              table() +
                '\n\n' +
                report.findings.map((f) => `${f.severity === 'error' ? s.red('error') : s.yellow('warning')} ${f.name}: ${f.message}`).join('\n') +
                '\n',
            );
          const n = report.findings.length;
          throw cliError('certs_check_failed', `${n} finding${n === 1 ? '' : 's'} in ${dir} (window ${opts.within})`, {
            details: { dir, report },
          });
        }
        out.result(
          'certs check',
          { dir, report },
          () => `${table()}\n\n${s.green('ok')} nothing expires within ${opts.within}; every chain is nested and signed`,
        );
      }),
    );
}
