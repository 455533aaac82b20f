import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configError } from './errors.js';
import { formatHostPort } from '../net/address.js';
import type { ManifestEntry } from '../pki/types.js';
import { checkConfigText, formatProblem, type ConfigKind } from './load.js';

/**
 * Renders templates/auth.toml or templates/host.toml into a commented config that points at the
 * files of one PKI folder. Placeholders are `{{name}}`; values are inserted as TOML literals.
 */
export interface ScaffoldInput {
  kind: ConfigKind;
  /** absolute PKI folder */
  pkiDir: string;
  /** manifest entries, or undefined when the PKI does not exist (conventional names are used) */
  entries: ManifestEntry[] | undefined;
  /** trust bundle folder relative to the PKI folder */
  trustDir: string;
  /** where the config will live (paths in it are made relative to its folder); undefined = cwd */
  outFile?: string;
  /** which auth/host certificate to use (manifest name); default the first of the role */
  name?: string;
  /** host: address clients dial */
  publicAddress?: string;
  /** host: Auth servers to dial, host:port */
  authServers?: string[];
  now?: Date;
}

export interface ScaffoldResult {
  kind: ConfigKind;
  text: string;
  /** the certificate entry the config uses (auth or host) */
  entryName: string | undefined;
  /** PKI files the config references, as written into it */
  files: Record<string, string>;
  notes: string[];
}

export const AUTH_CLIENTS_PORT = 7350;
export const AUTH_HOSTS_PORT = 7351;
export const HOST_QUIC_PORT = 7400;
export const NETCODE_KEY_FILE = 'netcode.key';

export function templatePath(kind: ConfigKind): string {
  // dist/config/scaffold.js and src/config/scaffold.ts both sit two levels below the package root
  return fileURLToPath(new URL(`../../templates/${kind}.toml`, import.meta.url));
}

export function tomlString(s: string): string {
  // JSON string escapes are a subset of TOML basic-string escapes
  return JSON.stringify(s);
}

/**
 * A host's public_address: one of the names its certificate carries, since clients refuse a host
 * whose certificate does not name the address they dial. `wanted` (--public-address) must be one.
 */
function addressFromCert(host: ManifestEntry, wanted: string | undefined): string {
  const names = [...(host.ipAddresses ?? []), ...(host.dnsNames ?? [])];
  const reissue = `iyesmp certs issue host ${host.name}-b --dns NAME --ip ADDRESS`;
  if (names.length === 0) {
    throw configError('host_cert_unnamed', `the host certificate ${host.name} carries no DNS name or IP address, so every client would refuse it`, {
      hint: `issue a host certificate with the names clients dial (${reissue}) and scaffold with --name`,
    });
  }
  if (wanted === undefined) return names[0]!;
  if (!names.some((n) => n.toLowerCase() === wanted.toLowerCase())) {
    throw configError('address_not_in_cert', `--public-address ${wanted} is not a name in the host certificate ${host.name} (${names.join(', ')})`, {
      hint: `use one of its names, or issue a certificate that carries ${wanted} (${reissue})`,
    });
  }
  return wanted;
}

export async function scaffoldConfig(input: ScaffoldInput): Promise<ScaffoldResult> {
  const template = await readFile(templatePath(input.kind), 'utf8');
  const base = input.outFile ? path.dirname(path.resolve(input.outFile)) : process.cwd();
  const rel = (p: string) => {
    const r = path.relative(base, path.resolve(input.pkiDir, p));
    return r === '' ? '.' : r.split(path.sep).join('/');
  };
  const entries = input.entries;
  const notes: string[] = [];
  if (!entries) notes.push(`no PKI in ${input.pkiDir} yet; the config uses the file names \`iyesmp certs init\` writes`);
  const byRole = (role: ManifestEntry['role']) => (entries ?? []).filter((e) => e.role === role);
  const pick = (role: 'auth' | 'host'): ManifestEntry | undefined => {
    const list = byRole(role);
    if (input.name !== undefined) {
      const e = (entries ?? []).find((x) => x.name === input.name);
      if (!e && entries) {
        throw configError('unknown_cert', `there is no certificate named ${input.name} in ${input.pkiDir}`, {
          hint: `${role} certificates: ${list.map((x) => x.name).join(', ') || 'none'}`,
        });
      }
      if (e && e.role !== role) throw configError('wrong_role', `${input.name} is a ${e.role} certificate, not ${role}`);
      return e;
    }
    return list[0];
  };
  const sessionAuth = byRole('sessionauth')[0];
  const authEntry = input.kind === 'auth' ? pick('auth') : byRole('auth')[0];
  const conventional = (name: string) => ({ certFile: `${name}.crt`, keyFile: `${name}.key` });
  const files: Record<string, string> = { trust_dir: rel(input.trustDir) };
  const values: Record<string, string> = { generated_at: (input.now ?? new Date()).toISOString() };
  values.pki_trust = tomlString(files.trust_dir!);
  values.netcode_key = tomlString(rel(NETCODE_KEY_FILE));
  // for the shell commands in the [admin] comment (run from the config's folder), not TOML values
  // a config written into the PKI folder itself is a bundle's, whose folder holds no PKI: a word to fill in
  values.pki_dir = rel('.') === '.' ? 'PKI_DIR' : shellWord(rel('.'));
  values.config_file = shellWord(input.outFile ? path.basename(input.outFile) : `${input.kind}.toml`);
  let entryName: string | undefined;

  if (input.kind === 'auth') {
    const e = authEntry ?? { name: input.name ?? 'auth', ...conventional(input.name ?? 'auth') };
    const sa = sessionAuth ?? { name: 'sessionauth', ...conventional('sessionauth') };
    entryName = e.name;
    files.cert = rel(e.certFile);
    files.key = rel(e.keyFile ?? conventional(e.name).keyFile);
    files.session_auth_cert = rel(sa.certFile);
    files.session_auth_key = rel(sa.keyFile ?? conventional(sa.name).keyFile);
    if (sessionAuth?.keyEncrypted) {
      notes.push(
        'the SessionAuth key is encrypted: serve auth takes its passphrase from --passphrase-file, pki.session_auth_passphrase_file, $IYESMP_SESSIONAUTH_PASSPHRASE or the systemd credential sessionauth-passphrase',
      );
    }
    if ('keyEncrypted' in e && e.keyEncrypted) notes.push('the auth key is encrypted, which serve does not support: use an unencrypted key (mode 0600)');
    Object.assign(values, {
      server_name: tomlString(e.name),
      clients_port: String(AUTH_CLIENTS_PORT),
      hosts_port: String(AUTH_HOSTS_PORT),
      pki_cert: tomlString(files.cert),
      pki_key: tomlString(files.key),
      pki_session_auth_cert: tomlString(files.session_auth_cert),
      pki_session_auth_key: tomlString(files.session_auth_key),
    });
  } else {
    const host = pick('host');
    const e = host ?? { name: input.name ?? 'host-1', ...conventional(input.name ?? 'host-1') };
    entryName = e.name;
    files.cert = rel(e.certFile);
    files.key = rel(e.keyFile ?? conventional(e.name).keyFile);
    const hostAddr = host ? addressFromCert(host, input.publicAddress) : (input.publicAddress ?? '127.0.0.1');
    const authName = authEntry?.dnsNames?.[0] ?? authEntry?.ipAddresses?.[0] ?? 'localhost';
    const servers = input.authServers?.length ? input.authServers : [formatHostPort(authName, AUTH_HOSTS_PORT)];
    Object.assign(values, {
      host_name: tomlString(e.name),
      public_address: tomlString(hostAddr),
      auth_servers: servers.map(tomlString).join(', '),
      auth_server_name: tomlString(authName),
      pki_cert: tomlString(files.cert),
      pki_key: tomlString(files.key),
      quic_port: String(HOST_QUIC_PORT),
      // per host name: hosts scaffolded into one folder (the demo) must not share an outbox
      outbox_dir: tomlString(`outbox-${e.name}`),
    });
  }

  const text = template.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw configError('template_placeholder', `templates/${input.kind}.toml uses an unknown placeholder {{${key}}}`);
    return v;
  });
  // A scaffold that fails its own check is a bug in the template or in the values above.
  const checked = checkConfigText(text);
  if (!checked.ok) {
    throw configError(
      'scaffold_invalid',
      `the rendered ${input.kind} config is not valid:\n${checked.problems.map((p) => '  ' + formatProblem(p)).join('\n')}`,
      {
        hint: 'check --public-address, --auth-server and --name',
      },
    );
  }
  return { kind: input.kind, text, entryName, files, notes };
}

/** A path as one shell word: quoted when it holds anything but the usual path characters. */
function shellWord(s: string): string {
  return /^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
