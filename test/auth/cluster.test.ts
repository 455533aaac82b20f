// The coordination of several Auth nodes (src/auth/cluster.ts) over an in-memory bus: forwarded
// calls and their errors, relayed notices, and the hand-over of tickets to a new leader.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ClusterCoordinator, type ClusterHost, type ClusterOp } from '../../src/auth/cluster.js';
import { matchmakingError } from '../../src/auth/errors.js';
import { MemoryBus, Network } from '../support/memory-bus.js';

interface FakeNode {
  coord: ClusterCoordinator;
  performed: Array<{ op: ClusterOp; args: unknown[]; from: string }>;
  delivered: Array<{ playerId: string; type: string; body: unknown; older?: unknown }>;
  tookOver: string[];
}

function node(net: Network, name: string, players: string[] = [], perform?: ClusterHost['perform']): FakeNode {
  const n: FakeNode = { performed: [], delivered: [], tookOver: [], coord: undefined as never };
  let ids = 0;
  n.coord = new ClusterCoordinator(
    new MemoryBus(name, net),
    {
      logger: pino({ level: 'silent' }),
      perform:
        perform ??
        (async (op, args, from) => {
          n.performed.push({ op, args, from });
          return op === 'enqueue' ? { id: (args[0] as { req: { id?: string } }).req.id ?? `${name}-t${++ids}` } : {};
        }),
      deliverLocal: (playerId, _minMinor, type, body, older) => {
        if (!players.includes(playerId)) return false;
        n.delivered.push({ playerId, type, body, ...(older ? { older } : {}) });
        return true;
      },
      kickLocal: () => undefined,
      tookOverFrom: (previous) => n.tookOver.push(previous),
    },
    { callTimeoutMs: 2000 },
  );
  return n;
}

const req = (p: string) => ({ players: [p], mode: 'duel', matchSize: 2 });
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('ClusterCoordinator', () => {
  it('forwards a call to the leader and brings its error back with the code', async () => {
    const net = new Network();
    const a = node(net, 'a', [], async (op) => {
      if (op === 'cancel') throw matchmakingError.as('refused', 'mm.unknown_ticket', 'ticket t9 is not yours');
      return { id: 't1' };
    });
    const b = node(net, 'b');
    net.elect('a');
    await settle();
    expect(b.coord.isLeader).toBe(false);
    expect(await b.coord.enqueue({ req: req('p1'), displayNames: { p1: 'P1' } })).toEqual({ id: 't1' });
    await expect(b.coord.call('a', 'cancel', ['t9', 'p1'])).rejects.toMatchObject({ code: 'mm.unknown_ticket', kind: 'refused' });
    void a;
  });

  it('no leader: a clear error; a silent node: a timeout naming it', async () => {
    const net = new Network();
    const b = node(net, 'b');
    expect(() => b.coord.leaderOrThrow()).toThrow(expect.objectContaining({ code: 'cluster_no_leader' }));
    await expect(b.coord.call('ghost', 'accept', ['m', 'p'])).rejects.toMatchObject({ code: 'cluster_timeout' });
  }, 10_000);

  it('a relayed notice is delivered by the node holding the player; a session.ready teaches where its claims go', async () => {
    const net = new Network();
    const a = node(net, 'a', ['pa']);
    const b = node(net, 'b', ['pb']);
    net.elect('a');
    a.coord.relay('pb', 0, 'session.ready', { sessionId: 's1' });
    await settle();
    expect(b.delivered).toEqual([{ playerId: 'pb', type: 'session.ready', body: { sessionId: 's1' } }]);
    expect(a.delivered).toEqual([]);
    expect(b.coord.runsElsewhere('s1')).toBe(true);
    expect(b.coord.sessionNode('s1')).toBe('a');
    expect(a.coord.runsElsewhere('s1')).toBe(false);
  });

  it('a relayed notice carries what players older than its minimum minor get instead', async () => {
    const net = new Network();
    node(net, 'a', []);
    const b = node(net, 'b', ['pb']);
    net.elect('a');
    const older = { type: 'match.cancelled', body: { matchId: 't1', reason: 'in_session: ...', requeued: false } };
    node(net, 'c', []).coord.relay('pb', 2, 'match.dequeued', { ticketId: 't1', reason: '...' }, older);
    await settle();
    expect(b.delivered).toEqual([{ playerId: 'pb', type: 'match.dequeued', body: { ticketId: 't1', reason: '...' }, older }]);
  });

  it('a relayed session.handoff (1.3) teaches where a later claim of that session goes, and ends the forwarded ticket', async () => {
    const net = new Network();
    node(net, 'a', ['pa']);
    const b = node(net, 'b', ['pb']);
    net.elect('a');
    await settle();
    await b.coord.enqueue({ req: req('pb'), displayNames: { pb: 'PB' } });
    await b.coord.call('a', 'accept', ['m1', 'pb', { publicKey: new Uint8Array([1, 2]), address: '10.0.0.2' }]);
    node(net, 'c', []).coord.relay('pb', 3, 'session.handoff', { matchId: 'm1', handoff: { sessionId: 's2' } });
    await settle();
    expect(b.delivered.map((d) => d.type)).toEqual(['session.handoff']);
    expect(b.coord.sessionNode('s2')).toBe('c');
    // the ticket was matched: a new leader is not sent it again
    net.elect('b');
    await settle();
    expect(b.performed.filter((x) => x.op === 'enqueue')).toEqual([]);
  });

  it('a new leader gets the tickets its followers still wait on, under the same ids; a follower that takes the lead keeps them itself', async () => {
    const net = new Network();
    const a = node(net, 'a');
    const b = node(net, 'b');
    const c = node(net, 'c', ['pc']);
    net.elect('a');
    await settle();
    const t = await c.coord.enqueue({ req: req('pc'), displayNames: { pc: 'PC' } });
    expect(a.performed.map((x) => x.op)).toEqual(['enqueue']);
    // a dies; b leads: c sends its ticket again, same id
    net.buses.delete('a');
    net.elect('b');
    await settle();
    await settle();
    expect(b.performed).toEqual([{ op: 'enqueue', from: 'c', args: [{ req: { ...req('pc'), id: t.id }, displayNames: { pc: 'PC' } }] }]);
    expect(b.tookOver).toEqual(['a']);
    // b dies too; c leads: its own matchmaker takes the ticket
    net.buses.delete('b');
    net.elect('c');
    await settle();
    expect(c.performed.map((x) => [x.op, (x.args[0] as { req: { id: string } }).req.id, x.from])).toEqual([['enqueue', t.id, 'c']]);
    expect(c.tookOver).toEqual(['b']);
  });

  it('a ticket matched (session.ready) or cancelled is not sent to the next leader', async () => {
    const net = new Network();
    const a = node(net, 'a');
    const b = node(net, 'b', ['pb', 'pq']);
    net.elect('a');
    await settle();
    await b.coord.enqueue({ req: req('pb'), displayNames: {} });
    await b.coord.enqueue({ req: req('pq'), displayNames: {} });
    a.coord.relay('pb', 0, 'session.ready', { sessionId: 's2' });
    b.coord.forgetPlayer('pq');
    await settle();
    const c = node(net, 'c');
    net.elect('c');
    await settle();
    expect(c.performed).toEqual([]);
  });
});
