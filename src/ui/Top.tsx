import { Box, Text, useApp, useInput } from 'ink';
import { useEffect, useState } from 'react';
import { printable } from '../net/printable.js';

/**
 * `iyesmp top`: a live view of one server's admin `server.status`, refreshed every few seconds.
 * Laid out for 80 columns (an SSH session's default): one header line, then hosts, queues per
 * mode, hand-offs and the latest refusals. The view is a pure function of one status snapshot
 * (`TopView`), so it is tested by rendering a real server's answer.
 */

/** The parts of the admin `server.status` answer the view reads. */
export interface TopStatus {
  kind: 'auth' | 'host';
  node: string;
  version: string;
  time: number;
  startedAt: number;
  players: number;
  sessions: number;
  hosts: Array<{
    name: string;
    region: string;
    state: string;
    draining: boolean;
    load: number;
    capacity: number;
    players?: number | undefined;
    lastSeen: number;
  }>;
  queues: Array<{ mode: string; matchSize: number; tickets: number; players: number }>;
  handoffs: { total: number; failed: number; perSecond: number; p50Ms: number | null; p95Ms: number | null; pending: number };
  refusals: Array<{ at: number; endpoint: string; reason: string; message: string; remote?: string | undefined }>;
  drain?: { since: number; deadline: number; reason: string } | undefined;
}

export interface TopViewProps {
  status: TopStatus | undefined;
  /** what went wrong with the last refresh (the previous snapshot stays on screen) */
  error?: string | undefined;
  address: string;
  color: boolean;
  /** rows of hosts and refusals shown at most */
  maxHosts?: number;
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
const right = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s.padStart(n));
const dur = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
};
const msText = (v: number | null) => (v === null ? '-' : v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`);

/** A 10-cell load bar in plain characters (readable without colour, and on any terminal font). */
function bar(load: number, capacity: number): string {
  const cells = capacity > 0 ? Math.min(10, Math.round((10 * load) / capacity)) : 0;
  return `[${'#'.repeat(cells)}${'.'.repeat(10 - cells)}]`;
}

export function TopView({ status, error, address, color, maxHosts = 12 }: TopViewProps) {
  const c = (name: string) => (color ? name : undefined);
  if (!status) {
    return (
      <Box flexDirection="column">
        <Text>iyesmp top: {address}</Text>
        <Text color={c('yellow')}>{error ? `cannot reach the server: ${printable(error)}` : 'connecting...'}</Text>
      </Box>
    );
  }
  const s = status;
  const h = s.handoffs;
  const hosts = s.hosts.slice(0, maxHosts);
  return (
    <Box flexDirection="column" width={80}>
      <Text bold>
        {pad(printable(`${s.node} (${s.kind}, ${s.version})`), 34)} up {right(dur(s.time - s.startedAt), 4)} players {right(String(s.players), 6)} sessions{' '}
        {right(String(s.sessions), 5)}
      </Text>
      {s.drain ? (
        <Text color={c('yellow')}>
          draining since {dur(s.time - s.drain.since)}, deadline in {dur(s.drain.deadline - s.time)}: {pad(printable(s.drain.reason), 30).trimEnd()}
        </Text>
      ) : null}
      {error ? <Text color={c('red')}>refresh failed: {pad(printable(error), 62).trimEnd()}</Text> : null}
      <Text> </Text>
      <Text
        dimColor={color}
      >{`${pad('HOST', 18)} ${pad('REGION', 10)} ${pad('STATE', 8)} ${pad('LOAD', 12)} ${right('SESS', 7)} ${right('PLAYERS', 8)} ${right('SEEN', 5)}`}</Text>
      {hosts.length === 0 ? <Text>no hosts registered</Text> : null}
      {hosts.map((x) => {
        const state = x.state === 'dead' ? 'dead' : x.draining ? 'draining' : 'alive';
        return (
          <Text key={x.name}>
            {pad(printable(x.name), 18)} {pad(printable(x.region), 10)}{' '}
            <Text color={c(state === 'alive' ? 'green' : state === 'dead' ? 'red' : 'yellow')}>{pad(state, 8)}</Text> {bar(x.load, x.capacity)}{' '}
            {right(`${x.load}/${x.capacity}`, 7)} {right(String(x.players ?? '-'), 8)} {right(dur(s.time - x.lastSeen), 5)}
          </Text>
        );
      })}
      {s.hosts.length > hosts.length ? <Text dimColor={color}>... and {s.hosts.length - hosts.length} more</Text> : null}
      {s.kind === 'auth' ? (
        <>
          <Text> </Text>
          <Text>
            <Text dimColor={color}>QUEUES </Text>
            {s.queues.length === 0 ? 'empty' : pad(printable(s.queues.map((q) => `${q.mode}(${q.matchSize}): ${q.players}`).join('  ')), 72).trimEnd()}
          </Text>
          <Text>
            <Text dimColor={color}>HAND-OFFS </Text>
            {h.perSecond.toFixed(2)}/s p50 {msText(h.p50Ms)} p95 {msText(h.p95Ms)} pending {h.pending} total {h.total} failed {h.failed}
          </Text>
        </>
      ) : null}
      <Text> </Text>
      <Text dimColor={color}>RECENT REFUSALS</Text>
      {s.refusals.length === 0 ? <Text>none</Text> : null}
      {s.refusals
        .slice(-5)
        .reverse()
        .map((r, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a snapshot list re-rendered whole; two refusals may share every field
          <Text key={`${r.at}-${i}`}>
            {new Date(r.at).toISOString().slice(11, 19)} {pad(printable(r.endpoint), 6)} <Text color={c('red')}>{pad(printable(r.reason), 22)}</Text>{' '}
            {pad(printable(r.message), 40).trimEnd()}
          </Text>
        ))}
    </Box>
  );
}

export interface TopProps {
  fetch: () => Promise<TopStatus>;
  intervalMs: number;
  address: string;
  color: boolean;
}

/** The live screen: refreshes every `intervalMs`; q, Esc or Ctrl-C quits. */
export function Top({ fetch, intervalMs, address, color }: TopProps) {
  const { exit } = useApp();
  const [status, setStatus] = useState<TopStatus | undefined>();
  const [error, setError] = useState<string | undefined>();
  useInput((input, key) => {
    if (input === 'q' || key.escape || (key.ctrl && input === 'c')) exit();
  });
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const refresh = async () => {
      try {
        const s = await fetch();
        if (stopped) return;
        setStatus(s);
        setError(undefined);
      } catch (err) {
        if (!stopped) setError((err as Error)?.message ?? String(err));
      }
      if (!stopped) timer = setTimeout(refresh, intervalMs);
    };
    void refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [fetch, intervalMs]);
  return (
    <Box flexDirection="column">
      <TopView status={status} error={error} address={address} color={color} />
      <Text dimColor={color}>
        q quits; refreshed every {Math.round(intervalMs / 100) / 10}s from {address}
      </Text>
    </Box>
  );
}

/** Runs the live screen until the operator quits. */
export async function runTop(props: TopProps): Promise<void> {
  const { render } = await import('ink');
  const { createElement } = await import('react');
  const app = render(createElement(Top, props), { exitOnCtrlC: false });
  await app.waitUntilExit();
}

/** One snapshot as text, for a terminal-less run (`iyesmp top` piped, or over a non-interactive SSH command). */
export async function renderTopOnce(props: Omit<TopViewProps, 'maxHosts'>): Promise<string> {
  const { renderToString } = await import('ink');
  const { createElement } = await import('react');
  return renderToString(createElement(TopView, { ...props, maxHosts: 1000 }), { columns: 80 });
}
