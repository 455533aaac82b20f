import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { IyesmpError } from '../../src/errors.js';
import {
  acceptBulkStream,
  authFamily,
  encodeFrame,
  hostFamily,
  openBulkStream,
  ProtocolConnection,
  ProtocolSession,
  RequestHandlers,
  type StreamPair,
} from '../../src/protocol/index.js';
import { samples } from './fixtures.js';
import { duplexPair } from '../support/duplex.js';
import { datagramLater, stall } from '../support/stall.js';
import { pollUntil } from '../support/wait.js';

const hostHello = samples['iyesmp-host/1']!.hello;
const authHello = samples['iyesmp-auth/1']!.hello;

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function connect(opts: { clock?: { now: number }; listenerErrors?: unknown[] } = {}) {
  const { client: a, server: b } = duplexPair();
  const now = opts.clock ? () => opts.clock!.now : undefined;
  const client = ProtocolConnection.dial(hostFamily, a, {
    gameVersion: '1.0.0',
    hello: { sessionId: 'ses-1', playerId: 'pl-1' },
    tickIntervalMs: 5,
    ...(now ? { now } : {}),
  });
  const host = ProtocolConnection.accept(hostFamily, b, {
    gameVersion: '1.0.0',
    tickIntervalMs: 5,
    onListenerError: (e) => opts.listenerErrors?.push(e),
    onHello: (hello) => ({ sessionId: hello.body.sessionId, state: 'waiting' as const, players: [] }),
    ...(now ? { now } : {}),
  });
  return { client, host };
}

describe('ProtocolConnection over WHATWG streams', () => {
  it('completes the hello and answers requests through handlers', async () => {
    const { client, host } = connect();
    host.handle('player.ready', (body) => ({ ext: { echoed: body.ready } }));
    const [cr, hr] = await Promise.all([client.ready, host.ready]);
    expect(cr.peerHello).toEqual({ sessionId: 'ses-1', state: 'waiting', players: [] });
    expect(hr.peerHello).toEqual({ sessionId: 'ses-1', playerId: 'pl-1' });
    await expect(client.request('player.ready', { ready: true })).resolves.toEqual({ ext: { echoed: true } });
    await client.close('normal', 'done');
  });

  it('matches out-of-order answers from async handlers', async () => {
    const { client, host } = connect();
    const gates = [deferred<void>(), deferred<void>(), deferred<void>()];
    host.handle('game.action', async (body) => {
      const n = (body.ext as { n: number }).n;
      await gates[n]!.promise;
      return { ext: { n } };
    });
    const results = [0, 1, 2].map((n) => client.request('game.action', { ext: { n } }));
    await new Promise((r) => setTimeout(r, 20));
    gates[2]!.resolve();
    await expect(results[2]).resolves.toEqual({ ext: { n: 2 } });
    gates[0]!.resolve();
    gates[1]!.resolve();
    await expect(Promise.all(results)).resolves.toEqual([{ ext: { n: 0 } }, { ext: { n: 1 } }, { ext: { n: 2 } }]);
    await client.close();
  });

  it('passes the code of an IyesmpError from another copy of the library (built package vs source)', async () => {
    /** what `iyesmp/protocol` from dist/ throws when the server runs from src/: same shape, another class */
    class OtherIyesmpError extends Error {
      constructor(
        readonly kind: string,
        readonly code: string,
        message: string,
      ) {
        super(message);
        this.name = 'IyesmpError';
      }
    }
    const { client, host } = connect({ listenerErrors: [] });
    host.handle('player.ready', () => {
      throw new OtherIyesmpError('refused', 'not_your_turn', 'it is not your turn');
    });
    host.handle('game.action', () => {
      // named like one, but no code: not trusted
      throw Object.assign(new Error('x at /secret/path'), { name: 'IyesmpError' });
    });
    expect(await client.request('player.ready', { ready: true }).catch((e: unknown) => e)).toMatchObject({
      code: 'not_your_turn',
      message: expect.stringContaining('it is not your turn'),
    });
    expect(await client.request('game.action', {}).catch((e: unknown) => e)).toMatchObject({
      code: 'internal',
      message: expect.not.stringContaining('secret'),
    });
    host.handle('player.ready', () => {
      throw new OtherIyesmpError('internal', 'db_down', 'the database at /secret is down');
    });
    expect(await client.request('player.ready', { ready: true }).catch((e: unknown) => e)).toMatchObject({ code: 'internal' });
    await client.close();
  });

  it('turns handler errors into error replies without crashing', async () => {
    const listenerErrors: unknown[] = [];
    const { client, host } = connect({ listenerErrors });
    host.handle('player.ready', () => {
      throw new IyesmpError('refused', 'not_allowed', 'the game has already started');
    });
    host.handle('game.action', async () => {
      throw new Error('database exploded at /secret/path');
    });
    const refused = await client.request('player.ready', { ready: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IyesmpError);
    expect(refused).toMatchObject({ kind: 'refused', code: 'not_allowed' });
    expect((refused as Error).message).toContain('the game has already started');
    const internal = await client.request('game.action', {}).catch((e: unknown) => e);
    expect(internal).toMatchObject({ code: 'internal' });
    expect((internal as Error).message).not.toContain('secret');
    expect(listenerErrors).toHaveLength(1);
    // still usable
    host.handle('player.ready', () => ({}));
    await expect(client.request('player.ready', { ready: false })).resolves.toEqual({});
    await client.close();
  });

  it('replies unknown_type for requests without a handler, and delivers events', async () => {
    const { client, host } = connect();
    const got: unknown[] = [];
    host.on('event', (ev) => got.push(ev));
    client.on('event', () => {
      throw new Error('listener bug'); // must not break the connection
    });
    await client.ready;
    await expect(client.request('player.ready', { ready: true })).rejects.toMatchObject({ code: 'unknown_type' });
    client.notify('game.msg', { channel: 'chat', ext: { text: 'hi' } });
    host.notify('game.msg', { ext: 'to client' });
    await client.request('game.action', {}).catch(() => {}); // a round trip orders the event before it
    expect(got).toEqual([{ kind: 'event', type: 'game.msg', body: { channel: 'chat', ext: { text: 'hi' } } }]);
    await client.close();
  });

  it('times out requests using the injected clock', async () => {
    const clock = { now: 1000 };
    const { client, host } = connect({ clock });
    host.handle('game.action', () => new Promise(() => {}));
    await client.ready;
    const pending = client.request('game.action', {}, { timeoutMs: 60_000 });
    const settled = pending.catch((e: unknown) => e);
    for (let i = 0; i < 1000 && client.session.pendingRequests === 0; i++) await new Promise((r) => setTimeout(r, 1));
    clock.now += 59_999;
    await new Promise((r) => setTimeout(r, 30)); // several ticks: not yet due
    expect(client.session.pendingRequests).toBe(1);
    clock.now += 1;
    const err = await settled;
    expect(err).toMatchObject({ kind: 'io', code: 'timeout' });
    await client.close();
  });

  it('answers with a shared handler table, each connection with its own target; handle() takes precedence', async () => {
    // one table for every connection of a kind instead of a closure per handler per connection
    const table = new RequestHandlers<typeof hostFamily, 'listener', { name: string }>()
      .on('player.ready', function (body) {
        return { ext: { by: this.name, ready: body.ready } };
      })
      .on('game.action', function () {
        return { ext: { by: this.name } };
      });
    const one = connect();
    const two = connect();
    one.host.handleWith(table, { name: 'one' });
    two.host.handleWith(table, { name: 'two' });
    two.host.handle('game.action', () => ({ ext: { by: 'own handler' } }));
    await Promise.all([one.client.ready, two.client.ready]);
    await expect(one.client.request('player.ready', { ready: true })).resolves.toEqual({ ext: { by: 'one', ready: true } });
    await expect(two.client.request('player.ready', { ready: false })).resolves.toEqual({ ext: { by: 'two', ready: false } });
    await expect(one.client.request('game.action', {})).resolves.toEqual({ ext: { by: 'one' } });
    await expect(two.client.request('game.action', {})).resolves.toEqual({ ext: { by: 'own handler' } });
    // an idle listener that never sent a request, used handle() or on() keeps no map or emitter for
    // them, and its session none for answered requests
    const fields = one.host as unknown as { waiting?: unknown; handlers?: unknown; events?: unknown };
    expect(fields.waiting).toBeUndefined();
    expect(fields.handlers).toBeUndefined();
    expect(fields.events).toBeUndefined();
    expect((one.host.session as unknown as { incoming?: unknown }).incoming).toBeUndefined();
    await Promise.all([one.client.close(), two.client.close()]);
  });

  it('holds a timer only while a deadline is pending, none while open and idle', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { client, host } = connect();
      expect(vi.getTimerCount()).toBe(2); // both sides wait for the hello exchange
      const gate = deferred<void>();
      host.handle('game.action', async () => {
        await gate.promise;
        return {};
      });
      await Promise.all([client.ready, host.ready]);
      expect(vi.getTimerCount()).toBe(0); // thousands of idle players must not each tick
      const answer = client.request('game.action', {});
      for (let i = 0; i < 1000 && client.session.pendingRequests === 0; i++) await Promise.resolve();
      expect(vi.getTimerCount()).toBe(1); // the request's timeout is watched
      gate.resolve();
      await answer;
      expect(vi.getTimerCount()).toBe(0);
      await client.close();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes with a reason on both sides and fails pending requests', async () => {
    const { client, host } = connect();
    host.handle('game.action', () => new Promise(() => {}));
    await client.ready;
    const pending = client.request('game.action', {}).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 10));
    const hostClosed = new Promise((r) => host.on('close', r));
    await host.close('normal', 'session over');
    expect(await hostClosed).toEqual({ code: 'normal', reason: 'session over', by: 'local' });
    expect(await client.closed).toEqual({ code: 'normal', reason: 'session over', by: 'peer' });
    expect(await pending).toMatchObject({ code: 'closed' });
  });

  it('rejects ready with the refusal code on version mismatch or a refused hello', async () => {
    const { client: a, server: b } = duplexPair();
    const client = ProtocolConnection.dial({ ...hostFamily, version: { major: 2, minor: 0 } }, a, { gameVersion: '1', hello: hostHello.dialer as never });
    ProtocolConnection.accept(hostFamily, b, { gameVersion: '1', onHello: () => hostHello.listener as never });
    await expect(client.ready).rejects.toMatchObject({ kind: 'refused', code: 'version_too_new' });

    const { client: c, server: d } = duplexPair();
    const client2 = ProtocolConnection.dial(authFamily, c, { gameVersion: '1', hello: authHello.dialer as never });
    const server = ProtocolConnection.accept(authFamily, d, {
      gameVersion: '1',
      onHello: () => {
        throw new IyesmpError('refused', 'update_required', 'this build is retired; update the game');
      },
    });
    await expect(client2.ready).rejects.toMatchObject({ code: 'update_required' });
    await expect(server.closed).resolves.toMatchObject({ code: 'update_required', by: 'local' });
  });

  it('closes a connection fed garbage, with a reason, without throwing', async () => {
    const { client: a, server: b } = duplexPair();
    const host = ProtocolConnection.accept(hostFamily, b, { gameVersion: '1', onHello: () => hostHello.listener as never });
    const w = a.writable.getWriter();
    await w.write(encodeFrame(new Uint8Array([0xc1, 0xc1]), 100));
    await expect(host.ready).rejects.toMatchObject({ code: 'malformed' });
    await expect(host.closed).resolves.toMatchObject({ code: 'malformed', by: 'local' });
  });

  it('reports protocol errors to onProtocolError, before the listeners of the event', async () => {
    const { client: a, server: b } = duplexPair();
    const seen: string[] = [];
    const host = ProtocolConnection.accept(hostFamily, b, {
      gameVersion: '1',
      onHello: () => hostHello.listener as never,
      onProtocolError: (e) => seen.push(`option ${e.code}`),
    });
    host.on('protocol_error', (e) => seen.push(`event ${e.code}`));
    const w = a.writable.getWriter();
    await w.write(encodeFrame(new Uint8Array([0xc1, 0xc1]), 100));
    await expect(host.closed).resolves.toMatchObject({ code: 'malformed' });
    expect(seen).toEqual(['option malformed', 'event malformed']);
  });

  it('validates ext with a game schema end to end', async () => {
    const Ext = z.object({ move: z.string().max(5) });
    const { client: a, server: b } = duplexPair();
    const client = ProtocolConnection.dial<typeof hostFamily, z.output<typeof Ext>>(hostFamily, a, {
      gameVersion: '1',
      hello: { sessionId: 's', playerId: 'p' },
    });
    const host = ProtocolConnection.accept<typeof hostFamily, z.output<typeof Ext>>(hostFamily, b, {
      gameVersion: '1',
      extSchema: Ext,
      onHello: () => ({ sessionId: 's', state: 'playing', players: [] }),
    });
    host.handle('game.action', (body) => ({ ext: { move: body.ext!.move.toUpperCase() } }));
    await expect(client.request('game.action', { ext: { move: 'e2e4' } })).resolves.toEqual({ ext: { move: 'E2E4' } });
    await expect(client.request('game.action', { ext: { move: 'far too long' } })).rejects.toMatchObject({ code: 'bad_request' });
    await client.close();
  });
});

describe('writes and timers (per-message cost)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A duplex whose dialer-side writable counts the writes it is handed. */
  function countedDuplex(): { pairs: [StreamPair, StreamPair]; writes: () => number } {
    const { client: a, server: b } = duplexPair();
    let writes = 0;
    const inner = a.writable.getWriter();
    const counted = new WritableStream<Uint8Array>({
      write: (chunk) => {
        writes++;
        return inner.write(chunk);
      },
      close: () => inner.close(),
      abort: (reason) => inner.abort(reason),
    });
    return { pairs: [{ readable: a.readable, writable: counted }, b], writes: () => writes };
  }

  it('sends the messages queued in one job as one write, in order', async () => {
    const { pairs, writes } = countedDuplex();
    const client = ProtocolConnection.dial(hostFamily, pairs[0], { gameVersion: '1', hello: { sessionId: 's', playerId: 'p' } });
    const host = ProtocolConnection.accept(hostFamily, pairs[1], {
      gameVersion: '1',
      onHello: () => ({ sessionId: 's', state: 'playing' as const, players: [] }),
    });
    const got: unknown[] = [];
    host.on('event', (e) => got.push(e.body));
    await Promise.all([client.ready, host.ready]);
    const before = writes();
    for (let i = 0; i < 5; i++) client.notify('game.msg', { ext: i });
    await client.flushed();
    // one write: over QUIC, one datagram instead of five
    expect(writes() - before).toBe(1);
    await client.request('game.action', {}).catch(() => {}); // a round trip orders the events before it
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => ({ ext: i })));
    await client.close();
  });

  it('a request made right after events, once ready, goes in the same write as they do', async () => {
    const { pairs, writes } = countedDuplex();
    const client = ProtocolConnection.dial(hostFamily, pairs[0], { gameVersion: '1', hello: { sessionId: 's', playerId: 'p' } });
    const host = ProtocolConnection.accept(hostFamily, pairs[1], {
      gameVersion: '1',
      onHello: () => ({ sessionId: 's', state: 'playing' as const, players: [] }),
    });
    host.handle('game.action', () => ({ ext: 'ok' }));
    await Promise.all([client.ready, host.ready]);
    const before = writes();
    // as a host link sends its held player events, then its results request, in one job
    client.notify('game.msg', { ext: 1 });
    const answer = client.request('game.action', {});
    await client.flushed();
    // one write (one datagram over QUIC): the request was not left for the next write
    expect(writes() - before).toBe(1);
    await expect(answer).resolves.toEqual({ ext: 'ok' });
    await client.close();
  });

  it('a login pipelined with the hello: one write each way, the welcome and its answer together', async () => {
    const { client: a, server: b } = duplexPair();
    /** The same writable, counting the writes it is handed. */
    const counted = (writable: WritableStream<Uint8Array>): { writes: number; writable: WritableStream<Uint8Array> } => {
      const inner = writable.getWriter();
      const c = { writes: 0, writable: undefined as unknown as WritableStream<Uint8Array> };
      c.writable = new WritableStream<Uint8Array>({
        write: (chunk) => {
          c.writes++;
          return inner.write(chunk);
        },
        close: () => inner.close(),
      });
      return c;
    };
    const dialerOut = counted(a.writable);
    const hostOut = counted(b.writable);
    const pairs = [
      { readable: a.readable, writable: dialerOut.writable },
      { readable: b.readable, writable: hostOut.writable },
    ] as const;
    const host = ProtocolConnection.accept(authFamily, pairs[1], { gameVersion: '1', onHello: () => authHello.listener as never });
    // an async handler, as the Auth's login is: a few awaits, no I/O
    host.handle('account.login', async (body) => {
      await Promise.resolve();
      await Promise.resolve();
      return { accountId: 'guest:1', displayName: body.method === 'guest' ? (body.displayName ?? 'x') : 'x', isNew: false };
    });
    const client = ProtocolConnection.dial(authFamily, pairs[0], {
      gameVersion: '1',
      hello: authHello.dialer as never,
      early: [{ type: 'account.login', body: { method: 'guest', displayName: 'Ada' } }],
    });
    await expect(client.early[0]).resolves.toMatchObject({ accountId: 'guest:1', displayName: 'Ada' });
    await client.ready;
    expect(dialerOut.writes).toBe(1);
    expect(hostOut.writes).toBe(1);
    await client.close();
  });

  it('keeps a timer only while the hello or a request can time out', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    const { client: a, server: b } = duplexPair();
    const client = ProtocolConnection.dial(hostFamily, a, { gameVersion: '1', hello: { sessionId: 's', playerId: 'p' }, tickIntervalMs: 10 });
    const host = ProtocolConnection.accept(hostFamily, b, { gameVersion: '1', onHello: () => ({ sessionId: 's', state: 'playing' as const, players: [] }) });
    expect(vi.getTimerCount()).toBe(2); // both hello deadlines
    await Promise.all([client.ready, host.ready]);
    // idle and open: nothing can expire, so nothing ticks (10,000 idle players cost no timer callbacks)
    expect(vi.getTimerCount()).toBe(0);
    host.handle('game.action', () => new Promise(() => {}));
    const settled = client.request('game.action', {}, { timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    // the pending request still times out, and then the timer goes away again
    await vi.advanceTimersByTimeAsync(100);
    expect(await settled).toMatchObject({ kind: 'io', code: 'timeout' });
    expect(vi.getTimerCount()).toBe(0);
    await client.close();
  });
});

describe('a request whose deadline passes during a stall of the event loop', () => {
  it('gets the answer that arrived in time, although its tick fired first', async () => {
    const { client, host } = connect();
    // the host answers once a datagram comes: the answer hinges on input read from a socket
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const peer = await datagramLater((sock.address() as AddressInfo).port, 'go', 50);
    try {
      let asked = false;
      host.handle('game.action', () => {
        asked = true;
        return new Promise((r) => sock.once('message', () => r({ ext: { answered: true } })));
      });
      await Promise.all([client.ready, host.ready]);
      const answer = client.request('game.action', {}, { timeoutMs: 100 });
      // the request is out and its deadline ticking before the loop stalls
      await pollUntil(() => asked, 'the request at the host', 1000, 1);
      await stall(300, peer.go); // the datagram comes at ~50 ms, the request's deadline passes at 100 ms
      await expect(answer).resolves.toEqual({ ext: { answered: true } });
    } finally {
      sock.close();
      await peer.close();
      await client.close();
    }
  });
});

describe('backpressure', () => {
  it('closes with busy when the peer stops reading, instead of queueing without bound', async () => {
    const { client: a, server: b } = duplexPair();
    const client = ProtocolConnection.dial(hostFamily, a, { gameVersion: '1', hello: hostHello.dialer as never, maxQueuedBytes: 4096 });
    // a hand-driven host that answers the hello and then never reads again
    const host = new ProtocolSession(hostFamily, { side: 'listener', gameVersion: '1', nowMs: 0 });
    const reader = b.readable.getReader();
    const writer = b.writable.getWriter();
    while (host.state === 'hello' && host.takeEvents().length === 0) {
      const { value } = await reader.read();
      host.receive(value!);
    }
    host.acceptHello(hostHello.listener as never);
    for (const c of host.takeOutput()) await writer.write(c);
    await client.ready;
    for (let i = 0; i < 100 && !client.session.closeInfo; i++) {
      client.notify('game.msg', { ext: 'x'.repeat(200) });
    }
    expect(client.session.closeInfo).toMatchObject({ code: 'busy', by: 'local' });
    await expect(client.closed).resolves.toMatchObject({ code: 'busy' });
  });

  it('flushed() resolves once queued frames were taken by the stream', async () => {
    const { client, host } = connect();
    const got: unknown[] = [];
    host.on('event', (e) => got.push(e));
    await client.ready;
    for (let i = 0; i < 50; i++) client.notify('game.msg', { seq: i });
    await client.flushed();
    expect(client.queued).toBe(0);
    await client.close();
  });
});

describe('bulk streams', () => {
  it('opens with a header naming purpose/session/channel, then carries opaque frames', async () => {
    const t = new TransformStream<Uint8Array, Uint8Array>();
    const reading = acceptBulkStream(t.readable, { family: 'iyesmp-host/1' });
    const w = await openBulkStream(t.writable, { family: 'iyesmp-host/1', purpose: 'game.state', sessionId: 'ses-1', channel: 'map-3' });
    const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(100_000).fill(7), new Uint8Array(0)];
    const writing = (async () => {
      for (const p of payloads) await w.write(p);
      await w.close();
    })();
    const { header, frames } = await reading;
    expect(header).toEqual({ kind: 'stream', family: 'iyesmp-host/1', purpose: 'game.state', sessionId: 'ses-1', channel: 'map-3' });
    const got: Uint8Array[] = [];
    for await (const f of frames) got.push(f);
    await writing;
    expect(got.length).toBe(payloads.length);
    got.forEach((g, i) => expect(Buffer.compare(g, payloads[i]!)).toBe(0));
  });

  it('refuses a stream whose header is not a bulk header', async () => {
    const t = new TransformStream<Uint8Array, Uint8Array>();
    const reading = acceptBulkStream(t.readable);
    const w = t.writable.getWriter();
    void w.write(encodeFrame(new TextEncoder().encode('not msgpack at all'), 1000)).catch(() => {});
    await expect(reading).rejects.toMatchObject({ code: 'malformed' });
  });
});
