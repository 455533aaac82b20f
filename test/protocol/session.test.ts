import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { IyesmpError } from '../../src/errors.js';
import { authFamily, encodeFrame, gameVersionRange, hostctlFamily, hostFamily, ProtocolSession, type FamilyDef } from '../../src/protocol/index.js';
import { samples } from './fixtures.js';
import { makePair, ofKind, openPair } from './helpers.js';

const hostSamples = samples['iyesmp-host/1']!;
const raw = (value: unknown) => encodeFrame(encode(value), 1 << 20);
const withVersion = <F extends FamilyDef>(f: F, major: number, minor: number): F => ({ ...f, version: { major, minor } });

/** Decodes everything a session wrote, for asserting on what went over the wire. */
import { Deframer, MsgpackCodec, DEFAULT_CONTROL_LIMITS } from '../../src/protocol/index.js';
function wire(chunks: Uint8Array[]): Record<string, unknown>[] {
  const d = new Deframer(1 << 20);
  const codec = new MsgpackCodec(DEFAULT_CONTROL_LIMITS);
  return chunks
    .flatMap((c) => d.push(c).frames)
    .map((f) => {
      const r = codec.decode(f);
      if (!r.ok) throw new Error(r.reason);
      return r.value as Record<string, unknown>;
    });
}

describe('hello negotiation', () => {
  it('opens both sides and the lower minor wins', () => {
    for (const [dMinor, lMinor] of [
      [5, 2],
      [1, 4],
      [3, 3],
    ] as const) {
      const p = makePair(withVersion(hostFamily, 1, dMinor), {});
      // the listener uses its own copy of the family with its own minor
      const listener = new ProtocolSession(withVersion(hostFamily, 1, lMinor), { side: 'listener', gameVersion: '1.0.0', nowMs: 0 });
      p.dialer.start(hostSamples.hello.dialer as never);
      for (const c of p.dialer.takeOutput()) listener.receive(c);
      const hello = ofKind(listener.takeEvents(), 'hello')[0]!;
      expect(hello.protocol).toEqual({ major: 1, minor: Math.min(dMinor, lMinor) });
      listener.acceptHello(hostSamples.hello.listener as never);
      for (const c of listener.takeOutput()) p.dialer.receive(c);
      expect(p.dialer.state).toBe('open');
      expect(listener.state).toBe('open');
      expect(p.dialer.negotiated).toEqual({ major: 1, minor: Math.min(dMinor, lMinor) });
      expect(listener.negotiated).toEqual(p.dialer.negotiated);
    }
  });

  function refusedWith(dialerFamily: FamilyDef, listenerFamily: FamilyDef, opts: { dialerGame?: string; check?: ReturnType<typeof gameVersionRange> } = {}) {
    const dialer = new ProtocolSession(dialerFamily, { side: 'dialer', gameVersion: opts.dialerGame ?? '1.0.0', nowMs: 0 });
    const listener = new ProtocolSession(listenerFamily, {
      side: 'listener',
      gameVersion: '1.5.0',
      nowMs: 0,
      ...(opts.check ? { acceptGameVersion: opts.check } : {}),
    });
    dialer.start(samples[dialerFamily.name]!.hello.dialer as never);
    for (const c of dialer.takeOutput()) listener.receive(c);
    for (const c of listener.takeOutput()) dialer.receive(c);
    const dClose = ofKind(dialer.takeEvents(), 'close')[0];
    const lEvents = listener.takeEvents();
    expect(ofKind(lEvents, 'hello')).toHaveLength(0);
    expect(listener.state).toBe('closed');
    expect(dialer.state).toBe('closed');
    return { dClose: dClose!, lClose: ofKind(lEvents, 'close')[0]! };
  }

  it('refuses an older major as too old', () => {
    const { dClose, lClose } = refusedWith(withVersion(hostFamily, 0, 9), hostFamily);
    expect(dClose).toMatchObject({ code: 'version_too_old', by: 'peer' });
    expect(dClose.reason).toMatch(/too old/);
    expect(lClose).toMatchObject({ code: 'version_too_old', by: 'local' });
  });

  it('refuses a newer major as too new', () => {
    const { dClose } = refusedWith(withVersion(hostFamily, 2, 0), hostFamily);
    expect(dClose).toMatchObject({ code: 'version_too_new', by: 'peer' });
  });

  it('refuses a hello for another family', () => {
    const { dClose } = refusedWith(authFamily, hostFamily);
    expect(dClose.code).toBe('wrong_family');
    expect(dClose.reason).toContain('iyesmp-host/1');
  });

  it("applies the game's own version check", () => {
    const check = gameVersionRange({ min: '1.2.0', below: '2.0.0' });
    expect(refusedWith(hostFamily, hostFamily, { dialerGame: '1.1.9', check }).dClose.code).toBe('version_too_old');
    expect(refusedWith(hostFamily, hostFamily, { dialerGame: '2.0.0', check }).dClose.code).toBe('version_too_new');
    const p = makePair(hostFamily, { dialer: { gameVersion: '1.10.0' }, listener: { acceptGameVersion: check } });
    p.dialer.start(hostSamples.hello.dialer as never);
    p.flush();
    expect(ofKind(p.listenerEvents, 'hello')[0]!.peerGameVersion).toBe('1.10.0');
  });

  it('lets the dialer refuse a server whose game version it does not accept', () => {
    const p = makePair(hostFamily, { dialer: { acceptGameVersion: (v) => (v === '1.0.0' ? 'too_old' : 'ok') } });
    p.dialer.start(hostSamples.hello.dialer as never);
    p.flush();
    p.listener.acceptHello(hostSamples.hello.listener as never);
    p.flush();
    expect(ofKind(p.dialerEvents, 'close')[0]).toMatchObject({ code: 'version_too_old', by: 'local' });
    expect(ofKind(p.listenerEvents, 'close')[0]).toMatchObject({ code: 'version_too_old', by: 'peer' });
  });

  it('lets the listener refuse a hello (e.g. a bad session proof)', () => {
    const p = makePair(hostFamily);
    p.dialer.start(hostSamples.hello.dialer as never);
    p.flush();
    p.listener.refuseHello('not_allowed', 'unknown session');
    p.flush();
    expect(ofKind(p.dialerEvents, 'close')[0]).toEqual({ kind: 'close', code: 'not_allowed', reason: 'unknown session', by: 'peer' });
  });

  it('closes when a message arrives before the hello', () => {
    const l = new ProtocolSession(hostFamily, { side: 'listener', gameVersion: '1', nowMs: 0 });
    l.receive(raw({ kind: 'request', id: 1, type: 'player.ready', body: { ready: true } }));
    expect(l.closeInfo).toMatchObject({ code: 'hello_required', by: 'local' });
    expect(wire(l.takeOutput())).toEqual([{ kind: 'close', code: 'hello_required', reason: expect.any(String) }]);
  });

  it('closes a listener that gets no hello in time, and a dialer that gets no welcome', () => {
    const l = new ProtocolSession(hostFamily, { side: 'listener', gameVersion: '1', nowMs: 1000, helloTimeoutMs: 5000 });
    l.tick(5999);
    expect(l.state).toBe('hello');
    l.tick(6000);
    expect(l.closeInfo?.code).toBe('timeout');
    const d = new ProtocolSession(hostFamily, { side: 'dialer', gameVersion: '1', nowMs: 0, helloTimeoutMs: 100 });
    d.start(hostSamples.hello.dialer as never);
    d.tick(100);
    expect(d.closeInfo?.code).toBe('timeout');
  });

  it('refuses an invalid hello body with bad_request', () => {
    const l = new ProtocolSession(hostFamily, { side: 'listener', gameVersion: '1', nowMs: 0 });
    l.receive(raw({ kind: 'hello', family: 'iyesmp-host/1', protocol: { major: 1, minor: 0 }, game: '1', body: { sessionId: 5 } }));
    expect(l.closeInfo?.code).toBe('bad_request');
    expect(l.closeInfo?.reason).toMatch(/sessionId/);
  });
});

describe('requests and responses', () => {
  it('matches responses to requests even out of order', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    const ids = [1, 2, 3].map((n) => p.dialer.request('game.action', { ext: { n } }));
    p.flush();
    const reqs = ofKind(p.listenerEvents, 'request');
    expect(reqs.map((r) => r.body)).toEqual([{ ext: { n: 1 } }, { ext: { n: 2 } }, { ext: { n: 3 } }]);
    for (const r of [...reqs].reverse()) p.listener.respond(r.id, { ext: { answer: (r.body.ext as { n: number }).n * 10 } });
    p.flush();
    const res = ofKind(p.dialerEvents, 'response');
    expect(res.map((r) => r.id)).toEqual([...ids].reverse());
    for (const r of res) {
      const n = ids.indexOf(r.id) + 1;
      expect(r.body).toEqual({ ext: { answer: n * 10 } });
    }
    expect(p.dialer.pendingRequests).toBe(0);
  });

  it('times out pending requests through tick() and ignores late answers', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    const id = p.dialer.request('player.ready', { ready: true }, { timeoutMs: 1000 });
    p.dialer.request('game.action', {}, { timeoutMs: 5000 });
    p.flush();
    p.dialer.tick(999);
    expect(p.dialer.takeEvents()).toEqual([]);
    p.dialer.tick(1000);
    expect(p.dialer.takeEvents()).toEqual([{ kind: 'failure', id, type: 'player.ready', code: 'timeout', message: expect.any(String), local: true }]);
    expect(p.dialer.pendingRequests).toBe(1);
    const req = ofKind(p.listenerEvents, 'request')[0]!;
    p.listener.respond(req.id, {});
    p.flush();
    expect(p.dialerEvents).toEqual([]);
    expect(p.dialer.state).toBe('open');
  });

  it('reports its next deadline: the hello, then pending requests, none once idle or closed', () => {
    const p = makePair(hostFamily, { listener: { helloTimeoutMs: 7000 } });
    expect(p.listener.nextDeadline()).toBe(7000); // waiting for the hello
    expect(p.dialer.nextDeadline()).toBeUndefined(); // nothing sent yet
    p.dialer.start(hostSamples.hello.dialer as never);
    p.flush();
    p.listener.acceptHello(hostSamples.hello.listener as never);
    p.flush();
    expect(p.listener.nextDeadline()).toBeUndefined(); // open and idle: no clock needed
    expect(p.dialer.nextDeadline()).toBeUndefined();
    const id = p.dialer.request('game.action', {}, { timeoutMs: 5000 });
    p.dialer.request('player.ready', { ready: true }, { timeoutMs: 1000 });
    expect(p.dialer.nextDeadline()).toBe(1000);
    p.dialer.tick(1000);
    expect(p.dialer.nextDeadline()).toBe(5000);
    p.flush();
    const req = ofKind(p.listenerEvents, 'request').find((r) => r.type === 'game.action')!;
    p.listener.respond(req.id, {});
    p.flush();
    expect(ofKind(p.dialerEvents, 'response').map((r) => r.id)).toContain(id);
    expect(p.dialer.nextDeadline()).toBeUndefined();
    p.dialer.request('game.action', {}, { timeoutMs: 5000 });
    p.dialer.close('normal', 'bye');
    expect(p.dialer.nextDeadline()).toBeUndefined();
  });

  it('answers an unknown request type with unknown_type and carries on', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    p.listener.receive(raw({ kind: 'request', id: 77, type: 'lobby.create', body: {} }));
    p.listener.receive(raw({ kind: 'request', id: 78, type: 'constructor', body: {} }));
    // listener-only event types cannot be requested either
    expect(wire(p.listener.takeOutput())).toEqual([
      { kind: 'error', id: 77, code: 'unknown_type', message: expect.stringContaining('lobby.create') },
      { kind: 'error', id: 78, code: 'unknown_type', message: expect.any(String) },
    ]);
    expect(p.listener.state).toBe('open');
    p.dialer.request('player.ready', { ready: false });
    p.flush();
    expect(ofKind(p.listenerEvents, 'request')).toHaveLength(1);
  });

  it('request types named like Object members never reach a handler (issue 9, item 8)', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    // camelCase and underscores fail the envelope's type pattern; "constructor" passes it and is unknown (above)
    const names = ['toString', '__proto__', 'hasOwnProperty', 'valueOf'];
    names.forEach((type, i) => p.listener.receive(raw({ kind: 'request', id: 90 + i, type, body: {} })));
    expect(wire(p.listener.takeOutput())).toEqual(names.map((_, i) => ({ kind: 'error', id: 90 + i, code: 'bad_request', message: expect.any(String) })));
    expect(ofKind(p.listenerEvents, 'request')).toEqual([]);
    expect(p.listener.state).toBe('open');
  });

  it('answers a request with a malformed body or envelope with bad_request', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    p.listener.receive(raw({ kind: 'request', id: 5, type: 'player.ready', body: { ready: 'yes' } }));
    p.listener.receive(raw({ kind: 'request', id: 6, type: 42, body: {} }));
    const out = wire(p.listener.takeOutput());
    expect(out[0]).toMatchObject({ kind: 'error', id: 5, code: 'bad_request' });
    expect(out[0]!['message']).toMatch(/ready/);
    expect(out[1]).toMatchObject({ kind: 'error', id: 6, code: 'bad_request' });
    expect(p.listener.state).toBe('open');
    expect(ofKind(p.listener.takeEvents(), 'protocol_error')).toHaveLength(2);
  });

  it('replies busy beyond the in-flight limit', () => {
    const p = openPair(hostFamily, hostSamples.hello, { listener: { maxIncomingInFlight: 2 } });
    for (let i = 0; i < 3; i++) p.dialer.request('game.action', {});
    p.flush();
    expect(ofKind(p.listenerEvents, 'request')).toHaveLength(2);
    expect(ofKind(p.dialerEvents, 'failure')).toEqual([expect.objectContaining({ id: 3, code: 'busy', local: false })]);
  });

  it('closes after too many bad messages', () => {
    const p = openPair(hostFamily, hostSamples.hello, { listener: { maxPeerErrors: 3 } });
    for (let i = 1; i <= 4; i++) p.listener.receive(raw({ kind: 'request', id: i, type: 'nope', body: {} }));
    expect(p.listener.closeInfo?.code).toBe('too_many_errors');
  });

  it('closes on an unknown or invalid event (no id to answer)', () => {
    const a = openPair(hostFamily, hostSamples.hello);
    a.listener.receive(raw({ kind: 'event', type: 'game.begin', body: { order: [] } })); // host-only event
    expect(a.listener.closeInfo?.code).toBe('unknown_type');
    const b = openPair(hostFamily, hostSamples.hello);
    b.listener.receive(raw({ kind: 'event', type: 'game.msg', body: { seq: -1 } }));
    expect(b.listener.closeInfo?.code).toBe('bad_request');
  });

  it('closes on a duplicate in-flight request id', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    p.listener.receive(raw({ kind: 'request', id: 9, type: 'game.action', body: {} }));
    p.listener.receive(raw({ kind: 'request', id: 9, type: 'game.action', body: {} }));
    expect(p.listener.closeInfo?.code).toBe('bad_request');
  });

  it('delivers error replies as failures with the peer code', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    const id = p.dialer.request('player.ready', { ready: true });
    p.flush();
    p.listener.respondError(ofKind(p.listenerEvents, 'request')[0]!.id, 'not_allowed', 'the game has started');
    p.flush();
    expect(ofKind(p.dialerEvents, 'failure')).toEqual([
      { kind: 'failure', id, type: 'player.ready', code: 'not_allowed', message: 'the game has started', local: false },
    ]);
  });

  it('refuses to send an invalid response and keeps the request answerable', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    p.dialer.request('player.ready', { ready: true });
    p.flush();
    const req = ofKind(p.listenerEvents, 'request')[0]!;
    expect(() => p.listener.respond(req.id, { ready: 'x', ext: 1n })).toThrow(IyesmpError);
    p.listener.respondError(req.id, 'internal', 'internal error');
    p.flush();
    expect(ofKind(p.dialerEvents, 'failure')[0]?.code).toBe('internal');
  });

  it('refuses to send invalid or oversize messages locally', () => {
    const p = openPair(hostFamily, hostSamples.hello, { dialer: { limits: { maxFrameBytes: 1024 } } });
    expect(() => p.dialer.request('player.ready', { ready: 'maybe' } as never)).toThrow(/ready/);
    const err = (() => {
      try {
        p.dialer.notify('game.msg', { ext: 'x'.repeat(5000) });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(IyesmpError);
    expect((err as IyesmpError).code).toBe('frame_too_large');
  });

  it('fails pending requests when closing and tells the peer why', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    const id = p.dialer.request('game.action', {});
    p.dialer.close('normal', 'player quit');
    p.flush();
    expect(ofKind(p.dialerEvents, 'failure')).toEqual([expect.objectContaining({ id, code: 'closed', local: true })]);
    expect(ofKind(p.listenerEvents, 'close')).toEqual([{ kind: 'close', code: 'normal', reason: 'player quit', by: 'peer' }]);
    expect(() => p.dialer.request('game.action', {})).toThrow(/closed/);
  });

  it('fails pending requests when the transport goes away', () => {
    const p = openPair(hostFamily, hostSamples.hello);
    p.dialer.request('game.action', {});
    p.dialer.takeOutput();
    p.dialer.transportClosed('reset by peer');
    expect(p.dialer.takeEvents().map((e) => e.kind)).toEqual(['failure', 'close']);
    expect(p.dialer.takeOutput()).toEqual([]);
  });
});

describe('outgoing checks (checkOutgoing)', () => {
  /** What the dialer's `player.ready` request put on the wire, with `checkOutgoing` as given. */
  function answerWith(checkOutgoing: boolean | 'strict' | undefined, body: unknown): { sent?: Record<string, unknown>; thrown?: unknown } {
    const p = openPair(hostFamily, hostSamples.hello, checkOutgoing === undefined ? {} : { dialer: { checkOutgoing } });
    try {
      p.dialer.request('player.ready', body as never);
    } catch (thrown) {
      return { thrown };
    }
    const frames = wire(p.dialer.takeOutput());
    return { sent: frames.find((f) => f['kind'] === 'request')!['body'] as Record<string, unknown> };
  }

  it('by default checks each body and drops what its schema does not name', () => {
    expect(answerWith(undefined, { ready: true, secret: 'x' }).sent).toEqual({ ready: true });
    expect(answerWith(undefined, { ready: 'x' }).thrown).toBeInstanceOf(IyesmpError);
  });

  it('false: sends the body as given, without running the schema (still encoded and held to the frame limit)', () => {
    expect(answerWith(false, { ready: true }).sent).toEqual({ ready: true });
    // what a checked side refuses goes out unchecked: the sender's code answers for its bodies
    expect(answerWith(false, { ready: 'x' }).sent).toEqual({ ready: 'x' });
    const p = openPair(hostFamily, hostSamples.hello, { dialer: { checkOutgoing: false, limits: { maxFrameBytes: 1024 } } });
    expect(() => p.dialer.notify('game.msg', { ext: 'x'.repeat(5000) })).toThrow(/frame limit/);
  });

  it("'strict': also refuses a body with a key its schema would drop (which an unchecked side would send), nested or not", () => {
    expect(answerWith('strict', { ready: true }).sent).toEqual({ ready: true });
    expect(answerWith('strict', { ready: true, ext: { anything: 1 } }).sent).toEqual({ ready: true, ext: { anything: 1 } });
    expect(answerWith('strict', { ready: true, undef: undefined }).sent).toEqual({ ready: true });
    const top = answerWith('strict', { ready: true, secret: 'x' }).thrown as IyesmpError;
    expect(top).toBeInstanceOf(IyesmpError);
    expect(top.message).toMatch(/secret is not in its schema/);
    // nested in an array of objects: a session.create's expected players (hostctl, the Auth's side)
    const create = samples['iyesmp-hostctl/1']!.requests['session.create']!.request[0] as { players: Array<Record<string, unknown>> };
    const q = openPair(hostctlFamily, samples['iyesmp-hostctl/1']!.hello, { listener: { checkOutgoing: 'strict' } });
    expect(() => q.listener.request('session.create', create as never)).not.toThrow();
    const leaky = { ...create, players: [{ ...create.players[0], privateKeyPem: 'k' }] };
    expect(() => q.listener.request('session.create', leaky as never)).toThrow(/players\[0\]\.privateKeyPem is not in its schema/);
  });
});

describe('ext typing and validation', () => {
  const GameExt = z.object({ move: z.string().regex(/^[a-h][1-8][a-h][1-8]$/) }).or(z.object({ ok: z.boolean() }));
  type GameExt = z.output<typeof GameExt>;

  it('round-trips game ext data checked by the game schema', () => {
    const p = openPair<typeof hostFamily, GameExt>(hostFamily, hostSamples.hello, { extSchema: GameExt });
    p.dialer.request('game.action', { ext: { move: 'e2e4' } });
    p.flush();
    const req = ofKind(p.listenerEvents, 'request')[0]!;
    expect(req.body.ext).toEqual({ move: 'e2e4' });
    p.listener.respond(req.id, { ext: { ok: true } });
    p.flush();
    expect(ofKind(p.dialerEvents, 'response')[0]!.body).toEqual({ ext: { ok: true } });
  });

  it('answers bad_request when a peer sends ext the game schema refuses', () => {
    const p = openPair(hostFamily, hostSamples.hello, { listener: { extSchema: GameExt } });
    p.dialer.request('game.action', { ext: { move: 'z9z9' } });
    p.flush();
    expect(ofKind(p.listenerEvents, 'request')).toHaveLength(0);
    const f = ofKind(p.dialerEvents, 'failure')[0]!;
    expect(f.code).toBe('bad_request');
    expect(f.message).toMatch(/ext/);
  });

  it('refuses sending ext the game schema refuses', () => {
    const p = openPair<typeof hostFamily, GameExt>(hostFamily, hostSamples.hello, { extSchema: GameExt });
    expect(() => p.dialer.notify('game.msg', { ext: { move: 'nope' } })).toThrow(/ext/);
  });
});
