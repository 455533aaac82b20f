/**
 * Maps TOML key paths to the line that defines them, so validation errors can say "(line 12)".
 * smol-toml does not report positions for valid documents, so this is a small line scanner.
 * It understands table headers, dotted and quoted keys and skips multi-line strings; for anything
 * it cannot place, callers fall back to the nearest enclosing table or report no line.
 */
export function locateKeys(text: string): Map<string, number> {
  const lines = text.split(/\r?\n/);
  const found = new Map<string, number>();
  let table: string[] = [];
  let inMultiline: string | null = null;
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    if (inMultiline) {
      if (raw.includes(inMultiline)) inMultiline = null;
      return;
    }
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const header = /^\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header && !line.includes('=')) {
      table = splitKey(header[1]!);
      const key = table.join('.');
      if (!found.has(key)) found.set(key, lineNo);
      return;
    }
    const eq = findEquals(line);
    if (eq < 0) return;
    const keys = splitKey(line.slice(0, eq).trim());
    const full = [...table, ...keys].join('.');
    if (!found.has(full)) found.set(full, lineNo);
    const value = line.slice(eq + 1).trim();
    for (const q of ['"""', "'''"]) {
      if (value.startsWith(q) && value.indexOf(q, 3) < 0) inMultiline = q;
    }
  });
  return found;
}

/** Line of `path` or, failing that, of its nearest ancestor that has one. */
export function lineOf(found: Map<string, number>, path: readonly (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = found.get(path.slice(0, n).join('.'));
    if (line !== undefined) return line;
  }
  return undefined;
}

function findEquals(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '=') return i;
  }
  return -1;
}

function splitKey(key: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const c of key) {
    if (quote) {
      if (c === quote) quote = null;
      else cur += c;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '.') {
      parts.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  parts.push(cur.trim());
  return parts;
}
