import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type {
  AuthResponse,
  AuthToClient,
  ClientToAuth,
  ClientToHost,
  HostToAuth,
  HostToClient,
  IncomingRequest,
  AuthFamily,
  ProtocolConnection,
  HostFamily,
} from '../../src/protocol/index.js';

/**
 * Type-level checks (vitest's expectTypeOf is erased at run time; `npx tsc -p test/protocol`
 * checks them). The run-time part only makes sure the file loads.
 */
interface ChessExt {
  fen?: string;
  move?: string;
}

describe('message types', () => {
  it('gives discriminated unions per family and direction, typed with the game ext', () => {
    type Login = Extract<ClientToAuth<ChessExt>, { type: 'account.login' }>;
    expectTypeOf<Login['kind']>().toEqualTypeOf<'request'>();
    expectTypeOf<Login['body']['method']>().toEqualTypeOf<'guest' | 'password' | 'token' | 'custom'>();
    expectTypeOf<Extract<Login['body'], { method: 'custom' }>['credentials']>().toExtend<Uint8Array>();
    expectTypeOf<Login['body']['ext']>().toEqualTypeOf<ChessExt | undefined>();

    // a client cannot send server events, and the server cannot send login
    expectTypeOf<Extract<ClientToAuth, { type: 'match.found' }>>().toBeNever();
    expectTypeOf<Extract<AuthToClient, { type: 'account.login' }>>().toBeNever();
    expectTypeOf<Extract<AuthToClient, { type: 'session.ready' }>['kind']>().toEqualTypeOf<'event'>();
    expectTypeOf<Extract<HostToAuth, { type: 'session.ended' }>['kind']>().toEqualTypeOf<'request'>();
    expectTypeOf<Extract<ClientToHost<ChessExt>, { type: 'game.msg' }>['body']['ext']>().toEqualTypeOf<ChessExt | undefined>();
    expectTypeOf<Extract<HostToClient<ChessExt>, { type: 'game.msg' }>['body']['ext']>().toEqualTypeOf<ChessExt | undefined>();

    type Handoff = AuthResponse<'session.claim'>;
    expectTypeOf<Handoff['transport']['kind']>().toEqualTypeOf<'quic' | 'netcode' | 'mqtt'>();
    expectTypeOf<Handoff['host']['address']['port']>().toEqualTypeOf<number>();
  });

  it('types the connection API per side', () => {
    type ClientConn = ProtocolConnection<HostFamily, 'dialer', ChessExt>;
    type Req = Parameters<ClientConn['request']>[0];
    expectTypeOf<Req>().toEqualTypeOf<'player.ready' | 'game.action'>();
    const use = async (c: ClientConn) => {
      const r = await c.request('game.action', { ext: { move: 'e4' } });
      expectTypeOf(r.ext).toEqualTypeOf<ChessExt | undefined>();
      // @ts-expect-error a client cannot send a host-only event
      c.notify('game.begin', { order: [] });
      // @ts-expect-error ext must have the game's type
      void c.request('game.action', { ext: { move: 5 } });
      // @ts-expect-error bodies are checked too
      void c.request('player.ready', { ready: 'yes' });
    };
    void use;
    type ServerIncoming = IncomingRequest<AuthFamily, 'listener', ChessExt>;
    expectTypeOf<ServerIncoming['type']>().toEqualTypeOf<
      | 'account.login'
      | 'account.logout'
      | 'account.register'
      | 'lobby.create'
      | 'lobby.list'
      | 'lobby.join'
      | 'lobby.leave'
      | 'lobby.ready'
      | 'lobby.start'
      | 'lobby.kick'
      | 'lobby.set_owner'
      | 'match.queue'
      | 'match.cancel'
      | 'match.confirm'
      | 'match.decline'
      | 'session.claim'
    >();
  });
});

describe('the docs/protocol.md ext example', () => {
  it('type-checks', async () => {
    const { IyesmpError, ProtocolConnection, gameVersionRange, hostFamily } = await import('../../src/protocol/index.js');
    const ChessExt = z.object({ move: z.string().regex(/^[a-h][1-8][a-h][1-8][qrbn]?$/) }).or(z.object({ fen: z.string().max(100) }));
    type ChessExt = z.output<typeof ChessExt>;
    const applyMove = (m: string) => `fen after ${m}`;
    const example = async (stream: import('../../src/protocol/index.js').StreamPair, sessionId: string, playerId: string) => {
      const host = ProtocolConnection.accept<typeof hostFamily, ChessExt>(hostFamily, stream, {
        gameVersion: '1.4.0',
        extSchema: ChessExt,
        acceptGameVersion: gameVersionRange({ min: '1.4.0', below: '2.0.0' }),
        onHello: ({ body }) => ({ sessionId: body.sessionId, state: 'waiting', players: [] }),
      });
      host.handle('game.action', (body) => {
        if (!body.ext || !('move' in body.ext)) throw new IyesmpError('refused', 'not_allowed', 'send a move');
        return { ext: { fen: applyMove(body.ext.move) } };
      });
      const client = ProtocolConnection.dial<typeof hostFamily, ChessExt>(hostFamily, stream, {
        gameVersion: '1.4.2',
        extSchema: ChessExt,
        hello: { sessionId, playerId },
      });
      await client.ready;
      const { ext } = await client.request('game.action', { ext: { move: 'e2e4' } }, { timeoutMs: 5000 });
      expectTypeOf(ext).toEqualTypeOf<ChessExt | undefined>();
    };
    void example;
  });
});
