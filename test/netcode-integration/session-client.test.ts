import { describe, expect, it } from 'vitest';
import { ClientState } from '../../src/netcode/constants.js';
import { NetcodeSessionClient } from '../../src/netcode/session/session-client.js';
import { OTHER_KEY, createSession, ofType, perTestHosts, token, until } from './helpers.js';

const { cleanup, host } = perTestHosts();

function client(playerId: string): NetcodeSessionClient {
  const c = new NetcodeSessionClient({ playerId });
  cleanup.push(() => c.close());
  return c;
}

describe('NetcodeSessionClient against NetcodeHostTransport', () => {
  it('connects, readies, sees the roster and the begin, exchanges game bytes and leaves', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice', 'bob']);
    const alice = client('alice');
    const bob = client('bob');
    await alice.connect(token(h, 's1', 'alice'));
    await bob.connect(token(h, 's1', 'bob'));

    await alice.setReady(true);
    expect(alice.roster?.players.find((p) => p.playerId === 'alice')?.status).toBe('ready');
    expect(alice.begun).toBe(false);
    await alice.setReady(false);
    expect(h.table.session('s1')?.players.find((p) => p.playerId === 'alice')?.status).toBe('connected');

    await Promise.all([alice.waitForBegin(), bob.waitForBegin()]);
    expect(h.table.session('s1')?.phase).toBe('in_game');
    expect(ofType(h.tableEvents, 'game_begin')).toHaveLength(1);

    const got: number[] = [];
    alice.on('game', (d) => got.push(d[0]!));
    const heard: string[] = [];
    h.transport.on('netcode', (e) => {
      if (e.type === 'message') heard.push(`${e.playerId}:${e.data[0]}`);
    });
    // UDP: repeat until seen, as a game would for anything it needs to arrive
    await until(() => (h.transport.send({ sessionId: 's1', playerId: 'alice' }, new Uint8Array([42])), got.includes(42)));
    await until(() => (bob.send(new Uint8Array([7])), heard.includes('bob:7')));

    await alice.leave();
    expect(alice.bye?.code).toBe('left');
    await until(() => alice.udp.state === ClientState.disconnected);
    expect(h.table.session('s1')?.players.find((p) => p.playerId === 'alice')?.departure).toBe('left');
  });

  it("a refused seat rejects setReady with the host's reason", { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const mallory = client('mallory');
    await mallory.connect(token(h, 's1', 'mallory'));
    await expect(mallory.setReady(true)).rejects.toMatchObject({ code: 'not_expected' });
    expect(mallory.bye?.code).toBe('not_expected');
  });

  it('a token the host cannot open fails connect with the netcode state as the code', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const alice = client('alice');
    await expect(alice.connect(token(h, 's1', 'alice', { privateKey: OTHER_KEY, timeoutSeconds: 1 }))).rejects.toMatchObject({
      code: 'netcode_connection_request_timed_out',
    });
  });
});
