// Requests pipelined with the hello (`early`): one flight for hello + login instead of a round trip
// each, with old peers on either side still served and a refused hello never acting on them.
import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { authFamily, Deframer, encodeFrame, ProtocolSession, type FamilyDef } from '../../src/protocol/index.js';
import { samples } from './fixtures.js';
import { makePair, ofKind } from './helpers.js';

const authHello = samples['iyesmp-auth/1']!.hello;
const login = { method: 'guest' as const, displayName: 'Ada' };
const withMinor = <F extends FamilyDef>(f: F, minor: number): F => ({ ...f, version: { major: f.version.major, minor } });

/** The envelopes in a session's output. */
function frames(chunks: Uint8Array[]): Record<string, unknown>[] {
  const d = new Deframer(1 << 20);
  return chunks.flatMap((c) => d.push(c).frames).map((f) => decode(f) as Record<string, unknown>);
}
const reframe = (envs: Record<string, unknown>[]) => envs.map((e) => encodeFrame(encode(e), 1 << 20));

describe('requests pipelined with the hello', () => {
  it('go in the hello frame, wait for the accept, and are answered after the welcome in the same flight', () => {
    const p = makePair(authFamily);
    const ids = p.dialer.start(authHello.dialer as never, [{ type: 'account.login', body: login }]);
    expect(ids).toHaveLength(1);
    const out = p.dialer.takeOutput();
    const sent = frames(out);
    // one frame: hello and login travel together
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'hello', early: [{ id: ids[0], type: 'account.login', body: login }] });
    for (const c of out) p.listener.receive(c);
    const before = p.listener.takeEvents();
    expect(ofKind(before, 'hello')[0]).toMatchObject({ early: 1 });
    // nothing is acted upon before the hello is accepted
    expect(ofKind(before, 'request')).toHaveLength(0);
    p.listener.acceptHello(authHello.listener as never);
    const after = p.listener.takeEvents();
    expect(after.map((e) => e.kind)).toEqual(['ready', 'request']);
    expect(ofKind(after, 'request')[0]).toMatchObject({ id: ids[0], type: 'account.login', body: login });
    p.listener.respond(ids[0]!, { accountId: 'guest:1', displayName: 'Ada', isNew: false });
    const reply = frames(p.listener.takeOutput());
    expect(reply.map((e) => e.kind)).toEqual(['welcome', 'response']);
    expect(reply[0]).toMatchObject({ early: true });
    for (const c of reframe(reply)) p.dialer.receive(c);
    const got = p.dialer.takeEvents();
    expect(got.map((e) => e.kind)).toEqual(['ready', 'response']);
    expect(ofKind(got, 'response')[0]).toMatchObject({ id: ids[0], type: 'account.login', body: { accountId: 'guest:1' } });
    // and the dialer sends nothing again
    expect(p.dialer.takeOutput()).toHaveLength(0);
    expect(p.dialer.pendingRequests).toBe(0);
  });

  it('are never acted upon when the hello is refused; the dialer learns they failed', () => {
    const p = makePair(authFamily);
    const [id] = p.dialer.start(authHello.dialer as never, [{ type: 'account.login', body: login }]);
    for (const c of p.dialer.takeOutput()) p.listener.receive(c);
    p.listener.takeEvents();
    p.listener.refuseHello('banned', 'this build is banned');
    expect(ofKind(p.listener.takeEvents(), 'request')).toHaveLength(0);
    const out = p.listener.takeOutput();
    expect(frames(out).map((e) => e.kind)).toEqual(['close']);
    for (const c of out) p.dialer.receive(c);
    p.flush();
    expect(ofKind(p.dialerEvents, 'failure')).toEqual([expect.objectContaining({ id, type: 'account.login', code: 'closed', local: true })]);
    expect(ofKind(p.dialerEvents, 'close')[0]).toMatchObject({ code: 'banned', by: 'peer' });
  });

  it('are dropped with a hello refused for its version, never dispatched', () => {
    const dialer = new ProtocolSession(authFamily, { side: 'dialer', gameVersion: '1.0.0', nowMs: 0 });
    const listener = new ProtocolSession({ ...authFamily, version: { major: 2, minor: 0 } } as unknown as typeof authFamily, {
      side: 'listener',
      gameVersion: '1.0.0',
      nowMs: 0,
    });
    dialer.start(authHello.dialer as never, [{ type: 'account.login', body: login }]);
    for (const c of dialer.takeOutput()) listener.receive(c);
    const ev = listener.takeEvents();
    expect(ofKind(ev, 'request')).toHaveLength(0);
    expect(ofKind(ev, 'close')[0]).toMatchObject({ code: 'version_too_old' });
  });

  it('are sent again as ordinary requests after the welcome of a listener that predates them', () => {
    const p = makePair(authFamily);
    const [id] = p.dialer.start(authHello.dialer as never, [{ type: 'account.login', body: login }]);
    // an older listener's envelope schema drops the field it does not know
    const hello = frames(p.dialer.takeOutput()).map(({ early: _e, ...rest }) => rest);
    for (const c of reframe(hello)) p.listener.receive(c);
    expect(ofKind(p.listener.takeEvents(), 'hello')[0]).toMatchObject({ early: 0 });
    p.listener.acceptHello(authHello.listener as never);
    const welcome = frames(p.listener.takeOutput());
    expect(welcome).toHaveLength(1);
    expect(welcome[0]!.early).toBeUndefined();
    for (const c of reframe(welcome)) p.dialer.receive(c);
    expect(p.dialer.state).toBe('open');
    const again = frames(p.dialer.takeOutput());
    expect(again).toEqual([{ kind: 'request', id, type: 'account.login', body: login }]);
    for (const c of reframe(again)) p.listener.receive(c);
    expect(ofKind(p.listener.takeEvents(), 'request')[0]).toMatchObject({ id, type: 'account.login' });
  });

  it('marked for a newer minor than the listener negotiated: refused with version_too_new, not dispatched', () => {
    const dialer = new ProtocolSession(authFamily, { side: 'dialer', gameVersion: '1.0.0', nowMs: 0 });
    const listener = new ProtocolSession(withMinor(authFamily, 1), { side: 'listener', gameVersion: '1.0.0', nowMs: 0 });
    const [regId, loginId] = dialer.start(authHello.dialer as never, [
      { type: 'account.register', body: { username: 'ada', password: 'correct horse' }, minor: 2 },
      { type: 'account.login', body: login },
    ]);
    for (const c of dialer.takeOutput()) listener.receive(c);
    listener.takeEvents();
    listener.acceptHello(authHello.listener as never);
    const ev = listener.takeEvents();
    // the 1.2 request is refused; the one valid in every minor still runs
    expect(ofKind(ev, 'request').map((r) => r.id)).toEqual([loginId]);
    expect(ofKind(ev, 'protocol_error')[0]).toMatchObject({ code: 'version_too_new', type: 'account.register' });
    for (const c of listener.takeOutput()) dialer.receive(c);
    expect(dialer.negotiated).toEqual({ major: 1, minor: 1 });
    expect(ofKind(dialer.takeEvents(), 'failure')).toEqual([
      expect.objectContaining({ id: regId, type: 'account.register', code: 'version_too_new', local: false }),
    ]);
    expect(listener.state).toBe('open');
  });

  it('marked for a newer minor than an older listener negotiated: failed locally, never sent', () => {
    const dialer = new ProtocolSession(authFamily, { side: 'dialer', gameVersion: '1.0.0', nowMs: 0 });
    const listener = new ProtocolSession(withMinor(authFamily, 1), { side: 'listener', gameVersion: '1.0.0', nowMs: 0 });
    const [regId, loginId] = dialer.start(authHello.dialer as never, [
      { type: 'account.register', body: { username: 'ada', password: 'correct horse' }, minor: 2 },
      { type: 'account.login', body: login },
    ]);
    const hello = frames(dialer.takeOutput()).map(({ early: _e, ...rest }) => rest);
    for (const c of reframe(hello)) listener.receive(c);
    listener.takeEvents();
    listener.acceptHello(authHello.listener as never);
    for (const c of listener.takeOutput()) dialer.receive(c);
    expect(ofKind(dialer.takeEvents(), 'failure')).toEqual([expect.objectContaining({ id: regId, code: 'version_too_new', local: true })]);
    expect(frames(dialer.takeOutput())).toEqual([{ kind: 'request', id: loginId, type: 'account.login', body: login }]);
  });

  it('the dialer refuses what it could not send: a minor above its own, an invalid body, too many', () => {
    const d = () => new ProtocolSession(withMinor(authFamily, 2), { side: 'dialer', gameVersion: '1.0.0', nowMs: 0 });
    expect(() => d().start(authHello.dialer as never, [{ type: 'account.login', body: login, minor: 3 }])).toThrow(/minor 3/);
    expect(() => d().start(authHello.dialer as never, [{ type: 'account.login', body: { method: 'guest', displayName: 7 } as never }])).toThrow(
      /invalid "account.login"/,
    );
    expect(() => d().start(authHello.dialer as never, [{ type: 'lobby.updated' as never, body: {} as never }])).toThrow(/cannot send request/);
    expect(() =>
      d().start(
        authHello.dialer as never,
        Array.from({ length: 5 }, () => ({ type: 'account.login' as const, body: login })),
      ),
    ).toThrow(/at most 4/);
  });

  it('time out like requests when the welcome never comes', () => {
    const p = makePair(authFamily, { dialer: { helloTimeoutMs: 60_000 } });
    const [id] = p.dialer.start(authHello.dialer as never, [{ type: 'account.login', body: login, timeoutMs: 1000 }]);
    p.dialer.takeOutput();
    p.dialer.tick(1000);
    expect(ofKind(p.dialer.takeEvents(), 'failure')).toEqual([expect.objectContaining({ id, code: 'timeout', local: true })]);
  });

  describe('from a hostile dialer', () => {
    const hello = (early: unknown) => ({ kind: 'hello', family: authFamily.name, protocol: authFamily.version, game: '1.0.0', body: {}, early });
    const listen = (env: unknown) => {
      const l = new ProtocolSession(authFamily, { side: 'listener', gameVersion: '1.0.0', nowMs: 0 });
      l.receive(encodeFrame(encode(env), 1 << 20));
      return l;
    };

    it('two early requests with one id close the connection before anything runs', () => {
      const l = listen(
        hello([
          { id: 1, type: 'account.login', body: login },
          { id: 1, type: 'account.logout', body: {} },
        ]),
      );
      const ev = l.takeEvents();
      expect(ofKind(ev, 'hello')).toHaveLength(0);
      expect(ofKind(ev, 'close')[0]).toMatchObject({ code: 'bad_request' });
    });

    it('more than four, or not a list of requests, is a malformed hello', () => {
      for (const early of [
        Array.from({ length: 5 }, (_, i) => ({ id: i + 1, type: 'account.login', body: login })),
        [],
        'x',
        [{ id: 0, type: 'account.login' }],
      ]) {
        const l = listen(hello(early));
        expect(ofKind(l.takeEvents(), 'close')[0]).toMatchObject({ code: 'malformed' });
      }
    });

    it('an unknown type or a bad body is answered with an error after the welcome, the connection stays open', () => {
      const l = listen(
        hello([
          { id: 1, type: 'lobby.updated', body: {} },
          { id: 2, type: 'account.login', body: { method: 'nope' } },
          { id: 3, type: 'account.login', body: login },
        ]),
      );
      expect(ofKind(l.takeEvents(), 'hello')[0]).toMatchObject({ early: 3 });
      l.acceptHello(authHello.listener as never);
      expect(ofKind(l.takeEvents(), 'request').map((r) => r.id)).toEqual([3]);
      const out = frames(l.takeOutput());
      expect(out.map((e) => [e.kind, e.id, e.code])).toEqual([
        ['welcome', undefined, undefined],
        ['error', 1, 'unknown_type'],
        ['error', 2, 'bad_request'],
      ]);
      expect(l.state).toBe('open');
    });
  });
});
