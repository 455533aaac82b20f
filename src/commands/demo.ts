import path from 'node:path';
import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { algorithmOption } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';
import type { KeyAlgorithm, ManifestEntry } from '../pki/types.js';

/**
 * `iyesmp demo`: a complete local deployment on embedded defaults. The setup steps make a dev
 * PKI and scaffolded configs in ./.iyesmp-dev; then (src/demo/deployment.ts) an Auth server and a
 * Host server run as `iyesmp serve` child processes and two bots play the tic-tac-toe example
 * through login, matchmaking, hand-off and the host, to a result the Auth server records.
 */
export const DEV_DIR = '.iyesmp-dev';
/** Marks a folder as made by `iyesmp demo`, so recreating it can never delete someone's data. */
export const DEV_MARKER = '.iyesmp-dev-folder';

interface DemoFlags {
  devDir?: string;
  algorithm?: KeyAlgorithm;
  hosts?: string;
  setupOnly?: boolean;
  keepRunning?: boolean;
  authPort?: string;
  authHostsPort?: string;
  hostPort?: string;
  game?: string;
  database?: string;
  authNodes?: string;
  transport?: string;
  broker?: string;
}

export interface DemoContext {
  out: Output;
  devDir: string;
  pkiDir: string;
  algorithm: KeyAlgorithm;
  hosts: number;
  /** filled by the steps */
  entries: ManifestEntry[];
  files: { kind: string; path: string }[];
}

export interface DemoStep {
  title: string;
  run(ctx: DemoContext): Promise<void>;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run a complete local deployment: dev PKI, an Auth and a Host server, two bots playing tic-tac-toe (or chess)')
    .option('--dev-dir <path>', `folder to (re)create (default ./${DEV_DIR})`)
    .addOption(algorithmOption().default('p256'))
    .option('--hosts <n>', 'number of host certs and configs (the demo runs the first)', '1')
    .option('--setup-only', 'only create the dev PKI and configs; start nothing')
    .option('--keep-running', 'after the game, leave the servers up until Ctrl-C (prints how to play on them)')
    .option('--auth-port <port>', 'UDP port for players to reach the Auth server (default: a free one)')
    .option('--auth-hosts-port <port>', 'UDP port for Host servers to reach the Auth server (default: a free one)')
    .option('--host-port <port>', 'UDP port of the Host server (default: a free one)')
    .option('--game <name>', "the example game the bots play: tictactoe or chess (fool's mate)", 'tictactoe')
    .option('--database <url>', 'keep the Auth state in this PostgreSQL database (default: the embedded one in the dev folder)')
    .option('--auth-nodes <n>', 'Auth nodes serving the deployment, 1 or 2 (2 needs --database: one player on each node)', '1')
    .option('--transport <kind>', 'how the players reach the host: quic, netcode or mqtt (turn-based, docs/turns.md)', 'quic')
    .option('--broker <kind>', "with --transport mqtt: the host's embedded broker, or the machine's mosquitto binary", 'embedded')
    .addHelpText(
      'after',
      `
Steps: create the dev folder (PKI with unencrypted keys, netcode key, Auth/Host configs), start
\`iyesmp serve auth\` and \`iyesmp serve host --game <the example game>\` on loopback, then two bot
players log in, are matched, take their hand-offs (session certificates), join the host, ready up
and play to a result the Auth server records. The story goes to stderr, a summary to stdout
(--json: one document with the players, the session, the game, and the milliseconds of each
phase). Everything is stopped at the end; server logs stay in <dev-dir>/logs.

Only the dev folder is replaced on each run (it carries a marker file; a foreign folder is never
touched). The CA keys are unencrypted: never use this PKI outside your machine.

Examples:
  $ iyesmp demo
  $ iyesmp demo --json 2>/dev/null | jq .data.timings
  $ iyesmp demo --game chess
  $ iyesmp demo --keep-running --auth-port 7350
  $ iyesmp demo --setup-only --hosts 2 --dev-dir /tmp/iyesmp-dev --algorithm ed25519
  $ iyesmp demo --database postgres://postgres@127.0.0.1/iyesmp_demo --auth-nodes 2`,
    )
    .action(action<DemoFlags>('demo', async (out, opts) => runDemo(out, opts)));
}

export const DEMO_STEPS: DemoStep[] = [
  { title: 'prepare the dev folder', run: prepareDevDir },
  { title: 'create the development PKI', run: createPki },
  { title: 'write the netcode key', run: writeNetcodeKey },
  { title: 'scaffold Auth and Host configs', run: scaffoldConfigs },
  { title: 'issue an admin certificate and open the admin port', run: async (ctx) => (await import('../demo/admin.js')).addDemoAdmin(ctx) },
];

async function runDemo(out: Output, opts: DemoFlags): Promise<void> {
  const { parseCount } = await import('../cli/pki.js');
  const { parsePort } = await import('../demo/ports.js');
  const devDir = path.resolve(opts.devDir ?? DEV_DIR);
  // flags are checked before anything is written
  const ports = {
    ...(opts.authPort ? { auth: parsePort(opts.authPort, '--auth-port') } : {}),
    ...(opts.authHostsPort ? { authHosts: parsePort(opts.authHostsPort, '--auth-hosts-port') } : {}),
    ...(opts.hostPort ? { host: parsePort(opts.hostPort, '--host-port') } : {}),
  };
  const { DEMO_GAMES } = await import('../demo/example-game.js');
  const game = DEMO_GAMES.find((g) => g === (opts.game ?? 'tictactoe'));
  if (!game) throw cliError('bad_flag', `--game: expected one of ${DEMO_GAMES.join(', ')}; got ${JSON.stringify(opts.game)}`);
  if (opts.setupOnly && opts.keepRunning) throw cliError('conflicting_flags', '--setup-only starts nothing, so --keep-running has nothing to keep');
  if (opts.database !== undefined && !/^postgres(ql)?:\/\//.test(opts.database)) {
    throw cliError('bad_flag', `--database: expected a postgres:// URL, got "${opts.database.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@')}"`);
  }
  const authNodes = Number(opts.authNodes ?? '1');
  if (authNodes !== 1 && authNodes !== 2) throw cliError('bad_count', `--auth-nodes: expected 1 or 2, got "${opts.authNodes}"`);
  if (authNodes === 2 && opts.database === undefined) {
    throw cliError('conflicting_flags', '--auth-nodes 2 needs --database postgres://…: Auth nodes share their state through PostgreSQL');
  }
  const transport = opts.transport ?? 'quic';
  if (transport !== 'quic' && transport !== 'netcode' && transport !== 'mqtt')
    throw cliError('bad_flag', `--transport ${transport}: expected quic, netcode or mqtt`);
  const broker = opts.broker ?? 'embedded';
  if (broker !== 'embedded' && broker !== 'mosquitto') throw cliError('bad_flag', `--broker ${broker}: expected embedded or mosquitto`);
  if (broker !== 'embedded' && transport !== 'mqtt') throw cliError('conflicting_flags', '--broker is for --transport mqtt');
  if (broker === 'mosquitto' && authNodes === 2) {
    throw cliError('conflicting_flags', '--auth-nodes 2 runs with the embedded broker or another transport');
  }
  const ctx: DemoContext = {
    out,
    devDir,
    pkiDir: path.join(devDir, 'pki'),
    algorithm: opts.algorithm ?? 'p256',
    hosts: parseCount(opts.hosts ?? '1', '--hosts', 20),
    entries: [],
    files: [],
  };
  const { Story } = await import('../demo/story.js');
  const story = new Story(out);
  for (const step of DEMO_STEPS) {
    out.note(`• ${step.title}`);
    await step.run(ctx);
  }
  const setupMs = Math.round(story.now());
  const setup = { devDir, pkiDir: ctx.pkiDir, algorithm: ctx.algorithm, entries: ctx.entries, files: ctx.files };
  const { displayPath: rel } = await import('../demo/deployment.js');
  const { certTable } = await import('../cli/cert-table.js');
  const pkiText = () => [
    out.style.bold(`Development PKI in ${ctx.pkiDir} (unencrypted keys: dev only)`),
    '',
    certTable(ctx.entries, out.style),
    '',
    out.style.bold('Files'),
    ...ctx.files.map((f) => `  ${f.kind.padEnd(12)} ${rel(f.path)}`),
  ];

  if (opts.setupOnly) {
    out.result('demo', setup, () =>
      [
        ...pkiText(),
        '',
        'Next:',
        `  iyesmp certs list --dir ${rel(ctx.pkiDir)}`,
        ...ctx.files.filter((f) => f.kind.endsWith('config')).map((f) => `  iyesmp config check ${rel(f.path)}`),
      ].join('\n'),
    );
    return;
  }

  out.note('• run the deployment: Auth server, Host server, two bot players');
  const { runDeployment } = await import('../demo/deployment.js');
  const run = await runDeployment({
    out,
    story,
    devDir,
    pkiDir: ctx.pkiDir,
    entries: ctx.entries,
    ports,
    keepRunning: Boolean(opts.keepRunning),
    ...(opts.database !== undefined ? { database: opts.database } : {}),
    authNodes,
    game,
    transport,
    broker,
  });
  const timings = { setup: setupMs, ...run.timings, total: Math.round(story.now()) };
  const data = { ...setup, ...run, timings };
  out.result('demo', data, () => {
    const s = out.style;
    const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const auth = run.servers.auth;
    const host = run.servers.host;
    return [
      ...pkiText(),
      '',
      s.bold('What ran'),
      `  auth    iyesmp serve auth --config ${rel(auth.config)}   players ${auth.address}, hosts ${auth.hostsAddress}   log ${rel(auth.log)}`,
      `  ${host.name.padEnd(7)} iyesmp serve host --config ${rel(host.config)} --game ${rel(host.game)}   players ${host.address}   log ${rel(host.log)}`,
      ...run.players.map((p) => `  ${p.name.padEnd(7)} ${p.accountId}, seat ${p.seat}, ${p.mark ?? '?'}: ${p.outcome ?? '?'}`),
      `  session ${run.session.id} on ${run.session.host} (${run.session.transport}); ${run.game.moves.length} moves, ${run.game.result}; ` +
        (run.recorded.byAuth ? s.green('recorded by the Auth server') : s.red('not recorded')),
      '',
      s.bold('Timings'),
      ...Object.entries(timings).map(([k, v]) => `  ${k.padEnd(9)} ${sec(v).padStart(8)}`),
      '',
      'Next:',
      ...nextSteps([
        ['iyesmp demo --keep-running', 'the same, then play on the servers yourself'],
        [`iyesmp serve auth --config ${rel(auth.config)}`, 'run a server yourself (docs/servers.md)'],
        ['docs/client.md, examples/tictactoe, examples/chess', 'build a game on it'],
      ]),
    ].join('\n');
  });
  // client and server sockets are closed; a straggling handle must not keep the demo alive
  setTimeout(() => process.exit(process.exitCode ?? 0), 1500).unref();
}

/** `command   # what it does`, the comments aligned */
function nextSteps(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([c]) => c.length));
  return rows.map(([c, what]) => `  ${c.padEnd(width)}   # ${what}`);
}

async function prepareDevDir(ctx: DemoContext): Promise<void> {
  const fs = await import('node:fs/promises');
  const marker = path.join(ctx.devDir, DEV_MARKER);
  let contents: string[] | undefined;
  try {
    contents = await fs.readdir(ctx.devDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (contents && contents.length > 0 && !contents.includes(DEV_MARKER)) {
    throw cliError('not_a_dev_folder', `${ctx.devDir} exists and was not made by \`iyesmp demo\`; refusing to replace it`, {
      hint: 'remove it yourself or pick another --dev-dir',
    });
  }
  // only the dev folder's own content is replaced: PKI and configs are rewritten below
  await fs.mkdir(ctx.devDir, { recursive: true });
  await fs.writeFile(marker, 'made by `iyesmp demo`; this whole folder is recreated on each run\n');
}

async function createPki(ctx: DemoContext): Promise<void> {
  const { initPki } = await import('../pki/index.js');
  const { INSECURE_WARNING } = await import('../cli/passphrase.js');
  ctx.out.warn(INSECURE_WARNING);
  const pki = await initPki({
    dir: ctx.pkiDir,
    algorithm: ctx.algorithm,
    organization: 'iyesmp dev',
    authDnsNames: ['localhost'],
    authIpAddresses: ['127.0.0.1'],
    hosts: Array.from({ length: ctx.hosts }, (_, i) => ({ name: `host-${i + 1}`, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })),
    allowUnencryptedCaKeys: true,
    unencryptedSessionAuthKey: true,
    force: true,
    keepBackup: false,
  });
  ctx.entries = pki.list();
  ctx.files.push({ kind: 'pki', path: ctx.pkiDir });
}

async function writeNetcodeKey(ctx: DemoContext): Promise<void> {
  const { randomBytes } = await import('node:crypto');
  const { writeFileAtomic } = await import('../config/write.js');
  const { NETCODE_KEY_FILE } = await import('../config/scaffold.js');
  const file = path.join(ctx.pkiDir, NETCODE_KEY_FILE);
  // netcode.io private key: 32 random bytes, stored base64 so it can be pasted into secrets stores
  await writeFileAtomic(file, randomBytes(32).toString('base64') + '\n', { force: true, mode: 0o600 });
  ctx.files.push({ kind: 'netcode key', path: file });
}

async function scaffoldConfigs(ctx: DemoContext): Promise<void> {
  const { scaffoldConfig } = await import('../config/scaffold.js');
  const { writeFileAtomic } = await import('../config/write.js');
  const { TRUST_DIR } = await import('../pki/index.js');
  const targets: { kind: 'auth' | 'host'; name: string; file: string }[] = [
    { kind: 'auth', name: 'auth', file: path.join(ctx.devDir, 'auth.toml') },
    ...ctx.entries.filter((e) => e.role === 'host').map((e) => ({ kind: 'host' as const, name: e.name, file: path.join(ctx.devDir, `${e.name}.toml`) })),
  ];
  for (const t of targets) {
    const r = await scaffoldConfig({
      kind: t.kind,
      pkiDir: ctx.pkiDir,
      entries: ctx.entries,
      trustDir: TRUST_DIR,
      outFile: t.file,
      name: t.name,
      ...(t.kind === 'host' ? { publicAddress: '127.0.0.1', authServers: ['127.0.0.1:7351'] } : {}),
    });
    await writeFileAtomic(t.file, r.text, { force: true });
    ctx.files.push({ kind: `${t.kind} config`, path: t.file });
  }
}
