/**
 * Wire fuzz over real QUIC, every party its own OS process (issue #9): fuzzer.mjs sends malformed
 * and hostile frames with valid certificates to the three ports at once: the Auth server's players
 * port (`iyesmp-auth/1`, the game build's client certificate), its hosts port (`iyesmp-hostctl/1`,
 * a registered-looking host-2 certificate) and the Host's players port (`iyesmp-host/1`, a session
 * certificate the fuzzer got by matchmaking). Then: both servers still run, logged no error, kept
 * their memory, and a canary pair of real players logs in, plays and gets its result recorded.
 *
 * IYESMP_FUZZ_FRAMES frames per port (CI default 300); bench/fuzz.bench.js runs ~50,000 per port.
 * Build first (these tests run dist/): npx tsc -p tsconfig.json && npx vitest run test/e2e/fuzz.test.ts
 */
import { describe, expect, it } from 'vitest';
import {
  addHost,
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
  type Proc,
} from './harness.js';

const FRAMES = Number(process.env.IYESMP_FUZZ_FRAMES ?? 300);
const T = 240_000;
let d: Deployment;
let host2: ExtraHost;
let procs: Procs;

e2eLifecycle(async () => {
  d = await makeDeployment();
  host2 = await addHost(d, 'host-2');
  procs = new Procs(d.dir);
  return { d, procs };
});

const ended = (p: Proc) => p.find('end').length > 0 || p.find('game-error').length > 0 || !p.running;
/** the servers' levels are names (docs/operations.md); library loggers' are pino numbers (50 error, 60 fatal) */
const errorsOf = (p: Proc) => p.lines.filter((l) => l.level === 'error' || l.level === 'fatal' || (typeof l.level === 'number' && l.level >= 50));

describe('wire fuzz, separate processes', () => {
  it(
    `${FRAMES} hostile frames on each of the three ports: no crash, no error, and a real pair still plays`,
    async () => {
      const auth = startAuth(procs, d);
      await waitLine(procs, auth, 'auth server listening');
      const host = startHost(procs, d);
      await waitLine(procs, host, 'registered with the auth server');
      const [authRss, hostRss] = [await rssOf(auth), await rssOf(host)];

      const common = { auth: `127.0.0.1:${d.clientsPort}`, ca: d.ca, cert: d.client.cert, key: d.client.key, frames: FRAMES, maxMs: 150_000 };
      const fuzzers = [
        startScript(procs, 'fuzz-auth', 'fuzzer.mjs', { ...common, target: 'auth', seed: 1 }),
        startScript(procs, 'fuzz-hostctl', 'fuzzer.mjs', {
          ...common,
          target: 'hostctl',
          hostctl: `127.0.0.1:${d.hostsPort}`,
          cert: host2.cert,
          key: host2.key,
          hostName: 'host-2',
          seed: 2,
        }),
        startScript(procs, 'fuzz-host', 'fuzzer.mjs', { ...common, target: 'host', seed: 3 }),
      ];
      await until(procs, 'every fuzzer to finish', () => fuzzers.every((f) => f.find('done').length > 0 || !f.running), 170_000);
      for (const f of fuzzers) {
        const done = f.find('done')[0];
        console.log(`${f.name}: ${JSON.stringify(done)}`);
        expect(done, `${f.name} finished`).toBeDefined();
        expect(done!.frames).toBeGreaterThanOrEqual(FRAMES);
        expect(done!.connections).toBeGreaterThan(0);
        // every kind of hostile frame was sent
        expect(Object.keys(done!.byKind as object).length).toBeGreaterThanOrEqual(10);
      }

      expect(auth.running).toBe(true);
      expect(host.running).toBe(true);
      expect(errorsOf(auth)).toEqual([]);
      expect(errorsOf(host)).toEqual([]);
      const [authRss2, hostRss2] = [await rssOf(auth), await rssOf(host)];
      if (authRss !== undefined && authRss2 !== undefined) expect(authRss2 - authRss).toBeLessThan(150 * 1024 * 1024);
      if (hostRss !== undefined && hostRss2 !== undefined) expect(hostRss2 - hostRss).toBeLessThan(150 * 1024 * 1024);

      // the canary: a real pair logs in, is matched, plays and gets its result recorded
      const a = startBot(procs, d, { name: 'canary-a', flow: 'matchmake' });
      const b = startBot(procs, d, { name: 'canary-b', flow: 'matchmake' });
      await until(procs, 'both canaries to finish the game', () => ended(a) && ended(b), 120_000);
      const [ea, eb] = [a.find('end')[0], b.find('end')[0]];
      expect(ea).toMatchObject({ reason: 'completed' });
      expect(eb?.results).toEqual(ea!.results);
      const sessionId = a.find('ticket')[0]!.sessionId as string;
      expect(await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId)).toMatchObject({ host: 'host-1', players: 2 });
    },
    T,
  );
});
