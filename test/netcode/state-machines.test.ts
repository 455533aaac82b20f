import { describe, expect, it } from 'vitest';
import {
  ClientState,
  PacketType,
  USER_DATA_BYTES,
  encryptConnectTokenPrivate,
  formatAddress,
  generateConnectToken,
  parseAddress,
  writeConnectToken,
  writeConnectTokenPrivate,
  writePacket,
} from '../../src/netcode/index.js';
import { KEY, PROTOCOL, SimNet } from './sim.js';

const S1 = '10.1.0.1:40000';
const S2 = '[2001:db8::1]:40001';
const connected =
  (n: SimNet, i = 0) =>
  () =>
    n.clients[i]!.core.state === ClientState.connected;
const typeOf = (d: { data: Uint8Array }) => d.data[0]! & 0xf;

describe('client and server cores on a simulated network', () => {
  it('connects, exchanges payloads both ways and reports client id, user data and address', () => {
    const n = new SimNet();
    const server = n.addServer(S1, 8);
    const c = n.addClient();
    const userData = new Uint8Array(Buffer.from('session=s1;player=p7'));
    n.connect(c, n.token([S1], { clientId: 99n, userData }));
    n.run(2, connected(n));
    expect(c.states).toEqual([ClientState.sendingConnectionRequest, ClientState.sendingConnectionResponse, ClientState.connected]);
    const [ev] = server.ofType('connect');
    expect(ev!.clientIndex).toBe(0);
    expect(ev!.clientId).toBe(99n);
    expect(Buffer.from(ev!.userData.subarray(0, userData.length)).toString()).toBe('session=s1;player=p7');
    expect(ev!.userData.length).toBe(256);
    expect(formatAddress(ev!.address)).toBe(formatAddress(c.address));
    expect(c.core.clientIndex).toBe(0);
    expect(c.core.maxClients).toBe(8);

    expect(c.core.sendPayload(Buffer.from('ping'))).toBe(true);
    n.pump();
    expect(server.ofType('payload').map((p) => Buffer.from(p.payload).toString())).toEqual(['ping']);
    expect(server.core.sendPayload(0, Buffer.from('pong'))).toBe(true);
    n.pump();
    expect(c.payloads).toEqual(['pong']);
    // idle for a while: keep-alives keep both sides up
    n.run(20);
    expect(c.core.state).toBe(ClientState.connected);
    expect(server.core.numConnectedClients).toBe(1);
  });

  it('works over IPv6 addresses', () => {
    const n = new SimNet();
    const server = n.addServer(S2);
    const c = n.addClient('fd00::5');
    n.connect(c, n.token([S2]));
    n.run(2, connected(n));
    expect(c.core.state).toBe(ClientState.connected);
    expect(server.ofType('connect')[0]!.address.family).toBe(6);
  });

  it('denies a client when the server is full (connection_denied)', () => {
    const n = new SimNet();
    const server = n.addServer(S1, 1);
    const a = n.addClient();
    const b = n.addClient('10.0.0.2');
    n.connect(a, n.token([S1], { clientId: 1n }));
    n.run(2, connected(n));
    n.connect(b, n.token([S1], { clientId: 2n }));
    n.run(2, () => b.core.state <= 0);
    expect(b.core.state).toBe(ClientState.connectionDenied);
    expect(server.core.numConnectedClients).toBe(1);
    expect(a.core.state).toBe(ClientState.connected);
  });

  it('moves to the next server after a denial', () => {
    const n = new SimNet();
    n.addServer(S1, 1);
    const second = n.addServer(S2, 1);
    const a = n.addClient();
    const b = n.addClient();
    n.connect(a, n.token([S1], { clientId: 1n }));
    n.run(2, connected(n));
    n.connect(b, n.token([S1, S2], { clientId: 2n }));
    n.run(3, connected(n, 1));
    expect(b.core.state).toBe(ClientState.connected);
    expect(formatAddress(b.core.serverAddress!)).toBe(S2);
    expect(second.ofType('connect')[0]!.clientId).toBe(2n);
  });

  it('times out sending requests when no server answers (connection_request_timed_out)', () => {
    const n = new SimNet();
    const c = n.addClient();
    n.connect(c, n.token([S1], { timeoutSeconds: 3 }));
    n.run(2.9);
    expect(c.core.state).toBe(ClientState.sendingConnectionRequest);
    // requests go out at 10 Hz
    const sent = n.log.filter((d) => typeOf(d) === PacketType.connectionRequest).length;
    expect(sent).toBeGreaterThanOrEqual(25);
    expect(sent).toBeLessThanOrEqual(31);
    n.run(1);
    expect(c.core.state).toBe(ClientState.connectionRequestTimedOut);
  });

  it('times out sending responses when the server never confirms (connection_response_timed_out)', () => {
    const n = new SimNet();
    n.addServer(S1);
    const c = n.addClient();
    n.filter = (d) => typeOf(d) !== PacketType.connectionResponse || d.data[0] === 0;
    n.connect(c, n.token([S1], { timeoutSeconds: 2 }));
    n.run(5, () => c.core.state <= 0);
    expect(c.states).toEqual([1, 2, ClientState.connectionResponseTimedOut]);
  });

  it('times out a connected client on both sides when traffic stops (connection_timed_out / timed_out)', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1], { timeoutSeconds: 2 }));
    n.run(2, connected(n));
    n.filter = () => false;
    n.run(1.5);
    expect(c.core.state).toBe(ClientState.connected);
    n.run(1);
    expect(c.core.state).toBe(ClientState.connectionTimedOut);
    expect(server.ofType('disconnect').map((e) => e.reason)).toEqual(['timed_out']);
    expect(server.core.numConnectedClients).toBe(0);
  });

  it('gives up when the token expires, with one window for the whole attempt (connect_token_expired)', () => {
    const n = new SimNet();
    const c = n.addClient();
    // two silent servers, 5 s timeout each, but only 8 s of token life in total
    n.connect(c, n.token([S1, S2], { expireSeconds: 8, timeoutSeconds: 5 }));
    n.run(7.9);
    expect(c.core.state).toBe(ClientState.sendingConnectionRequest);
    expect(formatAddress(c.core.serverAddress!)).toBe(S2);
    n.run(0.2);
    expect(c.core.state).toBe(ClientState.connectTokenExpired);
  });

  it('a server ignores requests whose token has expired by its wall clock', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    const old = generateConnectToken({
      privateKey: KEY,
      protocolId: PROTOCOL,
      clientId: 1n,
      publicServerAddresses: [S1],
      expireSeconds: 10,
      timeoutSeconds: 5,
      createTimestamp: n.unix - 20n,
    });
    n.connect(c, old);
    n.run(1);
    expect(server.core.drops.expired).toBeGreaterThan(0);
    expect(c.core.state).toBe(ClientState.sendingConnectionRequest);
  });

  it('rejects an unreadable token at once (invalid_connect_token)', () => {
    const n = new SimNet();
    const c = n.addClient();
    const t = n.token([S1]);
    t[0] = t[0]! ^ 1; // version string
    n.connect(c, t);
    expect(c.core.state).toBe(ClientState.invalidConnectToken);
    expect(n.log).toHaveLength(0);
    const c2 = n.addClient();
    n.connect(c2, new Uint8Array(100));
    expect(c2.core.state).toBe(ClientState.invalidConnectToken);
  });

  it('a token for another key or protocol never connects (the server ignores it)', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1], { privateKey: new Uint8Array(32).fill(9), timeoutSeconds: 1 }));
    n.run(2);
    expect(c.core.state).toBe(ClientState.connectionRequestTimedOut);
    expect(server.core.drops.decrypt_failed).toBeGreaterThan(0);
    const c2 = n.addClient();
    n.connect(c2, n.token([S1], { protocolId: PROTOCOL + 1n, timeoutSeconds: 1 }));
    n.run(2);
    expect(c2.core.state).toBe(ClientState.connectionRequestTimedOut);
    expect(server.core.drops.wrong_protocol).toBeGreaterThan(0);
  });

  it('ignores a token that does not list the server', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1], { internalServerAddresses: ['10.9.9.9:40000'], timeoutSeconds: 1 }));
    n.run(2);
    expect(c.core.state).toBe(ClientState.connectionRequestTimedOut);
    expect(server.core.drops.server_address_not_in_token).toBeGreaterThan(0);
  });

  it('client-initiated disconnect frees the slot (client_disconnect)', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1]));
    n.run(2, connected(n));
    c.core.disconnect(n.time);
    n.pump();
    expect(c.core.state).toBe(ClientState.disconnected);
    expect(n.log.filter((d) => typeOf(d) === PacketType.disconnect && d.from === c.address)).toHaveLength(10);
    expect(server.ofType('disconnect').map((e) => [e.reason, e.clientId])).toEqual([['client_disconnect', 42n]]);
    expect(server.core.numConnectedClients).toBe(0);
  });

  it('server-initiated disconnect ends in disconnected even when the token lists another server', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    n.addServer(S2);
    const c = n.addClient();
    n.connect(c, n.token([S1, S2]));
    n.run(2, connected(n));
    expect(server.core.disconnectClient(0)).toBe(true);
    n.run(0.5);
    expect(c.core.state).toBe(ClientState.disconnected);
    expect(server.ofType('disconnect').map((e) => e.reason)).toEqual(['server_disconnect']);
    expect(n.servers.get([...n.servers.keys()][1]!)!.events).toHaveLength(0);
  });

  it('ignores a second connection with the same client id, and a token replayed from another address', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const a = n.addClient();
    const b = n.addClient('10.0.0.9');
    const token = n.token([S1], { timeoutSeconds: 1 });
    n.connect(a, token);
    n.run(2, connected(n));
    n.connect(b, token); // same token (same client id) from another address
    n.run(2);
    expect(b.core.state).toBe(ClientState.connectionRequestTimedOut);
    expect(server.core.numConnectedClients).toBe(1);
    expect((server.core.drops.client_id_already_connected ?? 0) + (server.core.drops.token_already_used ?? 0)).toBeGreaterThan(0);
  });

  it('drops replayed payloads', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1]));
    n.run(2, connected(n));
    c.core.sendPayload(Buffer.from('once'));
    const [d] = c.core.takeDatagrams();
    n.deliver({ from: c.address, to: d!.to, data: d!.data });
    n.deliver({ from: c.address, to: d!.to, data: d!.data });
    n.pump();
    expect(server.ofType('payload')).toHaveLength(1);
  });

  it('precedes payloads with keep-alives until the client confirms', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1]));
    // deliver only until the server has connected the client, but hold back the client's traffic
    n.run(2, () => server.core.numConnectedClients === 1);
    n.filter = (d) => d.from !== c.address;
    server.core.sendPayload(0, Buffer.from('early'));
    const out = server.core.takeDatagrams().map(typeOf);
    expect(out).toEqual([PacketType.keepAlive, PacketType.payload]);
  });

  it('refuses timeout seconds 0 when generating a token', () => {
    expect(() =>
      generateConnectToken({ privateKey: KEY, protocolId: 1n, clientId: 1n, publicServerAddresses: [S1], expireSeconds: 30, timeoutSeconds: 0 }),
    ).toThrow(/never connect/);
  });

  it('a negative timeout disables timeouts', () => {
    const n = new SimNet();
    n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1], { timeoutSeconds: -1, expireSeconds: 100 }));
    n.run(2, connected(n));
    n.filter = () => false;
    n.run(30);
    expect(c.core.state).toBe(ClientState.connected);
  });
  it('denies a response when the last slot was taken after the challenge', () => {
    const n = new SimNet();
    const server = n.addServer(S1, 1);
    const a = n.addClient();
    const b = n.addClient('10.0.0.2');
    // both get challenges while the slot is free; hold b's responses until a has connected
    let holdB = true;
    n.filter = (d) => !(holdB && d.from === b.address && typeOf(d) === PacketType.connectionResponse && d.data[0] !== 0);
    n.connect(a, n.token([S1], { clientId: 1n }));
    n.connect(b, n.token([S1], { clientId: 2n }));
    n.run(2, () => a.core.state === ClientState.connected && b.core.state === ClientState.sendingConnectionResponse);
    expect(a.core.state).toBe(ClientState.connected);
    expect(b.core.state).toBe(ClientState.sendingConnectionResponse);
    holdB = false;
    n.run(1, () => b.core.state <= 0);
    expect(b.core.state).toBe(ClientState.connectionDenied);
    expect(server.core.numConnectedClients).toBe(1);
  });

  it('answers every retransmitted request with a fresh challenge (same token, same address)', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    const token = n.token([S1]);
    c.core.connect(token, n.time);
    n.run(0.01);
    const first = n.log.filter((d) => d.from === server.core.address);
    expect(first.map(typeOf)).toEqual([PacketType.connectionChallenge]);
    // replay the client's request twice more from the same address
    const req = n.log.find((d) => d.from === c.address)!;
    server.core.receive(req.data, c.address, n.time, n.unix);
    server.core.receive(req.data, c.address, n.time, n.unix);
    const out = server.core.takeDatagrams();
    expect(out.map(typeOf)).toEqual([PacketType.connectionChallenge, PacketType.connectionChallenge]);
    expect(Buffer.compare(out[0]!.data, out[1]!.data)).not.toBe(0);
    // the same request from another address is refused by the token history
    server.core.receive(req.data, parseAddress('10.0.0.77:5000'), n.time, n.unix);
    expect(server.core.takeDatagrams()).toEqual([]);
    expect(server.core.drops.token_already_used).toBe(1);
  });

  it('sends keep-alives at 10 Hz to an idle client', () => {
    const n = new SimNet();
    const server = n.addServer(S1);
    const c = n.addClient();
    n.connect(c, n.token([S1]));
    n.run(2, connected(n));
    const before = n.log.length;
    n.run(2);
    const ka = n.log.slice(before).filter((d) => d.from === server.core.address && typeOf(d) === PacketType.keepAlive).length;
    expect(ka).toBeGreaterThanOrEqual(18);
    expect(ka).toBeLessThanOrEqual(21);
  });

  it('discards payloads that arrive while the client is still sending responses', () => {
    const n = new SimNet();
    const c = n.addClient();
    n.connect(c, n.token([S1]));
    // drive the client to state 2 with a forged-by-us challenge under its own s2c key
    const token = c.core.connectToken!;
    const challenge = writePacket(
      { type: PacketType.connectionChallenge, challengeSequence: 0n, challengeToken: new Uint8Array(300) },
      1n << 63n,
      token.serverToClientKey,
      token.protocolId,
    );
    c.core.receive(challenge, parseAddress(S1), n.time);
    expect(c.core.state).toBe(ClientState.sendingConnectionResponse);
    const payload = writePacket({ type: PacketType.payload, payload: Buffer.from('early') }, 0n, token.serverToClientKey, token.protocolId);
    c.core.takeEvents();
    c.core.receive(payload, parseAddress(S1), n.time);
    expect(c.core.takeEvents()).toEqual([]);
    const ka = writePacket({ type: PacketType.keepAlive, clientIndex: 3, maxClients: 9 }, 1n, token.serverToClientKey, token.protocolId);
    c.core.receive(ka, parseAddress(S1), n.time);
    expect(c.core.state).toBe(ClientState.connected);
    expect([c.core.clientIndex, c.core.maxClients]).toEqual([3, 9]);
    // the discarded payload still used up its sequence number
    c.core.receive(payload, parseAddress(S1), n.time);
    expect(c.core.takeEvents().filter((e) => e.type === 'payload')).toEqual([]);
  });

  it('shows why timeout 0 is refused: such a token (made by hand) never connects', () => {
    const n = new SimNet();
    n.addServer(S1);
    const c = n.addClient();
    const addr = parseAddress(S1);
    const nonce = new Uint8Array(24).fill(4);
    const c2s = new Uint8Array(32).fill(5);
    const s2c = new Uint8Array(32).fill(6);
    const create = n.unix;
    const expire = create + 5n;
    const priv = writeConnectTokenPrivate({
      clientId: 1n,
      timeoutSeconds: 0,
      serverAddresses: [addr],
      clientToServerKey: c2s,
      serverToClientKey: s2c,
      userData: new Uint8Array(USER_DATA_BYTES),
    });
    const token = writeConnectToken({
      protocolId: PROTOCOL,
      createTimestamp: create,
      expireTimestamp: expire,
      nonce,
      privateData: encryptConnectTokenPrivate(priv, PROTOCOL, expire, nonce, KEY),
      timeoutSeconds: 0,
      serverAddresses: [addr],
      clientToServerKey: c2s,
      serverToClientKey: s2c,
    });
    n.connect(c, token);
    n.run(6, () => c.core.state <= 0);
    expect(c.states).toEqual([1, 2, ClientState.connectTokenExpired]);
  });
});
