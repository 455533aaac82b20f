/**
 * The client library against real Auth and Host servers on loopback with a netcode.io game mode:
 * two players matchmake, the Auth server hands off connect tokens, `joinHost` joins the host's
 * netcode transport, both get ready, the game begins, bytes are relayed between the players, and
 * the host game's end reaches both players and the Auth server's records. A second game mode on
 * the same servers stays on QUIC.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostGame } from '../../src/host/game.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';
import { pollUntil as until } from '../support/wait.js';

const T = 90_000;
const KEY = randomBytes(32);
const PROTOCOL = 0x1234n;
const END = 0xff;

let live: LiveServers<Uint8Array>;

/** A relay: bytes from one player go to the others; a player sending [0xff] ends the game as its win. */
const relay: HostGame<Uint8Array> = {
  begin(session) {
    session.on('message', ({ playerId, ext }) => {
      if (!(ext instanceof Uint8Array)) return;
      if (ext.length === 1 && ext[0] === END) {
        session.end({ outcomes: Object.fromEntries(session.players.map((p) => [p.playerId, { result: p.playerId === playerId ? 'win' : 'loss' }])) });
        return;
      }
      session.broadcast({ ext }, { except: playerId });
    });
  },
};

beforeAll(async () => {
  live = await startLiveServers<Uint8Array>({
    prefix: 'iyesmp-client-netcode-',
    gameVersion: '1.0.0',
    options: () => ({
      auth: {
        modeTransports: { brawl: 'netcode' },
        netcode: { privateKey: KEY, protocolId: PROTOCOL, expireSeconds: 30, timeoutSeconds: 10 },
        matchSize: 2,
      },
      host: { netcode: { privateKey: KEY, protocolId: PROTOCOL, bind: '127.0.0.1:0', maxClients: 16 } },
    }),
    game: relay,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

const player = (name: string) => live.player(name);

describe('client library against real servers over netcode.io', () => {
  it(
    'matchmakes into a netcode mode, joins with the connect token and plays to a recorded result',
    async () => {
      const [a, b] = await Promise.all([player('ada'), player('bob')]);
      const [ta, tb] = await Promise.all([a.matchmake({ mode: 'brawl', timeoutMs: 30_000 }), b.matchmake({ mode: 'brawl', timeoutMs: 30_000 })]);
      expect(ta.transport).toBe('netcode');
      expect(ta.connectToken).toHaveLength(2048);
      expect(ta.sessionId).toBe(tb.sessionId);
      expect(ta.host.port).toBe(live.host!.netcode!.endpoint().address.port);

      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      live.open.push(ga, gb);
      expect(ga.transport).toBe('netcode');
      expect(ga.state).toBe('waiting');
      expect(ga.players.map((p) => p.playerId).sort()).toEqual([ta.playerId, tb.playerId].sort());

      const begun = Promise.all([ga.waitForBegin({ timeoutMs: 30_000 }), gb.waitForBegin({ timeoutMs: 30_000 })]);
      await Promise.all([ga.ready(), gb.ready()]);
      const [ba] = await begun;
      expect([...ba.order].sort()).toEqual([ta.playerId, tb.playerId].sort());

      // ada's bytes reach bob through the host's relay (repeated: datagrams may be lost)
      const got: number[] = [];
      gb.on('message', (m) => got.push(m.ext![0]!));
      await until(() => (ga.send(new Uint8Array([7])), got.includes(7)), 'bob to hear ada');

      const ends = Promise.all([ga.result, gb.result]);
      await until(() => (ga.closed || ga.send(new Uint8Array([END])), ga.closed), 'the game to end');
      const [ea, eb] = await ends;
      expect(ea.reason).toBe('completed');
      expect(eb.reason).toBe('completed');
      const record = await until(() => live.ended.find((r) => r.id === ta.sessionId), 'the auth server to record the result');
      expect(record.state).toBe('ended');
      await until(() => gb.closed, 'bob to be let go');
    },
    T,
  );

  it(
    'a mode without a netcode transport still hands off QUIC on the same servers',
    async () => {
      const [a, b] = await Promise.all([player('cy'), player('di')]);
      const [ta, tb] = await Promise.all([a.matchmake({ mode: 'duel', timeoutMs: 30_000 }), b.matchmake({ mode: 'duel', timeoutMs: 30_000 })]);
      expect(ta.transport).toBe('quic');
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      live.open.push(ga, gb);
      expect(ga.transport).toBe('quic');
      await Promise.all([ga.ready(), gb.ready()]);
      await ga.waitForBegin({ timeoutMs: 30_000 });
      const ends = Promise.all([ga.result, gb.result]);
      ga.send(new Uint8Array([END]));
      const [ea] = await ends;
      expect(ea.results.find((r) => r.playerId === ta.playerId)?.outcome).toBe('win');
    },
    T,
  );
});
