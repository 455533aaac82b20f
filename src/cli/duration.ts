import { cliError } from './errors.js';

/**
 * Parses operator durations such as `30d`, `12h`, `90m`, `1y`, `2w`, `1d12h` or a plain number of
 * seconds. Hand-written because the grammar is tiny and a dependency would slow `--help`.
 */
const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  y: 365 * 86_400,
};

export function parseDuration(text: string, flag = 'duration'): number {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+)\s*([smhdwy])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNIT_SECONDS[m[2] as string]!;
    matched = re.lastIndex;
  }
  if (t.length === 0 || matched !== t.length) {
    throw cliError('bad_duration', `${flag}: "${text}" is not a duration`, {
      hint: 'use a number with a unit, e.g. 30d, 12h, 90m, 1y, 1d12h (a bare number means seconds)',
    });
  }
  return total;
}

/** The inverse, for display: the largest whole units, at most two of them (`1d 2h`). */
export function formatDuration(seconds: number): string {
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  const order: [string, number][] = [
    ['y', 365 * 86_400],
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = Math.floor(seconds);
  for (const [unit, size] of order) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length ? parts.join(' ') : '0s';
}
