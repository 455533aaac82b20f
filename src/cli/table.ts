import { stripVTControlCharacters } from 'node:util';

/**
 * Renders rows as a plain, column-aligned text table (no box drawing, so it stays greppable
 * and copy-pastable). Widths ignore ANSI colour codes.
 */
export function renderTable(headers: string[], rows: string[][], opts: { header?: (s: string) => string } = {}): string {
  const width = (s: string) => stripVTControlCharacters(s).length;
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const pad = (s: string, i: number) => s + ' '.repeat(Math.max(0, widths[i]! - width(s)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, i)))
      .join('  ')
      .trimEnd();
  const head = line(headers);
  return [opts.header ? opts.header(head) : head, ...rows.map((r) => line(r))].join('\n');
}

/** `key: value` lines with aligned values, for `show`-style output. */
export function renderFields(fields: [string, string | undefined][]): string {
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const w = Math.max(...present.map(([k]) => k.length));
  return present.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v}`).join('\n');
}

/** Short fingerprint for tables: first 16 hex digits, enough to tell certs apart by eye. */
export function shortFingerprint(fp: string): string {
  return fp.length > 16 ? fp.slice(0, 16) + '…' : fp;
}
