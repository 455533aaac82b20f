/**
 * End-to-end: the Auth server, a Host server and game clients as separate OS processes, talking
 * over loopback QUIC, set up the way an operator would (a dev PKI from `iyesmp certs init --yes
 * --insecure-no-passphrase`, configs from `iyesmp config scaffold`, `iyesmp serve auth|host`).
 *
 * These tests BUILD NOTHING: they run bin/iyesmp.js and the scripts of this folder on the compiled
 * library in dist/. `npm test` builds dist/ first; when running them alone, build first:
 *
 *   npx tsc -p tsconfig.json && npx vitest run test/e2e
 *
 * Client processes: bot.mjs (a bot player printing JSON lines of what happened) and thief.mjs (a
 * third party trying someone else's session certificate). The host runs ttt-game.mjs.
 * Every child is SIGKILLed after each test, pass or fail; a failed wait prints their last lines.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  iyesmp,
  quicProbe,
  makeDeployment,
  e2eLifecycle,
  Procs,
  startAuth,
  startBot,
  startHost,
  startThief,
  until,
  waitLine,
  type Deployment,
  type Line,
  type Proc,
} from './harness.js';

const T = 240_000;
let d: Deployment;
let procs: Procs;

e2eLifecycle(async () => {
  d = await makeDeployment();
  procs = new Procs(d.dir);
  return { d, procs };
});

/** Auth and host processes up, the host registered with auth. */
async function servers(): Promise<{ auth: Proc; host: Proc }> {
  const auth = startAuth(procs, d);
  await waitLine(procs, auth, 'auth server listening');
  const host = startHost(procs, d);
  await waitLine(procs, host, 'registered with the auth server');
  return { auth, host };
}

type Result = { playerId: string; outcome?: string; rank?: number; score?: number };

/** Both bots saw the same completed game: one win and one loss (first-free-cell bots: X wins). */
function expectFinished(a: Proc, b: Proc): { sessionId: string; results: Result[] } {
  const [ta, tb] = [a.find('ticket')[0]!, b.find('ticket')[0]!];
  expect(ta.sessionId).toBe(tb.sessionId);
  const [ea, eb] = [a.find('end')[0]!, b.find('end')[0]!];
  expect(ea.reason).toBe('completed');
  expect(eb.results).toEqual(ea.results);
  const results = ea.results as Result[];
  expect(results.map((r) => r.playerId).sort()).toEqual([ta.playerId, tb.playerId].sort());
  expect(results.map((r) => r.outcome).sort()).toEqual(['loss', 'win']);
  // the winner is X, who moved first: the first seat of the begin order
  const order = a.find('begin')[0]!.order as string[];
  expect(results.find((r) => r.outcome === 'win')!.playerId).toBe(order[0]);
  return { sessionId: ta.sessionId as string, results };
}

const ended = (p: Proc) => p.find('end').length > 0 || p.find('game-error').length > 0 || !p.running;

describe('end to end, separate processes', () => {
  it(
    'matchmaking: two bots are matched, handed off, play a full game, and auth records the result',
    async () => {
      const { auth } = await servers();
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake' });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake' });
      await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
      const { sessionId } = expectFinished(a, b);
      expect(a.find('matchmaking').map((l) => l.phase)).toEqual(expect.arrayContaining(['queued', 'found', 'confirmed', 'claiming']));
      // 9 cells, X (first free cell) wins on its 4th move: 7 accepted moves, none refused
      expect(a.find('moved').length + b.find('moved').length).toBe(7);
      expect([...a.find('move-refused'), ...b.find('move-refused')]).toEqual([]);
      // the auth server records it (there is no admin/introspection API: its log is the record)
      const rec = await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId);
      expect(rec).toMatchObject({ host: 'host-1', reason: 'completed', players: 2 });
    },
    T,
  );

  it(
    'lobby: one creates, the other joins, both ready, start, and the game reaches a result',
    async () => {
      const { auth } = await servers();
      const lobbyName = `e2e-${randomBytes(3).toString('hex')}`;
      const owner = startBot(procs, d, { name: 'owner', flow: 'lobby-create', lobbyName });
      await waitLine(procs, owner, 'lobby-created');
      const guest = startBot(procs, d, { name: 'guest', flow: 'lobby-join', lobbyName });
      await until(procs, 'both bots to finish the game', () => ended(owner) && ended(guest), 120_000);
      const full = owner.find('lobby-full')[0]!;
      expect((full.members as Array<{ ready: boolean; isOwner: boolean }>).filter((m) => !m.isOwner).every((m) => m.ready)).toBe(true);
      expect(owner.find('lobby-started')).toHaveLength(1);
      expect(guest.find('lobby-joined')[0]!.lobbyId).toBe(owner.find('lobby-created')[0]!.lobbyId);
      const { sessionId } = expectFinished(owner, guest);
      await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId);
    },
    T,
  );

  it(
    'a datagram from an address not on the allow-list is dropped, and the host keeps serving its players',
    async () => {
      // QUIC itself is asked: a long-header packet of an unknown version makes a QUIC server answer
      // with Version Negotiation, unless the allow-list dropped the datagram before QUIC saw it. The
      // host's own drop counter (its "allow-list dropped datagrams" log line) must agree.
      const { auth, host } = await servers();
      // no session yet: the allow-list is empty, even loopback gets no answer
      expect(await quicProbe('127.0.0.1', d.playersPort, 2000)).toBe(false);
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await until(procs, 'the game to begin for both bots', () => a.find('state').length > 0 && b.find('state').length > 0, 120_000);
      // 127.0.0.1 is on the allow-list while its players' session runs: QUIC answers (the control) ...
      expect(await quicProbe('127.0.0.1', d.playersPort, 5000)).toBe(true);
      // ... 127.0.0.2 is not: nothing reaches QUIC, nothing comes back
      for (let i = 0; i < 3; i++) expect(await quicProbe('127.0.0.2', d.playersPort, 2000)).toBe(false);
      // the host counted and logged them (one line per 10 s at most, so this may take a moment)
      // at least the first probe from 127.0.0.1 and the three from 127.0.0.2
      type Drops = { dropped: number; droppedBytes: number; lastDroppedFrom?: string };
      const counted = (l: Line) => ((l.allowList as Drops | undefined)?.dropped ?? 0) >= 4;
      const drop = (await waitLine(procs, host, 'allow-list dropped datagrams', counted, 30_000)).allowList as Drops;
      expect(drop.lastDroppedFrom).toMatch(/^127\.0\.0\.2:\d+$/);
      expect(drop.droppedBytes).toBeGreaterThan(0);
      a.send('go');
      b.send('go');
      await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
      const { sessionId } = expectFinished(a, b);
      await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId);
      expect(host.running).toBe(true);
      // the session is over: its players' address leaves the allow-list again
      let open = true;
      for (let i = 0; i < 10 && open; i++) open = await quicProbe('127.0.0.1', d.playersPort, 2000);
      expect(open).toBe(false);
    },
    T,
  );

  it(
    'a stolen session certificate is refused from another address, and for another session',
    async () => {
      const { host } = await servers();
      const stolen = path.join(d.dir, 'stolen-ticket.json');
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true, ticketOut: stolen });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await until(procs, 'the first game to begin', () => a.find('state').length > 0 && b.find('state').length > 0, 120_000);
      const s1 = a.find('ticket')[0]!.sessionId as string;
      expect(a.find('ticket-written')).toHaveLength(1);

      // 1. the victim's cert and key from 127.0.0.2, which no session expects: the raw-datagram
      //    allow-list drops it, the host never answers, no handshake happens
      const far = startThief(procs, d, 'thief-far', { ticket: stolen, localHost: '127.0.0.2' });
      const r1 = await waitLine(procs, far, 'refused', undefined, 60_000);
      expect(far.find('admitted')).toEqual([]);
      expect(r1).toMatchObject({ stage: 'connect', code: 'timeout' });

      // a second game whose player c plays from 127.0.0.2, so that address is now on the allow-list
      const c = startBot(procs, d, { name: 'bot-c', flow: 'matchmake', hold: true, localHost: '127.0.0.2' });
      const e = startBot(procs, d, { name: 'bot-d', flow: 'matchmake', hold: true });
      await until(procs, 'the second game to begin', () => c.find('state').length > 0 && e.find('state').length > 0, 120_000);
      const s2 = c.find('ticket')[0]!.sessionId as string;
      expect(s2).not.toBe(s1);
      expect(e.find('ticket')[0]!.sessionId).toBe(s2);

      // 2. from 127.0.0.2 again: past the allow-list and the TLS check (the cert is genuine), but the
      //    host admits a seat only from the address the Auth server saw for that player
      const near = startThief(procs, d, 'thief-near', { ticket: stolen, localHost: '127.0.0.2' });
      const r2 = await waitLine(procs, near, 'refused', undefined, 60_000);
      expect(near.find('admitted')).toEqual([]);
      expect(r2).toMatchObject({ stage: 'hello', code: 'wrong_address' });

      // 3. the same cert from the victim's own address, but for another session
      const other = startThief(procs, d, 'thief-other', { ticket: stolen, localHost: '127.0.0.1', sessionId: s2 });
      const r3 = await waitLine(procs, other, 'refused', undefined, 60_000);
      expect(other.find('admitted')).toEqual([]);
      expect(r3).toMatchObject({ stage: 'hello', code: 'wrong_session' });
      expect(host.find('admission refused', (l) => l.reason === 'wrong_address' && l.sessionId === s1)).toHaveLength(1);

      // both real games are undisturbed
      for (const p of [a, b, c, e]) p.send('go');
      await until(procs, 'all four bots to finish', () => [a, b, c, e].every(ended), 120_000);
      expectFinished(a, b);
      expectFinished(c, e);
    },
    T,
  );

  it(
    'killing the auth process mid-game does not disturb the game; a restarted auth on the same port gets the result',
    async () => {
      const { auth, host } = await servers();
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await until(procs, 'the game to begin for both bots', () => a.find('state').length > 0 && b.find('state').length > 0, 120_000);
      auth.kill('SIGKILL');
      await auth.exited;
      // the game is played to its end while no Auth server runs
      a.send('go');
      b.send('go');
      await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
      const { sessionId } = expectFinished(a, b);
      expect(auth.find('session results recorded', (l) => l.sessionId === sessionId)).toEqual([]);

      const auth2 = startAuth(procs, d, 'auth-2');
      await waitLine(procs, auth2, 'auth server listening');
      // the host notices its old link is dead (QUIC idle timeout), re-dials, registers, and delivers its outbox
      const rec = await waitLine(procs, auth2, 'session results recorded', (l) => l.sessionId === sessionId, 150_000);
      expect(rec).toMatchObject({ host: 'host-1', reason: 'completed', players: 2 });
      expect(host.find('registered with the auth server').length).toBeGreaterThanOrEqual(2);
      expect(host.running).toBe(true);
    },
    T,
  );

  it(
    'killing the host is noticed by auth, and its players are told',
    async () => {
      const { auth, host } = await servers();
      const bot = (name: string) => startBot(procs, d, { name, flow: 'matchmake', hold: true, hostIdleMs: 5000, lingerMs: 30_000 });
      const [a, b] = [bot('bot-a'), bot('bot-b')];
      await until(procs, 'the game to begin for both bots', () => a.find('state').length > 0 && b.find('state').length > 0, 120_000);
      const sessionId = a.find('ticket')[0]!.sessionId as string;
      host.kill('SIGKILL');
      await host.exited;
      await waitLine(procs, auth, 'host missed its heartbeats; marked dead', (l) => l.host === 'host-1', 60_000);
      for (const p of [a, b]) {
        // from auth (iyesmp-auth 1.1): session.lost naming the session; the auth connection stays open
        const lost = await waitLine(procs, p, 'session-lost', (l) => l.sessionId === sessionId, 60_000);
        expect(lost.reason).toMatch(/host/);
        // the game ends with an error: whichever comes first, auth's notice or the dead host connection
        const failed = await waitLine(procs, p, 'game-error', undefined, 60_000);
        expect(['session_lost', 'host_lost']).toContain(failed.code);
        expect(p.find('game-close')[0]).toMatchObject({ code: failed.code });
        expect(p.find('end')).toEqual([]);
        expect(p.find('auth-close')).toEqual([]);
      }
    },
    T,
  );

  // Last: it retires the build every other test used.
  it(
    'a client with a retired build is refused with the update message once auth reloads its trust list',
    async () => {
      const { auth } = await servers();
      const rotated = JSON.parse((await iyesmp(d.dir, ['rotate-clientauth', '--dir', 'pki', '--insecure-no-passphrase', '--json'])).stdout) as {
        data: { client: { certPath: string; keyPath: string } };
      };
      await iyesmp(d.dir, ['certs', 'retire', '1', '--dir', 'pki', '--yes', '--json']); // a script confirms with --yes
      auth.kill('SIGHUP');
      await waitLine(procs, auth, 'reloaded certificates and trust list', undefined, 30_000);

      const old = startBot(procs, d, { name: 'old-build', flow: 'matchmake' });
      const refused = await waitLine(procs, old, 'connect-refused', undefined, 60_000);
      expect(refused.code).toBe('retired_clientauth');
      expect(refused.message).toBe("this game build's certificate was retired: update the game");
      expect(await old.exited).toBe(2);

      // the new build (client cert of ClientAuth-2) still gets in
      const fresh = startBot(procs, d, { name: 'new-build', flow: 'matchmake', cert: rotated.data.client.certPath, key: rotated.data.client.keyPath });
      await waitLine(procs, fresh, 'login', undefined, 60_000);
      expect(auth.running).toBe(true);
    },
    T,
  );
});
