import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliError } from '../cli/errors.js';
import { BUNDLE_LAYOUT } from '../config/deploy.js';
import { locateKeys } from '../config/locate.js';
import { tomlString } from '../config/scaffold.js';
import { writeFileAtomic } from '../config/write.js';
import type { ConfigKind } from '../config/load.js';
import type { ManifestEntry } from '../pki/types.js';

export interface BundleFlags {
  out?: string;
  force?: boolean;
  config?: string;
  publicAddress?: string;
  authServer?: string[];
  passphraseFile?: string;
}

export interface BundleData {
  kind: ConfigKind;
  name: string;
  /** absolute path of the .tar.gz */
  file: string;
  /** the folder the archive unpacks to (its one top-level entry) */
  root: string;
  entries: Array<{ path: string; mode: string }>;
  /** the config was checked as `config check` does, on the bundle's own files */
  checked: true;
  warnings: string[];
}

interface Staged {
  path: string;
  mode: number;
  data: Uint8Array | string;
}

/**
 * `iyesmp bundle auth|host NAME`: one server's config, certificate, key (0600) and trust list in a
 * .tar.gz that unpacks to NAME/ (the layout of src/config/deploy.ts), checked before it is packed.
 * A tar.gz rather than a folder: one file to copy, and it keeps the key's mode on the way.
 * The config is `--config FILE` with its PKI paths pointed at the bundle's files, or a scaffolded one.
 */
export async function buildBundle(kind: ConfigKind, name: string, pkiDir: string, flags: BundleFlags): Promise<BundleData> {
  const { openPki, MANIFEST_FILE, TRUST_DIR } = await import('../pki/index.js');
  if (!existsSync(path.join(pkiDir, MANIFEST_FILE))) throw cliError('not_found', `there is no PKI in ${pkiDir} (no ${MANIFEST_FILE})`, { hint: 'pass --dir' });
  const pki = await openPki(pkiDir);
  const entries = pki.manifest.entries;
  const entry = entries.find((e) => e.name === name);
  const ofRole = entries.filter((e) => e.role === kind).map((e) => e.name);
  if (!entry)
    throw cliError('unknown_cert', `there is no certificate named ${name} in ${pkiDir}`, { hint: `${kind} certificates: ${ofRole.join(', ') || 'none'}` });
  if (entry.role !== kind)
    throw cliError('unknown_cert', `${name} is a ${entry.role} certificate, not ${kind}`, { hint: `${kind} certificates: ${ofRole.join(', ') || 'none'}` });
  if (kind === 'auth' && (flags.publicAddress || flags.authServer?.length)) {
    throw cliError('host_only_flag', '--public-address and --auth-server apply to host bundles only');
  }
  const out = path.resolve(flags.out ?? `iyesmp-${kind}-${name}.tar.gz`);
  if (existsSync(out) && !flags.force) throw cliError('exists', `${out} already exists`, { hint: 'pass --force to replace it' });

  const keyOf = (e: ManifestEntry) => {
    if (!e.keyFile) throw cliError('not_found', `the PKI holds no key for ${e.name}`);
    return path.join(pkiDir, e.keyFile);
  };
  const staged: Staged[] = [];
  const layout = kind === 'auth' ? BUNDLE_LAYOUT.auth : BUNDLE_LAYOUT.host;
  staged.push({ path: layout.cert, mode: 0o644, data: await readFile(path.join(pkiDir, entry.certFile)) });
  staged.push({ path: layout.key, mode: 0o600, data: await readFile(keyOf(entry)) });
  const paths: Record<string, string> = { 'pki.trust_dir': BUNDLE_LAYOUT.trustDir, 'pki.cert': layout.cert, 'pki.key': layout.key };
  if (kind === 'auth') {
    const sa = entries.find((e) => e.role === 'sessionauth');
    if (!sa) throw cliError('not_found', `the PKI in ${pkiDir} has no SessionAuth certificate`);
    staged.push({ path: BUNDLE_LAYOUT.auth.sessionAuthCert, mode: 0o644, data: await readFile(path.join(pkiDir, sa.certFile)) });
    staged.push({ path: BUNDLE_LAYOUT.auth.sessionAuthKey, mode: 0o600, data: await readFile(keyOf(sa)) });
    paths['pki.session_auth_cert'] = BUNDLE_LAYOUT.auth.sessionAuthCert;
    paths['pki.session_auth_key'] = BUNDLE_LAYOUT.auth.sessionAuthKey;
  }
  const trustDir = path.join(pkiDir, TRUST_DIR);
  for (const f of (await readdir(trustDir, { withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => d.name)
    .sort()) {
    staged.push({ path: `${BUNDLE_LAYOUT.trustDir}/${f}`, mode: 0o644, data: await readFile(path.join(trustDir, f)) });
  }

  // the config: given, or scaffolded from the PKI; then its PKI paths point into the bundle
  let text: string;
  let configDir: string;
  if (flags.config) {
    configDir = path.dirname(path.resolve(flags.config));
    text = await readFile(flags.config, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw cliError('not_found', `cannot read --config ${flags.config}: ${err.code ?? err.message}`);
    });
    const { checkConfigText } = await import('../config/load.js');
    const r = checkConfigText(text);
    if (r.kind !== kind) throw cliError('config_invalid', `${flags.config} is not a ${kind} config (kind = ${JSON.stringify(r.kind ?? null)})`);
  } else {
    const { scaffoldConfig } = await import('../config/scaffold.js');
    configDir = pkiDir;
    text = (
      await scaffoldConfig({
        kind,
        pkiDir,
        entries,
        trustDir: TRUST_DIR,
        outFile: path.join(pkiDir, layout.config),
        name,
        ...(flags.publicAddress ? { publicAddress: flags.publicAddress } : {}),
        ...(flags.authServer?.length ? { authServers: flags.authServer } : {}),
      })
    ).text;
  }
  // the shared netcode key, when the config names one that exists
  const { parse } = await import('smol-toml');
  const doc = parse(text) as Record<string, Record<string, Record<string, unknown>>>;
  const netcodeKey = kind === 'host' ? doc.transports?.netcode?.private_key_file : (doc.netcode as Record<string, unknown> | undefined)?.private_key_file;
  if (typeof netcodeKey === 'string' && existsSync(path.resolve(configDir, netcodeKey))) {
    staged.push({ path: BUNDLE_LAYOUT.netcodeKey, mode: 0o600, data: await readFile(path.resolve(configDir, netcodeKey)) });
    paths[kind === 'host' ? 'transports.netcode.private_key_file' : 'netcode.private_key_file'] = BUNDLE_LAYOUT.netcodeKey;
  }
  text = setTomlStrings(text, paths);
  staged.push({ path: layout.config, mode: 0o644, data: text });

  // check it as `config check` would, on the files as they will be unpacked
  const work = await mkdtemp(path.join(tmpdir(), 'iyesmp-bundle-'));
  let warnings: string[];
  try {
    const root = path.join(work, name);
    for (const f of staged) {
      const p = path.join(root, f.path);
      await mkdir(path.dirname(p), { recursive: true, mode: 0o700 });
      await writeFile(p, f.data, { mode: f.mode });
      await chmod(p, f.mode);
    }
    const { checkConfigCommand } = await import('./config-check.js');
    const { IyesmpError } = await import('../errors.js');
    const checked = await checkConfigCommand(path.join(root, layout.config), flags.passphraseFile ? { passphraseFile: flags.passphraseFile } : {}, {}).catch(
      (err: unknown) => {
        if (!(err instanceof IyesmpError)) throw err;
        // name the files as they would be unpacked, not the scratch copy; say what is not packed
        const msg = err.message.replaceAll(`${root}/`, `${name}/`).replaceAll(root, name);
        throw new IyesmpError(err.kind, err.code, `the bundle would not pass config check: ${msg}`, {
          hint:
            err.hint ??
            'a bundle holds the config, its PKI files and the netcode key; other files the config names (game or accounts modules, token keys) must be absolute paths that exist on the server',
          ...(err.details ? { details: err.details } : {}),
        });
      },
    );
    // the check ran on a scratch copy: name the files as they will be unpacked
    warnings = checked.warnings.map((w) => w.replaceAll(`${root}/`, `${name}/`));
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const { tarGz } = await import('../fs/tar.js');
  const dirs = new Set<string>([`${name}/`]);
  for (const f of staged) {
    const parts = f.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${name}/${parts.slice(0, i).join('/')}/`);
  }
  const tarEntries = [
    ...[...dirs].sort().map((d) => ({ path: d, mode: 0o755 })),
    ...staged.map((f) => ({ path: `${name}/${f.path}`, mode: f.mode, data: f.data })),
  ];
  // 0600: the archive holds a private key
  await writeFileAtomic(out, tarGz(tarEntries, new Date()), { force: Boolean(flags.force), mode: 0o600 });
  return {
    kind,
    name,
    file: out,
    root: name,
    entries: tarEntries.map((e) => ({ path: e.path, mode: `0${e.mode.toString(8)}` })),
    checked: true,
    warnings,
  };
}

/** Sets string values of existing keys (dotted paths) in TOML text, on the line that defines each. */
export function setTomlStrings(text: string, values: Record<string, string>): string {
  const lines = text.split('\n');
  const at = locateKeys(text);
  for (const [key, value] of Object.entries(values)) {
    const n = at.get(key);
    if (n === undefined) throw cliError('config_invalid', `the config has no ${key} to point at the bundle's file ${value}`);
    const line = lines[n - 1]!;
    const eq = line.indexOf('=');
    lines[n - 1] = `${line.slice(0, eq).trimEnd()} = ${tomlString(value)}`;
  }
  return lines.join('\n');
}
