import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { configError } from './errors.js';
import { authConfigSchema, type AuthConfig } from './auth.js';
import { hostConfigSchema, type HostConfig } from './host.js';
import { lineOf, locateKeys } from './locate.js';
import { holdsKeyMaterial, redactSecrets } from './redact.js';
import { applyEnvOverrides, type EnvOverride } from './env.js';

export type ConfigKind = 'auth' | 'host';

export interface ConfigProblem {
  /** dotted key path, e.g. `host.capacity` (empty for the whole document) */
  path: string;
  message: string;
  line?: number;
}

export type Checked = (
  | { ok: true; kind: 'auth'; config: AuthConfig }
  | { ok: true; kind: 'host'; config: HostConfig }
  | { ok: false; kind: ConfigKind | undefined; problems: ConfigProblem[] }
) & {
  /** environment overrides applied before validation (src/config/env.ts), values redacted */
  overrides?: EnvOverride[];
};

/**
 * Validates TOML text. Throws IyesmpError(input, not_toml) when it is not TOML at all; otherwise
 * returns every problem found. `baseDir` resolves relative file paths (default: not resolved).
 */
export function checkConfigText(text: string, opts: { baseDir?: string; source?: string; env?: NodeJS.ProcessEnv } = {}): Checked {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const where = opts.source ? `${opts.source}:${err.line}:${err.column}` : `line ${err.line}, column ${err.column}`;
      throw configError('not_toml', `${where}: not valid TOML: ${redactSecrets(err.message.split('\n')[0] ?? '')}`, {
        details: { line: err.line, column: err.column },
      });
    }
    throw err;
  }
  const lines = locateKeys(text);
  const kind = doc.kind;
  if (kind !== 'auth' && kind !== 'host') {
    return {
      ok: false,
      kind: undefined,
      problems: [problem(['kind'], `expected "auth" or "host", got ${render(kind)}`, lines)],
    };
  }
  // overrides from the environment go in before validation, so the schema judges them like any key
  const overrides = opts.env ? applyEnvOverrides(doc, kind, opts.env) : [];
  const fromEnv = (p: ConfigProblem): ConfigProblem => {
    const o = overrides.find((x) => p.path === x.key || p.path.startsWith(`${x.key}.`) || x.key.startsWith(`${p.path}.`));
    // the file's line would point at the value the variable replaced
    return o ? { path: p.path, message: `${p.message} (from $${o.variable})` } : p;
  };
  // zod drops a `__proto__` key without a word (a game mode of that name would vanish): refuse it
  const reserved = protoKeys(doc, []);
  if (reserved.length > 0)
    return { ok: false, kind, problems: reserved.map((at) => problem(at, 'the key "__proto__" is reserved; choose another name', lines)) };
  const schema = kind === 'auth' ? authConfigSchema(opts.baseDir) : hostConfigSchema(opts.baseDir);
  const r = (schema as z.ZodType).safeParse(doc);
  if (r.success) return { ok: true, kind, config: r.data, overrides } as Checked;
  return { ok: false, kind, problems: r.error.issues.flatMap((i) => describe(i, doc, lines)).map(fromEnv), overrides };
}

/**
 * Reads and validates a config file; relative paths inside resolve against the file's folder.
 * Environment overrides (`IYESMP_AUTH__…`/`IYESMP_HOST__…`, src/config/env.ts) are applied from
 * `env` (default: this process's environment; pass `{}` for none).
 */
export async function checkConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Checked> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw configError('not_found', `config file ${file} does not exist`);
    throw configError('unreadable', `cannot read config file ${file}: ${code ?? String(err)}`);
  }
  return checkConfigText(text, { baseDir: path.dirname(path.resolve(file)), source: file, env });
}

/** For servers: the validated config, or an `input` error listing every problem. */
export async function loadConfig<K extends ConfigKind>(
  file: string,
  kind: K,
  env: NodeJS.ProcessEnv = process.env,
): Promise<K extends 'auth' ? AuthConfig : HostConfig> {
  const r = await checkConfigFile(file, env);
  if (!r.ok) {
    throw configError('config_invalid', `${file} is not a valid config:\n${r.problems.map((p) => '  ' + formatProblem(p)).join('\n')}`, {
      details: { problems: r.problems },
    });
  }
  if (r.kind !== kind) throw configError('config_kind', `${file} is a ${r.kind} config, expected kind = "${kind}"`);
  return r.config as K extends 'auth' ? AuthConfig : HostConfig;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.path || '(document)'}: ${p.message}${p.line !== undefined ? ` (line ${p.line})` : ''}`;
}

type Issue = z.core.$ZodIssue;

function describe(issue: Issue, doc: unknown, lines: Map<string, number>): ConfigProblem[] {
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => problem([...at, k], 'unknown key', lines));
  }
  const value = valueAt(doc, at);
  // refinements of one value word their message "expected ..." (fields.ts) and get the value too;
  // cross-field rules speak for themselves
  if (issue.code === 'custom' && !(value !== undefined && issue.message.startsWith('expected '))) return [problem(at, issue.message, lines)];
  if (value === undefined) return [problem(at, `missing; ${issue.message}`, lines)];
  return [problem(at, `${issue.message}, got ${render(value)}`, lines)];
}

function problem(at: (string | number)[], message: string, lines: Map<string, number>): ConfigProblem {
  const p: ConfigProblem = { path: at.join('.'), message };
  const line = lineOf(lines, at);
  if (line !== undefined) p.line = line;
  return p;
}

function valueAt(doc: unknown, at: string[]): unknown {
  let cur = doc;
  for (const k of at) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Object.hasOwn(cur, k) ? (cur as Record<string, unknown>)[k] : undefined;
  }
  return cur;
}

/** Paths of every `__proto__` key in a parsed TOML document (smol-toml keeps them as own keys). */
function protoKeys(v: unknown, at: string[]): string[][] {
  if (v === null || typeof v !== 'object' || v instanceof Date) return [];
  return Object.entries(v).flatMap(([k, inner]) => (k === '__proto__' ? [[...at, k]] : protoKeys(inner, [...at, k])));
}

function render(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date || (v !== null && typeof v === 'object' && 'toISOString' in v)) return `a date (${String(v)})`;
  if (v !== null && typeof v === 'object') return 'a table';
  // a key pasted into the config is never echoed
  if (typeof v === 'string' && holdsKeyMaterial(v)) return `text holding key material (${v.length} characters, not shown)`;
  return JSON.stringify(v);
}
