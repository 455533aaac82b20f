// The module graph runs one way: wire libraries below domains below servers below commands.
// This reads every relative import in src/ (static, re-exports, side-effect and `import('...')`)
// and fails on an import of a higher-ranked folder, on an unlisted import between folders of the
// same rank, on a folder cycle, and on a folder that is not in RANKS.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/** A folder (or top-level file, without extension) may import only lower ranks, or itself. */
const RANKS: Record<string, number> = {
  errors: 0,
  net: 1,
  fs: 1,
  events: 1,
  pki: 2,
  protocol: 3,
  netcode: 4,
  transport: 4,
  mqtt: 4, // MQTT brokers (embedded aedes, Mosquitto dynsec) and the client adapter
  turns: 4, // sans-IO turn-based protocol over MQTT (may import errors, net, events, pki, protocol)
  auth: 5,
  host: 5,
  client: 5,
  config: 6,
  lan: 6,
  store: 6, // the Auth server's state in SQL: implements auth's store interfaces; serve opens it
  serve: 7,
  demo: 7,
  cli: 7,
  metrics: 7, // the per-server Prometheus registry, server metrics, the admin HTTP listener
  results: 7, // results sinks (the webhook)
  commands: 8,
  ui: 8,
  // entry files
  'error-codes': 9, // the union of every layer's codes: type-only imports of each registry
  index: 10,
  server: 10,
  main: 10, // the union of every layer's codes: type-only imports of each registry
};

/**
 * Imports between folders of the same rank that are allowed, one way only. Every other same-rank
 * import fails: netcode and transport are two independent wire libraries (what they share lives in
 * net/), and auth, host and client are three domains that meet only through protocol/.
 */
const SAME_RANK_ALLOWED = new Set([
  'demo -> cli', // the demo prints through the CLI's output (colour, --json, quiet)
  'commands -> ui', // `certs init` renders the ink wizard
]);

/**
 * Violations tolerated while a move is in flight on a branch; empty on main. An entry that no
 * longer occurs fails the last test below, so the list cannot go stale.
 */
const KNOWN_VIOLATIONS = new Set<string>([]);

interface Import {
  file: string; // relative to the repository, e.g. src/host/server.ts
  line: number;
  specifier: string;
  from: string; // unit of the importing file
  to: string; // unit of the imported module
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The folder right under src/, or for a file directly in src/ its name without extension; undefined outside src/. */
function unitOf(abs: string): string | undefined {
  const rel = path.relative(SRC, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(path.sep);
  return parts.length === 1 ? parts[0]!.replace(/\.(?:tsx?|jsx?|mjs|cjs|json)$/, '') : parts[0];
}

// Statements start a line (so doc comments that quote an import do not count); dynamic imports may sit anywhere.
const STATIC = /^[ \t]*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT = /^[ \t]*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function readImports(): Import[] {
  const out: Import[] = [];
  for (const abs of sourceFiles(SRC)) {
    const text = readFileSync(abs, 'utf8');
    const from = unitOf(abs)!;
    for (const re of [STATIC, SIDE_EFFECT, DYNAMIC]) {
      for (const m of text.matchAll(re)) {
        const specifier = m[1]!;
        if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue;
        const to = unitOf(path.resolve(path.dirname(abs), specifier));
        if (to === undefined || to === from) continue;
        const at = m.index + m[0].lastIndexOf(specifier);
        out.push({ file: path.relative(path.dirname(SRC), abs), line: text.slice(0, at).split('\n').length, specifier, from, to });
      }
    }
  }
  return out;
}

const edgeOf = (i: Import): string => `${i.from} -> ${i.to}`;
const where = (i: Import): string => `${i.file}:${i.line} imports '${i.specifier}'`;

describe('architecture: folder layering in src/', () => {
  const imports = readImports();

  it('finds the imports (sanity check of the parser)', () => {
    expect(imports.length).toBeGreaterThan(100);
    expect(imports.some((i) => edgeOf(i) === 'main -> commands')).toBe(true);
    expect(imports.some((i) => i.from === 'commands' && i.specifier.endsWith('/ui/InitWizard.js'))).toBe(true);
  });

  it('every folder and top-level file has a rank', () => {
    const units = new Set(sourceFiles(SRC).map((f) => unitOf(f)!));
    const unranked = [...units].filter((u) => RANKS[u] === undefined).map((u) => `unranked folder: src/${u} (add it to RANKS in test/architecture.test.ts)`);
    expect(unranked, unranked.join('\n')).toEqual([]);
  });

  it('a folder imports only lower ranks, or same-rank folders listed as allowed', () => {
    const bad = imports
      .filter((i) => RANKS[i.from] !== undefined && RANKS[i.to] !== undefined && !KNOWN_VIOLATIONS.has(edgeOf(i)))
      .flatMap((i) => {
        const [a, b] = [RANKS[i.from]!, RANKS[i.to]!];
        if (a > b) return [];
        if (a === b && SAME_RANK_ALLOWED.has(edgeOf(i))) return [];
        const why = a < b ? 'imports a higher layer' : 'imports a folder of the same rank (not in SAME_RANK_ALLOWED)';
        return [`${where(i)}: ${i.from} (rank ${a}) ${why}: ${i.to} (rank ${b})`];
      });
    expect(bad, `layering violations:\n${bad.join('\n')}`).toEqual([]);
  });

  it('has no folder cycle', () => {
    const graph = new Map<string, Map<string, Import>>();
    for (const i of imports) {
      if (KNOWN_VIOLATIONS.has(edgeOf(i))) continue;
      const out = graph.get(i.from) ?? new Map<string, Import>();
      if (!out.has(i.to)) out.set(i.to, i);
      graph.set(i.from, out);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (u: string): void => {
      state.set(u, 'open');
      stack.push(u);
      for (const v of graph.get(u)?.keys() ?? []) {
        if (state.get(v) === 'open') {
          const loop = [...stack.slice(stack.indexOf(v)), v];
          const steps = loop.slice(1).map((w, k) => where(graph.get(loop[k]!)!.get(w)!));
          cycles.push(`${loop.join(' -> ')}\n  ${steps.join('\n  ')}`);
        } else if (!state.has(v)) visit(v);
      }
      stack.pop();
      state.set(u, 'done');
    };
    for (const u of [...graph.keys()].sort()) if (!state.has(u)) visit(u);
    expect(cycles, `folder cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('every entry in KNOWN_VIOLATIONS still occurs (remove the fixed ones)', () => {
    const seen = new Set(imports.map(edgeOf));
    const fixed = [...KNOWN_VIOLATIONS].filter((e) => !seen.has(e));
    expect(fixed, `no longer imported, remove from KNOWN_VIOLATIONS: ${fixed.join(', ')}`).toEqual([]);
  });
});
