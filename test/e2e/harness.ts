/**
 * Process harness for the end-to-end tests: a dev PKI and scaffolded configs made with the built
 * CLI, `iyesmp serve auth|host` and the client scripts of this folder as child processes, their
 * output collected line by line (JSON where it parses), waits with bounded timeouts, and a kill of
 * every child that is still running. A failed wait names what it waited for and prints the last
 * lines of every child, so a failure shows what the servers were saying.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, onTestFailed } from 'vitest';

const run = promisify(execFile);
export const root = path.resolve(import.meta.dirname, '../..');
export const cli = path.join(root, 'bin/iyesmp.js');
export const here = import.meta.dirname;

/** The tests run the built code: fail at once, clearly, when `npm test` (or tsc) has not built it. */
export function assertBuilt(): void {
  for (const f of ['dist/main.js', 'dist/client/index.js', 'dist/transport/index.js', 'dist/errors.js']) {
    if (!existsSync(path.join(root, f))) throw new Error(`${f} is missing: build first (npm test builds; or npx tsc -p tsconfig.json)`);
  }
}

export type Line = { ev?: string; msg?: string; [k: string]: unknown };

export class Proc {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  readonly raw: string[] = [];
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;
  #partial = { out: '', err: '' };

  constructor(
    readonly name: string,
    args: string[],
    cwd: string,
    env?: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    this.child.stdin!.on('error', () => undefined);
    this.child.stdout!.on('data', (d: Buffer) => this.#take('out', d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => this.#take('err', d.toString()));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.raw.push(`[exit code=${code} signal=${signal}]`);
        resolve(code);
      }),
    );
  }

  #take(which: 'out' | 'err', text: string): void {
    const parts = (this.#partial[which] + text).split('\n');
    this.#partial[which] = parts.pop()!;
    for (const line of parts) {
      if (line.trim() === '') continue;
      this.raw.push(which === 'err' ? `[stderr] ${line}` : line);
      try {
        const v = JSON.parse(line) as unknown;
        if (v && typeof v === 'object') this.lines.push(v as Line);
      } catch {
        // not JSON: kept in `raw` only
      }
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Lines that match: an `ev` name (client scripts) or a pino `msg` (servers), plus a predicate. */
  find(what: string, pred: (l: Line) => boolean = () => true): Line[] {
    return this.lines.filter((l) => (l.ev === what || l.msg === what) && pred(l));
  }

  send(line: string): void {
    if (this.running) this.child.stdin!.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child.kill(signal);
  }

  tail(n = 25): string {
    return this.raw
      .slice(-n)
      .map((l) => `  ${this.name}| ${l.length > 400 ? `${l.slice(0, 400)}…` : l}`)
      .join('\n');
  }
}

/** Every process a test started, so `afterEach` can kill them and failures can show their logs. */
export class Procs {
  readonly all: Proc[] = [];

  constructor(readonly cwd: string) {}

  /** `env` is added to this process's environment (config overrides, IYESMP_CONFIG). */
  node(name: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
    const p = new Proc(name, args, this.cwd, env);
    this.all.push(p);
    return p;
  }

  report(n = 25): string {
    return this.all.map((p) => `--- ${p.name} (${p.running ? 'running' : `exited ${p.exitCode}`}), last lines:\n${p.tail(n)}`).join('\n');
  }

  /** SIGKILL whatever is still running and wait for the exits (bounded). Their logs stay for `report`. */
  async killAll(): Promise<void> {
    for (const p of this.all) p.kill('SIGKILL');
    await Promise.race([Promise.all(this.all.map((p) => p.exited)), sleep(5000)]);
  }

  /** Forget the previous test's processes (after killAll). */
  reset(): void {
    this.all.length = 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy; on timeout throws naming `what`, with the children's logs. */
export async function until<T>(procs: Procs, what: string, fn: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${procs.report()}`);
    await sleep(100);
  }
}

/** Waits for the first line `what` of `p` (optionally matching `pred`) and returns it. */
export function waitLine(procs: Procs, p: Proc, what: string, pred?: (l: Line) => boolean, timeoutMs = 60_000): Promise<Line> {
  return until(
    procs,
    `${p.name}: "${what}"`,
    () => {
      const hit = p.find(what, pred)[0];
      // a process that exited will not print it any more: fail now rather than at the timeout
      if (!hit && p.exitCode !== undefined) throw new Error(`${p.name} exited (code ${p.exitCode}) without printing "${what}"\n${procs.report()}`);
      return hit;
    },
    timeoutMs,
  );
}

/** A free loopback UDP port (QUIC): bound and released; the tiny race is acceptable on loopback. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function iyesmp(cwd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [cli, ...args], { cwd, timeout: 60_000 });
}

export interface Deployment {
  dir: string;
  ca: string;
  client: { cert: string; key: string };
  authToml: string;
  hostToml: string;
  clientsPort: number;
  hostsPort: number;
  playersPort: number;
  options: DeploymentOptions;
  cleanup(): Promise<void>;
}

/** Extra keys for the scaffolded configs (commented-out defaults may be set too). */
export interface DeploymentOptions {
  auth?: TomlEdit[];
  /** applied to every host's config */
  host?: TomlEdit[];
}

export type TomlEdit = [section: string, key: string, value: string | number];

/**
 * A dev PKI (`certs init --yes --insecure-no-passphrase`, Auth and host-1 on 127.0.0.1) and the
 * configs `config scaffold` writes, on free loopback ports, with short heartbeats and re-dials so
 * a lost host or Auth server shows within seconds.
 */
export async function makeDeployment(opts: DeploymentOptions = {}): Promise<Deployment> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-e2e-'));
  try {
    return await deploy(dir, opts);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function deploy(dir: string, opts: DeploymentOptions): Promise<Deployment> {
  await iyesmp(dir, ['certs', 'init', '--yes', '--insecure-no-passphrase', '--dir', 'pki', '--auth-ip', '127.0.0.1', '--host-ip', '127.0.0.1', '--json']);
  const [clientsPort, hostsPort, playersPort] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  await iyesmp(dir, ['config', 'scaffold', 'auth', '--dir', 'pki', '--out', 'auth.toml']);
  await iyesmp(dir, [
    'config',
    'scaffold',
    'host',
    '--dir',
    'pki',
    '--name',
    'host-1',
    '--public-address',
    '127.0.0.1',
    '--auth-server',
    `127.0.0.1:${hostsPort}`,
    '--out',
    'host.toml',
  ]);
  await editToml(dir, 'auth.toml', [
    ['listen.clients', 'address', '"127.0.0.1"'],
    ['listen.clients', 'port', clientsPort],
    ['listen.hosts', 'address', '"127.0.0.1"'],
    ['listen.hosts', 'port', hostsPort],
    ['hosts', 'heartbeat_interval_seconds', 1],
    ['hosts', 'missed_heartbeats', 3],
    // any free port: tests run many deployments at once (the port is in the 'admin http listening' line)
    ['admin_http', 'listen', '"127.0.0.1:0"'],
    ...(opts.auth ?? []),
  ]);
  await editToml(dir, 'host.toml', hostEdits(playersPort, opts));
  const pki = path.join(dir, 'pki');
  return {
    dir,
    ca: path.join(pki, 'certs/master.pem'),
    client: { cert: path.join(pki, 'certs/client-clientauth-1-1.pem'), key: path.join(pki, 'keys/client-clientauth-1-1.key.pem') },
    authToml: 'auth.toml',
    hostToml: 'host.toml',
    clientsPort,
    hostsPort,
    playersPort,
    options: opts,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function editToml(dir: string, file: string, keys: TomlEdit[]): Promise<void> {
  let text = await readFile(path.join(dir, file), 'utf8');
  for (const [section, key, value] of keys) text = setKey(text, file, section, key, value);
  await writeFile(path.join(dir, file), text);
}

function hostEdits(playersPort: number, opts: DeploymentOptions): TomlEdit[] {
  return [
    ['listen', 'address', '"127.0.0.1"'],
    ['transports.quic', 'port', playersPort],
    ['auth', 'reconnect_max_seconds', 1],
    ['admin_http', 'listen', '"127.0.0.1:0"'],
    ...(opts.host ?? []),
  ];
}

export interface ExtraHost {
  name: string;
  toml: string;
  playersPort: number;
  /** its host certificate and key, for scripts that speak hostctl as this host */
  cert: string;
  key: string;
}

/** Another host of the deployment: its certificate (`certs issue host`) and scaffolded config on a free port. */
export async function addHost(d: Deployment, name: string): Promise<ExtraHost> {
  const out = JSON.parse((await iyesmp(d.dir, ['certs', 'issue', 'host', name, '--ip', '127.0.0.1', '--dir', 'pki', '--json'])).stdout) as {
    data: { issued: Array<{ certPath: string; keyPath: string }> };
  };
  const issued = out.data.issued[0]!;
  const playersPort = await freeUdpPort();
  const toml = `${name}.toml`;
  const auth = `127.0.0.1:${d.hostsPort}`;
  await iyesmp(d.dir, ['config', 'scaffold', 'host', '--dir', 'pki', '--name', name, '--public-address', '127.0.0.1', '--auth-server', auth, '--out', toml]);
  await editToml(d.dir, toml, hostEdits(playersPort, d.options));
  return { name, toml, playersPort, cert: issued.certPath, key: issued.keyPath };
}

/** Sets `key = value` inside `[section]` of a scaffolded TOML file (the key must be there, maybe commented out). */
function setKey(text: string, file: string, section: string, key: string, value: string | number): string {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.trim() === `[${section}]`);
  if (header < 0) throw new Error(`${file}: the scaffolded config has no [${section}]`);
  for (let i = header + 1; i < lines.length && !/^\s*\[/.test(lines[i]!); i++) {
    // a commented-out default (`# key = …`) counts too
    if (new RegExp(`^(# )?${key}\\s*=`).test(lines[i]!)) {
      lines[i] = `${key} = ${value}`;
      return lines.join('\n');
    }
  }
  throw new Error(`${file}: [${section}] has no ${key}`);
}

export const GAME_MODULE = path.join(here, 'ttt-game.mjs');

export function startAuth(procs: Procs, d: Deployment, name = 'auth', toml = d.authToml): Proc {
  return procs.node(name, [cli, 'serve', 'auth', '--config', toml, '--grace-ms', '500']);
}

/** A copy of the deployment's Auth config with `edits`, for a test that needs other settings. */
export async function authConfigVariant(d: Deployment, file: string, edits: TomlEdit[]): Promise<string> {
  await writeFile(path.join(d.dir, file), await readFile(path.join(d.dir, d.authToml), 'utf8'));
  await editToml(d.dir, file, edits);
  return file;
}

/** A copy of any of the deployment's configs with `edits` (a host config pointed at other Auth nodes, say). */
export async function configVariant(d: Deployment, from: string, file: string, edits: TomlEdit[]): Promise<string> {
  await writeFile(path.join(d.dir, file), await readFile(path.join(d.dir, from), 'utf8'));
  await editToml(d.dir, file, edits);
  return file;
}

export function startHost(procs: Procs, d: Deployment, name = 'host', toml = d.hostToml): Proc {
  return procs.node(name, [cli, 'serve', 'host', '--config', toml, '--game', GAME_MODULE, '--grace-ms', '500']);
}

/** One of this folder's client scripts (flood.mjs, players.mjs, forger.mjs, fuzzer.mjs) with its JSON config. */
export function startScript(procs: Procs, name: string, script: string, cfg: object): Proc {
  return procs.node(name, [path.join(here, script), JSON.stringify(cfg)]);
}

/** Resident memory of a running child in bytes (Linux /proc), or undefined when it cannot be read. */
export async function rssOf(p: Proc): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${p.child.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

export interface BotConfig {
  name: string;
  flow: 'matchmake' | 'lobby-create' | 'lobby-join';
  lobbyName?: string;
  hold?: boolean;
  ticketOut?: string;
  hostIdleMs?: number;
  lingerMs?: number;
  cert?: string;
  key?: string;
  /** source address of the bot's connections (the client API cannot bind one; see bot.mjs) */
  localHost?: string;
  /** register this password account and play as it (instead of a guest login) */
  register?: { username: string; password: string };
}

export function startBot(procs: Procs, d: Deployment, c: BotConfig): Proc {
  const cfg = { auth: `127.0.0.1:${d.clientsPort}`, ca: d.ca, cert: c.cert ?? d.client.cert, key: c.key ?? d.client.key, ...c };
  return procs.node(c.name, [path.join(here, 'bot.mjs'), JSON.stringify(cfg)]);
}

export function startThief(procs: Procs, d: Deployment, name: string, o: { ticket: string; localHost: string; sessionId?: string }): Proc {
  return procs.node(name, [path.join(here, 'thief.mjs'), JSON.stringify({ ca: d.ca, timeoutMs: 8000, ...o })]);
}

/**
 * Sends one QUIC-looking datagram (a 1200-byte long-header Initial with an unknown version) from
 * `fromHost` to the host's player port and reports whether anything came back within `waitMs`.
 * A QUIC server that sees such a packet answers with Version Negotiation, so a reply proves the
 * datagram reached QUIC, and silence (with a reply for an allowed source as the control) proves
 * the raw-datagram allow-list dropped it first.
 */
export async function quicProbe(fromHost: string, toPort: number, waitMs: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((r, j) => {
      s.once('error', j);
      s.bind(0, fromHost, () => r());
    });
    const replied = new Promise<boolean>((r) => {
      s.once('message', () => r(true));
      setTimeout(() => r(false), waitMs);
    });
    const pkt = Buffer.alloc(1200);
    let o = 0;
    pkt[o++] = 0xc0; // long header, fixed bit, type Initial
    pkt.writeUInt32BE(0x1a2a3a4a, o); // a reserved "greasing" version no server supports
    o += 4;
    pkt[o++] = 8; // DCID
    randomFill(pkt, o, 8);
    o += 8;
    pkt[o++] = 8; // SCID
    randomFill(pkt, o, 8);
    o += 8;
    pkt[o++] = 0; // token length
    pkt.writeUInt16BE(0x4000 | (1200 - o - 2), o); // payload length (2-byte varint)
    await new Promise<void>((r, j) => s.send(pkt, toPort, '127.0.0.1', (err) => (err ? j(err) : r())));
    return await replied;
  } finally {
    s.close();
  }
}

function randomFill(b: Buffer, at: number, n: number): void {
  for (let i = 0; i < n; i++) b[at + i] = Math.floor(Math.random() * 256);
}

/**
 * The life of an e2e file: `setup` (after the build check) makes the deployment and its Procs once;
 * before each test the Procs forget the last test's children, on failure the children's logs are
 * printed (they outlive the kill), after each test every child is killed, at the end the deployment
 * is removed. Call at the file's top level.
 */
export function e2eLifecycle(setup: () => Promise<{ d: Deployment; procs: Procs }>): void {
  let made: { d: Deployment; procs: Procs } | undefined;
  beforeAll(async () => {
    assertBuilt();
    made = await setup();
  }, 120_000);
  beforeEach((ctx) => {
    made?.procs.reset();
    onTestFailed(() => console.error(`children of "${ctx.task.name}":\n${made?.procs.report(40)}`));
  });
  afterEach(async () => {
    await made?.procs.killAll();
  }, 30_000);
  afterAll(async () => {
    await made?.procs.killAll();
    await made?.d.cleanup();
  }, 30_000);
}
