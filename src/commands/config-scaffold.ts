import path from 'node:path';
import type { Styler } from '../cli/output.js';
import { scaffoldConfig, type ScaffoldResult } from '../config/scaffold.js';
import { writeFileAtomic } from '../config/write.js';
import type { ConfigKind } from '../config/load.js';
import { cliError } from '../cli/errors.js';
import type { ManifestEntry } from '../pki/types.js';

export interface ScaffoldFlags {
  out?: string;
  force?: boolean;
  name?: string;
  publicAddress?: string;
  authServer?: string[];
}

export interface ScaffoldData {
  kind: ConfigKind;
  /** absolute path written, or null when printed */
  file: string | null;
  pkiDir: string;
  /** manifest name of the auth/host certificate the config uses */
  cert: string | null;
  /** PKI paths as written into the config (relative to its folder) */
  files: Record<string, string>;
  /** the rendered TOML when printed to stdout (null when written to --out) */
  text: string | null;
}

/** Manifest entries of a PKI folder, or undefined when there is none yet. */
export async function manifestEntriesIfAny(pkiDir: string): Promise<ManifestEntry[] | undefined> {
  const { openPki, MANIFEST_FILE } = await import('../pki/index.js');
  const { access } = await import('node:fs/promises');
  try {
    await access(path.join(pkiDir, MANIFEST_FILE));
  } catch {
    return undefined;
  }
  const pki = await openPki(pkiDir);
  return pki.manifest.entries;
}

/** Implementation of `iyesmp config scaffold` (loaded lazily by commands/config.ts). */
export async function scaffoldToFile(
  kind: ConfigKind,
  pkiDir: string,
  flags: ScaffoldFlags,
): Promise<{ data: ScaffoldData; notes: string[]; human: (s: Styler) => string; result: ScaffoldResult }> {
  const { TRUST_DIR } = await import('../pki/index.js');
  if (kind === 'auth' && (flags.publicAddress || flags.authServer?.length)) {
    throw cliError('host_only_flag', '--public-address and --auth-server apply to host configs only');
  }
  const outFile = flags.out ? path.resolve(flags.out) : undefined;
  const result = await scaffoldConfig({
    kind,
    pkiDir,
    entries: await manifestEntriesIfAny(pkiDir),
    trustDir: TRUST_DIR,
    ...(outFile ? { outFile } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.publicAddress ? { publicAddress: flags.publicAddress } : {}),
    ...(flags.authServer?.length ? { authServers: flags.authServer } : {}),
  });
  if (outFile) await writeFileAtomic(outFile, result.text, { force: Boolean(flags.force) });
  const data: ScaffoldData = {
    kind,
    file: outFile ?? null,
    pkiDir,
    cert: result.entryName ?? null,
    files: result.files,
    text: outFile ? null : result.text,
  };
  const human = (s: Styler) => (outFile ? `${s.green('wrote')} ${outFile} (${kind} config, certificate ${result.entryName ?? '?'})` : result.text);
  return { data, notes: result.notes, human, result };
}

export interface DeployFlags {
  out?: string;
  force?: boolean;
  exec?: string;
  image?: string;
  hosts?: string;
  graceMs?: string;
  drainSeconds?: string;
}

export interface DeployData {
  kind: import('../config/deploy.js').DeployKind;
  /** absolute folder written, or null when printed */
  dir: string | null;
  pkiDir: string;
  /** every file, relative to dir; `text` only when printed */
  files: Array<{ name: string; path: string | null; text: string | null }>;
}

/** `iyesmp config scaffold systemd|docker|compose|k8s`: deployment files, into a folder or on stdout. */
export async function scaffoldDeployToDir(
  kind: import('../config/deploy.js').DeployKind,
  pkiDir: string,
  flags: DeployFlags,
): Promise<{ data: DeployData; notes: string[]; human: (s: Styler) => string }> {
  const { scaffoldDeploy } = await import('../config/deploy.js');
  const positive = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw cliError('bad_number', `${flag} expects a positive integer, got "${v}"`);
    return n;
  };
  const hosts = positive('--hosts', flags.hosts);
  const graceMs = positive('--grace-ms', flags.graceMs);
  const drainSeconds = positive('--drain-seconds', flags.drainSeconds);
  const r = await scaffoldDeploy({
    kind,
    entries: await manifestEntriesIfAny(pkiDir),
    ...(flags.exec ? { exec: flags.exec } : {}),
    ...(flags.image ? { image: flags.image } : {}),
    ...(hosts !== undefined ? { hosts } : {}),
    ...(graceMs !== undefined ? { graceMs } : {}),
    ...(drainSeconds !== undefined ? { drainSeconds } : {}),
  });
  if (!flags.out) {
    const data: DeployData = { kind, dir: null, pkiDir, files: r.files.map((f) => ({ name: f.name, path: null, text: f.text })) };
    const human = (s: Styler) => r.files.map((f) => `${s.dim(`# ---- ${f.name} ----`)}\n${f.text}`).join('\n');
    return { data, notes: r.notes, human };
  }
  const dir = path.resolve(flags.out);
  const { existsSync } = await import('node:fs');
  // all or nothing: refuse before writing anything when one file is already there
  const there = r.files.map((f) => path.join(dir, f.name)).filter((p) => existsSync(p));
  if (there.length > 0 && !flags.force) {
    throw cliError('exists', `${there.join(', ')} already exist${there.length === 1 ? 's' : ''}`, { hint: 'pass --force to overwrite' });
  }
  for (const f of r.files) await writeFileAtomic(path.join(dir, f.name), f.text, { force: true, ...(f.mode !== undefined ? { mode: f.mode } : {}) });
  const data: DeployData = { kind, dir, pkiDir, files: r.files.map((f) => ({ name: f.name, path: path.join(dir, f.name), text: null })) };
  const human = (s: Styler) => `${s.green('wrote')} ${r.files.map((f) => path.join(dir, f.name)).join(', ')}`;
  return { data, notes: r.notes, human };
}

/**
 * `iyesmp config scaffold mosquitto`: a Mosquitto 2 config for turn-based games (TLS with a Host
 * certificate of the PKI, `require_certificate`, identities from the certificate subject, the
 * dynamic-security plugin) and the plugin's initial state, where only that host may manage ACLs.
 * Both files go to the folder of --out (mosquitto.conf and dynamic-security.json).
 */
export async function scaffoldMosquitto(
  pkiDir: string,
  flags: { out?: string; force?: boolean; name?: string; port?: string; listen?: string; topicPrefix?: string },
): Promise<{ data: Record<string, unknown>; human: (s: Styler) => string }> {
  if (!flags.out) throw cliError('missing_out', 'config scaffold mosquitto writes two files: give --out <folder>/mosquitto.conf');
  const { openPki, TRUST_DIR } = await import('../pki/index.js');
  const mq = await import('../mqtt/mosquitto.js');
  const pki = await openPki(pkiDir);
  const hosts = pki.manifest.entries.filter((e) => e.role === 'host');
  const entry = flags.name ? hosts.find((e) => e.name === flags.name) : hosts[0];
  if (!entry?.keyFile) {
    throw cliError(
      'unknown_cert',
      flags.name ? `the PKI has no host certificate named ${flags.name} with its key` : 'the PKI has no host certificate with its key',
      {
        hint: 'the broker presents a Host certificate: `iyesmp certs issue host`',
      },
    );
  }
  const plugin = await mq.findDynsecPlugin();
  if (!plugin) {
    throw cliError('no_dynsec_plugin', `Mosquitto's dynamic-security plugin was not found (looked in ${mq.DYNSEC_PLUGIN_PATHS.join(', ')})`, {
      hint: 'install mosquitto 2 (Debian: apt-get install mosquitto)',
    });
  }
  const port = flags.port === undefined ? 8883 : Number(flags.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw cliError('bad_flag', `--port ${flags.port}: expected 1..65535`);
  const conf = path.resolve(flags.out);
  const dynsecFile = path.join(path.dirname(conf), 'dynamic-security.json');
  const certfile = pki.path(entry.certFile);
  const { readFile } = await import('node:fs/promises');
  const hostPem = await readFile(certfile, 'utf8');
  const text = mq.renderMosquittoConfig({
    host: flags.listen ?? '0.0.0.0',
    port,
    cafile: path.join(pki.path(TRUST_DIR), 'master.pem'),
    certfile,
    keyfile: pki.path(entry.keyFile),
    plugin,
    dynsecFile,
  });
  const prefix = flags.topicPrefix ?? 'game';
  await writeFileAtomic(conf, text, { force: Boolean(flags.force) });
  // the plugin rewrites this file as ACLs change; it holds no secret, but keep it to its owner
  await writeFileAtomic(dynsecFile, mq.dynsecInitialState(mq.mosquittoUsernameOfCert(hostPem), prefix), { force: Boolean(flags.force), mode: 0o600 });
  const data = { kind: 'mosquitto', file: conf, dynsecFile, pkiDir, cert: entry.name, port, plugin, hostUsername: mq.mosquittoUsernameOfCert(hostPem) };
  return {
    data,
    human: (s) =>
      [
        `${s.bold('wrote')} ${conf} and ${dynsecFile}`,
        `run:  mosquitto -c ${conf}`,
        `host: [transports.mqtt] enabled = true, broker = "mqtts://<this machine>:${port}", acl = "dynsec", topic_prefix = "${prefix}"`,
        'the files it names must be readable by the user mosquitto runs as',
      ].join('\n'),
  };
}
