import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/host/address.js';
import { HostDomain } from '../../src/host/host-domain.js';
import { ResultsOutbox } from '../../src/host/outbox.js';
import { SessionTable } from '../../src/host/session-table.js';
import type { ExpectedPlayer } from '../../src/host/types.js';
import { driven, fp, sessionPeer } from './helpers.js';

// a small world so random commands collide often: shared IPs (NAT), some exact ports
const IPS = ['10.0.0.1', '10.0.0.2', '2001:db8::1'];
const PLAYERS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
const SESSIONS = ['s0', 's1', 's2', 's3'];

const expected = (i: number, ipIdx: number, withPort: boolean): ExpectedPlayer => ({
  playerId: PLAYERS[i]!,
  address: withPort ? { ip: IPS[ipIdx]!, port: 40000 + i } : { ip: IPS[ipIdx]! },
  fingerprint: fp(PLAYERS[i]!),
  displayName: PLAYERS[i]!,
});

// mostly short steps so games get going, sometimes long ones so deadlines pass
const dt = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 200 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 4000 }) });
const idx = (n: number) => fc.nat({ max: n - 1 });

const command = fc.oneof(
  fc.record({
    op: fc.constant('create' as const),
    dt,
    s: idx(SESSIONS.length),
    players: fc.uniqueArray(fc.record({ i: idx(PLAYERS.length), ip: idx(IPS.length), port: fc.boolean() }), {
      minLength: 1,
      maxLength: 4,
      selector: (p) => p.i,
    }),
    min: fc.nat({ max: 3 }),
    readyTimeout: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
    waitForAll: fc.boolean(),
  }),
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('admit' as const),
      dt,
      // most attempts come from a player some session expects, the rest are arbitrary
      known: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
      s: idx(SESSIONS.length),
      p: idx(PLAYERS.length),
      ip: fc.oneof(fc.constant(-1), idx(IPS.length)), // -1: the player's own IP
      port: fc.oneof(fc.constant(-1), fc.integer({ min: 40000, max: 40006 })), // -1: the player's own port
      goodFp: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constantFrom('ready' as const, 'ready' as const, 'ready' as const, 'unready' as const, 'leave' as const, 'close' as const),
      dt,
      c: fc.nat(),
      // usually a connection that is currently bound, sometimes any id ever used
      live: fc.boolean(),
    }),
  },
  fc.record({ op: fc.constant('remove' as const), dt, s: idx(SESSIONS.length), p: idx(PLAYERS.length) }),
  fc.record({ op: fc.constantFrom('end' as const, 'cancel' as const), dt, s: idx(SESSIONS.length) }),
  fc.record({ op: fc.constant('tick' as const), dt }),
);

type Cmd = typeof command extends fc.Arbitrary<infer T> ? T : never;

/** Drive a table with random commands, asserting the invariants after each. */
function run(cmds: Cmd[], grace: number) {
  const t = new SessionTable({ maxSessions: 3, maxPlayers: 8, joinTimeoutMs: 3000, reconnectGraceMs: grace });
  const mirror = new Set<string>(); // rebuilt from allow/revoke events only
  const minOf = new Map<string, number>();
  let begins = 0;
  // the driver's part: take what each command queued, in order
  const drain = (): void => {
    for (const e of t.allowList.takeEvents()) {
      if (e.type === 'allow') {
        expect(mirror.has(e.key)).toBe(false);
        mirror.add(e.key);
      } else {
        expect(mirror.delete(e.key)).toBe(true);
      }
    }
    for (const e of t.takeEvents()) {
      if (e.type !== 'game_begin') continue;
      begins++;
      // no session begins with an unready player, nor with fewer than its minimum
      const present = e.roster.filter((p) => p.status !== 'left');
      expect(present.every((p) => p.status === 'ready')).toBe(true);
      expect(present.length).toBeGreaterThanOrEqual(Math.max(1, minOf.get(e.sessionId) ?? 1));
    }
  };
  const conns: string[] = [];
  let now = 0;
  let sourcePort = 50000;
  const playerSpec = new Map<string, ExpectedPlayer>(); // last spec announced per session/player
  for (const c of cmds) {
    now += c.dt;
    switch (c.op) {
      case 'create': {
        const players = c.players.map((p) => expected(p.i, p.ip, p.port));
        const min = c.min === 0 ? undefined : Math.min(c.min, players.length);
        const r = t.create(
          {
            sessionId: SESSIONS[c.s]!,
            transport: 'quic',
            players,
            ...(min !== undefined ? { minPlayers: min } : {}),
            ...(c.readyTimeout !== undefined ? { readyTimeoutMs: c.readyTimeout } : {}),
            waitForAll: c.waitForAll,
          },
          now,
        );
        if (r.ok) {
          minOf.set(SESSIONS[c.s]!, min ?? players.length);
          for (const p of players) playerSpec.set(`${SESSIONS[c.s]}/${p.playerId}`, p);
        }
        break;
      }
      case 'admit': {
        let sid = SESSIONS[c.s]!;
        let pid = PLAYERS[c.p]!;
        const live = t.sessions().flatMap((v) => v.players.map((p) => [v.sessionId, p.playerId] as const));
        let ipChoice = c.ip;
        let portChoice = c.port;
        let goodFp = c.goodFp;
        if (c.known !== undefined && live.length > 0) {
          [sid, pid] = live[c.known % live.length]!;
          ipChoice = -1;
          portChoice = -1;
          goodFp = true;
        }
        const own = playerSpec.get(`${sid}/${pid}`);
        const ip = ipChoice === -1 ? (own?.address.ip ?? IPS[0]!) : IPS[ipChoice]!;
        const port = portChoice === -1 ? (own?.address.port ?? sourcePort++) : portChoice;
        const id = `c${conns.length}`;
        conns.push(id);
        const r = t.admit({ source: { ip, port }, peer: sessionPeer(sid, pid, goodFp ? fp(pid) : fp('forged')), connectionId: id }, now);
        if (r.ok) {
          // admission implies: right fingerprint, allowed source
          expect(goodFp).toBe(true);
          expect(t.allowList.allows({ ip, port })).toBe(true);
        }
        break;
      }
      case 'ready':
      case 'unready':
      case 'leave':
      case 'close': {
        const bound = conns.filter((id) => t.connection(id) !== undefined);
        const pool = c.live && bound.length > 0 ? bound : conns;
        if (pool.length === 0) break;
        const id = pool[c.c % pool.length]!;
        if (c.op === 'ready') t.ready(id, now);
        else if (c.op === 'unready') t.unready(id, now);
        else if (c.op === 'leave') t.leave(id, now);
        else t.connectionClosed(id, now);
        break;
      }
      case 'remove':
        t.removePlayer(SESSIONS[c.s]!, PLAYERS[c.p]!, now);
        break;
      case 'end': {
        const v = t.session(SESSIONS[c.s]!);
        t.end(SESSIONS[c.s]!, { outcomes: Object.fromEntries((v?.players ?? []).map((p) => [p.playerId, { result: 'draw' }])) }, now);
        break;
      }
      case 'cancel':
        t.cancel(SESSIONS[c.s]!, now);
        break;
      case 'tick':
        t.tick(now);
        break;
    }
    drain();
    checkInvariants(t, mirror);
  }
  return { begins };
}

function checkInvariants(t: SessionTable, mirror: Set<string>) {
  const sessions = t.sessions();
  // the allow-list is exactly the addresses of expected-and-not-departed players of live sessions
  const want = new Map<string, number>();
  for (const s of sessions) for (const p of s.players) if (p.status !== 'left') want.set(addressKey(p.address), (want.get(addressKey(p.address)) ?? 0) + 1);
  expect(t.allowList.keys()).toEqual(new Set(want.keys()));
  for (const [k, n] of want) expect(t.allowList.refCount(sessions.flatMap((s) => s.players).find((p) => addressKey(p.address) === k)!.address)).toBe(n);
  expect(mirror).toEqual(t.allowList.keys());
  // capacity is never exceeded
  const load = t.load();
  expect(load.sessions).toBeLessThanOrEqual(load.maxSessions);
  expect(load.players).toBeLessThanOrEqual(load.maxPlayers);
  for (const s of sessions) {
    expect(s.phase).not.toBe('ended');
    for (const p of s.players) {
      // connected/ready players hold exactly one bound connection; others none
      if (p.status === 'connected' || p.status === 'ready') {
        expect(p.connectionId).toBeDefined();
        expect(t.connection(p.connectionId!)).toEqual({ sessionId: s.sessionId, playerId: p.playerId });
      } else expect(p.connectionId).toBeUndefined();
      // in game, nobody who never arrived is still expected
      if (s.phase === 'in_game' && p.status !== 'left') expect(p.admitted).toBe(true);
      if (s.phase === 'readying' && p.status === 'ready') expect(p.admitted).toBe(true);
    }
  }
}

describe('session table invariants under random command sequences', () => {
  it('holds with a reconnect grace', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 80 }), (cmds) => {
        run(cmds, 2000);
      }),
      { numRuns: 300 },
    );
  });

  it('holds when a lost connection means leaving at once', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 80 }), (cmds) => {
        run(cmds, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('the generator reaches game begin (the invariants are not vacuous)', () => {
    const samples = fc.sample(fc.array(command, { minLength: 40, maxLength: 80 }), { numRuns: 200, seed: 42 });
    const total = samples.reduce((n, cmds) => n + run(cmds, 2000).begins, 0);
    expect(total).toBeGreaterThan(20);
  });
});

const outboxOp = fc.oneof(
  fc.record({ op: fc.constant('enqueue' as const), kind: fc.constantFrom('result' as const, 'telemetry' as const) }),
  fc.record({ op: fc.constantFrom('up' as const, 'down' as const, 'send' as const), server: fc.constantFrom('a', 'b') }),
  fc.record({ op: fc.constant('ack' as const), server: fc.constantFrom('a', 'b'), pick: fc.nat() }),
  fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
);

describe('results outbox under random connectivity', () => {
  it('never loses an item while it has room, drops only when full (telemetry first), and delivers everything kept', () => {
    fc.assert(
      fc.property(
        fc.array(outboxOp, { maxLength: 120 }),
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom('any' as const, 'all' as const),
        (ops, capacity, delivery) => {
          const delivered = new Set<string>();
          const dropped = new Set<string>();
          const kinds = new Map<string, 'result' | 'telemetry'>();
          // the outbox's ids as of the event being delivered (the outbox itself has already taken the whole call)
          const queued = new Set<string>();
          const { core: o } = driven(new ResultsOutbox<number>({ capacity, delivery, ackTimeoutMs: 1000, retry: { random: () => 0.5 } }), (e) => {
            if (e.type === 'added') return void queued.add(e.item.id);
            queued.delete(e.id);
            if (e.type === 'delivered') delivered.add(e.id);
            else {
              // a result goes only when no telemetry is left to sacrifice
              if (e.kind === 'result') expect([...queued].some((id) => kinds.get(id) === 'telemetry')).toBe(false);
              dropped.add(e.id);
            }
          });
          o.addServer('a');
          o.addServer('b');
          const sent: Record<string, string[]> = { a: [], b: [] };
          let now = 0;
          let n = 0;
          for (const op of ops) {
            if (op.op === 'enqueue') {
              const id = `i${n++}`;
              kinds.set(id, op.kind);
              const before = o.size;
              const droppedBefore = o.dropped;
              o.enqueue({ id, kind: op.kind, body: n }, now);
              if (before < capacity) expect(o.dropped).toBe(droppedBefore); // room: nothing lost
            } else if (op.op === 'up') o.onConnected(op.server, now);
            else if (op.op === 'down') o.onDisconnected(op.server, now);
            else if (op.op === 'send') {
              for (const item of o.pending(op.server, now)) {
                o.markSent(op.server, item.id, now);
                sent[op.server]!.push(item.id);
              }
            } else if (op.op === 'ack') {
              const list = sent[op.server]!;
              if (list.length > 0) o.ack(op.server, list[op.pick % list.length]!, now);
            } else if (op.op === 'wait') now += op.ms;
            // every item ever queued is in exactly one place
            for (const id of kinds.keys()) {
              const places = [delivered.has(id), dropped.has(id), o.has(id)].filter(Boolean).length;
              expect(places).toBe(1);
            }
            expect(o.size).toBeLessThanOrEqual(capacity);
            expect(o.dropped).toBe(dropped.size);
          }
          // bring both servers up and drain: everything still queued reaches the Auth side
          o.onConnected('a', now);
          o.onConnected('b', now);
          for (let round = 0; round < 4 && o.size > 0; round++) {
            for (const s of ['a', 'b'])
              for (const item of o.pending(s, now)) {
                o.markSent(s, item.id, now);
                o.ack(s, item.id, now);
              }
            now += 1_000_000;
          }
          expect(o.size).toBe(0);
          expect(delivered.size + dropped.size).toBe(n);
          if (n <= capacity) expect(dropped.size).toBe(0);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a host whose Auth servers are all down still gets every result out afterwards', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (games, upDuring) => {
        const host = new HostDomain({ sessions: { maxSessions: 1, maxPlayers: 1 }, outbox: { capacity: 2 * games }, authServers: ['a'] }, 0);
        let now = 0;
        for (let g = 0; g < games; g++) {
          if (upDuring[g]) host.linkUp('a', now);
          else host.linkDown('a', now);
          const sid = `g${g}`;
          host.sessions.create({ sessionId: sid, transport: 'netcode', players: [expected(0, 0, false)] }, now);
          host.sessions.admit({ source: { ip: IPS[0]!, port: 1 }, peer: sessionPeer(sid, 'p0'), connectionId: sid }, ++now);
          host.sessions.ready(sid, ++now);
          host.sessions.end(sid, { outcomes: { p0: { score: g } } }, ++now);
          // when up, the adapter sends but acks may or may not arrive before the next game
          for (const item of host.outbox.pending('a', now)) host.outbox.markSent('a', item.id, now);
        }
        host.linkDown('a', now);
        host.linkUp('a', ++now);
        const results = host.outbox.pending('a', now).filter((i) => i.body.kind === 'result');
        expect(results.map((r) => r.id)).toEqual(Array.from({ length: games }, (_, g) => `result:g${g}`));
        expect(host.outbox.dropped).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
