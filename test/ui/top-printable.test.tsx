// `iyesmp top` shows text that peers wrote (refusal messages quote what a stranger offered, a drain
// reason, an error): a server of an older build passes it on as it came, and the view must not
// hand ESC or CSI to the operator's terminal.
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { hostsTable } from '../../src/cli/admin-view.js';
import type { Styler } from '../../src/cli/output.js';
import { printable } from '../../src/net/printable.js';
import { TopView, type TopStatus } from '../../src/ui/Top.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
const CONTROL_NOT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
const EVIL = '\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e';

describe('printable', () => {
  it('escapes C0, DEL, C1 and bidi overrides, and keeps the rest (unicode included)', () => {
    expect(printable(EVIL)).toBe('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e');
    expect(printable('plain text, 日本語, é')).toBe('plain text, 日本語, é');
  });
});

describe('TopView with hostile text in the snapshot', () => {
  it('renders refusals, the drain reason and the refresh error escaped', () => {
    const now = Date.now();
    const status: TopStatus = {
      kind: 'host',
      node: 'host-1',
      version: '1.0.0',
      time: now,
      startedAt: now - 60_000,
      players: 0,
      sessions: 0,
      hosts: [{ name: 'host-1', region: `eu${EVIL}`, state: 'alive', draining: false, load: 1, capacity: 4, lastSeen: now }],
      queues: [{ mode: `duel${EVIL}`, matchSize: 2, tickets: 1, players: 1 }],
      handoffs: { total: 0, failed: 0, perSecond: 0, p50Ms: null, p95Ms: null, pending: 0 },
      refusals: [{ at: now, endpoint: 'quic', reason: `bad${EVIL}`, message: `offered ${EVIL}` }],
      drain: { since: now, deadline: now + 60_000, reason: `deploy${EVIL}` },
    };
    const app = render(createElement(TopView, { status, error: `boom${EVIL}`, address: '127.0.0.1:7402', color: false }));
    const frame = app.lastFrame() ?? '';
    app.unmount();
    expect(frame).toContain('pwned');
    expect(frame).toContain('\\x1b');
    expect(frame).not.toMatch(CONTROL_NOT_NEWLINE);
  });

  it('the hosts table of admin status/hosts escapes what a host reported about itself', () => {
    const table = hostsTable(
      [
        {
          name: 'host-1',
          region: `eu${EVIL}`,
          address: `1.2.3.4:7400${EVIL}`,
          state: 'alive',
          draining: false,
          load: 0,
          capacity: 4,
          active: 0,
          version: '1',
          lastSeen: Date.now(),
        },
      ],
      { green: (s: string) => s, red: (s: string) => s, yellow: (s: string) => s, dim: (s: string) => s } as unknown as Styler,
    );
    expect(table).toContain('pwned');
    expect(table).not.toMatch(CONTROL_NOT_NEWLINE);
  });
});
