/** Validation of operator-supplied options, shared by init and the issuing operations. */
import net from 'node:net';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import type { PassphraseProvider, ValidityRole } from './api.js';

export const DAY = 86_400_000;
export const DEFAULT_DAYS: Record<Exclude<ValidityRole, 'client'>, number> = {
  master: 3650,
  clientauth: 730,
  sessionauth: 365,
  auth: 365,
  host: 365,
};
/** Admin certs are people's credentials: short-lived by default, reissued rather than kept for years. */
export const ADMIN_DEFAULT_DAYS = 90;
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Asks once, then remembers: several CA keys may need the same passphrase in one command. */
export function memoPassphrase(p?: PassphraseProvider): PassphraseProvider | undefined {
  if (!p) return undefined;
  let cached: Promise<string> | undefined;
  return () => {
    // a refused or empty answer is not remembered: the next call may ask again
    cached ??= p().then(
      (s) => {
        if (typeof s !== 'string' || s.length === 0) {
          cached = undefined;
          throw pkiError('empty_passphrase', 'the CA passphrase is empty');
        }
        return s;
      },
      (err: unknown) => {
        cached = undefined;
        throw err;
      },
    );
    return cached;
  };
}

export function checkDays(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 36500) {
    throw pkiError('bad_validity', `${what} validity ${JSON.stringify(v)} days is out of range (1..36500)`);
  }
  return v;
}

export function checkSans(dnsNames: string[] = [], ips: string[] = []): void {
  for (const d of dnsNames) {
    if (typeof d !== 'string' || !DNS_NAME.test(d)) throw pkiError('bad_dns_name', `${JSON.stringify(d)} is not a valid DNS name`);
  }
  for (const ip of ips) {
    if (typeof ip !== 'string' || net.isIP(ip) === 0) throw pkiError('bad_ip', `${JSON.stringify(ip)} is not an IP address`);
  }
}

export function unencryptedRefused(): IyesmpError {
  return pkiError('unencrypted_ca_keys', 'refusing to write CA private keys without a passphrase', {
    hint: 'give a passphrase, or allow unencrypted CA keys explicitly (CLI: --insecure-no-passphrase) for tests and CI',
  });
}
