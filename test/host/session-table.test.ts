import { describe, expect, it } from 'vitest';
import type { AllowListEvent } from '../../src/host/allow-list.js';
import type { HostSessionEvent } from '../../src/host/events.js';
import { SessionTable, type SessionTableOptions } from '../../src/host/session-table.js';
import { HostSessions } from '../../src/host/sessions.js';
import { fp, ofType, player, sessionPeer, spec } from './helpers.js';

const A = { ip: '10.0.0.1', port: 40001 };
const B = { ip: '10.0.0.2', port: 40002 };
const C = { ip: '2001:db8::3', port: 40003 };

function table(opts: Partial<SessionTableOptions> = {}) {
  let secrets = 0;
  const t = new HostSessions({
    maxSessions: 4,
    maxPlayers: 16,
    joinTimeoutMs: 10_000,
    reconnectGraceMs: 5_000,
    newReconnectSecret: () => `secret-${++secrets}`,
    ...opts,
  });
  const events: HostSessionEvent[] = [];
  const allow: AllowListEvent[] = [];
  t.on('session', (e) => events.push(e)).on('allow', (e) => allow.push(e));
  return { t, events, allow };
}

/** a two-player session s1 with alice at A (any port) and bob at B (exact port) */
function twoPlayers(opts: Partial<SessionTableOptions> = {}, extra = {}) {
  const h = table(opts);
  const r = h.t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip, B.port)], extra), 0);
  expect(r.ok).toBe(true);
  return h;
}

function admit(
  t: HostSessions,
  sessionId: string,
  playerId: string,
  source: { ip: string; port: number },
  conn: string,
  now: number,
  reconnectSecret?: string,
) {
  return t.admit({ source, peer: sessionPeer(sessionId, playerId), connectionId: conn, ...(reconnectSecret === undefined ? {} : { reconnectSecret }) }, now);
}

describe('creation and capacity', () => {
  it('creates a session and reports load', () => {
    const { t, events } = twoPlayers();
    expect(ofType(events, 'session_created')).toEqual([{ type: 'session_created', sessionId: 's1', at: 0, joinDeadline: 10_000 }]);
    expect(t.load()).toEqual({ sessions: 1, players: 2, maxSessions: 4, maxPlayers: 16 });
    const v = t.session('s1')!;
    expect(v.phase).toBe('readying');
    expect(v.players.map((p) => [p.playerId, p.status])).toEqual([
      ['alice', 'expected'],
      ['bob', 'expected'],
    ]);
    expect(v.minPlayers).toBe(2);
  });

  it('refuses a duplicate session id', () => {
    const { t } = twoPlayers();
    const r = t.create(spec('s1', [player('carol', C.ip)]), 1);
    expect(r).toMatchObject({ ok: false, reason: 'session_exists' });
  });

  it('refuses beyond the session limit and the player limit, with the numbers in the message', () => {
    const { t } = table({ maxSessions: 2, maxPlayers: 3 });
    expect(t.create(spec('a', [player('p1', '10.1.0.1')]), 0).ok).toBe(true);
    const tooMany = t.create(spec('b', [player('p2', '10.1.0.2'), player('p3', '10.1.0.3'), player('p4', '10.1.0.4')]), 0);
    expect(tooMany).toMatchObject({ ok: false, reason: 'capacity_players' });
    expect(tooMany.ok ? '' : tooMany.message).toMatch(/exceed 3 \(1 in use\)/);
    expect(t.create(spec('b', [player('p2', '10.1.0.2')]), 0).ok).toBe(true);
    const full = t.create(spec('c', [player('p5', '10.1.0.5')]), 0);
    expect(full).toMatchObject({ ok: false, reason: 'capacity_sessions' });
    expect(full.ok ? '' : full.message).toMatch(/2 of 2 sessions/);
    // a refused creation leaves no trace in the allow-list
    expect(t.allowList.keys()).toEqual(new Set(['10.1.0.1', '10.1.0.2']));
  });

  it('frees capacity when players time out and when sessions end', () => {
    const { t } = table({ maxSessions: 1, maxPlayers: 2 });
    t.create(spec('a', [player('p1', '10.1.0.1'), player('p2', '10.1.0.2')], { minPlayers: 1 }), 0);
    t.admit({ source: { ip: '10.1.0.1', port: 1 }, peer: sessionPeer('a', 'p1'), connectionId: 'c1' }, 1);
    t.tick(10_000); // p2 never came: its slot is free again; p1 alone (min 1) is not ready yet
    expect(t.load().players).toBe(1);
    t.cancel('a', 10_001);
    expect(t.load()).toMatchObject({ sessions: 0, players: 0 });
    expect(t.create(spec('b', [player('p3', '10.1.0.3'), player('p4', '10.1.0.4')]), 10_002).ok).toBe(true);
  });

  it('validates the spec and names the problem', () => {
    const { t } = table();
    const bad: Array<[Parameters<HostSessions['create']>[0], RegExp]> = [
      [spec('', [player('p', '10.0.0.1')]), /session id/],
      [spec('x', []), /expects no players/],
      [spec('x', [player('p', '10.0.0.1'), player('p', '10.0.0.2')]), /listed twice/],
      [spec('x', [{ ...player('p', '10.0.0.1'), fingerprint: 'abc' }]), /SHA-256/],
      [spec('x', [player('p', 'not-an-ip')]), /bad expected address/],
      [spec('x', [player('p', '10.0.0.1', 0)]), /bad expected address/],
      [spec('x', [player('p', '10.0.0.1')], { minPlayers: 2 }), /minPlayers/],
      [spec('x', [player('p', '10.0.0.1')], { joinTimeoutMs: -1 }), /joinTimeoutMs/],
      [{ ...spec('x', [player('p', '10.0.0.1')]), transport: 'carrier-pigeon' as never }, /unknown transport/],
    ];
    for (const [s, msg] of bad) {
      const r = t.create(s, 0);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe('invalid_spec');
        expect(r.message).toMatch(msg);
      }
    }
    expect(t.load().sessions).toBe(0);
    expect(t.allowList.size).toBe(0);
  });

  it('accepts fingerprints with colons and capitals', () => {
    const { t } = table();
    const colon = fp('p').toUpperCase().match(/../g)!.join(':');
    expect(t.create(spec('x', [{ ...player('p', '10.0.0.1'), fingerprint: colon }]), 0).ok).toBe(true);
    expect(admit(t, 'x', 'p', { ip: '10.0.0.1', port: 1 }, 'c', 1).ok).toBe(true);
  });

  it('adds players while readying, with capacity checked, and not after begin', () => {
    const { t, events, allow } = twoPlayers({ maxPlayers: 3 });
    expect(t.addPlayers('s1', [player('carol', C.ip), player('dave', '10.0.0.4')], 100)).toMatchObject({ ok: false, reason: 'capacity_players' });
    expect(t.addPlayers('s1', [player('alice', '10.0.0.9')], 100)).toMatchObject({ ok: false, reason: 'invalid_spec' });
    expect(t.addPlayers('nope', [player('erin', '10.0.0.9')], 100)).toMatchObject({ ok: false, reason: 'unknown_session' });
    expect(t.addPlayers('s1', [player('carol', C.ip)], 100)).toMatchObject({ ok: true, joinDeadline: 10_100 });
    expect(ofType(events, 'players_added')).toHaveLength(1);
    expect(allow.at(-1)).toMatchObject({ type: 'allow', key: '2001:db8::3' });
    expect(t.session('s1')!.minPlayers).toBe(3);
  });
});

describe('address allow-list through a session life', () => {
  it('allows on creation, revokes on leave, timeout and end', () => {
    const { t, allow } = table();
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip, B.port), player('carol', C.ip)], { minPlayers: 1 }), 0);
    expect(allow.map((e) => `${e.type} ${e.key}`)).toEqual(['allow 10.0.0.1', 'allow 10.0.0.2:40002', 'allow 2001:db8::3']);
    expect(t.allowList.allows(A)).toBe(true);
    expect(t.allowList.allows({ ...B, port: 1 })).toBe(false);

    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    expect(t.leave('cb', 3)).toEqual({ ok: true }); // bob leaves
    expect(allow.at(-1)).toEqual({ type: 'revoke', key: '10.0.0.2:40002', address: { ip: '10.0.0.2', port: 40002 } });

    t.tick(10_000); // carol never came
    expect(allow.at(-1)).toMatchObject({ type: 'revoke', key: '2001:db8::3' });
    expect(t.allowList.keys()).toEqual(new Set(['10.0.0.1']));

    t.ready('ca', 10_001); // alice alone (min 1) begins
    expect(t.session('s1')!.phase).toBe('in_game');
    expect(t.end('s1', { outcomes: { alice: { result: 'win' } } }, 20_000)).toEqual({ ok: true });
    expect(allow.at(-1)).toMatchObject({ type: 'revoke', key: '10.0.0.1' });
    expect(t.allowList.size).toBe(0);
  });

  it('keeps a shared NAT address until the last player behind it departs', () => {
    const { t } = table();
    t.create(spec('s1', [player('alice', '192.0.2.1'), player('bob', '192.0.2.1')], { minPlayers: 1 }), 0);
    t.create(spec('s2', [player('carol', '192.0.2.1')]), 0);
    expect(t.allowList.refCount({ ip: '192.0.2.1' })).toBe(3);
    t.cancel('s2', 1);
    expect(t.allowList.has({ ip: '192.0.2.1' })).toBe(true);
    t.removePlayer('s1', 'alice', 2);
    expect(t.allowList.has({ ip: '192.0.2.1' })).toBe(true);
    t.removePlayer('s1', 'bob', 3); // last one: session aborts, address goes
    expect(t.allowList.size).toBe(0);
    expect(t.session('s1')).toBeUndefined();
  });
});

describe('admission', () => {
  it('admits an expected player from its address, binding the connection', () => {
    const { t, events } = twoPlayers();
    const r = admit(t, 's1', 'alice', { ip: '::ffff:10.0.0.1', port: 5555 }, 'ca', 5);
    expect(r).toEqual({ ok: true, sessionId: 's1', playerId: 'alice', connectionId: 'ca', reconnect: false, reconnectSecret: 'secret-1' });
    expect(t.connection('ca')).toEqual({ sessionId: 's1', playerId: 'alice' });
    const st = ofType(events, 'player_status');
    expect(st.at(-1)).toMatchObject({ playerId: 'alice', previous: 'expected', status: 'connected', at: 5 });
    expect(st.at(-1)!.roster.map((p) => p.status)).toEqual(['connected', 'expected']);
  });

  it.each([
    ['unknown_session', () => sessionPeer('nope', 'alice'), A],
    ['not_expected', () => sessionPeer('s1', 'mallory'), A],
    ['wrong_fingerprint', () => sessionPeer('s1', 'alice', fp('some other cert')), A],
    ['wrong_address', () => sessionPeer('s1', 'alice'), { ip: '203.0.113.9', port: 40001 }],
    ['wrong_address', () => sessionPeer('s1', 'bob'), { ip: B.ip, port: B.port + 1 }],
    ['not_session_cert', () => ({ ...sessionPeer('s1', 'alice'), role: 'client' as const }), A],
    ['not_session_cert', () => ({ ...sessionPeer('s1', 'alice'), sessionId: undefined }), A],
  ] as const)('refuses with %s', (reason, peer, source) => {
    const { t, events } = twoPlayers();
    const r = t.admit({ source, peer: peer(), connectionId: 'c' }, 1);
    expect(r).toMatchObject({ ok: false, reason });
    expect(ofType(events, 'admission_refused').at(-1)).toMatchObject({ reason, source });
    expect(t.connection('c')).toBeUndefined();
    expect(t.session('s1')!.players.every((p) => p.status === 'expected')).toBe(true);
  });

  it('refuses a stolen session cert used from another address, while the owner still gets in', () => {
    const { t } = twoPlayers();
    // the thief has alice's very cert (right fingerprint) but sits elsewhere
    const stolen = t.admit({ source: { ip: '198.51.100.66', port: 40001 }, peer: sessionPeer('s1', 'alice'), connectionId: 'thief' }, 1);
    expect(stolen).toMatchObject({ ok: false, reason: 'wrong_address' });
    expect(stolen.ok ? '' : stolen.message).toMatch(/198\.51\.100\.66/);
    expect(t.allowList.allows({ ip: '198.51.100.66', port: 40001 })).toBe(false);
    expect(admit(t, 's1', 'alice', A, 'owner', 2).ok).toBe(true);
  });

  it('refuses a cert for another session, even from an allowed address', () => {
    const { t } = twoPlayers();
    t.create(spec('s2', [player('carol', C.ip)]), 0);
    // carol (of s2) connects from alice's allowed address: her cert names s2, where alice is not expected
    const r1 = t.admit({ source: A, peer: sessionPeer('s2', 'alice'), connectionId: 'x1' }, 1);
    expect(r1).toMatchObject({ ok: false, reason: 'not_expected' });
    // a cert for s2's carol presented from s1's address
    const r2 = t.admit({ source: A, peer: sessionPeer('s2', 'carol'), connectionId: 'x2' }, 1);
    expect(r2).toMatchObject({ ok: false, reason: 'wrong_address' });
    // and a cert of an s1 player whose fingerprint belongs to another session's cert
    const r3 = t.admit({ source: A, peer: sessionPeer('s1', 'alice', fp('carol')), connectionId: 'x3' }, 1);
    expect(r3).toMatchObject({ ok: false, reason: 'wrong_fingerprint' });
  });

  it('refuses a player who was never admitted once the game has begun without them', () => {
    const { t, events } = table();
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip)], { minPlayers: 1 }), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    t.ready('ca', 2); // everyone who arrived is ready and min 1 is met: the game begins without bob
    expect(t.session('s1')!.phase).toBe('in_game');
    expect(ofType(events, 'player_status').at(-1)).toMatchObject({ playerId: 'bob', status: 'left', departure: 'no_show' });
    expect(t.allowList.allows(B)).toBe(false);
    const late = admit(t, 's1', 'bob', B, 'cb', 3);
    expect(late).toMatchObject({ ok: false, reason: 'already_started' });
    expect(late.ok ? '' : late.message).toMatch(/began without player bob/);
  });

  it('refuses a player who left and tries to come back (player_left)', () => {
    const { t } = table();
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip), player('carol', C.ip)], { minPlayers: 1 }), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    t.leave('cb', 3);
    expect(admit(t, 's1', 'bob', B, 'cb2', 4)).toMatchObject({ ok: false, reason: 'player_left' });
    t.removePlayer('s1', 'carol', 5); // kicked before arriving
    expect(admit(t, 's1', 'carol', C, 'cc', 6)).toMatchObject({ ok: false, reason: 'player_left' });
  });

  it('does not let addPlayers into a session that has begun', () => {
    const { t } = table();
    t.create(spec('s1', [player('alice', A.ip)]), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    t.ready('ca', 2);
    expect(t.session('s1')!.phase).toBe('in_game');
    expect(t.addPlayers('s1', [player('carol', C.ip)], 3)).toMatchObject({ ok: false, reason: 'not_readying' });
    expect(t.allowList.allows(C)).toBe(false);
  });

  it("replaces an older connection of the same player when the new one presents the seat's reconnect secret", () => {
    const { t, events } = twoPlayers();
    const first = admit(t, 's1', 'alice', A, 'old', 1);
    t.ready('old', 2);
    const secret = first.ok ? first.reconnectSecret : '';
    const r = admit(t, 's1', 'alice', { ip: A.ip, port: 50000 }, 'new', 3, secret);
    // a fresh secret for the new connection
    expect(r).toEqual({ ok: true, sessionId: 's1', playerId: 'alice', connectionId: 'new', reconnect: true, replaced: 'old', reconnectSecret: 'secret-2' });
    expect(ofType(events, 'close_connection')).toEqual([
      { type: 'close_connection', connectionId: 'old', sessionId: 's1', playerId: 'alice', reason: 'replaced', at: 3 },
    ]);
    expect(t.connection('old')).toBeUndefined();
    expect(t.connection('new')).toEqual({ sessionId: 's1', playerId: 'alice' });
    expect(t.ready('old', 4)).toMatchObject({ ok: false, reason: 'unknown_connection' });
    // readiness survives the swap
    expect(t.session('s1')!.players[0]!.status).toBe('ready');
  });

  it("refuses a copy of a live seat's credential without the reconnect secret (seat_taken); the player plays on", () => {
    const { t, events } = twoPlayers();
    admit(t, 's1', 'alice', A, 'live', 1);
    t.ready('live', 2);
    // the same session cert from the same address, as behind a shared NAT
    for (const [conn, secret] of [
      ['copy1', undefined],
      ['copy2', 'secret-0'],
      ['copy3', ''],
    ] as const) {
      const r = admit(t, 's1', 'alice', { ip: A.ip, port: 50000 }, conn, 3, secret);
      expect(r).toMatchObject({ ok: false, reason: 'seat_taken' });
      expect(r.ok ? '' : r.message).toMatch(/still connected.*reconnect secret/);
      expect(t.connection(conn)).toBeUndefined();
    }
    expect(ofType(events, 'close_connection')).toEqual([]);
    expect(ofType(events, 'admission_refused').at(-1)).toMatchObject({ reason: 'seat_taken', sessionId: 's1', playerId: 'alice' });
    expect(t.connection('live')).toEqual({ sessionId: 's1', playerId: 'alice' });
    expect(t.session('s1')!.players[0]).toMatchObject({ status: 'ready', connectionId: 'live' });
    expect(t.ready('live', 4)).toEqual({ ok: true });
  });

  it("takes a replaced connection's secret out of use: only the latest one moves the seat", () => {
    const { t } = twoPlayers();
    admit(t, 's1', 'alice', A, 'c1', 1);
    expect(admit(t, 's1', 'alice', A, 'c2', 2, 'secret-1')).toMatchObject({ ok: true, replaced: 'c1', reconnectSecret: 'secret-2' });
    expect(admit(t, 's1', 'alice', A, 'c3', 3, 'secret-1')).toMatchObject({ ok: false, reason: 'seat_taken' });
    expect(admit(t, 's1', 'alice', A, 'c4', 4, 'secret-2')).toMatchObject({ ok: true, replaced: 'c2', reconnectSecret: 'secret-3' });
  });

  it('admits a player whose old connection is gone, with or without the secret, and issues a new one', () => {
    const { t } = twoPlayers();
    admit(t, 's1', 'alice', A, 'c1', 1);
    t.connectionClosed('c1', 2);
    expect(admit(t, 's1', 'alice', A, 'c2', 3)).toEqual({
      ok: true,
      sessionId: 's1',
      playerId: 'alice',
      connectionId: 'c2',
      reconnect: true,
      reconnectSecret: 'secret-2',
    });
    t.connectionClosed('c2', 4);
    expect(admit(t, 's1', 'alice', A, 'c3', 5, 'secret-2')).toMatchObject({ ok: true, reconnect: true, reconnectSecret: 'secret-3' });
    t.connectionClosed('c3', 6);
    // a stale or wrong secret is no reason to refuse a free seat
    expect(admit(t, 's1', 'alice', A, 'c4', 7, 'stale')).toMatchObject({ ok: true, reconnect: true });
  });

  it('applies the same rule to netcode claims, and never puts a secret in an event', () => {
    // the default secrets: random
    const t = new HostSessions({ maxSessions: 1, maxPlayers: 1 });
    const events: HostSessionEvent[] = [];
    t.on('session', (e) => events.push(e));
    const seat = { playerId: 'nc', address: { ip: A.ip }, netcodeClientId: 7n, displayName: 'nc' };
    t.create(spec('n1', [seat], { transport: 'netcode' }), 0);
    const claim = { sessionId: 'n1', playerId: 'nc', credential: { kind: 'netcode' as const, clientId: 7n } };
    const r = t.admit({ source: A, peer: claim, connectionId: 'n-a' }, 1);
    expect(r.ok && r.reconnectSecret).toMatch(/^[\w-]{43}$/); // 32 random bytes, base64url
    expect(t.admit({ source: A, peer: claim, connectionId: 'n-b' }, 2)).toMatchObject({ ok: false, reason: 'seat_taken' });
    const secret = r.ok ? r.reconnectSecret : '';
    expect(t.admit({ source: A, peer: claim, connectionId: 'n-c', reconnectSecret: secret }, 3)).toMatchObject({ ok: true, replaced: 'n-a' });
    expect(JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(secret);
  });

  it('lets a player come back within the reconnect grace, also in game', () => {
    const { t, events } = twoPlayers();
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    t.ready('ca', 3);
    t.ready('cb', 4);
    t.connectionClosed('ca', 100);
    expect(t.session('s1')!.players[0]).toMatchObject({ status: 'expected', admitted: true });
    expect(t.allowList.allows(A)).toBe(true); // the address stays during the grace
    expect(t.nextDeadline()).toBe(5_100);
    expect(admit(t, 's1', 'alice', A, 'ca2', 200)).toMatchObject({ ok: true, reconnect: true });
    expect(t.session('s1')!.players[0]!.status).toBe('connected');
    // gone for longer than the grace: the player has left for good
    t.connectionClosed('cb', 300);
    t.tick(5_300);
    expect(ofType(events, 'player_timed_out').at(-1)).toMatchObject({ playerId: 'bob', reason: 'connection_lost' });
    expect(t.allowList.allows(B)).toBe(false);
    expect(admit(t, 's1', 'bob', B, 'cb2', 5_301)).toMatchObject({ ok: false, reason: 'player_left' });
  });

  it('refuses joins to an ended session with session_ended', () => {
    const { t } = twoPlayers();
    t.cancel('s1', 1, 'auth asked');
    expect(admit(t, 's1', 'alice', A, 'c', 2)).toMatchObject({ ok: false, reason: 'session_ended' });
    expect(t.create(spec('s1', [player('alice', A.ip)]), 3)).toMatchObject({ ok: false, reason: 'session_exists' });
  });

  it('counts refusals per reason in the session telemetry', () => {
    const { t, events } = twoPlayers({}, { minPlayers: 1 });
    t.admit({ source: { ip: '203.0.113.1', port: 1 }, peer: sessionPeer('s1', 'alice'), connectionId: 'x' }, 1);
    t.admit({ source: { ip: '203.0.113.1', port: 1 }, peer: sessionPeer('s1', 'alice'), connectionId: 'x' }, 2);
    t.admit({ source: A, peer: sessionPeer('s1', 'zed'), connectionId: 'x' }, 3);
    t.cancel('s1', 4);
    const ended = ofType(events, 'session_ended')[0]!;
    expect(ended.telemetry.refusals).toEqual({ wrong_address: 2, not_expected: 1 });
  });
});

describe('no-show timeout', () => {
  it('times out players who never come and aborts below min players', () => {
    const { t, events, allow } = twoPlayers();
    admit(t, 's1', 'alice', A, 'ca', 1);
    t.tick(9_999);
    expect(ofType(events, 'player_timed_out')).toHaveLength(0);
    t.tick(10_000);
    expect(ofType(events, 'player_timed_out')).toEqual([{ type: 'player_timed_out', sessionId: 's1', playerId: 'bob', reason: 'no_show', at: 10_000 }]);
    const ended = ofType(events, 'session_ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.report).toMatchObject({ end: 'aborted', abortReason: 'not_enough_players' });
    expect(ended[0]!.telemetry).toMatchObject({ noShows: 1, admittedPlayers: 1, expectedPlayers: 2, inGameMs: 0 });
    expect(ofType(events, 'close_connection')).toEqual([
      { type: 'close_connection', connectionId: 'ca', sessionId: 's1', playerId: 'alice', reason: 'session_ended', at: 10_000 },
    ]);
    expect(allow.filter((e) => e.type === 'revoke')).toHaveLength(2);
    expect(t.load().sessions).toBe(0);
  });

  it('with waitForAll, holds the start until the deadline, then goes on without the no-show', () => {
    const { t, events } = table();
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip), player('carol', C.ip)], { minPlayers: 2, joinTimeoutMs: 1000, waitForAll: true }), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    t.ready('ca', 3);
    t.ready('cb', 4);
    expect(ofType(events, 'game_begin')).toHaveLength(0); // carol may still come
    expect(t.nextDeadline()).toBe(1000);
    t.tick(1000);
    expect(ofType(events, 'player_timed_out')).toEqual([{ type: 'player_timed_out', sessionId: 's1', playerId: 'carol', reason: 'no_show', at: 1000 }]);
    const begin = ofType(events, 'game_begin');
    expect(begin).toHaveLength(1);
    expect(begin[0]!.roster.map((p) => [p.playerId, p.status])).toEqual([
      ['alice', 'ready'],
      ['bob', 'ready'],
      ['carol', 'left'],
    ]);
  });

  it('by default begins once the arrived players (at least min) are ready, dropping the rest as no-shows', () => {
    const { t, events } = table();
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip), player('carol', C.ip)], { minPlayers: 2 }), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    t.ready('ca', 2);
    expect(ofType(events, 'game_begin')).toHaveLength(0); // one ready player is below min 2
    admit(t, 's1', 'bob', B, 'cb', 3);
    t.ready('cb', 4);
    const begin = ofType(events, 'game_begin');
    expect(begin.map((e) => e.at)).toEqual([4]);
    expect(begin[0]!.roster.find((p) => p.playerId === 'carol')).toMatchObject({ status: 'left', departure: 'no_show' });
    t.end('s1', { outcomes: {} }, 10);
    expect(ofType(events, 'session_ended')[0]!.telemetry.noShows).toBe(1);
  });

  it('holds the start for an arrived player who lost the connection (within the grace)', () => {
    const { t, events } = table({ reconnectGraceMs: 100 });
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip)], { minPlayers: 1, joinTimeoutMs: 50 }), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    t.connectionClosed('cb', 3);
    t.ready('ca', 4);
    expect(ofType(events, 'game_begin')).toHaveLength(0);
    expect(t.nextDeadline()).toBe(103); // bob's grace runs from 3 (and is never shorter than the join window)
    t.tick(102);
    expect(ofType(events, 'player_timed_out')).toHaveLength(0);
    expect(ofType(events, 'game_begin')).toHaveLength(0);
    t.tick(103);
    expect(ofType(events, 'player_timed_out').at(-1)).toMatchObject({ playerId: 'bob', reason: 'connection_lost' });
    expect(ofType(events, 'game_begin')).toHaveLength(1);
  });
});

describe('readying', () => {
  it('broadcasts every status change and begins only when all are ready', () => {
    const { t, events } = twoPlayers();
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    expect(t.ready('ca', 3)).toEqual({ ok: true });
    expect(t.ready('ca', 3)).toEqual({ ok: true }); // resend is harmless, no event
    expect(ofType(events, 'game_begin')).toHaveLength(0);
    expect(t.unready('ca', 4)).toEqual({ ok: true });
    expect(t.ready('cb', 5)).toEqual({ ok: true });
    expect(ofType(events, 'game_begin')).toHaveLength(0); // alice withdrew
    expect(t.ready('ca', 6)).toEqual({ ok: true });
    const statuses = ofType(events, 'player_status').map((e) => `${e.playerId}:${e.previous}->${e.status}`);
    expect(statuses).toEqual([
      'alice:expected->connected',
      'bob:expected->connected',
      'alice:connected->ready',
      'alice:ready->connected',
      'bob:connected->ready',
      'alice:connected->ready',
    ]);
    const begin = ofType(events, 'game_begin');
    expect(begin).toEqual([
      {
        type: 'game_begin',
        sessionId: 's1',
        at: 6,
        settings: { map: 'dust' },
        roster: [
          { playerId: 'alice', displayName: 'Player alice', status: 'ready' },
          { playerId: 'bob', displayName: 'Player bob', status: 'ready' },
        ],
      },
    ]);
    expect(t.session('s1')).toMatchObject({ phase: 'in_game', beganAt: 6 });
    expect(t.unready('ca', 7)).toMatchObject({ ok: false, reason: 'wrong_phase' });
    expect(t.ready('nobody', 7)).toMatchObject({ ok: false, reason: 'unknown_connection' });
  });

  it('carries game extras in the roster', () => {
    const { t, events } = table();
    t.create(spec('s1', [{ ...player('alice', A.ip), extras: { team: 'red' } }]), 0);
    admit(t, 's1', 'alice', A, 'ca', 1);
    t.ready('ca', 2);
    expect(ofType(events, 'game_begin')[0]!.roster[0]).toMatchObject({ extras: { team: 'red' } });
  });

  it('drops a player who does not confirm ready in time, then begins with the rest', () => {
    const { t, events } = table();
    t.create(spec('s1', [player('alice', A.ip), player('bob', B.ip), player('carol', C.ip)], { minPlayers: 2, readyTimeoutMs: 500 }), 0);
    admit(t, 's1', 'alice', A, 'ca', 100);
    admit(t, 's1', 'bob', B, 'cb', 200);
    admit(t, 's1', 'carol', C, 'cc', 300);
    t.ready('ca', 150);
    t.ready('cb', 400);
    expect(t.nextDeadline()).toBe(800); // carol's ready deadline
    t.tick(799);
    expect(ofType(events, 'player_timed_out')).toHaveLength(0);
    t.tick(800);
    expect(ofType(events, 'player_timed_out')).toEqual([{ type: 'player_timed_out', sessionId: 's1', playerId: 'carol', reason: 'ready_timeout', at: 800 }]);
    expect(ofType(events, 'close_connection')).toEqual([
      { type: 'close_connection', connectionId: 'cc', sessionId: 's1', playerId: 'carol', reason: 'departed', at: 800 },
    ]);
    expect(ofType(events, 'game_begin')).toHaveLength(1);
    expect(t.allowList.allows(C)).toBe(false);
  });

  it('aborts when a player leaves during readying and too few remain', () => {
    const { t, events } = twoPlayers();
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    t.ready('ca', 3);
    t.leave('cb', 4);
    expect(ofType(events, 'game_begin')).toHaveLength(0);
    expect(ofType(events, 'session_ended')[0]!.report).toMatchObject({ end: 'aborted', abortReason: 'not_enough_players' });
  });

  it('does not accept ready from a player whose connection dropped', () => {
    const { t } = twoPlayers();
    admit(t, 's1', 'alice', A, 'ca', 1);
    t.connectionClosed('ca', 2);
    expect(t.ready('ca', 3)).toMatchObject({ ok: false, reason: 'unknown_connection' });
  });
});

describe('in game and end', () => {
  function started() {
    const h = twoPlayers();
    admit(h.t, 's1', 'alice', A, 'ca', 1);
    admit(h.t, 's1', 'bob', B, 'cb', 2);
    h.t.ready('ca', 3);
    h.t.ready('cb', 4);
    return h;
  }

  it('ends with results: report, outcomes, telemetry, connections closed, capacity freed', () => {
    const { t, events } = started();
    t.connectionClosed('cb', 50);
    admit(t, 's1', 'bob', B, 'cb2', 60);
    const r = t.end(
      's1',
      { gameData: { replay: 'r-1' }, outcomes: { alice: { result: 'win', score: 3 }, bob: { result: 'loss', score: 1 } }, telemetry: { moves: 42 } },
      1004,
    );
    expect(r).toEqual({ ok: true });
    const ended = ofType(events, 'session_ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.report).toEqual({
      sessionId: 's1',
      transport: 'quic',
      end: 'completed',
      createdAt: 0,
      beganAt: 4,
      endedAt: 1004,
      players: [
        { playerId: 'alice', status: 'ready', admitted: true },
        { playerId: 'bob', status: 'connected', admitted: true },
      ],
      gameData: { replay: 'r-1' },
      outcomes: { alice: { result: 'win', score: 3 }, bob: { result: 'loss', score: 1 } },
    });
    expect(ended[0]!.telemetry).toEqual({
      sessionId: 's1',
      transport: 'quic',
      readyingMs: 4,
      inGameMs: 1000,
      expectedPlayers: 2,
      admittedPlayers: 2,
      noShows: 0,
      reconnects: 1,
      refusals: {},
      game: { moves: 42 },
    });
    expect(
      ofType(events, 'close_connection')
        .filter((e) => e.reason === 'session_ended')
        .map((e) => e.connectionId),
    ).toEqual(['ca', 'cb2']);
    expect(t.connection('ca')).toBeUndefined();
    expect(t.load()).toMatchObject({ sessions: 0, players: 0 });
    expect(t.end('s1', { outcomes: {} }, 1005)).toMatchObject({ ok: false, reason: 'unknown_session' });
  });

  it('refuses results naming strangers, and ending before the game began', () => {
    const { t } = started();
    expect(t.end('s1', { outcomes: { mallory: { result: 'win' } } }, 10)).toMatchObject({ ok: false, reason: 'invalid_results' });
    expect(t.session('s1')!.phase).toBe('in_game');
    const h2 = twoPlayers();
    expect(h2.t.end('s1', { outcomes: {} }, 1)).toMatchObject({ ok: false, reason: 'wrong_phase' });
  });

  it('aborts an in-game session that every player has left', () => {
    const { t, events } = started();
    t.leave('ca', 10);
    expect(t.session('s1')!.phase).toBe('in_game'); // one player left is the game's business
    t.leave('cb', 11);
    expect(ofType(events, 'session_ended')[0]!.report).toMatchObject({ end: 'aborted', abortReason: 'abandoned', beganAt: 4, endedAt: 11 });
  });

  it('queues what an input caused until the driver takes it (the core calls no one)', () => {
    const t = new SessionTable({ maxSessions: 1, maxPlayers: 2 });
    t.create(spec('s1', [player('alice', A.ip)]), 0);
    expect(t.allowList.takeEvents()).toEqual([{ type: 'allow', key: A.ip, address: { ip: A.ip } }]);
    expect(t.takeEvents()).toEqual([{ type: 'session_created', sessionId: 's1', at: 0, joinDeadline: 30_000 }]);
    expect(t.takeEvents()).toEqual([]);
  });

  it('lets listeners call back into the table (events are delivered after the change)', () => {
    const { t } = twoPlayers();
    const seen: HostSessionEvent['type'][] = [];
    t.on('session', (e) => {
      seen.push(e.type);
      // the game ends the session as soon as it begins
      if (e.type === 'game_begin') t.end(e.sessionId, { outcomes: {} }, e.at);
    });
    admit(t, 's1', 'alice', A, 'ca', 1);
    admit(t, 's1', 'bob', B, 'cb', 2);
    t.ready('ca', 3);
    t.ready('cb', 4);
    // the end's events come after game_begin, in order, within the same outer call
    expect(seen.slice(-4)).toEqual(['game_begin', 'close_connection', 'close_connection', 'session_ended']);
    expect(t.load().sessions).toBe(0);
  });
});
