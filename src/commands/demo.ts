import path from 'node:path';
import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { algorithmOption } from '../cli/pki.js';
import { IyesmpError } from '../errors.js';
import type { KeyAlgorithm, ManifestEntry } from '../pki/types.js';

/**
 * `iyesmp demo`: a complete development setup in ./.iyesmp-dev. Built as a list of steps that each
 * add to a shared result, so later steps (start an Auth server, hosts, a bot client) slot in.
 */
export const DEV_DIR = '.iyesmp-dev';
/** Marks a folder as made by `iyesmp demo`, so recreating it can never delete someone's data. */
export const DEV_MARKER = '.iyesmp-dev-folder';

interface DemoFlags {
  devDir?: string;
  algorithm?: KeyAlgorithm;
  hosts?: string;
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
    .description('create a development setup in ./.iyesmp-dev: an unencrypted dev PKI and Auth/Host configs')
    .option('--dev-dir <path>', `folder to (re)create (default ./${DEV_DIR})`)
    .addOption(algorithmOption().default('p256'))
    .option('--hosts <n>', 'number of host certs and configs', '1')
    .addHelpText('after', `
Only the dev folder is replaced on each run (it carries a marker file; a foreign folder is never
touched). The CA keys are unencrypted: never use this PKI outside your machine.

Examples:
  $ iyesmp demo
  $ iyesmp demo --hosts 2 --json
  $ iyesmp demo --dev-dir /tmp/iyesmp-dev --algorithm ed25519`)
    .action(action<DemoFlags>('demo', async (out, opts) => runDemo(out, opts)));
}

export const DEMO_STEPS: DemoStep[] = [
  { title: 'prepare the dev folder', run: prepareDevDir },
  { title: 'create the development PKI', run: createPki },
  { title: 'write the netcode key', run: writeNetcodeKey },
  { title: 'scaffold Auth and Host configs', run: scaffoldConfigs },
];

async function runDemo(out: Output, opts: DemoFlags): Promise<void> {
  const { parseCount } = await import('../cli/pki.js');
  const devDir = path.resolve(opts.devDir ?? DEV_DIR);
  const ctx: DemoContext = {
    out,
    devDir,
    pkiDir: path.join(devDir, 'pki'),
    algorithm: opts.algorithm ?? 'p256',
    hosts: parseCount(opts.hosts ?? '1', '--hosts', 20),
    entries: [],
    files: [],
  };
  for (const step of DEMO_STEPS) {
    out.note(`• ${step.title}`);
    await step.run(ctx);
  }
  const { certTable } = await import('../cli/cert-table.js');
  const data = { devDir, pkiDir: ctx.pkiDir, algorithm: ctx.algorithm, entries: ctx.entries, files: ctx.files };
  out.result('demo', data, () =>
    [
      out.style.bold(`Development PKI in ${ctx.pkiDir} (unencrypted keys: dev only)`),
      '',
      certTable(ctx.entries, out.style),
      '',
      out.style.bold('Files'),
      ...ctx.files.map((f) => `  ${f.kind.padEnd(12)} ${path.relative(process.cwd(), f.path) || f.path}`),
      '',
      'Next:',
      `  iyesmp certs list --dir ${path.relative(process.cwd(), ctx.pkiDir) || ctx.pkiDir}`,
      ...ctx.files.filter((f) => f.kind.endsWith('config')).map((f) => `  iyesmp config check ${path.relative(process.cwd(), f.path)}`),
    ].join('\n'),
  );
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
    throw new IyesmpError('conflict', 'not_a_dev_folder', `${ctx.devDir} exists and was not made by \`iyesmp demo\`; refusing to replace it`, {
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
