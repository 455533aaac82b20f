/**
 * Nothing a server sends may throw out of the client library: random bytes, random MsgPack,
 * envelopes with random types and bodies, before or after the hello, to the Auth client and to the
 * game-host client. Each run must end in a clear IyesmpError (a rejected call or a `close` event
 * with an error), never an exception, an unhandled rejection or a hang.
 */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthClient, GameSession } from '../../src/client/index.js';
import { IyesmpError } from '../../src/errors.js';
import { authFamily, encodeFrame, hostFamily, type StreamPair } from '../../src/protocol/index.js';
import { makePki, ScriptedPeer, wireHandoff, type PkiFixture } from './helpers.js';
import { duplexPair } from '../support/duplex.js';

const frame = (v: unknown): Uint8Array => encodeFrame(encode(v), 1 << 24);

const authEvents = Object.keys(authFamily.events);
const hostEvents = Object.keys(hostFamily.events);
const body = fc.oneof(
  fc.jsonValue(),
  fc.dictionary(
    fc.constantFrom('lobby', 'sessionId', 'players', 'order', 'ext', 'code', 'reason', 'matchId', 'ticketId', 'results', 'since', 'attempt', 'joinCode'),
    fc.jsonValue(),
  ),
  fc.uint8Array({ maxLength: 32 }),
);

/** One chunk of what a hostile or broken server might write. */
function chunk(eventTypes: string[]) {
  return fc.oneof(
    fc.uint8Array({ maxLength: 80 }), // raw bytes, maybe a bogus length prefix
    fc.jsonValue().map(frame), // MsgPack that is not an envelope
    fc.record({ kind: fc.constant('event'), type: fc.oneof(fc.constantFrom(...eventTypes), fc.string({ maxLength: 12 })), body }).map(frame),
    fc.record({ kind: fc.constant('response'), id: fc.integer({ min: 0, max: 3 }), body }).map(frame),
    fc
      .record({ kind: fc.constant('error'), id: fc.integer({ min: 0, max: 3 }), code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 20 }) })
      .map(frame),
    fc
      .record({ kind: fc.constantFrom('close', 'hello', 'welcome', 'request'), code: fc.string({ maxLength: 10 }), reason: fc.string({ maxLength: 10 }) })
      .map(frame),
    fc.constant(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), // 4 GB frame
  );
}

/** Everything that happens must be an IyesmpError; collects what did happen. */
function expectClean(errors: unknown[]): void {
  for (const e of errors) expect(e).toBeInstanceOf(IyesmpError);
}

let f: PkiFixture;
beforeAll(async () => {
  f = await makePki();
}, 60_000);
afterAll(async () => f?.cleanup());

describe('auth client decoding', () => {
  it('random server output after the hello ends in a clear error, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk(authEvents), { minLength: 1, maxLength: 6 }), async (chunks) => {
        const { client, server } = duplexPair();
        const peer = new ScriptedPeer(authFamily, server, { welcome: () => ({ serverName: 'fuzz', time: 1 }) });
        const c = await AuthClient.open(client, { gameVersion: '1.0.0', requestTimeoutMs: 5_000 });
        const errors: unknown[] = [];
        const closed = c.next('close');
        const login = c.login({ method: 'guest' }).then(
          () => undefined,
          (e: unknown) => void errors.push(e),
        );
        const offer = c.waitForHandoff().then(
          () => undefined,
          (e: unknown) => void errors.push(e),
        );
        for (const ch of chunks) await peer.raw(ch);
        await peer.end();
        const info = await closed;
        await Promise.all([login, offer]);
        if (info.error) errors.push(info.error);
        expect(c.closed).toBe(true);
        expectClean(errors);
        expect(errors.length).toBeGreaterThan(0);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('random bytes instead of a welcome reject the connect with an IyesmpError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk(authEvents), { maxLength: 4 }), async (chunks) => {
        const { client, server } = duplexPair();
        void drain(server);
        const w = server.writable.getWriter();
        const opened = AuthClient.open(client, { gameVersion: '1.0.0' }).then(
          (c) => c.close().then(() => 'opened'),
          (e: unknown) => e,
        );
        for (const ch of chunks) await w.write(ch).catch(() => undefined);
        await w.close().catch(() => undefined);
        const r = await opened;
        // a random stream cannot contain a valid welcome for this hello
        expect(r).toBeInstanceOf(IyesmpError);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('a hand-off with well-formed but unusable certificate bytes is refused as bad server data', async () => {
    const good = await wireHandoff(f.minter, { sessionId: 'S', playerId: 'p' });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), async (junk, asKey) => {
        const { client, server } = duplexPair();
        const peer = new ScriptedPeer(authFamily, server, { welcome: () => ({ serverName: 'fuzz', time: 1 }) });
        const c = await AuthClient.open(client, { gameVersion: '1.0.0' });
        const claimed = c.claim({ sessionId: 'S', needsPublicKey: !asKey }).catch((e: unknown) => e);
        const req = await peer.request('session.claim');
        const t = { ...(good['transport'] as Record<string, unknown>) };
        if (asKey) t['privateKey'] = junk;
        else {
          t['sessionCert'] = junk;
          delete t['privateKey'];
        }
        await peer.respond(req.id, { ...good, transport: t });
        const e = await claimed;
        expect(e).toBeInstanceOf(IyesmpError);
        expect((e as IyesmpError).code).toBe('bad_server_data');
        await c.close();
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});

describe('game-host client decoding', () => {
  it('random host output after the hello ends in a clear error or a clean end, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk(hostEvents), { minLength: 1, maxLength: 6 }), async (chunks) => {
        const { client, server } = duplexPair();
        const peer = new ScriptedPeer(hostFamily, server, { welcome: () => ({ sessionId: 'S', state: 'waiting', players: [] }) });
        const game = await GameSession.open(client, { sessionId: 'S', playerId: 'p' }, { gameVersion: '1.0.0', requestTimeoutMs: 5_000 });
        const errors: unknown[] = [];
        const closed = game.next('close');
        const ready = game.ready().catch((e: unknown) => void errors.push(e));
        const result = game.result.catch((e: unknown) => void errors.push(e));
        for (const ch of chunks) await peer.raw(ch);
        await peer.end();
        const info = await closed;
        await Promise.all([ready, result]);
        if (info.error) errors.push(info.error);
        expect(game.closed).toBe(true);
        expectClean(errors);
        // either the host ended the game properly or there is an error explaining why not
        expect(game.ended !== undefined || errors.length > 0).toBe(true);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

async function drain(pair: StreamPair): Promise<void> {
  const r = pair.readable.getReader();
  for (;;) {
    const { done } = await r.read().catch(() => ({ done: true }));
    if (done) return;
  }
}
