import { Writable } from 'node:stream';
import { checkConfigFile, formatProblem, type ConfigKind } from '../config/load.js';
import { cliError } from '../cli/errors.js';
import { isIyesmpError } from '../errors.js';
import type { ServeSecrets } from '../serve/config.js';

export interface ConfigCheckData {
  file: string;
  kind: ConfigKind;
  valid: true;
  /** the warnings `serve` would log at start: settings accepted but not acted on by this build */
  warnings: string[];
  /** environment overrides applied before the checks (IYESMP_AUTH__…/IYESMP_HOST__…), secrets not shown */
  overrides: Array<{ variable: string; key: string; value: string }>;
}

/**
 * Implementation of `iyesmp config check` (loaded lazily by commands/config.ts). After the schema it
 * runs what `serve` runs before it listens (src/serve/config.ts): files read, cert and key match,
 * the chain verifies, secrets decrypt, every option is served. So a config that passes here starts.
 */
export async function checkConfigCommand(file: string, secrets: ServeSecrets = {}, env: NodeJS.ProcessEnv = process.env): Promise<ConfigCheckData> {
  const r = await checkConfigFile(file, env);
  if (!r.ok) {
    const n = r.problems.length;
    throw cliError('config_invalid', `${file}: ${n} problem${n === 1 ? '' : 's'}:\n${r.problems.map((p) => '  ' + formatProblem(p)).join('\n')}`, {
      details: { file, kind: r.kind ?? null, problems: r.problems, overrides: overridesOf(r) },
    });
  }
  const warnings: string[] = [];
  const { default: pino } = await import('pino');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) warnings.push(String((JSON.parse(line) as { msg?: unknown }).msg));
      done();
    },
  });
  const logger = pino({ level: 'warn' }, sink);
  const serve = await import('../serve/config.js');
  try {
    if (r.kind === 'auth') {
      await serve.authOptionsFromConfig(r.config, logger, secrets);
      // serve reads the webhook secret before it listens; so does the check
      const w = r.config.results.webhook;
      if (w.url !== undefined && w.secret_file !== undefined) await (await import('../results/webhook.js')).readWebhookSecret(w.secret_file);
    } else await serve.hostFromConfig(r.config, logger);
  } catch (err) {
    if (!isIyesmpError(err) || err.kind === 'internal') throw err;
    throw cliError('config_invalid', `${file}: serve ${r.kind} would refuse to start: ${err.message}`, {
      ...(err.hint ? { hint: err.hint } : {}),
      // serve names the config key it refused when it knows it (details.key)
      details: { file, kind: r.kind, problems: [{ path: typeof err.details?.key === 'string' ? err.details.key : '', message: err.message, code: err.code }] },
    });
  }
  return { file, kind: r.kind, valid: true, warnings, overrides: overridesOf(r) };
}

function overridesOf(r: { overrides?: Array<{ variable: string; key: string; shown: string }> }): ConfigCheckData['overrides'] {
  return (r.overrides ?? []).map((o) => ({ variable: o.variable, key: o.key, value: o.shown }));
}
