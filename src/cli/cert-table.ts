import type { ManifestEntry } from '../pki/types.js';
import type { Styler } from './output.js';
import { renderTable, shortFingerprint } from './table.js';

/** The table `certs init`, `certs list` and `demo` print: role, name, subject, not-after, fingerprint. */
export function certTable(entries: readonly ManifestEntry[], style: Styler, opts: { status?: boolean; fullFingerprint?: boolean } = {}): string {
  const headers = ['ROLE', 'NAME', 'SUBJECT', 'NOT AFTER', 'FINGERPRINT (SHA-256)'];
  if (opts.status) headers.push('STATUS');
  const rows = entries.map((e) => {
    const row = [e.role, e.name, e.subject, e.notAfter.slice(0, 10), opts.fullFingerprint ? e.fingerprint : shortFingerprint(e.fingerprint)];
    if (opts.status) row.push(e.status === 'retired' ? style.yellow('retired') : e.status === 'active' ? style.green('active') : '');
    return row;
  });
  return renderTable(headers, rows, { header: style.bold });
}
