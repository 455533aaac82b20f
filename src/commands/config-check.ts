import { access } from 'node:fs/promises';
import { checkConfigFile, formatProblem, type ConfigKind } from '../config/load.js';
import { cliError } from '../cli/errors.js';
import { IyesmpError } from '../errors.js';
import type { AuthConfig } from '../config/auth.js';
import { jwtProviderFrom } from '../serve/config.js';

export interface ConfigCheckData {
  file: string;
  kind: ConfigKind;
  valid: true;
  /** referenced PKI files that do not exist (yet) */
  warnings: string[];
}

/** Implementation of `iyesmp config check` (loaded lazily by commands/config.ts). */
export async function checkConfigCommand(file: string): Promise<ConfigCheckData> {
  const r = await checkConfigFile(file);
  if (!r.ok) {
    const n = r.problems.length;
    throw cliError('config_invalid', `${file}: ${n} problem${n === 1 ? '' : 's'}:\n${r.problems.map((p) => '  ' + formatProblem(p)).join('\n')}`, {
      details: { file, kind: r.kind ?? null, problems: r.problems },
    });
  }
  const warnings: string[] = [];
  // PKI files must exist before a server can start; missing ones are worth a warning, not a failure,
  // since configs are often written before the certificates are copied over.
  for (const [key, p] of Object.entries(r.config.pki as Record<string, string | undefined>)) {
    if (p === undefined) continue;
    try {
      await access(p);
    } catch {
      warnings.push(`pki.${key}: ${p} does not exist`);
    }
  }
  // the token keys serve builds (no JWKS fetch): a missing file warns like the PKI files, a bad one fails
  const token = r.kind === 'auth' && (r.config as AuthConfig).accounts.mode === 'token' ? (r.config as AuthConfig).accounts.token : undefined;
  if (token) {
    const keyFile = token.key_file ?? token.secret_file;
    if (keyFile !== undefined && !(await access(keyFile).then(() => true, () => false))) {
      warnings.push(`accounts.token.${token.key_file !== undefined ? 'key_file' : 'secret_file'}: ${keyFile} does not exist`);
    } else {
      await jwtProviderFrom(token).catch((err: unknown) => {
        const problem = { path: String((err as IyesmpError).details?.key ?? 'accounts.token'), message: (err as Error).message };
        throw cliError('config_invalid', `${file}: 1 problem:\n  ${problem.message}`, { details: { file, kind: r.kind, problems: [problem] } });
      });
    }
  }
  return { file, kind: r.kind, valid: true, warnings };
}
