import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventOf, levelName, makeServerLogger, prettyLine } from '../../src/serve/log.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Logs through a real file descriptor, as serve does to stdout, and returns the lines written. */
function capture(format: 'json' | 'pretty', color: boolean, fn: (l: ReturnType<typeof makeServerLogger>) => void): string[] {
  dir = mkdtempSync(path.join(tmpdir(), 'iyesmp-log-'));
  const file = path.join(dir, 'out.log');
  const fd = openSync(file, 'w');
  try {
    fn(makeServerLogger({ level: 'info', format, component: 'host', node: 'host-7', fd, color }));
  } finally {
    closeSync(fd);
  }
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

describe('the servers log schema', () => {
  it('writes time (ISO), level as a name, msg, component, event, node and the ids given', () => {
    const lines = capture('json', false, (l) => {
      l.info({ sessionId: 's-1', playerId: 'p-1' }, 'player admitted');
      l.warn('allow-list dropped datagrams');
      l.child({ transport: 'quic' }).error({ event: 'custom_event', reason: 'x' }, 'player refused: certificate expired');
      l.debug('not written at level info');
    });
    expect(lines).toHaveLength(3);
    const [a, b, c] = lines.map((x) => JSON.parse(x) as Record<string, unknown>);
    expect(a).toMatchObject({
      level: 'info',
      msg: 'player admitted',
      component: 'host',
      node: 'host-7',
      event: 'player_admitted',
      sessionId: 's-1',
      playerId: 'p-1',
    });
    expect(a!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(a!.pid).toBe(process.pid);
    expect(b).toMatchObject({ level: 'warn', event: 'allow_list_dropped_datagrams' });
    // an event the caller names is kept; child bindings are there
    expect(c).toMatchObject({ level: 'error', event: 'custom_event', transport: 'quic', msg: 'player refused: certificate expired' });
  });

  it('derives stable event names from the fixed part of a message', () => {
    expect(eventOf('client refused: certificate expired (expired)')).toBe('client_refused');
    expect(eventOf('auth server listening')).toBe('auth_server_listening');
    expect(eventOf('[database] is not used by this build')).toBe('database_is_not_used_by_this_build');
    expect(eventOf('')).toBe('log');
    expect([levelName(30), levelName(50), levelName('warn')]).toEqual(['info', 'error', 'warn']);
  });

  it('pretty: one readable line per record, fields as key=value, no colour codes unless asked', () => {
    const lines = capture('pretty', false, (l) => {
      l.info({ sessionId: 's-1', players: 2, reason: 'two words' }, 'session ended');
      l.error({ err: { code: 'x', message: 'boom' } }, 'tick failed');
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}host {4}session ended sessionId=s-1 players=2 reason="two words"$/);
    expect(lines[1]).toMatch(/ ERROR host {4}tick failed err=\{.*"message":"boom".*\}$/);
    expect(lines.join('')).not.toContain('\x1b[');
    const coloured = capture('pretty', true, (l) => l.warn('careful'));
    expect(coloured[0]).toContain('\x1b[33mWARN ');
    expect(prettyLine({ level: 40, msg: 'from a library logger', time: '2026-01-01T10:00:00.000Z', component: 'auth' }, false)).toBe(
      '10:00:00.000 WARN  auth    from a library logger',
    );
  });
});
