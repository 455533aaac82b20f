import { describe, expect, it, vi } from 'vitest';
import { ClientState } from '../../src/netcode/constants.js';
import { deriveNetcodeClientId } from '../../src/netcode/handoff.js';
import { generateConnectToken } from '../../src/netcode/token.js';
import { netcodeExpectedPlayer } from '../../src/host/transports/netcode/seat.js';
import { HostTransport } from '../../src/protocol/families/hostctl.js';
import { formatAddress } from '../../src/netcode/address.js';
import { KEY, OTHER_KEY, PLAYER_IP, PROTOCOL, Player, createSession, ofType, perTestHosts, retry, token, until, type Host } from './helpers.js';

const { cleanup, host } = perTestHosts();

async function player(tokenBytes: Uint8Array): Promise<Player> {
  const p = await Player.connect(tokenBytes);
  cleanup.push(() => p.close());
  return p;
}

const status = (h: Host, sessionId: string, playerId: string) => h.table.session(sessionId)?.players.find((p) => p.playerId === playerId);

describe('netcode host transport: the happy path', () => {
  it('admits expected players, carries payloads both ways, and begins the game when all are ready', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice', 'bob']);
    // what the host registers is what the Auth server puts in tokens
    const endpoint = h.transport.endpoint();
    expect(HostTransport.parse(endpoint)).toEqual({ kind: 'netcode', address: { host: '127.0.0.1', port: h.transport.boundAddress.port } });
    const alice = await player(token(h, 's1', 'alice', { ext: new Uint8Array([7, 7]), host: { publicAddresses: [endpoint.address] } }));
    const bob = await player(token(h, 's1', 'bob'));
    expect(alice.connected && bob.connected).toBe(true);

    await until(() => ofType(h.events, 'admitted').length === 2, 15_000, 'two admissions');
    const admitted = ofType(h.events, 'admitted');
    expect(admitted.map((e) => e.playerId).sort()).toEqual(['alice', 'bob']);
    const a = admitted.find((e) => e.playerId === 'alice')!;
    expect(a.clientId).toBe(deriveNetcodeClientId('s1', 'alice'));
    expect(a.reconnect).toBe(false);
    expect([...a.ext]).toEqual([7, 7]);
    expect(
      ofType(h.tableEvents, 'player_admitted')
        .map((e) => e.connectionId)
        .sort(),
    ).toEqual(admitted.map((e) => e.connectionId).sort());
    expect(status(h, 's1', 'alice')?.status).toBe('connected');
    expect(h.transport.connections()).toHaveLength(2);

    // the admission broadcast the roster: each client has a status page with both players
    await until(() => alice.messages.some((m) => m.type === 'status' && m.players.length === 2), 15_000, 'status at alice');

    // client -> host game bytes arrive as a message event for the right seat
    await retry(
      () => alice.send({ type: 'game', data: new Uint8Array([1, 2, 3]) }),
      () => ofType(h.events, 'message').find((m) => m.playerId === 'alice'),
    );
    const msg = ofType(h.events, 'message').find((m) => m.playerId === 'alice')!;
    expect(msg.sessionId).toBe('s1');
    expect([...msg.data]).toEqual([1, 2, 3]);

    // host -> one player, and -> the session
    await retry(
      () => expect(h.transport.send({ sessionId: 's1', playerId: 'bob' }, new Uint8Array([9]))).toBe(true),
      () => bob.games().some((d) => d[0] === 9),
    );
    expect(alice.games().some((d) => d[0] === 9)).toBe(false);
    await retry(
      () => expect(h.transport.broadcast('s1', new Uint8Array([5, 5]))).toBe(2),
      () => alice.games().some((d) => d[0] === 5) && bob.games().some((d) => d[0] === 5),
    );
    expect(h.transport.send({ sessionId: 's1', playerId: 'nobody' }, new Uint8Array([1]))).toBe(false);

    // ready: alice alone does not begin the game; her repeat is answered with a status showing her ready
    await retry(
      () => alice.send({ type: 'ready' }),
      () => alice.messages.some((m) => m.type === 'status' && m.players.find((p) => p.playerId === 'alice')?.status === 'ready'),
    );
    expect(status(h, 's1', 'alice')?.status).toBe('ready');
    expect(ofType(h.tableEvents, 'game_begin')).toHaveLength(0);
    expect(ofType(h.events, 'control').every((c) => c.result.ok)).toBe(true);

    // bob ready: the domain begins the game and both clients are told
    await retry(
      () => bob.send({ type: 'ready' }),
      () => bob.messages.some((m) => m.type === 'begin'),
    );
    expect(ofType(h.tableEvents, 'game_begin')).toHaveLength(1);
    expect(h.table.session('s1')?.phase).toBe('in_game');
    await until(() => alice.messages.some((m) => m.type === 'begin'), 15_000, 'begin at alice');

    // a ready repeated after the start (its begin was lost, say) is answered with begin again
    const begins = alice.messages.filter((m) => m.type === 'begin').length;
    await retry(
      () => alice.send({ type: 'ready' }),
      () => alice.messages.filter((m) => m.type === 'begin').length > begins,
    );

    // leave: the domain departs alice, the transport says bye and disconnects her
    await retry(
      () => alice.send({ type: 'leave' }),
      () => alice.bye(),
    );
    expect(alice.bye()?.code).toBe('left');
    await alice.waitState(ClientState.disconnected);
    expect(status(h, 's1', 'alice')).toMatchObject({ status: 'left', departure: 'left' });
    const gone = ofType(h.events, 'disconnected');
    expect(gone.map((e) => [e.playerId, e.reason])).toEqual([['alice', 'server_disconnect']]);
    expect(h.transport.connection({ sessionId: 's1', playerId: 'alice' })).toBeUndefined();
    expect(h.table.load().players).toBe(1);
  });

  it('closes every connection with session_ended when the session is cancelled', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice', 'bob']);
    const alice = await player(token(h, 's1', 'alice'));
    const bob = await player(token(h, 's1', 'bob'));
    await until(() => ofType(h.events, 'admitted').length === 2);
    h.table.cancel('s1', ++h.nowMs.value, 'operator');
    await alice.waitState(ClientState.disconnected);
    await bob.waitState(ClientState.disconnected);
    expect(alice.bye()?.code).toBe('session_ended');
    expect(bob.bye()?.code).toBe('session_ended');
    expect(h.transport.server.core.numConnectedClients).toBe(0);
    expect(h.transport.connections()).toHaveLength(0);
  });

  it('disconnect() closes a connection and the player may come back within the grace', { timeout: 60_000 }, async () => {
    const h = await host({ reconnectGraceMs: 60_000 });
    createSession(h, 's1', ['alice']);
    const first = await player(token(h, 's1', 'alice'));
    await until(() => ofType(h.events, 'admitted').length === 1);
    expect(h.transport.disconnect({ sessionId: 's1', playerId: 'alice' }, 'maintenance', 'please reconnect')).toBe(true);
    await first.waitState(ClientState.disconnected);
    expect(first.bye()).toEqual({ type: 'bye', code: 'maintenance', message: 'please reconnect' });
    expect(status(h, 's1', 'alice')?.status).toBe('expected');

    const again = await player(token(h, 's1', 'alice'));
    expect(again.connected).toBe(true);
    const back = await until(() => ofType(h.events, 'admitted')[1]);
    expect(back.reconnect).toBe(true);
    expect(status(h, 's1', 'alice')?.status).toBe('connected');
  });
});

describe('netcode host transport: the table decides departures', () => {
  it('a player who does not confirm ready in time gets bye ready_timeout and is disconnected', { timeout: 60_000 }, async () => {
    const h = await host();
    h.table.create(
      {
        sessionId: 's1',
        transport: 'netcode',
        players: [netcodeExpectedPlayer('s1', { playerId: 'alice', address: PLAYER_IP }), netcodeExpectedPlayer('s1', { playerId: 'bob', address: PLAYER_IP })],
        minPlayers: 1,
        readyTimeoutMs: 1000,
      },
      0,
    );
    const alice = await player(token(h, 's1', 'alice'));
    await until(() => ofType(h.events, 'admitted').length === 1);
    h.nowMs.value = 5000;
    h.table.tick(h.nowMs.value); // the host's own tick: alice's ready deadline has passed (bob still has until 30 s)
    await alice.waitState(ClientState.disconnected);
    expect(alice.bye()?.code).toBe('ready_timeout');
    expect(status(h, 's1', 'alice')).toMatchObject({ status: 'left', departure: 'ready_timeout' });
    expect(ofType(h.events, 'disconnected')[0]?.reason).toBe('server_disconnect');
    expect(h.transport.server.core.numConnectedClients).toBe(0);
  });
});

describe('netcode host transport: refusals', () => {
  async function refused(h: Host, tokenBytes: Uint8Array) {
    const p = await player(tokenBytes);
    // the client connects at the netcode level, then hears why and is disconnected
    await p.waitState(ClientState.disconnected);
    const e = await until(() => ofType(h.events, 'refused')[0]);
    return { player: p, event: e };
  }

  it('refuses a token for a session this host does not run', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const { player: p, event } = await refused(h, token(h, 'other-session', 'alice'));
    expect(event).toMatchObject({ reason: 'unknown_session', sessionId: 'other-session', playerId: 'alice' });
    expect(p.bye()?.code).toBe('unknown_session');
    expect(ofType(h.tableEvents, 'admission_refused')[0]?.reason).toBe('unknown_session');
    expect(ofType(h.events, 'admitted')).toHaveLength(0);
    expect(h.transport.server.core.numConnectedClients).toBe(0);
  });

  it('refuses a player the session does not expect', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const { player: p, event } = await refused(h, token(h, 's1', 'mallory'));
    expect(event.reason).toBe('not_expected');
    expect(p.bye()?.code).toBe('not_expected');
    expect(h.table.session('s1')?.players[0]?.status).toBe('expected');
  });

  it("refuses a token whose client id is not the seat's", { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const { player: p, event } = await refused(h, token(h, 's1', 'alice', { clientId: 42n }));
    expect(event.reason).toBe('wrong_client_id');
    expect(p.bye()?.code).toBe('wrong_client_id');
    expect(event.message).toContain('client id 42');
  });

  it('refuses a token for an ended session', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    // another live session keeps the players' address announced, so the datagrams get past the filter
    createSession(h, 's2', ['bob']);
    h.table.cancel('s1', 1);
    const { event } = await refused(h, token(h, 's1', 'alice'));
    expect(event.reason).toBe('session_ended');
  });

  it('refuses a token for a session on another transport', { timeout: 60_000 }, async () => {
    const h = await host();
    const r = h.table.create(
      { sessionId: 'q1', transport: 'quic', players: [{ playerId: 'alice', address: { ip: '127.0.0.1' }, fingerprint: 'ab'.repeat(32), displayName: 'A' }] },
      0,
    );
    expect(r.ok).toBe(true);
    const { event } = await refused(h, token(h, 'q1', 'alice'));
    expect(event.reason).toBe('wrong_transport');
  });

  it('refuses a token whose user data is not an iyesmp seat', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const raw = generateConnectToken({
      privateKey: KEY,
      protocolId: PROTOCOL,
      clientId: deriveNetcodeClientId('s1', 'alice'),
      publicServerAddresses: [formatAddress(h.transport.boundAddress)],
      expireSeconds: 30,
      timeoutSeconds: 5,
      userData: new Uint8Array(Buffer.from('s1/alice')),
    });
    const { event } = await refused(h, raw);
    expect(event.reason).toBe('not_session_token');
    expect(event.sessionId).toBeUndefined();
  });

  it('enforces the announced address only when asked to', { timeout: 60_000 }, async () => {
    const h = await host({}, true);
    // the Auth server announced 192.0.2.1 for alice; her token is used from 127.0.0.1, which it announced for bob
    const seat = netcodeExpectedPlayer('s1', { playerId: 'alice', address: '192.0.2.1' });
    const bob = netcodeExpectedPlayer('s1', { playerId: 'bob', address: PLAYER_IP });
    expect(h.table.create({ sessionId: 's1', transport: 'netcode', players: [seat, bob] }, 0).ok).toBe(true);
    const { event } = await refused(h, token(h, 's1', 'alice'));
    expect(event.reason).toBe('wrong_address');
  });

  it('never admits an expired token or one sealed with another key', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const expired = new Player();
    cleanup.push(() => expired.close());
    expired.client.connect(token(h, 's1', 'alice', { unixNow: now - 120n, expireSeconds: 60, timeoutSeconds: 1 }));
    const forged = new Player();
    cleanup.push(() => forged.close());
    forged.client.connect(token(h, 's1', 'alice', { privateKey: OTHER_KEY, timeoutSeconds: 1 }));
    expect(await expired.client.waitUntilSettled(20_000)).toBeLessThan(ClientState.disconnected);
    expect(await forged.client.waitUntilSettled(20_000)).toBeLessThan(ClientState.disconnected);
    const drops = h.transport.server.core.drops;
    expect(drops.expired ?? 0).toBeGreaterThan(0);
    expect(drops.decrypt_failed ?? 0).toBeGreaterThan(0);
    expect(h.events).toHaveLength(0);
    expect(h.table.session('s1')?.players[0]?.status).toBe('expected');
  });

  it('keeps one connection per client id: a second token for a connected seat does not get in', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    const first = await player(token(h, 's1', 'alice'));
    await until(() => ofType(h.events, 'admitted').length === 1);
    const firstConnection = h.transport.connection({ sessionId: 's1', playerId: 'alice' })!.connectionId;

    const second = new Player();
    cleanup.push(() => second.close());
    second.client.connect(token(h, 's1', 'alice', { timeoutSeconds: 1 }));
    expect(await second.client.waitUntilSettled(20_000)).toBeLessThan(ClientState.disconnected);
    expect(h.transport.server.core.drops.client_id_already_connected ?? 0).toBeGreaterThan(0);
    expect(ofType(h.events, 'admitted')).toHaveLength(1);
    expect(first.connected).toBe(true);
    expect(h.transport.connection({ sessionId: 's1', playerId: 'alice' })?.connectionId).toBe(firstConnection);
  });
});

describe('netcode host transport: timeouts', () => {
  it('a silent player times out: the netcode slot and the session slot are freed and the domain sees the leave', { timeout: 60_000 }, async () => {
    const h = await host({ reconnectGraceMs: 0 });
    createSession(h, 's1', ['alice', 'bob'], { minPlayers: 1 });
    const alice = await player(token(h, 's1', 'alice', { timeoutSeconds: 1 }));
    await player(token(h, 's1', 'bob'));
    await until(() => ofType(h.events, 'admitted').length === 2);
    expect(h.table.load().players).toBe(2);

    // alice's client stops sending; after her token's 1 s timeout the host drops her (bob keeps talking)
    alice.clock.freeze();
    const gone = await until(() => ofType(h.events, 'disconnected').find((e) => e.playerId === 'alice'));
    expect(gone.reason).toBe('timed_out');
    expect(status(h, 's1', 'alice')).toMatchObject({ status: 'left', departure: 'connection_lost' });
    expect(h.table.load().players).toBe(1);
    expect(h.transport.connection({ sessionId: 's1', playerId: 'alice' })).toBeUndefined();
    // bob's client kept sending, so only alice's slot is free
    expect(h.transport.server.core.clients().map((c) => c.clientId)).toEqual([deriveNetcodeClientId('s1', 'bob')]);
  });

  it('within the reconnect grace a timed-out player comes back as a reconnect', { timeout: 60_000 }, async () => {
    const h = await host({ reconnectGraceMs: 600_000 });
    createSession(h, 's1', ['alice']);
    const alice = await player(token(h, 's1', 'alice'));
    await until(() => ofType(h.events, 'admitted').length === 1);
    alice.clock.freeze();
    h.clock.offset = 30;
    await until(() => ofType(h.events, 'disconnected').length === 1);
    expect(status(h, 's1', 'alice')?.status).toBe('expected');
    expect(h.table.load().players).toBe(1);

    await player(token(h, 's1', 'alice'));
    const back = await until(() => ofType(h.events, 'admitted')[1]);
    expect(back.reconnect).toBe(true);
    expect(status(h, 's1', 'alice')?.status).toBe('connected');
  });
});

describe('netcode host transport: drop first', () => {
  it('drops every datagram from a source no live session expects before netcode parses it; only the explicit opt-out lets it through', {
    timeout: 60_000,
  }, async () => {
    // the Auth server announced 192.0.2.1 for alice; her (valid) token is used from 127.0.0.1
    const seat = () => [netcodeExpectedPlayer('s1', { playerId: 'alice', address: '192.0.2.1' })];
    const h = await host();
    expect(h.transport.dropsUnannounced).toBe(true);
    expect(h.table.create({ sessionId: 's1', transport: 'netcode', players: seat() }, 0).ok).toBe(true);
    expect(h.transport.allowList.entries()).toEqual(['192.0.2.1']);
    const receive = vi.spyOn(h.transport.server.core, 'receive');
    const thief = new Player();
    cleanup.push(() => thief.close());
    thief.client.connect(token(h, 's1', 'alice'));
    await until(() => h.transport.allowList.stats().dropped >= 3, 15_000, 'drops');
    expect(receive).not.toHaveBeenCalled();
    expect(h.transport.server.core.drops).toEqual({});
    expect(h.transport.allowList.stats()).toMatchObject({ passed: 0, lastDroppedFrom: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(h.events).toEqual([]);
    expect(thief.connected).toBe(false);

    // drop_unannounced = false: the token alone decides (enforceAddress stays off)
    const open = await host({}, false, false);
    expect(open.transport.dropsUnannounced).toBe(false);
    expect(open.table.create({ sessionId: 's1', transport: 'netcode', players: seat() }, 0).ok).toBe(true);
    await player(token(open, 's1', 'alice'));
    await until(() => ofType(open.events, 'admitted').length === 1);
    expect(open.transport.allowList.stats()).toMatchObject({ passed: 0, dropped: 0 });
  });

  it('lets the announced player in, and drops its address again once its session ends', { timeout: 60_000 }, async () => {
    const h = await host();
    createSession(h, 's1', ['alice']);
    expect(h.transport.allowList.entries()).toEqual([PLAYER_IP]);
    const alice = await player(token(h, 's1', 'alice'));
    expect(alice.connected).toBe(true);
    await until(() => ofType(h.events, 'admitted').length === 1);
    expect(h.transport.allowList.stats()).toMatchObject({ dropped: 0 });
    expect(h.transport.allowList.stats().passed).toBeGreaterThan(0);

    h.table.cancel('s1', 1);
    await alice.waitState(ClientState.disconnected);
    expect(h.transport.allowList.entries()).toEqual([]);
    const receive = vi.spyOn(h.transport.server.core, 'receive');
    const dropped = h.transport.allowList.stats().dropped;
    const late = new Player();
    cleanup.push(() => late.close());
    late.client.connect(token(h, 's1', 'alice'));
    await until(() => h.transport.allowList.stats().dropped >= dropped + 3, 15_000, 'drops after the end');
    expect(receive).not.toHaveBeenCalled();
    expect(late.connected).toBe(false);
  });
});
