/** Text renderings of admin-channel answers, shared by `iyesmp admin ...` (tables on stdout) and `iyesmp top`. */
import type { Styler } from './output.js';
import { printable } from '../net/printable.js';
import { renderTable } from './table.js';

export interface HostRow {
  name: string;
  region: string;
  address: string;
  state: string;
  draining: boolean;
  load: number;
  capacity: number;
  active: number;
  players?: number | undefined;
  version: string;
  lastSeen: number;
}

/** `12s`, `4m`, `3h`: how long ago, short enough for an 80-column row. */
export function ago(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function hostState(h: HostRow, style: Styler): string {
  if (h.state === 'dead') return style.red('dead');
  return h.draining ? style.yellow('draining') : style.green('alive');
}

export function hostsTable(hosts: HostRow[], style: Styler, now = Date.now()): string {
  if (hosts.length === 0) return 'no hosts registered';
  return renderTable(
    ['host', 'region', 'state', 'load', 'players', 'seen', 'address'],
    // a host reports its own region and address: escaped like every peer's text
    hosts.map((h) => [
      printable(h.name),
      printable(h.region),
      hostState(h, style),
      `${h.load}/${h.capacity}`,
      String(h.players ?? '-'),
      ago(h.lastSeen, now),
      printable(h.address),
    ]),
    { header: style.dim },
  );
}

export function ms(v: number | null): string {
  return v === null ? '-' : v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`;
}
