import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ManifestEntry } from '../pki/types.js';
import { setTomlValue } from './toml-edit.js';

/** The dev operator: the admin cert `iyesmp demo` issues is stored as `admin-dev`. */
export const DEMO_ADMIN = 'dev';

/** What the admin step needs of the demo's setup (a subset of the command's context). */
export interface AdminStepContext {
  devDir: string;
  pkiDir: string;
  entries: ManifestEntry[];
  files: { kind: string; path: string }[];
}

/**
 * Gives the dev deployment an operator: an Admin certificate from the dev Master (its key is
 * unencrypted in the dev PKI) and the Auth config's `[admin]` table switched on at loopback, so
 * `iyesmp admin …` and `iyesmp top` work on the demo's servers out of the box.
 */
export async function addDemoAdmin(ctx: AdminStepContext): Promise<void> {
  const { openPki } = await import('../pki/index.js');
  const pki = await openPki(ctx.pkiDir);
  const issued = await pki.issueAdmin({ name: DEMO_ADMIN });
  ctx.entries = pki.list();
  ctx.files.push({ kind: 'admin cert', path: issued.certPath });
  const auth = path.join(ctx.devDir, 'auth.toml');
  await writeFile(auth, enableAdmin(await readFile(auth, 'utf8')));
}

/**
 * Switches `[admin]` on in a scaffolded config at 127.0.0.1, keeping its comments: the commented
 * `# [admin]` block `config scaffold` writes is uncommented in place (an existing table is kept,
 * a config without either gets one at the end). `port` replaces the scaffolded default.
 */
export function enableAdmin(text: string, port?: number): string {
  let t = text;
  if (!/^\[admin\]\s*$/m.test(t)) {
    const lines = t.split('\n');
    const at = lines.findIndex((l) => /^#\s*\[admin\]\s*$/.test(l));
    if (at >= 0) {
      lines[at] = '[admin]';
      // the commented keys right below it
      for (let i = at + 1; i < lines.length && /^#\s*(address|port)\s*=/.test(lines[i]!); i++) lines[i] = lines[i]!.replace(/^#\s*/, '');
      t = lines.join('\n');
    } else {
      t = `${t.replace(/\n*$/, '\n')}\n[admin]\naddress = "127.0.0.1"\n`;
    }
  }
  t = setTomlValue(t, 'admin', 'address', '"127.0.0.1"');
  return port === undefined ? t : setTomlValue(t, 'admin', 'port', String(port));
}

/** The lines `--keep-running` prints: how to look at the running Auth server as its operator. */
export function adminNotice(
  auth: { adminAddress: string; config: string },
  pkiDir: string,
  display: (p: string) => string,
  bold: (s: string) => string,
  /** the servers' admin HTTP listeners (`host:port`), Auth first */
  metrics: string[] = [],
): string[] {
  const flags = `-c ${display(auth.config)} --dir ${display(pkiDir)}`;
  return [
    bold(`Look at it as its operator (admin port ${auth.adminAddress}, admin cert admin-${DEMO_ADMIN}):`),
    `  iyesmp admin status ${flags}`,
    `  iyesmp top ${flags}`,
    ...metrics.map((m) => `  curl -s http://${m}/metrics      # Prometheus (also /healthz, /readyz)`),
  ];
}

/** A free UDP port on loopback for the admin port (QUIC), other than the demo's other ports. */
export async function pickAdminPort(taken: number[]): Promise<number> {
  const { freeUdpPorts } = await import('./ports.js');
  for (;;) {
    const [p] = await freeUdpPorts(1);
    if (p !== undefined && !taken.includes(p)) return p;
  }
}
