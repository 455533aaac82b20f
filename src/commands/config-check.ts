import { access } from 'node:fs/promises';
import { checkConfigFile, formatProblem, type ConfigKind } from '../config/load.js';
import { cliError } from '../cli/errors.js';

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
  return { file, kind: r.kind, valid: true, warnings };
}
