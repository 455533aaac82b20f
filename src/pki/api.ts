/**
 * Option and result shapes of the PKI library's operations (additive to the contract in types.ts).
 * Each CLI command is meant to be one call: `initPki`, `openPki(...).issueHost(...)`, and so on.
 */
import type { ClientAuthStatus, KeyAlgorithm, ManifestEntry, MintedSession, RefusalReason, Role } from './types.js';

/** Asked only when a CA private key must be read or written encrypted. */
export type PassphraseProvider = () => Promise<string>;

/**
 * Each CA key has its own secret, so a machine that holds one (an Auth node decrypting SessionAuth)
 * learns nothing that opens another (Master stays offline).
 */
export type CaSecret = 'master' | 'clientauth' | 'sessionauth';
export type CaPassphrases = Partial<Record<CaSecret, PassphraseProvider>>;

/** Roles whose validity can be chosen at init/issue time. */
export type ValidityRole = 'master' | 'clientauth' | 'sessionauth' | 'auth' | 'host' | 'client';

export interface HostSpec {
  /** [A-Za-z0-9._-], 1..64 chars, unique in the PKI; the cert is stored as `host-<name>` unless it already starts with `host` */
  name: string;
  dnsNames?: string[];
  ipAddresses?: string[];
}

export interface InitOptions {
  dir: string;
  /** default 'p256' */
  algorithm?: KeyAlgorithm;
  /** subject O=; default 'iyesmp' */
  organization?: string;
  /** days; defaults: master 3650, clientauth 730, sessionauth 365, auth 365, host 365, client = ClientAuth's life */
  validityDays?: Partial<Record<ValidityRole, number>>;
  /** DNS names of the Auth server cert; default ['localhost'] when neither dnsNames nor ips are given */
  authDnsNames?: string[];
  authIpAddresses?: string[];
  /** number of hosts (named host-1..N, for localhost and 127.0.0.1) or explicit specs; default 1 */
  hosts?: number | HostSpec[];
  /** name of the first client cert; default `client-clientauth-1-1` */
  clientName?: string;
  /** each CA key's own passphrase; a CA without one here falls back to `passphrase` */
  passphrases?: CaPassphrases;
  /** one passphrase for every CA key that has none in `passphrases` (how PKIs were made before per-CA secrets) */
  passphrase?: PassphraseProvider;
  allowUnencryptedCaKeys?: boolean;
  /**
   * SessionAuth's key lives on auth servers that start unattended; set this to store it unencrypted
   * even when a passphrase protects the other CA keys.
   */
  unencryptedSessionAuthKey?: boolean;
  /**
   * replace an existing PKI folder. The old folder is kept beside it as `<dir>.bak-YYYYMMDD-HHMMSS`
   * (0700), and an encrypted one is only replaced with proof of its Master passphrase.
   */
  force?: boolean;
  /** with `force` over an encrypted PKI: the old Master key's passphrase */
  oldMasterPassphrase?: PassphraseProvider;
  /** with `force`: told where the old PKI was moved */
  onBackup?: (backupDir: string) => void;
  /** with `force`: false deletes the old PKI instead (throw-away development PKIs, as `iyesmp demo` makes); default true */
  keepBackup?: boolean;
  now?: Date;
}

export interface OpenOptions {
  /** each CA key's own passphrase; asked only for the CA an operation needs */
  passphrases?: CaPassphrases;
  /** for every CA without its own in `passphrases` (PKIs with one shared passphrase) */
  passphrase?: PassphraseProvider;
  /** needed to write new unencrypted CA keys (rotate without a passphrase) */
  allowUnencryptedCaKeys?: boolean;
}

export interface IssueOptionsBase {
  validityDays?: number;
  now?: Date;
}
export interface IssueAuthOptions extends IssueOptionsBase {
  /** default `auth`, then `auth-2`, ... */
  name?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
}
export type IssueHostOptions = IssueOptionsBase & HostSpec;
export interface IssueClientOptions extends IssueOptionsBase {
  /** default `client-clientauth-<N>-<k>` */
  name?: string;
  /** default: the newest active ClientAuth */
  clientAuthId?: number;
}

/** An operator's certificate for the servers' admin channel, signed by Master. */
export interface IssueAdminOptions extends IssueOptionsBase {
  /** the operator's name ([A-Za-z0-9._-], 1..64); the cert is stored as `admin-<name>` unless it already starts with `admin` */
  name: string;
}

export interface IssuedCert {
  entry: ManifestEntry;
  /** absolute paths */
  certPath: string;
  keyPath: string;
  /** leaf + intermediates (not Master), PEM */
  chainPem: string;
}

export interface RotateOptions extends IssueOptionsBase {
  /** also issue a first client cert from the new ClientAuth (default true) */
  issueClient?: boolean;
  clientName?: string;
}

export interface RotateResult {
  clientAuth: ManifestEntry;
  client?: IssuedCert;
  /** ClientAuths still accepted by servers after this rotation (old ones until retired) */
  active: ManifestEntry[];
  /** absolute paths a new game build must ship: client cert, client key, ClientAuth cert, Master cert */
  gameBuildFiles: string[];
}

export type CheckFindingKind =
  | 'expired'
  | 'expiring'
  | 'not_yet_valid'
  | 'not_nested'
  | 'missing_file'
  | 'fingerprint_mismatch'
  | 'bad_signature'
  | 'trust_list'
  /** a key file that disagrees with the manifest's keyEncrypted, or one under an outdated KDF (warning) */
  | 'key_encryption';

export interface CheckFinding {
  name: string;
  kind: CheckFindingKind;
  severity: 'error' | 'warning';
  message: string;
}

export interface CheckReport {
  ok: boolean;
  now: string;
  withinDays: number;
  entries: { name: string; role: Role; notAfter: string; daysLeft: number; status?: ClientAuthStatus }[];
  findings: CheckFinding[];
}

export interface VerifyFileOptions {
  /** require this role; default: the role the cert claims */
  role?: Role;
  now?: Date;
}

export interface VerifyFileReport {
  ok: boolean;
  reason?: RefusalReason;
  message: string;
  role?: Role;
  name?: string;
  subject?: string;
  fingerprint?: string;
  /** subjects from leaf up to Master */
  chain: string[];
}

export interface MintedSessionWithKey extends MintedSession {
  /** seed-design option only: the generated private key, PKCS#8 PEM, unencrypted */
  privateKeyPem: string;
}
