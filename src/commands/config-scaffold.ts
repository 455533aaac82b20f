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
