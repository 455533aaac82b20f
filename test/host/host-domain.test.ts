import { describe, expect, it } from 'vitest';
import { AuthLinks, type AuthLinkEvent } from '../../src/host/auth-links.js';
import { HostDomain, type OutboxBody } from '../../src/host/host-domain.js';
import type { OutboxEvent } from '../../src/host/outbox.js';
import { driven, ofType, player, sessionPeer, spec } from './helpers.js';

describe('AuthLinks (re-dialling Auth servers)', () => {
  it('dials each server at once, then backs off per server after failures', () => {
    const { core: links, events } = driven(new AuthLinks({ backoff: { initialMs: 100, maxMs: 1000, jitter: 0 } }));
    links.add('a', 0);
    links.add('b', 0);
    links.tick(0);
    expect(ofType(events, 'dial').map((e) => [e.serverId, e.attempt])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    links.dialFailed('a', 10);
    links.connected('b', 10);
    expect(links.nextDeadline()).toBe(110);
    links.tick(109);
    expect(ofType(events, 'dial')).toHaveLength(2); // a is still waiting
    links.tick(110);
    links.dialFailed('a', 120);
    expect(links.nextDeadline()).toBe(320); // grown to 200
    expect(links.upServers()).toEqual(['b']);
    expect(links.state('a')).toBe('down');
  });

  it('re-dials quickly after a stable connection drops, slowly after a flapping one', () => {
    const { core: links, events } = driven(new AuthLinks({ backoff: { initialMs: 100, maxMs: 10_000, jitter: 0, stableAfterMs: 1000 } }));
    links.add('a', 0);
    links.tick(0);
    links.dialFailed('a', 0); // next in 100
    links.tick(100);
    links.dialFailed('a', 100); // next in 200
    links.tick(300);
    links.connected('a', 300);
    links.disconnected('a', 400); // flapped after 100 ms: keeps growing
    expect(ofType(events, 'link_down').at(-1)!.retryAt).toBe(800);
    links.tick(800);
    links.connected('a', 800);
    links.disconnected('a', 5000); // stable: starts over
    expect(ofType(events, 'link_down').at(-1)!.retryAt).toBe(5100);
  });
});

describe('HostDomain: games go on while every Auth server is down', () => {
  it('queues a finished session for the Auth servers and delivers once one is back', () => {
    const host = new HostDomain(
      {
        sessions: { maxSessions: 2, maxPlayers: 8 },
        outbox: { ackTimeoutMs: 1000 },
        redial: { initialMs: 100, jitter: 0 },
        authServers: ['auth-1', 'auth-2'],
      },
      0,
    );
    const dials: AuthLinkEvent[] = [];
    host.on('link', (e) => dials.push(e));
    host.tick(0);
    expect(ofType(dials, 'dial').map((d) => d.serverId)).toEqual(['auth-1', 'auth-2']);
    host.linkUp('auth-1', 1);
    expect(host.sessions.create(spec('s1', [player('alice', '10.0.0.1')]), 2).ok).toBe(true);
    host.linkDown('auth-1', 3); // the only live Auth server dies
    host.dialFailed('auth-2', 3);

    host.sessions.admit({ source: { ip: '10.0.0.1', port: 1 }, peer: sessionPeer('s1', 'alice'), connectionId: 'c' }, 4);
    host.sessions.ready('c', 5);
    expect(host.sessions.session('s1')!.phase).toBe('in_game');
    host.sessions.end('s1', { outcomes: { alice: { result: 'win' } } }, 100);
    expect(host.outbox.ids()).toEqual(['result:s1', 'telemetry:s1']);
    expect(host.outbox.pending('auth-1', 100)).toEqual([]);

    host.tick(103); // re-dial time for auth-1 (3 + 100)
    expect(ofType(dials, 'dial').filter((d) => d.serverId === 'auth-1')).toHaveLength(2);
    host.linkUp('auth-1', 110);
    const items = host.outbox.pending('auth-1', 110);
    expect(items.map((i) => i.body.kind)).toEqual(['result', 'telemetry']);
    const result = items[0]!.body;
    expect(result.kind === 'result' && result.report.outcomes).toEqual({ alice: { result: 'win' } });
    for (const i of items) host.outbox.markSent('auth-1', i.id, 110);
    expect(host.nextDeadline()).toBeDefined();
    host.outboxAcked('auth-1', 'result:s1', 120);
    host.outboxAcked('auth-1', 'telemetry:s1', 120);
    expect(host.outbox.size).toBe(0);
  });
});

describe('HostDomain drives the results outbox', () => {
  it('emits what each input did to the outbox as `outbox` events, before the input returns', () => {
    const host = new HostDomain({ sessions: { maxSessions: 1, maxPlayers: 1 }, outbox: { capacity: 2 }, authServers: ['auth-1'] }, 0);
    const seen: OutboxEvent<OutboxBody>[] = [];
    const telemetry = {
      sessionId: 'x',
      transport: 'quic' as const,
      readyingMs: 0,
      inGameMs: 0,
      expectedPlayers: 0,
      admittedPlayers: 0,
      noShows: 0,
      reconnects: 0,
      refusals: {},
    };
    const extra = { id: 'extra', kind: 'telemetry' as const, body: { kind: 'telemetry' as const, telemetry } };
    host.on('outbox', (e) => seen.push(e));
    host.sessions.create(spec('s1', [player('alice', '10.0.0.1')]), 1);
    host.sessions.cancel('s1', 2);
    expect(seen.map((e) => (e.type === 'added' ? e.item.id : e.type))).toEqual(['result:s1', 'telemetry:s1']);
    expect(host.enqueue(extra, 3)).toBe(true);
    expect(seen.slice(2).map((e) => [e.type, e.type === 'added' ? e.item.id : e.id])).toEqual([
      ['dropped', 'telemetry:s1'],
      ['added', 'extra'],
    ]);
    expect(host.enqueue(extra, 3)).toBe(false);
    expect(seen).toHaveLength(4);
    host.linkUp('auth-1', 4);
    expect(host.outboxAcked('auth-1', 'result:s1', 5)).toBe(true);
    expect(seen.at(-1)).toEqual({ type: 'delivered', id: 'result:s1', kind: 'result', at: 5 });
  });
});
