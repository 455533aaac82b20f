import { describe, expect, it } from 'vitest';
import { HandoffCore, type HandoffAction, type HandoffCoreOptions, type SeatCert } from '../../src/auth/handoff/index.js';
import { HostRegistry, type HostInfo } from '../../src/auth/host-registry.js';

/**
 * The hand-off core without sockets, store or clock: every input carries `now`, every output is an
 * action in the queue, and the store's and host's answers are fed back by ref.
 */

const T0 = 1_000_000;
const KEY = new Uint8Array([1, 2, 3]);
const players = [
  { playerId: 'guest:alice', displayName: 'Alice' },
  { playerId: 'guest:bob', displayName: 'Bob' },
];
const match = { origin: { kind: 'match' as const, id: 'm1' }, players, mode: 'duel' };

const hostInfo = (name: string, transports = ['quic']): HostInfo => ({ name, region: 'eu', address: `${name}:1`, transports, capacity: 4, version: '1' });
const cert = (n: number): SeatCert => ({
  certDer: new Uint8Array([n]),
  fingerprint: n.toString(16).padStart(2, '0').repeat(32),
  expiresAt: T0 + 3_600_000,
  chain: [new Uint8Array([9])],
});
const quicAck = { kind: 'quic', address: { host: '127.0.0.1', port: 4433 }, tlsName: 'h' };

type Of<K extends HandoffAction['type']> = Extract<HandoffAction, { type: K }>;
const of = <K extends HandoffAction['type']>(actions: HandoffAction[], type: K): Of<K>[] => actions.filter((a): a is Of<K> => a.type === type);
const notices = (actions: HandoffAction[], type: string) => of(actions, 'notify').filter((n) => n.message.type === type);
const records = (actions: HandoffAction[], op: string) => of(actions, 'session_record').filter((r) => r.op === op);

function setup(over: Partial<HandoffCoreOptions> = {}, hosts: HostInfo[] = [hostInfo('h1')]) {
  const registry = new HostRegistry();
  for (const h of hosts) registry.register(h, T0);
  let n = 0;
  const core = new HandoffCore({
    hosts: registry,
    newSessionId: () => `s${++n}`,
    keyDelivery: 'client',
    claimTimeoutMs: 30_000,
    hostAckTimeoutMs: 15_000,
    joinTimeoutMs: 60_000,
    noHostTimeoutMs: 60_000,
    netcodeToken: ({ seatId, now }) => ({ connectToken: new TextEncoder().encode(`token:${seatId}`), expiresAt: now + 30_000 }),
    ...over,
  });
  /** Answers every store record the queue asks for (success), until the queue holds nothing else to answer. */
  const settle = (now: number, first: HandoffAction[] = core.drain()): HandoffAction[] => {
    const all: HandoffAction[] = [];
    let batch = first;
    while (batch.length) {
      all.push(...batch);
      for (const r of of(batch, 'session_record')) if (r.ref !== undefined) core.recorded(r.ref, now);
      batch = core.drain();
    }
    return all;
  };
  /** Both players claim (quic: minted at once) and the queue runs to the create_on_host. */
  const claimAll = (now: number) => {
    const refs: number[] = [];
    const out: HandoffAction[] = [];
    players.forEach((p, i) => {
      refs.push(core.claim(p.playerId, 's1', KEY, `10.0.0.${i + 1}`, now));
      const mint = of(core.drain(), 'mint');
      for (const m of mint) core.minted(m.ref, cert(i + 1), now);
      out.push(...settle(now));
    });
    return { refs, out, create: of(out, 'create_on_host')[0]! };
  };
  return { core, registry, settle, claimAll };
}

describe('hand-off core', () => {
  it('happy path (quic): record, ready, claims minted, create on the host, claims answered after the ack', () => {
    const { core, registry, settle } = setup();
    core.start(match, T0);
    const first = core.drain();
    expect(of(first, 'session_record')).toEqual([
      {
        type: 'session_record',
        ref: expect.any(Number),
        now: T0,
        op: 'create',
        session: { id: 's1', hostName: 'h1', transport: 'quic', players: ['guest:alice', 'guest:bob'], origin: match.origin, mode: 'duel' },
      },
    ]);
    expect(notices(first, 'session.ready')).toEqual([]); // nobody hears of it before it is recorded
    expect(registry.get('h1')!.reserved).toBe(1);

    const ready = settle(T0, first);
    expect(notices(ready, 'session.ready').map((n) => [n.playerId, n.message.body])).toEqual(
      players.map((p) => [p.playerId, { sessionId: 's1', transport: 'quic', needsPublicKey: true, matchId: 'm1', claimBy: T0 + 30_000 }]),
    );

    const aliceRef = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0 + 10);
    expect(core.drain()).toEqual([{ type: 'mint', ref: aliceRef, sessionId: 's1', seatId: 'guest.alice', publicKey: KEY }]);
    core.minted(aliceRef, cert(1), T0 + 20);
    expect(core.drain()).toEqual([]); // bob has not claimed
    const bobRef = core.claim('guest:bob', 's1', KEY, '10.0.0.2', T0 + 30);
    core.minted(of(core.drain(), 'mint')[0]!.ref, cert(2), T0 + 40);
    const sent = core.drain();
    expect(sent.map((a) => a.type === 'session_record' && a.op)).toEqual(['sent-to-host']);
    const created = settle(T0 + 50, sent);
    const create = of(created, 'create_on_host')[0]!;
    expect(create).toMatchObject({ host: 'h1', timeoutMs: 15_000, deadline: T0 + 50 + 15_000 });
    expect(create.body).toMatchObject({ sessionId: 's1', transport: 'quic', mode: 'duel', expiresAt: T0 + 50 + 60_000 });
    expect(create.body.players.map((p) => [p.playerId, p.accountId, p.address, Buffer.from(p.certFingerprint!).toString('hex')])).toEqual([
      ['guest.alice', 'guest:alice', '10.0.0.1', '01'.repeat(32)],
      ['guest.bob', 'guest:bob', '10.0.0.2', '02'.repeat(32)],
    ]);
    expect(of(created, 'resolve_claim')).toEqual([]);

    core.hostAcked(create.ref, quicAck, T0 + 60);
    const acked = core.drain();
    const rec = records(acked, 'host-acked')[0]!;
    expect(rec.op === 'host-acked' && Object.keys(rec.handOffs)).toEqual(['guest:alice', 'guest:bob']);
    expect(rec.op === 'host-acked' && rec.handOffs['guest:bob']!.host).toEqual({ name: 'h1', address: '127.0.0.1:4433', tlsName: 'h' });
    // the slot stays held while the session runs (released when it ends), now confirmed
    expect(registry.get('h1')).toMatchObject({ reserved: 1, confirmed: 1, load: 1 });
    expect(of(acked, 'resolve_claim')).toEqual([]); // only once the record holds

    const done = settle(T0 + 70, acked);
    const answers = of(done, 'resolve_claim');
    expect(answers.map((a) => a.ref)).toEqual([aliceRef, bobRef]);
    expect(answers[1]!.handoff).toMatchObject({
      sessionId: 's1',
      playerId: 'guest.bob',
      host: { address: { host: '127.0.0.1', port: 4433 }, tlsName: 'h' },
      transport: { kind: 'quic', sessionCert: new Uint8Array([2]) },
    });
    expect(core.pendingCount).toBe(0);
  });

  it('happy path (netcode): a claim marks the seat, the host learns client ids, claims get connect tokens', () => {
    const { core, settle } = setup({ transportFor: () => 'netcode' }, [hostInfo('nc1', ['netcode'])]);
    core.start(match, T0);
    const ready = settle(T0);
    expect(notices(ready, 'session.ready')[0]!.message.body).toMatchObject({ transport: 'netcode', needsPublicKey: false });
    const refs = players.map((p, i) => core.claim(p.playerId, 's1', undefined, `10.0.0.${i + 1}`, T0 + 1));
    const created = settle(T0 + 2);
    expect(of(created, 'mint')).toEqual([]);
    const create = of(created, 'create_on_host')[0]!;
    expect(create.body.players.map((p) => [p.playerId, /^\d+$/.test(p.netcodeClientId!), p.certFingerprint])).toEqual([
      ['guest.alice', true, undefined],
      ['guest.bob', true, undefined],
    ]);
    core.hostAcked(create.ref, { kind: 'netcode', address: { host: '127.0.0.1', port: 40000 } }, T0 + 3);
    const answers = of(settle(T0 + 4), 'resolve_claim');
    expect(answers.map((a) => a.ref)).toEqual(refs);
    expect(answers[0]!.handoff).toMatchObject({
      playerId: 'guest.alice',
      expiresAt: T0 + 3 + 30_000,
      host: { address: { host: '127.0.0.1', port: 40000 }, tlsName: '127.0.0.1' },
    });
    const t = answers[0]!.handoff.transport;
    expect(t.kind === 'netcode' && new TextDecoder().decode(t.connectToken)).toBe('token:guest.alice');
  });

  it('a netcode mode without a token issuer cancels the start', () => {
    const { core } = setup({ transportFor: () => 'netcode', netcodeToken: undefined }, [hostInfo('nc1', ['netcode'])]);
    core.start(match, T0);
    const out = core.drain();
    expect(notices(out, 'match.cancelled').map((n) => n.message.body)).toEqual([
      { matchId: 'm1', reason: 'netcode is not configured on the auth server', requeued: false },
      { matchId: 'm1', reason: 'netcode is not configured on the auth server', requeued: false },
    ]);
    expect(core.pendingCount).toBe(0);
  });

  it('a host that refuses is told to drop it, and another host takes the session', () => {
    const { core, registry, settle, claimAll } = setup({}, [hostInfo('h1'), hostInfo('h2')]);
    core.start(match, T0);
    settle(T0);
    const { refs, create } = claimAll(T0 + 1);
    const first = create.host;
    const other = first === 'h1' ? 'h2' : 'h1';
    core.hostRefused(create.ref, { code: 'host_full', message: 'no room' }, T0 + 2);
    const out = core.drain();
    expect(of(out, 'cancel_on_host')).toEqual([{ type: 'cancel_on_host', host: first, sessionId: 's1', reason: 'the session went to another host' }]);
    expect(records(out, 'rehost')).toMatchObject([{ hostName: '' }]);
    expect(registry.get(first)!.reserved).toBe(0);
    const moved = settle(T0 + 3, out);
    expect(notices(moved, 'session.waiting').map((n) => n.message.body)).toEqual(
      players.map(() => ({
        matchId: 'm1',
        since: T0 + 2,
        attempt: 0,
        giveUpAt: T0 + 2 + 60_000,
        reason: `game host ${first} did not take the session (host_full: no room); trying another host`,
      })),
    );
    expect(records(moved, 'rehost').map((r) => r.op === 'rehost' && r.hostName)).toEqual(['', other]); // off the failed host, then onto the next
    const again = of(moved, 'create_on_host')[0]!;
    expect(again.host).toBe(other);
    core.hostAcked(create.ref, quicAck, T0 + 4); // a late ack from the first host counts for nothing
    expect(core.drain()).toEqual([]);
    core.hostAcked(again.ref, quicAck, T0 + 5);
    expect(of(settle(T0 + 6), 'resolve_claim').map((a) => a.ref)).toEqual(refs);
  });

  it('a silent host times out on tick, and another host takes the session', () => {
    const { core, settle, claimAll } = setup({}, [hostInfo('h1'), hostInfo('h2')]);
    core.start(match, T0);
    settle(T0);
    const { create } = claimAll(T0);
    core.tick(create.deadline);
    expect(core.drain()).toEqual([]); // not yet
    core.tick(create.deadline + 1);
    const out = settle(create.deadline + 1);
    expect(of(out, 'cancel_on_host').map((c) => c.host)).toEqual([create.host]);
    expect(of(out, 'log').some((l) => l.msg === 'picking another host for the session')).toBe(true);
    expect(of(out, 'create_on_host').map((c) => c.host)).toEqual([create.host === 'h1' ? 'h2' : 'h1']);
  });

  it('gives up re-picking after noHostTimeoutMs: the session fails and the claims are refused', () => {
    // a back-off longer than the wait: the one host is not asked again
    const { core, settle, claimAll } = setup({ hostRetryMs: 120_000 });
    core.start(match, T0);
    settle(T0);
    const { refs, create } = claimAll(T0);
    core.hostRefused(create.ref, { code: 'host_full', message: 'no room' }, T0 + 1);
    const waiting = settle(T0 + 1);
    expect(records(waiting, 'rehost').map((r) => r.op === 'rehost' && r.hostName)).toEqual(['', '']); // one to wait, one keep-alive
    core.tick(T0 + 1000);
    expect(notices(settle(T0 + 1000), 'session.waiting')).toEqual([]); // re-announced every 5 s only
    core.tick(T0 + 5001);
    expect(notices(settle(T0 + 5001), 'session.waiting')).toHaveLength(2);
    core.tick(T0 + 1 + 60_001);
    const out = settle(T0 + 1 + 60_001);
    expect(records(out, 'fail')).toMatchObject([{ reason: 'no host took the session in time (last: host_full: no room)' }]);
    expect(of(out, 'refuse_claim').map((r) => [r.ref, r.error.code])).toEqual(refs.map((r) => [r, 'session_failed']));
    expect(notices(out, 'match.cancelled').map((n) => n.message.body)).toEqual(
      players.map(() => ({ matchId: 'm1', reason: 'session failed: no host took the session in time (last: host_full: no room)', requeued: false })),
    );
    expect(core.pendingCount).toBe(0);
  });

  it('a session holds its slot from pick to end: a full host gets no more sessions until one ends', () => {
    const { core, registry, settle, claimAll } = setup({}, [{ ...hostInfo('h1'), capacity: 1 }]);
    core.start(match, T0);
    settle(T0);
    const { refs, create } = claimAll(T0 + 1);
    core.hostAcked(create.ref, quicAck, T0 + 2);
    expect(of(settle(T0 + 2), 'resolve_claim').map((a) => a.ref)).toEqual(refs);
    // the host's heartbeats now count the session too: still one, not two
    registry.heartbeat('h1', { active: 1 }, T0 + 3);
    expect(registry.get('h1')).toMatchObject({ reserved: 1, confirmed: 1, load: 1 });
    const others = [
      { playerId: 'guest:carol', displayName: 'Carol' },
      { playerId: 'guest:dan', displayName: 'Dan' },
    ];
    core.start({ origin: { kind: 'match', id: 'm2' }, players: others, mode: 'duel' }, T0 + 4);
    const waiting = core.drain();
    expect(records(waiting, 'create')).toEqual([]);
    expect(notices(waiting, 'session.waiting').map((n) => n.playerId)).toEqual(['guest:carol', 'guest:dan']);
    // a heartbeat that does not count it (not yet, or no more) does not free the slot either
    registry.heartbeat('h1', { active: 0 }, T0 + 5);
    core.tick(T0 + 5);
    expect(records(core.drain(), 'create')).toEqual([]);
    // the game ends (the server releases the slot when its results arrive): the waiting start opens
    registry.release('s1');
    core.tick(T0 + 6);
    expect(records(settle(T0 + 6), 'create')).toMatchObject([{ session: { id: 's2', hostName: 'h1', players: ['guest:carol', 'guest:dan'] } }]);
    expect(core.waitingForHost).toBe(0);
  });

  it('a full host that refused is asked again after a back-off (doubling), and the players hear why', () => {
    const { core, registry, settle, claimAll } = setup();
    core.start(match, T0);
    settle(T0);
    const { refs, create } = claimAll(T0);
    const full = { code: 'capacity_sessions', message: 'host is full: 4 of 4 sessions in use' };
    core.hostRefused(create.ref, full, T0 + 1);
    const out = settle(T0 + 1);
    expect(registry.get('h1')!.reserved).toBe(0);
    expect(notices(out, 'session.waiting').map((n) => n.message.body)).toMatchObject(
      players.map(() => ({ attempt: 0, reason: 'game host h1 is full; trying another host or waiting for a free slot' })),
    );
    expect(of(out, 'create_on_host')).toEqual([]);
    core.tick(T0 + 1 + 1_999);
    expect(of(settle(T0 + 2_000), 'create_on_host')).toEqual([]);
    core.tick(T0 + 1 + 2_000);
    const second = of(settle(T0 + 2_001), 'create_on_host');
    expect(second.map((c) => [c.host, c.body.sessionId])).toEqual([['h1', 's1']]);
    expect(registry.get('h1')!.reserved).toBe(1);
    // refused again: twice the wait; players are told why while they wait
    core.hostRefused(second[0]!.ref, full, T0 + 3_000);
    settle(T0 + 3_000);
    core.tick(T0 + 3_000 + 3_999);
    expect(of(settle(T0 + 6_999), 'create_on_host')).toEqual([]);
    core.tick(T0 + 7_000);
    const waited = settle(T0 + 7_000);
    const third = of(waited, 'create_on_host');
    expect(third.map((c) => c.host)).toEqual(['h1']);
    core.hostAcked(third[0]!.ref, quicAck, T0 + 7_001);
    expect(of(settle(T0 + 7_001), 'resolve_claim').map((a) => a.ref)).toEqual(refs);
    expect(core.pendingCount).toBe(0);
  });

  it('while every host backs off, waiting players are told no host can take it yet', () => {
    const { core, settle, claimAll } = setup({ hostRetryMs: 30_000 });
    core.start(match, T0);
    settle(T0);
    const { create } = claimAll(T0);
    core.hostRefused(create.ref, { code: 'capacity_sessions', message: 'full' }, T0 + 1);
    settle(T0 + 1);
    core.tick(T0 + 5_001);
    expect(notices(settle(T0 + 5_001), 'session.waiting').map((n) => n.message.body)).toMatchObject(
      players.map(() => ({ reason: 'no game host can take it yet (the 1 host(s) offering "quic" failed this session recently)' })),
    );
  });

  it('no free host: the start waits (session.waiting), and opens once a host appears', () => {
    const { core, registry, settle } = setup({}, []);
    core.start({ ...match, origin: { kind: 'lobby', id: 'l1' } }, T0);
    const out = core.drain();
    expect(notices(out, 'session.waiting').map((n) => [n.playerId, n.message.body])).toEqual(
      players.map((p) => [p.playerId, { lobbyId: 'l1', since: T0, attempt: 1, giveUpAt: T0 + 60_000, reason: 'no game host is free' }]),
    );
    expect(core.waitingForHost).toBe(1);
    core.tick(T0 + 1000);
    expect(core.drain()).toEqual([]);
    core.tick(T0 + 5000);
    expect(notices(core.drain(), 'session.waiting').map((n) => n.message.body)).toMatchObject([{ attempt: 3 }, { attempt: 3 }]);
    registry.register(hostInfo('late'), T0 + 6000);
    core.tick(T0 + 6000);
    const ready = settle(T0 + 6000);
    expect(records(ready, 'create')).toMatchObject([{ session: { hostName: 'late', origin: { kind: 'lobby', id: 'l1' } } }]);
    expect(notices(ready, 'session.ready')[0]!.message.body).toMatchObject({ lobbyId: 'l1' });
    expect(core.waitingForHost).toBe(0);
  });

  it('no free host within noHostTimeoutMs: the players are told it failed', () => {
    const { core } = setup({}, []);
    core.start(match, T0);
    core.drain();
    core.tick(T0 + 60_000);
    expect(notices(core.drain(), 'match.cancelled')).toEqual([]);
    core.tick(T0 + 60_001);
    const out = core.drain();
    expect(notices(out, 'match.cancelled').map((n) => n.message.body)).toEqual(
      players.map(() => ({ matchId: 'm1', reason: 'no host available', requeued: false })),
    );
    expect(of(out, 'log')).toMatchObject([{ level: 'warn', msg: 'gave up waiting for a host' }]);
    expect(core.waitingForHost).toBe(0);
  });

  it('a player who never claims fails the session for everyone once claimBy passes', () => {
    const { core, registry, settle } = setup();
    core.start(match, T0);
    settle(T0);
    const ref = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0);
    core.minted(of(core.drain(), 'mint')[0]!.ref, cert(1), T0);
    expect(settle(T0)).toEqual([]);
    core.tick(T0 + 30_000);
    expect(core.drain()).toEqual([]);
    core.tick(T0 + 30_001);
    const out = core.drain();
    expect(records(out, 'fail')).toEqual([
      { type: 'session_record', now: T0 + 30_001, op: 'fail', sessionId: 's1', reason: 'not every player claimed its seat in time' },
    ]);
    expect(of(out, 'refuse_claim')).toEqual([
      {
        type: 'refuse_claim',
        ref,
        error: { kind: 'refused', code: 'session_failed', message: 'the game session could not be set up (not every player claimed its seat in time)' },
      },
    ]);
    expect(notices(out, 'match.cancelled').map((n) => [n.playerId, n.message.body])).toEqual(
      players.map((p) => [p.playerId, { matchId: 'm1', reason: 'session failed: not every player claimed its seat in time', requeued: false }]),
    );
    expect(registry.get('h1')!.reserved).toBe(0);
    expect(core.pendingCount).toBe(0);
  });

  it('a bad or missing public key is refused to that player alone', () => {
    const { core, settle } = setup();
    core.start(match, T0);
    settle(T0);
    const noKey = core.claim('guest:alice', 's1', undefined, '10.0.0.1', T0);
    expect(core.drain()).toEqual([
      {
        type: 'refuse_claim',
        ref: noKey,
        error: { kind: 'input', code: 'bad_request', message: 'session.claim needs publicKey (SPKI DER of a fresh key pair)' },
      },
    ]);
    const bad = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0);
    core.mintFailed(of(core.drain(), 'mint')[0]!.ref, { message: 'not an SPKI key' });
    expect(core.drain()).toEqual([
      { type: 'refuse_claim', ref: bad, error: { kind: 'input', code: 'bad_request', message: 'the public key was refused: not an SPKI key' } },
    ]);
    // the session goes on: a good claim from each player completes it
    const refs = players.map((p, i) => {
      const r = core.claim(p.playerId, 's1', KEY, `10.0.0.${i + 1}`, T0 + 1);
      core.minted(of(core.drain(), 'mint')[0]!.ref, cert(i + 1), T0 + 1);
      return r;
    });
    const create = of(settle(T0 + 2), 'create_on_host')[0]!;
    core.hostAcked(create.ref, quicAck, T0 + 3);
    expect(of(settle(T0 + 3), 'resolve_claim').map((a) => a.ref)).toEqual(refs);
  });

  it('claims of an unknown seat or session are refused', () => {
    const { core, settle } = setup();
    core.start(match, T0);
    expect(core.drain()).toHaveLength(1);
    const early = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0); // not recorded yet: nobody was told of it
    expect(of(core.drain(), 'refuse_claim')).toMatchObject([{ ref: early, error: { code: 'unknown_session' } }]);
    settle(T0, []);
    const stranger = core.claim('guest:eve', 's1', KEY, '10.0.0.9', T0);
    expect(of(core.drain(), 'refuse_claim')).toMatchObject([
      { ref: stranger, error: { kind: 'refused', code: 'unknown_session', message: 'there is no seat for you in session s1' } },
    ]);
  });

  it('a duplicate claim is answered with the others, once the host acknowledged', () => {
    const { core, settle } = setup();
    core.start(match, T0);
    settle(T0);
    const a1 = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0);
    const a2 = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0); // both mint while claims are open
    for (const m of of(core.drain(), 'mint')) core.minted(m.ref, cert(1), T0);
    const b = core.claim('guest:bob', 's1', KEY, '10.0.0.2', T0);
    core.minted(of(core.drain(), 'mint')[0]!.ref, cert(2), T0);
    const create = of(settle(T0), 'create_on_host')[0]!;
    const a3 = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0); // the host was told: no new mint
    expect(core.drain()).toEqual([]);
    core.hostAcked(create.ref, quicAck, T0 + 1);
    const answers = of(settle(T0 + 1), 'resolve_claim');
    expect(answers.map((a) => a.ref).sort((x, y) => x - y)).toEqual([a1, a2, b, a3].sort((x, y) => x - y));
    expect(answers.filter((a) => a.handoff.playerId === 'guest.alice')).toHaveLength(3);
  });

  it('seed key delivery: claims need no key and the mint generates one', () => {
    const { core, settle } = setup({ keyDelivery: 'seed', seedKeyAlgorithm: 'ed25519' });
    core.start(match, T0);
    expect(notices(settle(T0), 'session.ready')[0]!.message.body).toMatchObject({ needsPublicKey: false });
    const ref = core.claim('guest:alice', 's1', undefined, '10.0.0.1', T0);
    expect(core.drain()).toEqual([{ type: 'mint', ref, sessionId: 's1', seatId: 'guest.alice', algorithm: 'ed25519' }]);
    core.minted(ref, { ...cert(1), privateKey: new Uint8Array([7]) }, T0);
    core.claim('guest:bob', 's1', undefined, '10.0.0.2', T0);
    core.minted(of(core.drain(), 'mint')[0]!.ref, { ...cert(2), privateKey: new Uint8Array([8]) }, T0);
    const create = of(settle(T0), 'create_on_host')[0]!;
    core.hostAcked(create.ref, quicAck, T0);
    const answer = of(settle(T0), 'resolve_claim').find((a) => a.ref === ref)!;
    expect(answer.handoff.transport).toMatchObject({ kind: 'quic', privateKey: new Uint8Array([7]) });
  });

  it('a host lost while it is asked to create the session: another host takes it', () => {
    const { core, settle, claimAll } = setup({}, [hostInfo('h1'), hostInfo('h2')]);
    core.start(match, T0);
    settle(T0);
    const { create } = claimAll(T0);
    core.hostLost(create.host, T0 + 1);
    const out = settle(T0 + 1);
    expect(of(out, 'cancel_on_host').map((c) => c.host)).toEqual([create.host]);
    expect(of(out, 'create_on_host').map((c) => c.host)).toEqual([create.host === 'h1' ? 'h2' : 'h1']);
  });

  it('a host lost while players claim: the session fails now', () => {
    const { core, settle } = setup();
    core.start(match, T0);
    settle(T0);
    core.hostLost('h2', T0); // not its host
    expect(core.drain()).toEqual([]);
    core.hostLost('h1', T0 + 1);
    const out = core.drain();
    expect(records(out, 'fail')).toMatchObject([{ reason: 'host h1 stopped responding' }]);
    expect(notices(out, 'match.cancelled')).toHaveLength(2);
    expect(core.pendingCount).toBe(0);
  });

  it('an acknowledgement without a usable endpoint: the host drops the session and it fails', () => {
    const { core, settle, claimAll } = setup();
    core.start(match, T0);
    settle(T0);
    const { refs, create } = claimAll(T0);
    core.hostAcked(create.ref, { kind: 'netcode', address: { host: '127.0.0.1', port: 1 } }, T0 + 1);
    const out = core.drain();
    expect(of(out, 'cancel_on_host')).toEqual([
      { type: 'cancel_on_host', host: 'h1', sessionId: 's1', reason: 'the auth server could not complete the hand-off' },
    ]);
    expect(records(out, 'fail')).toMatchObject([{ reason: 'host_refused: the host answered without a QUIC endpoint' }]);
    expect(of(out, 'refuse_claim').map((r) => r.ref)).toEqual(refs);
  });

  it('store failures: a refused create cancels the start; a refused host-acked record fails it on the host', () => {
    const { core, registry } = setup();
    core.start(match, T0);
    const create = of(core.drain(), 'session_record')[0]!;
    core.recordFailed(create.ref!, { code: 'session.player_busy', message: 'player guest:bob is already in live session s0' }, T0);
    const out = core.drain();
    expect(notices(out, 'match.cancelled').map((n) => n.message.body)).toEqual(
      players.map(() => ({ matchId: 'm1', reason: 'player guest:bob is already in live session s0', requeued: false })),
    );
    expect(notices(out, 'session.ready')).toEqual([]);
    expect(registry.get('h1')!.reserved).toBe(0);

    const second = setup();
    second.core.start(match, T0);
    second.settle(T0);
    const { create: onHost } = second.claimAll(T0);
    second.core.hostAcked(onHost.ref, quicAck, T0);
    const acked = records(second.core.drain(), 'host-acked')[0]!;
    second.core.recordFailed(acked.ref!, { code: 'session.wrong_state', message: 'session s1 is failed' }, T0);
    const failed = second.core.drain();
    expect(of(failed, 'cancel_on_host')).toHaveLength(1);
    expect(records(failed, 'fail')).toMatchObject([{ reason: 'session.wrong_state: session s1 is failed' }]);
  });

  it('forget (the domain failed it) and close refuse the waiting claims', () => {
    const { core, settle } = setup();
    core.start(match, T0);
    settle(T0);
    const ref = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0);
    core.close();
    expect(of(core.drain(), 'refuse_claim')).toEqual([
      { type: 'refuse_claim', ref, error: { kind: 'io', code: 'shutting_down', message: 'the auth server is shutting down' } },
    ]);
    expect(core.pendingCount).toBe(0);

    const other = setup();
    other.core.start(match, T0);
    other.settle(T0);
    other.core.forget('s1', 'host-ack-timeout', T0);
    expect(notices(other.core.drain(), 'match.cancelled').map((n) => n.message.body)).toMatchObject([{ reason: 'session failed: host-ack-timeout' }, {}]);
  });

  it('readyFor re-announces a pending session with its claim deadline, and a running one by its transport', () => {
    const { core, settle } = setup();
    core.start(match, T0);
    settle(T0);
    expect(core.readyFor('guest:alice', 's1', undefined, T0 + 5)).toEqual({ sessionId: 's1', transport: 'quic', needsPublicKey: true, claimBy: T0 + 30_000 });
    expect(core.readyFor('guest:alice', 'gone', 'netcode', T0 + 5)).toEqual({
      sessionId: 'gone',
      transport: 'netcode',
      needsPublicKey: false,
      claimBy: T0 + 5 + 30_000,
    });
  });
});

describe('hand-off core: seats claimed with match.confirm (iyesmp-auth 1.3)', () => {
  const KEY_A = new Uint8Array([0xa]);
  const KEY_B = new Uint8Array([0xb]);
  /** Both players confirmed m1 with a key (1.3 clients). */
  const offerBoth = (core: HandoffCore, matchId = 'm1') => {
    core.offer('guest:alice', matchId, { publicKey: KEY_A, address: '10.0.0.1' }, T0);
    core.offer('guest:bob', matchId, { publicKey: KEY_B, address: '10.0.0.2' }, T0);
  };
  const pushed = (actions: HandoffAction[]) =>
    notices(actions, 'session.handoff').map((n) => {
      const b = n.message.body as { matchId: string; handoff: { playerId: string; transport: unknown } };
      return [n.playerId, b.matchId, b.handoff.playerId];
    });

  it('match.found tells what the confirm carries: a key for quic/mqtt with client keys, none for netcode or seed keys', () => {
    expect(setup().core.confirmNeeds('duel')).toEqual({ transport: 'quic', needsPublicKey: true });
    expect(setup({ transportFor: () => 'netcode' }).core.confirmNeeds('duel')).toEqual({ transport: 'netcode', needsPublicKey: false });
    expect(setup({ keyDelivery: 'seed' }).core.confirmNeeds('duel')).toEqual({ transport: 'quic', needsPublicKey: false });
  });

  it('every seat pre-claimed: minted at the start, no session.ready, no claim, hand-offs pushed after the ack', () => {
    const { core, registry, settle } = setup();
    offerBoth(core);
    expect(core.offerCount).toBe(2);
    core.start(match, T0);
    expect(core.offerCount).toBe(0); // taken into the seats
    expect(of(core.drain(), 'mint')).toEqual([]); // nothing is minted before the record exists
    core.recorded(1, T0); // the create record (ref 1)
    const started = core.drain();
    expect(notices(started, 'session.ready')).toEqual([]);
    const mints = of(started, 'mint');
    expect(mints.map((m) => [m.seatId, m.publicKey])).toEqual([
      ['guest.alice', KEY_A],
      ['guest.bob', KEY_B],
    ]);
    core.minted(mints[0]!.ref, cert(1), T0 + 1);
    expect(settle(T0 + 1)).toEqual([]); // bob's cert is still being made
    core.minted(mints[1]!.ref, cert(2), T0 + 2);
    const create = of(settle(T0 + 2), 'create_on_host')[0]!;
    expect(create.body.players.map((p) => [p.playerId, p.address, Buffer.from(p.certFingerprint!).toString('hex')])).toEqual([
      ['guest.alice', '10.0.0.1', '01'.repeat(32)],
      ['guest.bob', '10.0.0.2', '02'.repeat(32)],
    ]);
    core.hostAcked(create.ref, quicAck, T0 + 3);
    const acked = core.drain();
    expect(pushed(acked)).toEqual([]); // only once the host-acked record holds
    const done = settle(T0 + 4, acked);
    expect(of(done, 'resolve_claim')).toEqual([]);
    expect(pushed(done)).toEqual([
      ['guest:alice', 'm1', 'guest.alice'],
      ['guest:bob', 'm1', 'guest.bob'],
    ]);
    // for the operator's hand-off figures: from the seat's claim at the start to the push
    expect(notices(done, 'session.handoff').map((n) => n.message.type === 'session.handoff' && n.message.waitedMs)).toEqual([4, 4]);
    const bob = notices(done, 'session.handoff')[1]!.message.body as { handoff: { transport: unknown; host: unknown } };
    expect(bob.handoff).toMatchObject({
      host: { address: { host: '127.0.0.1', port: 4433 }, tlsName: 'h' },
      transport: { kind: 'quic', sessionCert: new Uint8Array([2]) },
    });
    expect(registry.get('h1')).toMatchObject({ reserved: 1, confirmed: 1 });
    expect(core.pendingCount).toBe(0);
  });

  it('mixed versions: a 1.3 seat is pre-claimed, a 1.2 player gets session.ready and claims; each is answered its way', () => {
    const { core, settle } = setup();
    core.offer('guest:alice', 'm1', { publicKey: KEY_A, address: '10.0.0.1' }, T0); // bob (1.2) confirmed without an offer
    core.start(match, T0);
    const started = settle(T0);
    expect(notices(started, 'session.ready').map((n) => n.playerId)).toEqual(['guest:bob']);
    core.minted(of(started, 'mint')[0]!.ref, cert(1), T0 + 1);
    expect(settle(T0 + 1)).toEqual([]); // bob has not claimed
    const bobRef = core.claim('guest:bob', 's1', KEY_B, '10.0.0.2', T0 + 2);
    const bobMint = of(core.drain(), 'mint')[0]!;
    expect(bobMint.publicKey).toBe(KEY_B);
    core.minted(bobMint.ref, cert(2), T0 + 3);
    const create = of(settle(T0 + 3), 'create_on_host')[0]!;
    expect(create.body.players.map((p) => p.address)).toEqual(['10.0.0.1', '10.0.0.2']);
    core.hostAcked(create.ref, quicAck, T0 + 4);
    const done = settle(T0 + 4);
    expect(pushed(done)).toEqual([['guest:alice', 'm1', 'guest.alice']]);
    expect(of(done, 'resolve_claim').map((a) => [a.ref, a.handoff.playerId])).toEqual([[bobRef, 'guest.bob']]);
  });

  it('a refused key is told to that player alone, who then claims as before; the other seat keeps its cert', () => {
    const { core, settle } = setup();
    offerBoth(core);
    core.start(match, T0);
    const mints = of(settle(T0), 'mint');
    core.minted(mints[1]!.ref, cert(2), T0 + 1); // bob's key is fine
    core.mintFailed(mints[0]!.ref, { message: 'not an SPKI key' });
    const refused = core.drain();
    expect(refused.filter((a) => a.type === 'notify').map((a) => a.type === 'notify' && [a.playerId, a.message])).toEqual([
      [
        'guest:alice',
        {
          type: 'session.key_refused',
          body: { sessionId: 's1', matchId: 'm1', code: 'bad_request', reason: 'the public key was refused: not an SPKI key' },
        },
      ],
      ['guest:alice', { type: 'session.ready', body: { sessionId: 's1', transport: 'quic', needsPublicKey: true, matchId: 'm1', claimBy: T0 + 30_000 } }],
    ]);
    expect(of(refused, 'refuse_claim')).toEqual([]); // no claim waited for it
    expect(core.mintFailed(mints[0]!.ref, { message: 'again' })).toBeUndefined(); // answered once
    expect(core.drain()).toEqual([]);
    const aliceRef = core.claim('guest:alice', 's1', KEY, '10.0.0.1', T0 + 2);
    core.minted(of(core.drain(), 'mint')[0]!.ref, cert(1), T0 + 2);
    const create = of(settle(T0 + 3), 'create_on_host')[0]!;
    core.hostAcked(create.ref, quicAck, T0 + 4);
    const done = settle(T0 + 4);
    expect(pushed(done)).toEqual([['guest:bob', 'm1', 'guest.bob']]);
    expect(of(done, 'resolve_claim').map((a) => a.ref)).toEqual([aliceRef]);
  });

  it('seed keys: an offer without a key is minted with a generated key; with client keys it falls back to session.ready', () => {
    const seed = setup({ keyDelivery: 'seed', seedKeyAlgorithm: 'ed25519' });
    seed.core.offer('guest:alice', 'm1', { address: '10.0.0.1' }, T0);
    seed.core.start(match, T0);
    const out = seed.settle(T0);
    expect(of(out, 'mint')).toEqual([{ type: 'mint', ref: expect.any(Number), sessionId: 's1', seatId: 'guest.alice', algorithm: 'ed25519' }]);
    expect(notices(out, 'session.ready').map((n) => n.playerId)).toEqual(['guest:bob']);

    const client = setup();
    client.core.offer('guest:alice', 'm1', { address: '10.0.0.1' }, T0); // a 1.3 client that sent no key
    client.core.start(match, T0);
    const out2 = client.settle(T0);
    expect(of(out2, 'mint')).toEqual([]);
    expect(notices(out2, 'session.ready').map((n) => n.playerId)).toEqual(['guest:alice', 'guest:bob']);
  });

  it('netcode: offers take every seat at the start, so the host is asked at once and the tokens are pushed', () => {
    const { core, settle } = setup({ transportFor: () => 'netcode' }, [hostInfo('nc1', ['netcode'])]);
    core.offer('guest:alice', 'm1', { address: '10.0.0.1' }, T0);
    core.offer('guest:bob', 'm1', { address: '10.0.0.2' }, T0);
    core.start(match, T0);
    const out = settle(T0);
    expect(notices(out, 'session.ready')).toEqual([]);
    expect(of(out, 'mint')).toEqual([]);
    const create = of(out, 'create_on_host')[0]!;
    expect(create.body.players.map((p) => [p.playerId, p.address])).toEqual([
      ['guest.alice', '10.0.0.1'],
      ['guest.bob', '10.0.0.2'],
    ]);
    core.hostAcked(create.ref, { kind: 'netcode', address: { host: '127.0.0.1', port: 40000 } }, T0 + 1);
    const done = settle(T0 + 1);
    expect(pushed(done)).toEqual([
      ['guest:alice', 'm1', 'guest.alice'],
      ['guest:bob', 'm1', 'guest.bob'],
    ]);
    const t = (notices(done, 'session.handoff')[0]!.message.body as { handoff: { transport: { kind: string; connectToken: Uint8Array } } }).handoff.transport;
    expect(new TextDecoder().decode(t.connectToken)).toBe('token:guest.alice');
  });

  it('a host refusal keeps the pre-claimed certs: the next host gets the same fingerprints, then the hand-offs are pushed', () => {
    const { core, settle } = setup({}, [hostInfo('h1'), hostInfo('h2')]);
    offerBoth(core);
    core.start(match, T0);
    of(settle(T0), 'mint').forEach((m, i) => core.minted(m.ref, cert(i + 1), T0));
    const create = of(settle(T0), 'create_on_host')[0]!;
    core.hostRefused(create.ref, { code: 'host_full', message: 'no room' }, T0 + 1);
    const moved = settle(T0 + 1);
    expect(of(moved, 'mint')).toEqual([]); // nothing minted again
    expect(notices(moved, 'session.waiting').map((n) => n.playerId)).toEqual(['guest:alice', 'guest:bob']);
    expect(pushed(moved)).toEqual([]);
    const again = of(moved, 'create_on_host')[0]!;
    expect(again.host).not.toBe(create.host);
    expect(again.body.players.map((p) => Buffer.from(p.certFingerprint!).toString('hex'))).toEqual(['01'.repeat(32), '02'.repeat(32)]);
    core.hostAcked(create.ref, quicAck, T0 + 2); // the first host's late ack counts for nothing
    expect(core.drain()).toEqual([]);
    core.hostAcked(again.ref, quicAck, T0 + 3);
    expect(pushed(settle(T0 + 3)).map(([p]) => p)).toEqual(['guest:alice', 'guest:bob']);
  });

  it('a 1.2 player who never claims fails the session once claimBy passes: the pre-claimed player hears match.cancelled', () => {
    const { core, registry, settle } = setup();
    core.offer('guest:alice', 'm1', { publicKey: KEY_A, address: '10.0.0.1' }, T0);
    core.start(match, T0);
    core.minted(of(settle(T0), 'mint')[0]!.ref, cert(1), T0);
    expect(settle(T0)).toEqual([]);
    core.tick(T0 + 30_001);
    const out = settle(T0 + 30_001);
    expect(records(out, 'fail')).toMatchObject([{ reason: 'not every player claimed its seat in time' }]);
    expect(of(out, 'refuse_claim')).toEqual([]);
    expect(pushed(out)).toEqual([]);
    expect(notices(out, 'match.cancelled').map((n) => n.playerId)).toEqual(['guest:alice', 'guest:bob']);
    expect(registry.get('h1')!.reserved).toBe(0);
    expect(core.pendingCount).toBe(0);
  });

  it('offers are for one match and expire: another match, a withdrawn or a stale offer claims nothing', () => {
    const { core, settle } = setup({ offerTtlMs: 10_000 });
    core.offer('guest:alice', 'other', { publicKey: KEY_A, address: '10.0.0.1' }, T0);
    core.offer('guest:bob', 'm1', { publicKey: KEY_B, address: '10.0.0.2' }, T0);
    core.withdrawOffer('guest:bob', 'not-m1'); // names another match: kept
    expect(core.offerCount).toBe(2);
    core.withdrawOffer('guest:bob', 'm1');
    expect(core.offerCount).toBe(1);
    core.tick(T0 + 10_000);
    expect(core.offerCount).toBe(1);
    core.tick(T0 + 10_001);
    expect(core.offerCount).toBe(0);
    core.offer('guest:alice', 'other', { publicKey: KEY_A, address: '10.0.0.1' }, T0 + 10_001);
    core.start(match, T0 + 10_001);
    const out = settle(T0 + 10_001);
    expect(notices(out, 'session.ready').map((n) => n.playerId)).toEqual(['guest:alice', 'guest:bob']);
    expect(core.offerCount).toBe(1); // alice's offer was not for m1
  });

  it('a pre-claimed player back after a reconnect is offered the session without a key and answered with the others', () => {
    const { core, settle } = setup();
    core.offer('guest:alice', 'm1', { publicKey: KEY_A, address: '10.0.0.1' }, T0);
    core.start(match, T0);
    core.minted(of(settle(T0), 'mint')[0]!.ref, cert(1), T0);
    expect(core.readyFor('guest:alice', 's1', undefined, T0 + 1)).toMatchObject({ needsPublicKey: false });
    const again = core.claim('guest:alice', 's1', undefined, '10.0.0.1', T0 + 1);
    expect(core.drain()).toEqual([]); // neither refused nor minted again
    core.claim('guest:bob', 's1', KEY_B, '10.0.0.2', T0 + 2);
    core.minted(of(core.drain(), 'mint')[0]!.ref, cert(2), T0 + 2);
    const create = of(settle(T0 + 2), 'create_on_host')[0]!;
    core.hostAcked(create.ref, quicAck, T0 + 3);
    const done = settle(T0 + 3);
    expect(of(done, 'resolve_claim').find((a) => a.ref === again)!.handoff.playerId).toBe('guest.alice');
    expect(pushed(done).map(([p]) => p)).toEqual(['guest:alice']);
  });

  it('a start that waits for a host keeps its offers: the seats are pre-claimed once a host appears', () => {
    const { core, registry, settle } = setup({}, []);
    offerBoth(core);
    core.start(match, T0);
    expect(notices(core.drain(), 'session.waiting')).toHaveLength(2);
    registry.register(hostInfo('h1'), T0 + 100);
    core.tick(T0 + 250);
    const out = settle(T0 + 250);
    expect(notices(out, 'session.ready')).toEqual([]);
    expect(of(out, 'mint').map((m) => m.publicKey)).toEqual([KEY_A, KEY_B]);
  });
});
