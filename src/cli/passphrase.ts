import { readFile } from 'node:fs/promises';
import { IyesmpError } from '../errors.js';
import type { CaSecret } from '../pki/api.js';
import { cliError } from './errors.js';

/**
 * Where CA-key passphrases come from. Each CA key has its own secret; for one CA, in order: its own
 * file (`--master-passphrase-file`, ...), its own env variable (IYESMP_MASTER_PASSPHRASE, ...), the
 * shared `--passphrase-file` and IYESMP_PASSPHRASE (PKIs made with one passphrase), then (only on a
 * terminal) a hidden prompt naming the CA. A passphrase is never logged, echoed, or put into an
 * error message.
 */
export interface PassphraseFlags {
  passphraseFile?: string;
  masterPassphraseFile?: string;
  clientauthPassphraseFile?: string;
  sessionauthPassphraseFile?: string;
  insecureNoPassphrase?: boolean;
}

export const PASSPHRASE_ENV = 'IYESMP_PASSPHRASE';
export const CA_SECRETS: readonly CaSecret[] = ['master', 'clientauth', 'sessionauth'];
export const CA_PASSPHRASE_FLAG: Record<CaSecret, string> = {
  master: '--master-passphrase-file',
  clientauth: '--clientauth-passphrase-file',
  sessionauth: '--sessionauth-passphrase-file',
};
export const CA_PASSPHRASE_ENV: Record<CaSecret, string> = {
  master: 'IYESMP_MASTER_PASSPHRASE',
  clientauth: 'IYESMP_CLIENTAUTH_PASSPHRASE',
  sessionauth: 'IYESMP_SESSIONAUTH_PASSPHRASE',
};
const CA_FLAG_KEY = { master: 'masterPassphraseFile', clientauth: 'clientauthPassphraseFile', sessionauth: 'sessionauthPassphraseFile' } as const;
export const CA_LABEL: Record<CaSecret, string> = { master: 'the Master key', clientauth: 'the ClientAuth keys', sessionauth: 'the SessionAuth key' };
export const MIN_PASSPHRASE_LENGTH = 8;

export type PassphraseSource = 'file' | 'env' | 'prompt' | 'none';

export interface ResolvedPassphrase {
  passphrase: string | undefined;
  source: PassphraseSource;
}

/** Reads a passphrase file: the whole file minus one trailing newline (editors add one). */
export async function readPassphraseFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw cliError.as(code === 'ENOENT' ? 'input' : 'io', 'passphrase_file_unreadable', `cannot read passphrase file ${file}: ${code ?? 'error'}`, {
      hint: 'pass --passphrase-file with a readable file, or set IYESMP_PASSPHRASE',
    });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') {
    throw cliError('passphrase_empty', `passphrase file ${file} is empty`);
  }
  return value;
}

/** The CA's own secret only: its file, then its env variable. */
export async function ownPassphrase(flags: PassphraseFlags, secret: CaSecret): Promise<ResolvedPassphrase | undefined> {
  const file = flags[CA_FLAG_KEY[secret]];
  if (file) return { passphrase: await readPassphraseFile(file), source: 'file' };
  const own = process.env[CA_PASSPHRASE_ENV[secret]];
  if (own !== undefined && own !== '') return { passphrase: own, source: 'env' };
  return undefined;
}

/** Without a prompt: the CA's own file and env, then the shared file and env. `undefined` when none is set. */
export async function passphraseFromFlags(flags: PassphraseFlags, secret?: CaSecret): Promise<ResolvedPassphrase | undefined> {
  const own = secret ? await ownPassphrase(flags, secret) : undefined;
  if (own) return own;
  if (flags.passphraseFile) return { passphrase: await readPassphraseFile(flags.passphraseFile), source: 'file' };
  const env = process.env[PASSPHRASE_ENV];
  if (env !== undefined && env !== '') return { passphrase: env, source: 'env' };
  return undefined;
}

/**
 * Passphrase to protect *new* CA keys. `--insecure-no-passphrase` yields `undefined` (the caller
 * warns). Without any source and without a terminal this is a usage error naming the flags.
 */
export async function passphraseForNewKeys(
  flags: PassphraseFlags,
  opts: { interactive: boolean; prompt?: (label: string) => Promise<string> },
  secret?: CaSecret,
): Promise<ResolvedPassphrase> {
  const given = await passphraseFromFlags(flags, secret);
  if (given) {
    if (flags.insecureNoPassphrase) {
      throw cliError('conflicting_flags', '--insecure-no-passphrase contradicts the passphrase given by --passphrase-file or IYESMP_PASSPHRASE');
    }
    checkStrength(given.passphrase!);
    return given;
  }
  if (flags.insecureNoPassphrase) return { passphrase: undefined, source: 'none' };
  if (opts.interactive) {
    const ask = opts.prompt ?? promptHidden;
    const first = await ask(`Passphrase for ${secret ? CA_LABEL[secret] : 'the CA keys'}: `);
    checkStrength(first);
    const second = await ask('Repeat the passphrase: ');
    if (first !== second) throw cliError('passphrase_mismatch', 'the two passphrases differ');
    return { passphrase: first, source: 'prompt' };
  }
  throw missingPassphrase(true, secret);
}

/** Passphrase to *unlock* existing encrypted keys. */
export async function passphraseForExistingKeys(
  flags: PassphraseFlags,
  opts: { interactive: boolean; prompt?: (label: string) => Promise<string> },
  secret?: CaSecret,
): Promise<ResolvedPassphrase> {
  const given = await passphraseFromFlags(flags, secret);
  if (given) return given;
  if (opts.interactive) {
    const ask = opts.prompt ?? promptHidden;
    return { passphrase: await ask(`Passphrase for ${secret ? CA_LABEL[secret] : 'the CA keys'}: `), source: 'prompt' };
  }
  throw missingPassphrase(false, secret);
}

export function missingPassphrase(forNew: boolean, secret?: CaSecret): IyesmpError {
  const own = secret ? `${CA_PASSPHRASE_FLAG[secret]} FILE, ` : '';
  return cliError('passphrase_required', `a passphrase for ${secret ? CA_LABEL[secret] : 'the CA keys'} is needed and there is no terminal to ask on`, {
    hint: forNew
      ? `pass ${own}--passphrase-file FILE or set IYESMP_PASSPHRASE (or --insecure-no-passphrase for throw-away development keys)`
      : `pass ${own}--passphrase-file FILE or set IYESMP_PASSPHRASE`,
  });
}

export function checkStrength(p: string): void {
  if (p.length < MIN_PASSPHRASE_LENGTH) {
    throw cliError('passphrase_too_short', `the passphrase is shorter than ${MIN_PASSPHRASE_LENGTH} characters`);
  }
}

export const INSECURE_WARNING =
  'CA private keys are written WITHOUT a passphrase (--insecure-no-passphrase): anyone who can read the PKI folder can issue certificates. Use this for development only.';

/**
 * A hidden one-line prompt on the terminal. Hand-written (raw mode, no echo) because readline has
 * no masked mode and this is ~30 lines; the ink wizard has its own masked field.
 */
export function promptHidden(label: string): Promise<string> {
  const stdin = process.stdin;
  const out = process.stderr;
  return new Promise((resolve, reject) => {
    let value = '';
    out.write(label);
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      out.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(cliError('cancelled', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
