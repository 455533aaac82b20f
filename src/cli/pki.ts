import { Option, type Command } from 'commander';
import type { CaPassphrases, CaSecret, PassphraseProvider } from '../pki/api.js';
import { CA_LABEL, CA_PASSPHRASE_ENV, CA_PASSPHRASE_FLAG, passphraseForExistingKeys, passphraseForNewKeys, type PassphraseFlags } from './passphrase.js';
import { isInteractive } from './pki-dir.js';
import { parseDuration } from './duration.js';
import { cliError } from './errors.js';

/** Shared flag definitions and glue between the PKI library and the commands. Light imports only. */

export const loadPkiLib = () => import('../pki/index.js');

/** `--passphrase-file` (shared) and one `--<ca>-passphrase-file` for each CA key the command uses. */
export function addPassphraseOptions(cmd: Command, opts: { forNewKeys?: boolean; secrets: readonly CaSecret[] }): Command {
  for (const secret of opts.secrets) {
    cmd.option(`${CA_PASSPHRASE_FLAG[secret]} <file>`, `file holding the passphrase of ${CA_LABEL[secret]} (else $${CA_PASSPHRASE_ENV[secret]})`);
  }
  cmd.option('--passphrase-file <file>', 'passphrase for any CA key without its own file above (else $IYESMP_PASSPHRASE, else a prompt on a terminal)');
  if (opts.forNewKeys) {
    cmd.option('--insecure-no-passphrase', 'write CA private keys unencrypted (development only; prints a warning)');
  }
  return cmd;
}

export function algorithmOption(): Option {
  return new Option('--algorithm <alg>', 'key algorithm').choices(['p256', 'p384', 'ed25519']);
}

/**
 * A provider the library calls only when it must decrypt that CA's key; the answer is cached so one
 * command asks at most once per CA. Never logs the value.
 */
export function existingKeyPassphrase(flags: PassphraseFlags, secret: CaSecret): PassphraseProvider {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= passphraseForExistingKeys(flags, { interactive: isInteractive() }, secret).then((r) => r.passphrase ?? '');
    return cached;
  };
}

/** As existingKeyPassphrase, for a CA key about to be written: strength checked, asked twice on a terminal. */
function newKeyPassphrase(flags: PassphraseFlags, secret: CaSecret): PassphraseProvider {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= passphraseForNewKeys(flags, { interactive: isInteractive() }, secret).then((r) => r.passphrase ?? '');
    return cached;
  };
}

/** `--validity 1y` style flags → whole days, as the library takes them. */
export function durationDays(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = parseDuration(value, flag);
  const days = seconds / 86_400;
  if (!Number.isInteger(days) || days < 1) {
    throw cliError('bad_validity', `${flag}: certificate lifetimes are whole days, got "${value}"`, { hint: 'e.g. 365d, 2y, 90d' });
  }
  return days;
}

export function parseCount(value: string, flag: string, max = 1000): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) {
    throw cliError('bad_count', `${flag}: expected a whole number from 1 to ${max}, got "${value}"`);
  }
  return n;
}

/**
 * Opens a PKI folder for a command that signs something. The passphrase provider is only consulted
 * by the library when a CA key is encrypted or a new CA key is written. With
 * `--insecure-no-passphrase` on a PKI whose Master key is unencrypted (a dev PKI), new CA keys are
 * written unencrypted too, and the caller warns.
 */
export async function openPkiForSigning(
  dir: string,
  flags: PassphraseFlags,
  opts: { newKey?: CaSecret } = {},
): Promise<{ pki: import('../pki/index.js').Pki; unencryptedNewKeys: boolean }> {
  const { openPki } = await loadPkiLib();
  const probe = await openPki(dir);
  const master = probe.manifest.entries.find((e) => e.role === 'master');
  const { passphraseFromFlags } = await import('./passphrase.js');
  const given = (await passphraseFromFlags(flags)) ?? (await passphraseFromFlags(flags, 'master'));
  if (given && flags.insecureNoPassphrase) {
    throw cliError('conflicting_flags', '--insecure-no-passphrase contradicts the passphrase given by --passphrase-file or IYESMP_PASSPHRASE');
  }
  const unencryptedNewKeys = Boolean(flags.insecureNoPassphrase) && master?.keyEncrypted === false;
  const pki = await openPki(dir, {
    ...(unencryptedNewKeys ? {} : { passphrases: signingPassphrases(flags, opts.newKey) }),
    allowUnencryptedCaKeys: Boolean(flags.insecureNoPassphrase),
  });
  return { pki, unencryptedNewKeys };
}

function signingPassphrases(flags: PassphraseFlags, newKey: CaSecret | undefined): CaPassphrases {
  const of = (secret: CaSecret) => (secret === newKey ? newKeyPassphrase(flags, secret) : existingKeyPassphrase(flags, secret));
  return { master: of('master'), clientauth: of('clientauth'), sessionauth: of('sessionauth') };
}
