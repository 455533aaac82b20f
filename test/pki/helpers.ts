import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function tempDir(prefix = 'iyesmp-pki-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function openssl(args: string[], input?: string): OpensslResult {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `openssl verify -x509_strict`, root as CAfile, intermediates as untrusted. */
export function opensslVerify(opts: { root: string; untrusted?: string; leaf: string; purpose?: 'sslserver' | 'sslclient' }): OpensslResult {
  const args = ['verify', '-x509_strict'];
  if (opts.purpose) args.push('-purpose', opts.purpose);
  args.push('-CAfile', opts.root);
  if (opts.untrusted) args.push('-untrusted', opts.untrusted);
  args.push(opts.leaf);
  return openssl(args);
}

/** Every file under dir (relative paths, sorted), to compare a folder before and after a failure. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      const rel = path.relative(dir, full);
      if (statSync(full).isDirectory()) {
        out.push(rel + '/');
        walk(full);
      } else out.push(`${rel} ${statSync(full).size}`);
    }
  };
  walk(dir);
  return out.sort();
}
