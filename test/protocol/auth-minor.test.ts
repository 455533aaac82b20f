/**
 * iyesmp-auth/1.1 next to 1.0 peers: the new optional fields are dropped by a 1.0 receiver and the
 * request still works; the new events must not reach a 1.0 client (it closes on them), which is
 * why servers check the negotiated minor before sending them.
 */
import { describe, expect, it } from 'vitest';
import { authFamily } from '../../src/protocol/index.js';
import { authFamily10, authFamily11, authFamily12, authFamily13, openMixed } from '../support/families.js';
import { samples } from './fixtures.js';

const hello = samples['iyesmp-auth/1']!.hello;

function open(dialerFamily: Parameters<typeof openMixed>[0], listenerFamily: Parameters<typeof openMixed>[1]) {
  const p = openMixed(dialerFamily, listenerFamily, hello);
  return { ...p, notify: (type: string, body: unknown) => (p.listener.notify as (t: string, b: unknown) => void)(type, body) };
}

const quicHandoff = (chain: Uint8Array[]) => ({
  sessionId: 's-1',
  playerId: 'p',
  expiresAt: 1,
  host: { address: { host: '127.0.0.1', port: 1 }, tlsName: 'h' },
  transport: { kind: 'quic', alpn: 'iyesmp-host/1', sessionCert: new Uint8Array([1, 2]), chain },
});

describe('iyesmp-auth/1.4', () => {
  it('is version 1.4 and negotiates 1.3 with a 1.3 peer on either side', () => {
    expect(authFamily.version).toEqual({ major: 1, minor: 4 });
    expect(open(authFamily, authFamily13()).dialer.negotiated).toEqual({ major: 1, minor: 3 });
    expect(open(authFamily13(), authFamily).listener.negotiated).toEqual({ major: 1, minor: 3 });
    expect(open(authFamily, authFamily).listener.negotiated).toEqual({ major: 1, minor: 4 });
  });

  it('a 1.3 client drops sameChain and keeps the empty chain: servers leave the chain out only for 1.4 clients', () => {
    const body = { matchId: 'm-1', handoff: quicHandoff([]), sameChain: true };
    const p = open(authFamily13(), authFamily);
    p.notify('session.handoff', body);
    p.flush();
    const got = p.dialerEvents().filter((e) => e.kind === 'event')[0]!.body as { sameChain?: true; handoff: { transport: { chain: unknown[] } } };
    expect(got.sameChain).toBeUndefined();
    expect(got.handoff.transport.chain).toEqual([]);
    // a 1.4 client sees the flag
    const q = open(authFamily, authFamily);
    q.notify('session.handoff', body);
    q.flush();
    expect((q.dialerEvents().filter((e) => e.kind === 'event')[0]!.body as { sameChain?: true }).sameChain).toBe(true);
  });
});

describe('iyesmp-auth/1.3', () => {
  it('negotiates 1.2 with a 1.2 peer on either side', () => {
    expect(open(authFamily, authFamily12()).dialer.negotiated).toEqual({ major: 1, minor: 2 });
    expect(open(authFamily12(), authFamily).listener.negotiated).toEqual({ major: 1, minor: 2 });
    expect(open(authFamily13(), authFamily13()).listener.negotiated).toEqual({ major: 1, minor: 3 });
  });

  it('a 1.2 server drops claim and publicKey from match.confirm (so clients only send them after negotiating 1.3)', () => {
    const p = open(authFamily, authFamily12());
    p.request('match.confirm', { matchId: 'm-1', claim: true, publicKey: new Uint8Array([1, 2, 3]) });
    p.flush();
    expect(p.listenerEvents().filter((e) => e.kind === 'request')[0]!.body).toEqual({ matchId: 'm-1' });
  });

  it("a 1.2 client drops match.found's transport and needsPublicKey and keeps the event", () => {
    const p = open(authFamily12(), authFamily);
    p.notify('match.found', { matchId: 'm-1', ticketId: 't-1', mode: 'duel', playerCount: 2, confirmBy: 1, transport: 'quic', needsPublicKey: true });
    p.flush();
    const evs = p.dialerEvents();
    expect(evs.filter((e) => e.kind === 'event')[0]!.body).toEqual({ matchId: 'm-1', ticketId: 't-1', mode: 'duel', playerCount: 2, confirmBy: 1 });
    expect(evs.filter((e) => e.kind === 'close')).toEqual([]);
  });

  it('a 1.2 client closes on session.handoff and session.key_refused: servers send them only to 1.3 clients', () => {
    for (const [type, body] of [
      [
        'session.handoff',
        {
          matchId: 'm-1',
          handoff: {
            sessionId: 's-1',
            playerId: 'p',
            expiresAt: 1,
            host: { address: { host: '127.0.0.1', port: 1 }, tlsName: 'h' },
            transport: { kind: 'netcode', connectToken: new Uint8Array(8) },
          },
        },
      ],
      ['session.key_refused', { sessionId: 's-1', matchId: 'm-1', code: 'bad_request', reason: 'no' }],
    ] as const) {
      const p = open(authFamily12(), authFamily);
      p.notify(type, body);
      p.flush();
      expect(p.dialerEvents().filter((e) => e.kind === 'close')[0]).toMatchObject({ code: 'unknown_type' });
      // a 1.3 client takes it
      const q = open(authFamily, authFamily);
      q.notify(type, body);
      q.flush();
      expect(
        q
          .dialerEvents()
          .filter((e) => e.kind === 'event')
          .map((e) => e.type),
      ).toEqual([type]);
    }
  });
});

describe('iyesmp-auth/1.2', () => {
  it('negotiates 1.1 with a 1.1 peer on either side', () => {
    expect(open(authFamily12(), authFamily11()).dialer.negotiated).toEqual({ major: 1, minor: 1 });
    expect(open(authFamily11(), authFamily12()).listener.negotiated).toEqual({ major: 1, minor: 1 });
    expect(open(authFamily12(), authFamily12()).listener.negotiated).toEqual({ major: 1, minor: 2 });
  });

  it('a 1.1 server drops lobbyId from match.queue (so clients only send it after negotiating 1.2)', () => {
    const p = open(authFamily, authFamily11());
    p.request('match.queue', { mode: 'duel', lobbyId: 'lob-1' });
    p.flush();
    expect(p.listenerEvents().filter((e) => e.kind === 'request')[0]!.body).toEqual({ mode: 'duel' });
  });

  it('a 1.1 server answers account.register with unknown_type and keeps the connection', () => {
    const p = open(authFamily, authFamily11());
    p.request('account.register', { username: 'ada', password: 'correct horse battery' });
    p.flush();
    const failures = p.dialerEvents().filter((e) => e.kind === 'failure');
    expect(failures[0]).toMatchObject({ code: 'unknown_type' });
    expect(p.dialer.state).not.toBe('closed');
  });

  it('a 1.1 client closes on match.queued: servers send it only to 1.2 clients', () => {
    const p = open(authFamily11(), authFamily);
    p.notify('match.queued', { ticketId: 't-1', mode: 'duel', lobbyId: 'lob-1', byAccountId: 'guest:a' });
    p.flush();
    expect(p.dialerEvents().filter((e) => e.kind === 'close')[0]).toMatchObject({ code: 'unknown_type' });
  });
});

describe('iyesmp-auth/1.1', () => {
  it('negotiates 1.0 with a 1.0 peer on either side', () => {
    expect(open(authFamily, authFamily10()).dialer.negotiated).toEqual({ major: 1, minor: 0 });
    expect(open(authFamily10(), authFamily).listener.negotiated).toEqual({ major: 1, minor: 0 });
  });

  it('a 1.0 server drops joinCode and still takes the join; its create reply simply has no joinCode', () => {
    const p = open(authFamily, authFamily10());
    p.request('lobby.join', { lobbyId: 'K7XQ2M', joinCode: 'K7XQ2M', password: 'K7XQ2M' });
    p.flush();
    const req = p.listenerEvents().filter((e) => e.kind === 'request')[0]!;
    expect(req.body).toEqual({ lobbyId: 'K7XQ2M', password: 'K7XQ2M' });
  });

  it('a 1.1 server sees joinCode', () => {
    const p = open(authFamily, authFamily);
    p.request('lobby.join', { lobbyId: 'K7XQ2M', joinCode: 'K7XQ2M' });
    p.flush();
    expect(p.listenerEvents().filter((e) => e.kind === 'request')[0]!.body).toEqual({ lobbyId: 'K7XQ2M', joinCode: 'K7XQ2M' });
  });

  it('a 1.0 client closes on session.lost: servers must only send it to 1.1 clients', () => {
    const p = open(authFamily10(), authFamily);
    p.notify('session.lost', { sessionId: 'ses-1', reason: 'host died' });
    p.flush();
    const closes = p.dialerEvents().filter((e) => e.kind === 'close');
    expect(closes[0]).toMatchObject({ code: 'unknown_type' });
  });

  it('session.waiting needs since and attempt, and bounds them', () => {
    const body = authFamily.events['session.waiting'].body;
    expect(body.safeParse({ matchId: 'm-1', since: 1, attempt: 2 }).success).toBe(true);
    expect(body.safeParse({ matchId: 'm-1', attempt: 2 }).success).toBe(false);
    expect(body.safeParse({ matchId: 'm-1', since: 1, attempt: -1 }).success).toBe(false);
    expect(body.safeParse({ since: 1, attempt: 0, giveUpAt: 1.5 }).success).toBe(false);
  });

  it('join codes are bounded', () => {
    const join = authFamily.requests['lobby.join'].request;
    expect(join.safeParse({ lobbyId: 'x', joinCode: '' }).success).toBe(false);
    expect(join.safeParse({ lobbyId: 'x', joinCode: 'A'.repeat(65) }).success).toBe(false);
    expect(
      authFamily.requests['lobby.create'].response.safeParse({
        lobby: samples['iyesmp-auth/1']!.events['lobby.updated']![0]!['lobby' as never],
        joinCode: 'ABC123',
      }).success,
    ).toBe(true);
  });
});
