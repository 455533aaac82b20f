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
