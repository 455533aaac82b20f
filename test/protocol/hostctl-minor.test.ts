/**
 * iyesmp-hostctl/1.1 next to 1.0 peers: `telemetry.report` (acknowledged telemetry) is refused by a
 * 1.0 Auth server with a reply, not a close, and the negotiated minor tells a host which to use.
 * 1.2 next to 1.1: `session.ended` may carry the session's telemetry; a 1.1 Auth server would drop it
 * unseen, so a host sends it there only when 1.2 was negotiated.
 */
import { describe, expect, it } from 'vitest';
import { hostctlFamily } from '../../src/protocol/index.js';
import { hostctlFamily10 as hostctl10, hostctlFamily11 as hostctl11, openMixed } from '../support/families.js';
import { samples } from './fixtures.js';

const fx = samples['iyesmp-hostctl/1']!;

function open(dialerFamily: Parameters<typeof openMixed>[0], listenerFamily: Parameters<typeof openMixed>[1]) {
  const p = openMixed(dialerFamily, listenerFamily, fx.hello);
  return { ...p, notify: (type: string, body: unknown) => (p.dialer.notify as (t: string, b: unknown) => void)(type, body) };
}

const report = fx.requests['telemetry.report']!.request[0];

describe('iyesmp-hostctl/1.1', () => {
  it('negotiates 1.0 with a 1.0 Auth server', () => {
    expect(open(hostctlFamily, hostctl10()).dialer.negotiated).toEqual({ major: 1, minor: 0 });
    expect(open(hostctl11(), hostctlFamily).dialer.negotiated).toEqual({ major: 1, minor: 1 });
  });

  it('a 1.1 Auth server gets telemetry.report as a request to acknowledge', () => {
    const p = open(hostctlFamily, hostctlFamily);
    const id = p.request('telemetry.report', report);
    p.flush();
    const req = p.listenerEvents().find((e) => e.kind === 'request')!;
    expect(req).toMatchObject({ type: 'telemetry.report', body: report });
    p.listener.respond(req.id!, {});
    p.flush();
    expect(p.dialerEvents().find((e) => e.kind === 'response')).toMatchObject({ id });
  });

  it('a 1.0 Auth server refuses telemetry.report with a reply and keeps the connection; the event still works', () => {
    const p = open(hostctlFamily, hostctl10());
    p.request('telemetry.report', report);
    p.flush();
    const evs = p.dialerEvents();
    expect(evs.find((e) => e.kind === 'failure')).toMatchObject({ code: 'unknown_type' });
    expect(evs.some((e) => e.kind === 'close')).toBe(false);
    // the 1.0 event, with the 1.1 id dropped by the 1.0 receiver
    p.notify('telemetry', report);
    p.flush();
    const ev = p.listenerEvents().find((e) => e.kind === 'event')!;
    expect(ev.type).toBe('telemetry');
    expect(ev.body).not.toHaveProperty('id');
  });
});

describe('iyesmp-hostctl/1.2', () => {
  const ended = fx.requests['session.ended']!.request[1] as { telemetry: unknown };

  it('is 1.2 and negotiates 1.1 with a 1.1 peer on either side', () => {
    expect(hostctlFamily.version).toEqual({ major: 1, minor: 2 });
    expect(open(hostctlFamily, hostctlFamily).dialer.negotiated).toEqual({ major: 1, minor: 2 });
    expect(open(hostctlFamily, hostctl11()).dialer.negotiated).toEqual({ major: 1, minor: 1 });
    expect(open(hostctl11(), hostctlFamily).listener.negotiated).toEqual({ major: 1, minor: 1 });
  });

  it('a 1.2 Auth server gets the telemetry with the results', () => {
    const p = open(hostctlFamily, hostctlFamily);
    p.request('session.ended', ended);
    p.flush();
    const req = p.listenerEvents().find((e) => e.kind === 'request')!;
    expect(req.type).toBe('session.ended');
    expect(req.body).toMatchObject({ telemetry: ended.telemetry });
  });

  it('a 1.1 Auth server takes the results and drops the telemetry unseen (why a host checks the minor)', () => {
    const p = open(hostctlFamily, hostctl11());
    p.request('session.ended', ended);
    p.flush();
    const req = p.listenerEvents().find((e) => e.kind === 'request')!;
    expect(req.type).toBe('session.ended');
    expect(req.body).not.toHaveProperty('telemetry');
  });
});
