import { demoError } from './errors.js';

/**
 * Sets `key = value` inside `[table]` of a TOML text, keeping every comment and the layout: the
 * demo adjusts the commented configs `config scaffold` writes (ports, loopback) rather than
 * re-serialising them, which would drop the comments a reader learns from. `value` is TOML
 * (quote strings yourself). A key that is missing is added at the end of its table.
 */
export function setTomlValue(text: string, table: string, key: string, value: string): string {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.trim() === `[${table}]`);
  if (header < 0) throw demoError('toml_edit', `the scaffolded config has no [${table}] table`);
  let end = lines.findIndex((l, i) => i > header && /^\s*\[/.test(l));
  if (end < 0) end = lines.length;
  const pattern = new RegExp(`^(\\s*)${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`);
  for (let i = header + 1; i < end; i++) {
    const m = pattern.exec(lines[i]!);
    if (m) {
      lines[i] = `${m[1]}${key} = ${value}`;
      return lines.join('\n');
    }
  }
  // after the table's last non-blank line
  let at = end;
  while (at > header + 1 && lines[at - 1]!.trim() === '') at--;
  lines.splice(at, 0, `${key} = ${value}`);
  return lines.join('\n');
}
