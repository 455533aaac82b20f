/**
 * End-to-end under attack and under load (issue #9), every party its own OS process over loopback
 * QUIC, set up as e2e.test.ts does (dev PKI and scaffolded configs, `iyesmp serve auth|host`):
 *
 * - idle connections with the game build's one client certificate (flood.mjs, from 127.0.0.2) while
 *   two real players (bot.mjs) log in, are matched and play a game to its recorded result;
 * - many players (players.mjs load generators) on few host slots: every one reaches a game and a
 *   result, none is lost or stuck, none sees a bare `timeout`;
 * - a second registered host (forger.mjs) reports forged results for the first host's live session:
 *   refused and logged, while the real results are recorded.
 *
 * Size: the flood is the 1,000 connections (most are refused right after their handshake,
 * ~20 s here). The load is IYESMP_ATTACK_SCALE x the 400 players on 64 slots; its CI
 * default, 0.2 (80 players on 2 hosts x 6 slots), keeps the file under ~90 s on a 2-core machine,
 * where a crowd's mutual-TLS handshakes, host joins and games share the cores with the servers. At
 * scale 1 on such a machine the handshakes saturate and players fail at connect: the full size is
 * measured, not asserted, by `node bench/load.bench.js` (1,000 players; BENCH_PLAYERS=400).
 *
 * Build first (these tests run dist/): npx tsc -p tsconfig.json && npx vitest run test/e2e/attack.test.ts
 */
import { describe, expect, it } from 'vitest';
import {
  addHost,
  authConfigVariant,
  makeDeployment,
  e2eLifecycle,
  Procs,
  rssOf,
  startAuth,
  startBot,
  startHost,
  startScript,
  until,
  waitLine,
  type Deployment,
  type ExtraHost,
  type Line,
  type Proc,
} from './harness.js';

const SCALE = Number(process.env.IYESMP_ATTACK_SCALE ?? 0.2);
const FLOOD = 1000;
const PLAYERS = Math.max(8, 2 * Math.round(200 * SCALE));
/** sessions per host; two hosts */
const SLOTS = Math.max(2, Math.round(32 * SCALE));
/** the Auth server's default limit of unauthenticated connections per source address */
const PER_ADDRESS = 64;

const T = 240_000;
let d: Deployment;
let host2: ExtraHost;
let floodToml: string;
let procs: Procs;

e2eLifecycle(async () => {
  d = await makeDeployment({
    // the waiting players of the load test outlast a few full rounds of games
    auth: [['sessions', 'claim_timeout_seconds', 60]],
    host: [['host', 'capacity', SLOTS]],
  });
  // the flood's Auth server: short admission deadlines, so the idle connections are seen closed
  // within the test (too short for a crowd of real players on 2 busy cores: only that test uses it)
  floodToml = await authConfigVariant(d, 'auth-flood.toml', [
    ['clients', 'first_stream_timeout_seconds', 3],
    ['clients', 'hello_timeout_seconds', 3],
    ['clients', 'login_timeout_seconds', 5],
  ]);
  host2 = await addHost(d, 'host-2');
  procs = new Procs(d.dir);
  return { d, procs };
});

const client = () => ({ auth: `127.0.0.1:${d.clientsPort}`, ca: d.ca, cert: d.client.cert, key: d.client.key });
const ended = (p: Proc) => p.find('end').length > 0 || p.find('game-error').length > 0 || !p.running;

async function authAndHost(authToml = d.authToml): Promise<{ auth: Proc; host: Proc }> {
  const auth = startAuth(procs, d, 'auth', authToml);
  await waitLine(procs, auth, 'auth server listening');
  const host = startHost(procs, d);
  await waitLine(procs, host, 'registered with the auth server');
  return { auth, host };
}

/** Both bots played the same game to a win and a loss; the Auth server recorded it from host-1. */
async function expectRecorded(auth: Proc, a: Proc, b: Proc): Promise<string> {
  const [ta, tb] = [a.find('ticket')[0]!, b.find('ticket')[0]!];
  expect(ta.sessionId).toBe(tb.sessionId);
  const [ea, eb] = [a.find('end')[0]!, b.find('end')[0]!];
  expect(ea).toMatchObject({ reason: 'completed' });
  expect(eb.results).toEqual(ea.results);
  expect((ea.results as Array<{ outcome: string }>).map((r) => r.outcome).sort()).toEqual(['loss', 'win']);
  const sessionId = ta.sessionId as string;
  const rec = await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId);
  expect(rec).toMatchObject({ host: 'host-1', reason: 'completed', players: 2 });
  return sessionId;
}

/** The Auth server's log lines of connections it refused or closed at a deadline on its players port, from `address`. */
const refusedAt = (auth: Proc, address: string) =>
  auth.lines.filter((l) => l.endpoint === 'client' && String(l.msg).startsWith('client refused:') && String(l.remote).startsWith(`${address}:`));

type FloodStats = {
  attempted: number;
  kept: number;
  open: number;
  peak: number;
  refused: Record<string, number>;
  closed: Record<string, number>;
  done: boolean;
};

describe('under attack and under load, separate processes', () => {
  it(
    `${FLOOD} idle connections from one client certificate: bounded, while a real player logs in and plays`,
    async () => {
      const { auth } = await authAndHost(floodToml);
      const rssBefore = await rssOf(auth);
      // 2-4 flood processes, all with the game build's certificate, from one address
      const workers = Math.min(4, Math.max(2, Math.ceil(FLOOD / 250)));
      const floods = Array.from({ length: workers }, (_, i) =>
        startScript(procs, `flood-${i}`, 'flood.mjs', { ...client(), localHost: '127.0.0.2', count: Math.ceil(FLOOD / workers) }),
      );
      for (const f of floods) await waitLine(procs, f, 'ready');
      // the players arrive while the handshakes pour in
      await until(procs, 'the flood to fill its share', () => refusedAt(auth, '127.0.0.2').some((l) => l.reason === 'too_many_from_address'), 60_000);
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake' });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake' });
      await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
      await expectRecorded(auth, a, b);
      expect([...a.find('connect-refused'), ...b.find('connect-refused')]).toEqual([]);

      // every handshake done, then every idle connection closed by its deadline
      const stats = async (): Promise<FloodStats[]> => {
        const before = floods.map((f) => f.find('stats').length);
        for (const f of floods) f.send('stats');
        await until(procs, 'the floods to report', () => floods.every((f, i) => f.find('stats').length > before[i]!), 10_000);
        return floods.map((f) => f.find('stats').at(-1) as unknown as FloodStats);
      };
      await until(procs, 'the flood to finish its handshakes', () => floods.every((f) => f.find('stats', (l) => l.done === true).length > 0), 120_000);
      let fl = await stats();
      for (let i = 0; i < 40 && fl.some((s) => s.open > 0); i++) {
        await new Promise((r) => setTimeout(r, 500));
        fl = await stats();
      }
      const sum = (k: 'attempted' | 'kept' | 'open') => fl.reduce((n, s) => n + s[k], 0);
      const merged = (k: 'refused' | 'closed') => {
        const m: Record<string, number> = {};
        for (const s of fl) for (const [why, n] of Object.entries(s[k])) m[why] = (m[why] ?? 0) + n;
        return m;
      };
      expect(sum('attempted')).toBeGreaterThanOrEqual(FLOOD);
      expect(sum('open')).toBe(0);
      // kept ones were closed at a deadline (no stream; a hello but no login), the rest refused at once
      const closed = merged('closed');
      expect(Object.keys(closed).sort()).toEqual(expect.arrayContaining(['login_timeout', 'stream_timeout']));
      expect(sum('kept')).toBe(Object.values(closed).reduce((n, x) => n + x, 0));
      const refusedAtAuth = refusedAt(auth, '127.0.0.2');
      const byReason = (r: string) => refusedAtAuth.filter((l) => l.reason === r).length;
      expect(byReason('too_many_from_address')).toBeGreaterThan(0);
      expect(byReason('too_many_from_address') + byReason('stream_timeout') + byReason('login_timeout')).toBeGreaterThanOrEqual(sum('attempted') - PER_ADDRESS);
      // 127.0.0.1 (the players) was never refused
      expect(refusedAt(auth, '127.0.0.1')).toEqual([]);
      const rssAfter = await rssOf(auth);
      if (rssBefore !== undefined && rssAfter !== undefined) expect(rssAfter - rssBefore).toBeLessThan(150 * 1024 * 1024);
      expect(auth.running).toBe(true);
    },
    T,
  );

  it(
    `${PLAYERS} players on 2 hosts x ${SLOTS} slots: every one reaches a game and a result`,
    async () => {
      const { auth } = await authAndHost();
      const h2 = startHost(procs, d, 'host-2', host2.toml);
      await waitLine(procs, h2, 'registered with the auth server');
      const workers = Math.min(4, Math.max(2, Math.ceil(PLAYERS / 100)));
      const share = PLAYERS / workers;
      const gens = Array.from({ length: workers }, (_, i) =>
        // a crowd: one source address per player, arriving at ~40 logins/s (what 2 cores handshake)
        startScript(procs, `players-${i}`, 'players.mjs', {
          ...client(),
          count: share,
          prefix: `w${i}p`,
          addressPrefix: `127.1.${i}`,
          spreadMs: PLAYERS * 25,
          maxMs: 150_000,
        }),
      );
      await until(procs, 'every load generator to finish', () => gens.every((g) => g.find('done').length > 0), 170_000);
      const players = gens.flatMap((g) => g.find('player'));
      // none lost, none stuck, so none saw a bare `timeout` either
      const failed = players.filter((p) => p.ok !== true);
      expect(failed).toEqual([]);
      expect(players).toHaveLength(PLAYERS);
      expect(players.every((p) => p.reason === 'completed' && typeof p.outcome === 'string')).toBe(true);
      // one session per pair, each with a recorded result from one of the two hosts
      const sessions = new Set(players.map((p) => p.sessionId as string));
      expect(sessions.size).toBe(PLAYERS / 2);
      await until(
        procs,
        'every result recorded',
        () => auth.find('session results recorded', (l) => sessions.has(l.sessionId as string)).length === sessions.size,
        30_000,
      );
      const hosts = new Set(auth.find('session results recorded', (l) => sessions.has(l.sessionId as string)).map((l) => l.host));
      expect([...hosts].sort()).toEqual(['host-1', 'host-2']);
      // more players than slots: some had to wait for a host, and were told so
      const waited = players.filter((p) => (p.phases as string[]).some((ph) => ph.startsWith('waiting')));
      console.log(`${PLAYERS} players, ${sessions.size} sessions on 2 x ${SLOTS} slots; ${waited.length} waited for a host`);
    },
    T,
  );

  it(
    'a second registered host cannot write the first host’s live session; the real results are recorded',
    async () => {
      const { auth } = await authAndHost();
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await until(procs, 'the game to begin for both bots', () => a.find('state').length > 0 && b.find('state').length > 0, 120_000);
      const sessionId = a.find('ticket')[0]!.sessionId as string;
      // X (the first of the begin order) will win: the forger says the other one did
      const order = a.find('begin')[0]!.order as string[];
      const forger = startScript(procs, 'forger', 'forger.mjs', {
        ...client(),
        auth: `127.0.0.1:${d.hostsPort}`,
        cert: host2.cert,
        key: host2.key,
        name: 'host-2',
        sessionId,
        winner: order[1],
      });
      await waitLine(procs, forger, 'registered');
      expect(await waitLine(procs, forger, 'results')).toMatchObject({ outcome: 'session.wrong_host' });
      expect(await waitLine(procs, forger, 'telemetry')).toMatchObject({ outcome: 'session.wrong_host' });
      const warned = (what: string) => (l: Line) => l.msg === `${what} refused: host host-2 reported on a session of host host-1` && l.sessionId === sessionId;
      expect(auth.lines.filter(warned('results'))).toHaveLength(1);
      expect(auth.lines.filter(warned('telemetry'))).toHaveLength(1);

      a.send('go');
      b.send('go');
      await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
      await expectRecorded(auth, a, b);
      const winner = (a.find('end')[0]!.results as Array<{ playerId: string; outcome: string }>).find((r) => r.outcome === 'win')!;
      expect(winner.playerId).toBe(order[0]);
      expect(auth.find('session results recorded', (l) => l.sessionId === sessionId)).toHaveLength(1);
    },
    T,
  );
});
