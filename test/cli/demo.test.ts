import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, run, tempDir } from './helpers.js';
import { missingService } from '../support/require-service.js';

// `iyesmp demo` runs the built CLI, the built example (npm run build) and two `iyesmp serve` children.
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('iyesmp-demo-');
});
afterAll(() => tmp?.cleanup());

/** Processes whose command line mentions `dir` (the demo's children name their configs in it). */
function processesUsing(dir: string): string[] {
  if (!existsSync('/proc')) return [];
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Binds a UDP port on loopback: proves nobody holds it any more. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve({ port: s.address().port, close: () => new Promise((r) => s.close(() => r())) }));
  });
}

describe('iyesmp demo: the local deployment', () => {
  it("--game chess: the bots play the chess example (fool's mate) on the same deployment, and auth records it", async () => {
    const cwd = path.join(tmp.dir, 'chess');
    mkdirSync(cwd);
    const r = run(['demo', '--game', 'chess', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const d = json(r).data;
    expect(d.game).toMatchObject({ name: 'chess', reason: 'completed', moves: [{ san: 'f3' }, { san: 'e5' }, { san: 'g4' }, { san: 'Qh4#' }] });
    // the final position (FEN): Black's queen on h4 gives mate
    expect(d.game.board).toMatch(/^rnb1kbnr\/pppp1ppp\/8\/4p3\/6Pq\/5P2\/PPPPP2P\/RNBQKBNR w /);
    const black = d.players.find((p: any) => p.mark === 'b');
    expect(black.outcome).toBe('win');
    expect(d.players.find((p: any) => p.mark === 'w').outcome).toBe('loss');
    expect(d.game.result).toBe(`${black.name} wins`);
    expect(d.game.moves.map((m: any) => m.by)).toEqual([
      d.players.find((p: any) => p.mark === 'w').seat,
      black.seat,
      d.players.find((p: any) => p.mark === 'w').seat,
      black.seat,
    ]);
    expect(d.recorded).toEqual({ byAuth: true, sessionId: d.session.id, players: 2 });
    expect(d.servers.host.game).toMatch(/examples\/chess\/build\/examples\/chess\/host-game\.js$/);
    expect(r.stderr).toMatch(/ queued for "chess"/);
    expect(r.stderr).toMatch(/ plays Qh4#/);
  }, 120_000);

  // One game API on every transport: each example game plays through the whole deployment.
  const hasMosquitto = spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error === undefined;
  const mosquittoMissing = missingService('mosquitto', hasMosquitto ? undefined : 'no mosquitto binary on PATH');
  it.each(
    [
      { game: 'chess', transport: 'mqtt', broker: 'embedded' },
      { game: 'chess', transport: 'mqtt', broker: 'mosquitto' },
      { game: 'chess', transport: 'netcode', broker: 'embedded' },
      { game: 'tictactoe', transport: 'netcode', broker: 'embedded' },
    ].filter((c) => c.broker !== 'mosquitto' || !mosquittoMissing),
  )(
    '--game $game --transport $transport (broker $broker): the game ends with a result the Auth server records',
    ({ game, transport, broker }) => {
      const cwd = path.join(tmp.dir, `${game}-${transport}-${broker}`);
      mkdirSync(cwd);
      const args = ['demo', '--game', game, '--transport', transport, ...(transport === 'mqtt' ? ['--broker', broker] : []), '--json'];
      const r = run(args, { cwd });
      expect(r.code, r.stderr).toBe(0);
      const d = json(r).data;
      expect(d.session.transport).toBe(transport);
      expect(d.game).toMatchObject({ name: game, reason: 'completed' });
      if (game === 'chess') expect(d.game.moves.map((m: any) => m.san)).toEqual(['f3', 'e5', 'g4', 'Qh4#']);
      expect(d.recorded).toEqual({ byAuth: true, sessionId: d.session.id, players: 2 });
    },
    120_000,
  );

  it('--game refuses an unknown game before writing anything', () => {
    const cwd = path.join(tmp.dir, 'nogame');
    mkdirSync(cwd);
    const r = run(['demo', '--game', 'checkers', '--json'], { cwd });
    expect(r.code).toBe(2);
    expect(json(r)).toMatchObject({ ok: false, error: { code: 'bad_flag' } });
    expect(r.stderr + r.stdout).toMatch(/--game: expected one of tictactoe, chess/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('runs Auth and Host servers, two bots play a full game, and auth records the result (--json)', async () => {
    const cwd = path.join(tmp.dir, 'json');
    mkdirSync(cwd);
    const r = run(['demo', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const d = json(r).data;
    expect(d.game.name).toBe('tictactoe');

    // the game went to its end and both players got a consistent result
    expect(d.game.reason).toBe('completed');
    const outcomes = d.players.map((p: any) => p.outcome).sort();
    expect([
      ['draw', 'draw'],
      ['loss', 'win'],
    ]).toContainEqual(outcomes);
    const winner = d.players.find((p: any) => p.outcome === 'win');
    expect(d.game.result).toBe(winner ? `${winner.name} wins` : 'draw');
    expect(d.players.map((p: any) => p.mark).sort()).toEqual(['O', 'X']);
    // every move is on the final board with its player's mark; X moved first, turns alternate
    const markOf = Object.fromEntries(d.players.map((p: any) => [p.seat, p.mark]));
    expect(d.game.moves.length).toBeGreaterThanOrEqual(5);
    expect(d.game.moves.length).toBeLessThanOrEqual(9);
    d.game.moves.forEach((m: any, i: number) => {
      expect(markOf[m.by]).toBe(i % 2 === 0 ? 'X' : 'O');
      expect(d.game.board[m.cell]).toBe(markOf[m.by]);
    });
    expect(d.game.board.filter((c: unknown) => c !== null)).toHaveLength(d.game.moves.length);

    // the hand-off: one session, each player its own seat and session certificate
    expect(d.session.transport).toBe('quic');
    expect(d.session.host).toBe('host-1');
    expect(d.session.hostAddress).toBe(d.servers.host.address);
    expect(new Set(d.players.map((p: any) => p.certFingerprint)).size).toBe(2);
    for (const p of d.players) {
      expect(p.accountId).toMatch(/^guest:/);
      expect(p.certFingerprint).toMatch(/^[0-9a-f]{64}$/);
    }

    // recorded by the Auth server: in the report and in its own log
    expect(d.recorded).toEqual({ byAuth: true, sessionId: d.session.id, players: 2 });
    const authLog = readFileSync(d.servers.auth.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(authLog.find((l: any) => l.msg === 'session results recorded' && l.sessionId === d.session.id)).toBeDefined();

    // the story on stderr tells the phases in order
    const lines = r.stderr.split('\n');
    const story = [
      / logged in to "auth" as guest:/,
      / queued for "tictactoe"/,
      / matched: /,
      / picked host host-1 for session /,
      / hand-off: session \S+, seat \S+, host 127\.0\.0\.1:\d+ \(quic\), session cert sha256 [0-9a-f]/,
      / connected to the game host/,
      / ready$/,
      / begins: /,
      / plays [XO] on cell \d/,
      / over \(completed\)/,
      new RegExp(` results of session ${d.session.id} recorded`),
    ];
    const at = story.map((re) => lines.findIndex((l) => re.test(l)));
    expect(
      at.every((i) => i >= 0),
      r.stderr,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);

    // timings of every phase
    expect(Object.keys(d.timings)).toEqual(['setup', 'servers', 'login', 'match', 'handoff', 'connect', 'ready', 'game', 'record', 'shutdown', 'total']);
    for (const v of Object.values(d.timings)) expect(v).toBeTypeOf('number');

    // everything stopped cleanly: exit 0, no process left, ports free again
    expect(d.servers.auth.exitCode).toBe(0);
    expect(d.servers.host.exitCode).toBe(0);
    expect(alive(d.servers.auth.pid)).toBe(false);
    expect(alive(d.servers.host.pid)).toBe(false);
    expect(processesUsing(cwd)).toEqual([]);
    for (const a of [d.servers.auth.address, d.servers.auth.hostsAddress, d.servers.host.address]) {
      expect(await canBind(Number(a.split(':')[1]))).toBe(true);
    }
  });

  it('uses the ports it is given and prints a human summary', async () => {
    const cwd = path.join(tmp.dir, 'human');
    mkdirSync(cwd);
    const held = await holdPort(); // find a free port, then release it for the demo
    await held.close();
    const r = run(['demo', '--auth-port', String(held.port)], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`players 127\\.0\\.0\\.1:${held.port}\\b`));
    expect(r.stdout).toMatch(/recorded by the Auth server/);
    expect(r.stdout).toMatch(/^ {2}total +\d+\.\d\d s$/m);
    // the config the auth server ran is the scaffolded one, pointed at loopback and this port
    const auth = readFileSync(path.join(cwd, '.iyesmp-dev', 'auth.toml'), 'utf8');
    expect(auth).toMatch(new RegExp(`\\[listen\\.clients\\]\\naddress = "127\\.0\\.0\\.1"\\nport = ${held.port}\\n`));
    expect(auth).toMatch(/^# Game clients connect here/m); // comments kept
    expect(run(['config', 'check', path.join(cwd, '.iyesmp-dev', 'auth.toml')]).code).toBe(0);
    expect(processesUsing(cwd)).toEqual([]);
  });

  it('--keep-running leaves the servers up after the game, prints how to play on them, and stops them on Ctrl-C', async () => {
    const cwd = path.join(tmp.dir, 'keep');
    mkdirSync(cwd);
    // its own process group, so the finally below can remove the demo and its servers whatever happens
    const child = spawn(process.execPath, [BIN, 'demo', '--keep-running', '--json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "keep running" notice:\n${stderr}`)), 45_000);
        child.once('exit', (code) => reject(new Error(`demo exited (${code}) before the notice:\n${stderr}`)));
        child.stderr.on('data', (b) => {
          stderr += b;
          if (stderr.includes('Ctrl-C stops them')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // still serving after the game: both servers are alive and the notice names the client command
      expect(stderr).toMatch(/play\.js --server 127\.0\.0\.1:\d+/);
      expect(processesUsing(cwd).filter((p) => p.includes(' serve '))).toHaveLength(2);
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 20 s after SIGINT'), 20_000))]);
      expect(code, stderr).toBe(0);
      const d = JSON.parse(stdout).data;
      expect(d.keptRunning).toBe(true);
      expect(d.recorded.byAuth).toBe(true);
      expect([d.servers.auth.exitCode, d.servers.host.exitCode]).toEqual([0, 0]);
      expect(processesUsing(cwd)).toEqual([]);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 90_000);

  it('Ctrl-C on a terminal (SIGINT to the whole process group) exits 0 and both servers stop cleanly (issue 12)', async () => {
    const cwd = path.join(tmp.dir, 'ctrl-c');
    mkdirSync(cwd);
    // its own process group, as a shell gives a foreground job: the terminal's Ctrl-C reaches all of it
    const child = spawn(process.execPath, [BIN, 'demo', '--keep-running', '--json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "keep running" notice:\n${stderr}`)), 45_000);
        child.once('exit', (code) => reject(new Error(`demo exited (${code}) before the notice:\n${stderr}`)));
        child.stderr.on('data', (b) => {
          stderr += b;
          if (stderr.includes('Ctrl-C stops them')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      process.kill(-child.pid!, 'SIGINT');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 20 s after SIGINT'), 20_000))]);
      expect(code, stderr).toBe(0);
      expect(stderr).not.toContain('did not stop cleanly');
      const d = JSON.parse(stdout).data;
      expect([d.servers.auth.exitCode, d.servers.host.exitCode]).toEqual([0, 0]);
      expect(processesUsing(cwd)).toEqual([]);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 90_000);

  it('even a demo killed outright (SIGKILL) leaves no server behind', async () => {
    const cwd = path.join(tmp.dir, 'killed');
    mkdirSync(cwd);
    const child = spawn(process.execPath, [BIN, 'demo', '--keep-running'], { cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "keep running" notice:\n${stderr}`)), 45_000);
        child.once('exit', (code) => reject(new Error(`demo exited (${code}) before the notice:\n${stderr}`)));
        child.stderr.on('data', (b) => {
          stderr += b;
          if (stderr.includes('Ctrl-C stops them')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(processesUsing(cwd).filter((p) => p.includes(' serve '))).toHaveLength(2);
      child.kill('SIGKILL'); // the demo only: its servers must notice and stop by themselves
      const end = Date.now() + 20_000;
      while (processesUsing(cwd).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      expect(processesUsing(cwd)).toEqual([]);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 90_000);

  it('a server that cannot start ends the demo with a clear error and nothing left running', async () => {
    const cwd = path.join(tmp.dir, 'busy');
    mkdirSync(cwd);
    const held = await holdPort();
    try {
      const r = run(['demo', '--host-port', String(held.port), '--json'], { cwd });
      expect(r.code).toBe(5);
      const e = json(r).error;
      expect(e.code).toBe('demo_server_exited');
      expect(e.message).toContain('host-1 server exited');
      expect(e.message).toContain(String(held.port));
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(processesUsing(cwd)).toEqual([]);
    } finally {
      await held.close();
    }
  });

  it('refuses bad port flags before touching anything', () => {
    const cwd = path.join(tmp.dir, 'flags');
    mkdirSync(cwd);
    const r = run(['demo', '--auth-port', '70000', '--json'], { cwd });
    expect(r.code).toBe(2);
    expect(json(r).error.code).toBe('bad_port');
    expect(existsSync(path.join(cwd, '.iyesmp-dev'))).toBe(false);
  });
});

describe('iyesmp demo --setup-only: the dev PKI and configs', () => {
  it('creates a dev PKI and configs in ./.iyesmp-dev and prints the table', () => {
    const r = run(['demo', '--setup-only'], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*WITHOUT a passphrase/);
    const header = r.stdout.split('\n').find((l) => l.startsWith('ROLE'));
    expect(header).toMatch(/ROLE\s+NAME\s+SUBJECT\s+NOT AFTER\s+FINGERPRINT/);
    for (const role of ['master', 'clientauth', 'sessionauth', 'auth', 'host', 'client']) expect(r.stdout).toMatch(new RegExp(`^${role}\\s`, 'm'));
    const dev = path.join(tmp.dir, '.iyesmp-dev');
    for (const f of ['pki/manifest.json', 'auth.toml', 'host-1.toml', 'pki/netcode.key']) expect(existsSync(path.join(dev, f))).toBe(true);
    expect(Buffer.from(readFileSync(path.join(dev, 'pki/netcode.key'), 'utf8').trim(), 'base64')).toHaveLength(32);
    for (const cfg of ['auth.toml', 'host-1.toml']) {
      const c = run(['config', 'check', path.join(dev, cfg), '--json']);
      expect(c.code).toBe(0);
      // the warnings are those serve logs at start: none for the demo's files
      expect(json(c).data.warnings).toEqual([]);
    }
    expect(run(['certs', 'check', '--dir', path.join(dev, 'pki')]).code).toBe(0);
  });

  it('recreates only its own folder on the next run (new Master) and reports JSON', () => {
    const first = json(run(['certs', 'list', '--json', '--dir', '.iyesmp-dev/pki'], { cwd: tmp.dir })).data.entries.find((e: any) => e.role === 'master');
    const sibling = path.join(tmp.dir, 'keep.txt');
    writeFileSync(sibling, 'mine');
    const r = run(['demo', '--setup-only', '--hosts', '2', '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    const d = json(r).data;
    expect(d.pkiDir).toBe(path.join(tmp.dir, '.iyesmp-dev', 'pki'));
    const master = d.entries.find((e: any) => e.role === 'master');
    expect(master.fingerprint).not.toBe(first.fingerprint);
    expect(d.entries.filter((e: any) => e.role === 'host')).toHaveLength(2);
    expect(d.files.map((f: any) => path.basename(f.path))).toEqual(expect.arrayContaining(['auth.toml', 'host-1.toml', 'host-2.toml']));
    expect(readFileSync(sibling, 'utf8')).toBe('mine');
  });

  it('never replaces a folder it did not make', () => {
    const foreign = path.join(tmp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'data.txt'), 'precious');
    const r = run(['demo', '--dev-dir', foreign, '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(4);
    expect(json(r).error.code).toBe('not_a_dev_folder');
    expect(readFileSync(path.join(foreign, 'data.txt'), 'utf8')).toBe('precious');
  });
});
