import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { configError } from './errors.js';
import type { ConfigKind } from './load.js';
import { holdsKeyMaterial } from './redact.js';

/**
 * Twelve-factor overrides: `IYESMP_AUTH__LISTEN__CLIENTS__PORT=7350` sets `listen.clients.port` of an
 * Auth config, `IYESMP_HOST__HOST__PUBLIC_ADDRESS=203.0.113.7` sets `host.public_address` of a Host
 * config. The prefix names the config kind (so one environment may hold both), `__` separates the
 * keys, which are lower-cased. Values are read as a TOML value when they parse as one (`7350`,
 * `true`, `["a:7351", "b:7351"]`, `"quoted"`), otherwise taken as a plain string (`0.0.0.0`,
 * `/run/secrets/auth.key`). They are applied to the parsed document before validation, so the
 * schema checks them like any key, and a problem names the variable it came from.
 */
export const ENV_PREFIX: Record<ConfigKind, string> = { auth: 'IYESMP_AUTH__', host: 'IYESMP_HOST__' };

export interface EnvOverride {
  /** the environment variable, e.g. IYESMP_AUTH__PKI__KEY */
  variable: string;
  /** the dotted config key it sets, e.g. pki.key */
  key: string;
  /** the value as applied; secrets are replaced by a description (see `shownValue`) */
  shown: string;
}

/** Key names whose values are never echoed, even when they look harmless. */
const SECRET_KEY = /passphrase|password|secret|token_value/i;

/** The overrides `env` holds for a config of `kind`, in a stable (sorted) order. */
export function envOverrides(kind: ConfigKind, env: NodeJS.ProcessEnv): Array<{ variable: string; path: string[]; raw: string }> {
  const prefix = ENV_PREFIX[kind];
  return Object.keys(env)
    .filter((v) => v.startsWith(prefix) && env[v] !== undefined)
    .sort()
    .map((variable) => {
      const rest = variable.slice(prefix.length);
      const parts = rest.split('__').map((p) => p.toLowerCase());
      if (rest === '' || parts.some((p) => !/^[a-z0-9_-]+$/.test(p))) {
        throw configError('bad_env_override', `$${variable}: not a config key path (expected ${prefix}SECTION__KEY, keys separated by "__")`, {
          hint: `for example ${prefix}${kind === 'auth' ? 'LISTEN__CLIENTS__PORT' : 'HOST__PUBLIC_ADDRESS'}`,
          details: { variable },
        });
      }
      return { variable, path: parts, raw: env[variable]! };
    });
}

/** A TOML value when the text is one, else the text itself (addresses and paths are rarely valid TOML). */
export function parseEnvValue(raw: string): unknown {
  try {
    const doc = parseToml(`v = ${raw}`) as { v?: unknown };
    // a date-looking value stays a string: no key of ours takes a date
    if (doc.v instanceof Date || (doc.v !== null && typeof doc.v === 'object' && 'toISOString' in (doc.v as object))) return raw;
    return doc.v;
  } catch {
    return raw;
  }
}

export function shownValue(key: string, value: unknown): string {
  if (SECRET_KEY.test(key)) return '(set, not shown)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return holdsKeyMaterial(text) ? `(key material, ${text.length} characters, not shown)` : text;
}

/**
 * Applies the overrides of `env` to a parsed config document in place and returns what it applied.
 * A key path that runs into a value that is not a table is refused naming the variable.
 */
export function applyEnvOverrides(doc: Record<string, unknown>, kind: ConfigKind, env: NodeJS.ProcessEnv): EnvOverride[] {
  const applied: EnvOverride[] = [];
  for (const o of envOverrides(kind, env)) {
    const key = o.path.join('.');
    if (key === 'kind') throw configError('bad_env_override', `$${o.variable}: the config kind cannot be overridden`, { details: { variable: o.variable } });
    let table = doc;
    for (const [i, part] of o.path.slice(0, -1).entries()) {
      const next = Object.hasOwn(table, part) ? table[part] : undefined;
      if (next === undefined) {
        const fresh: Record<string, unknown> = {};
        table[part] = fresh;
        table = fresh;
      } else if (next !== null && typeof next === 'object' && !Array.isArray(next)) {
        table = next as Record<string, unknown>;
      } else {
        throw configError('bad_env_override', `$${o.variable}: ${o.path.slice(0, i + 1).join('.')} is a value, not a table, so ${key} cannot be set`, {
          details: { variable: o.variable, key },
        });
      }
    }
    const value = parseEnvValue(o.raw);
    table[o.path[o.path.length - 1]!] = value;
    applied.push({ variable: o.variable, key, shown: shownValue(key, value) });
  }
  return applied;
}

/** Where `serve` looks for its config when given no `--config`, in order. */
export const CONFIG_ENV = 'IYESMP_CONFIG';
export function defaultConfigPaths(kind: ConfigKind, cwd = process.cwd()): string[] {
  return [path.join(cwd, `iyesmp-${kind}.toml`), `/etc/iyesmp/${kind}.toml`];
}

/**
 * The config file of `serve auth|host`: --config, else $IYESMP_CONFIG, else the first default path
 * that exists. Says where it looked when none is found.
 */
export function discoverConfig(
  kind: ConfigKind,
  given: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): { file: string; from: string } {
  if (given) return { file: given, from: '--config' };
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) return { file: fromEnv, from: `$${CONFIG_ENV}` };
  const candidates = defaultConfigPaths(kind, cwd);
  const found = candidates.find((p) => existsSync(p));
  if (found) return { file: found, from: 'default path' };
  throw configError('config_not_found', `no ${kind} config: no --config, no $${CONFIG_ENV}, and none of ${candidates.join(', ')} exists`, {
    hint: `pass --config FILE, set ${CONFIG_ENV}, or write one with \`iyesmp config scaffold ${kind} --out ${candidates[0]}\``,
  });
}
