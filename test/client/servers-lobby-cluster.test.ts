/**
 * A lobby in a cluster (src/auth/cluster.ts, docs/store.md "Lobbies"), against real Auth nodes and
 * a Host on loopback: two Auth nodes share the session records and the lobby store and talk over an
 * in-memory bus; node B leads (runs the matchmaker). A lobby lives on the node of the player who
 * made it (A); members connected to B join, ready and start it through B, which forwards each
 * request to A. A start from B runs on A (its hand-off too): every member gets the session offer,
 * those on B through the bus, and their claims go back to A. The host reports the game's end to any
 * node (here B, first in its list): the lobby, on A, must still close (B asks A to close it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import { MemorySessionStore } from '../../src/auth/sessions.js';
import { MemoryLobbyStore } from '../../src/auth/stores.js';
import type { AuthClient } from '../../src/client/index.js';
import type { HostServer } from '../../src/host/server.js';
import { HOLD_MODE as MODE, closeLive, devPki, guestAt, instantGame, startTwoNodes, type DevPki } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

let dev: DevPki;
let nodeA: AuthServer;
let nodeB: AuthServer;
let host: HostServer;
const open: AuthClient[] = [];

beforeAll(async () => {
  dev = await devPki('iyesmp-client-lobby-cluster-', new Date(Date.now() - 86_400_000));
  // node B leads; the host reports the ends of its sessions to B
  ({
    a: nodeA,
    b: nodeB,
    host,
  } = await startTwoNodes(dev, {
    leader: 'auth-b',
    reportsTo: 'auth-b',
    game: instantGame,
    auth: { sessionStore: new MemorySessionStore(), stores: { lobbies: new MemoryLobbyStore() } },
  }));
}, 120_000);

afterAll(async () => {
  await closeLive(open, [host, nodeB, nodeA], dev);
}, 30_000);

const player = (on: AuthServer) => guestAt(on, dev, open);

describe('a lobby whose members are on two Auth nodes (real servers)', () => {
  it('started by its owner on the other node: every member gets the session, they play, and the lobby closes', async () => {
    const [maker, onB1, onB2] = await Promise.all([player(nodeA), player(nodeB), player(nodeB)]);
    const { lobbyId } = await maker.lobbies.create({ name: 'two nodes', maxPlayers: 3, visibility: 'public', mode: MODE });
    expect(nodeA.lobbies.get(lobbyId)).toBeDefined();
    for (const m of [onB1, onB2]) {
      await m.lobbies.join(lobbyId);
      await m.lobbies.ready(lobbyId);
    }
    await maker.lobbies.ready(lobbyId);
    // the owner on B: its start goes to A, where the lobby lives
    await maker.lobbies.setOwner(lobbyId, onB1.id);
    await pollUntil(() => nodeA.lobbies.get(lobbyId)?.ownerId === onB1.id, 'the new owner', 10_000, 20);
    const members = [maker, onB1, onB2];
    const closed = members.map((m) => m.next('lobbyClosed', { filter: (c) => c.lobbyId === lobbyId, timeoutMs: 10_000 }));
    for (const c of closed) c.catch(() => undefined);
    await onB1.lobbies.start(lobbyId);
    const tickets = await Promise.all(members.map((m) => m.waitForHandoff({ lobbyId, timeoutMs: 20_000 })));
    expect(new Set(tickets.map((t) => t.sessionId)).size).toBe(1);
    const sessionId = tickets[0]!.sessionId;
    // A ran the hand-off: the session's record names the lobby
    expect((await nodeA.sessions.store.get(sessionId))?.origin).toEqual({ kind: 'lobby', id: lobbyId });
    const games = await Promise.all(members.map((m, i) => m.joinHost(tickets[i]!)));
    await Promise.all(games.map((g) => g.ready()));
    await Promise.all(games.map((g) => g.result));
    await pollUntil(async () => (await nodeA.sessions.store.get(sessionId))?.state === 'ended', "the host's report", 10_000, 20);
    // the lobby is over with its game: closed on A, every member told, wherever connected
    expect(await Promise.all(closed)).toHaveLength(3);
    expect(nodeA.lobbies.get(lobbyId)).toBeUndefined();
    // before: the lobby stayed in game on A, nobody was told, and its maker could make or join no other
    // lobby (lobby.already_in_lobby) until it left that one
    await expect(maker.lobbies.create({ name: 'again', maxPlayers: 2, visibility: 'public', mode: MODE })).resolves.toMatchObject({ ownerId: maker.id });
    await Promise.all(games.map((g) => g.close().catch(() => undefined)));
  }, 90_000);
});
