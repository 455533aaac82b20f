// The sample Grafana dashboard (templates/grafana/iyesmp-dashboard.json) may only ask for metrics the
// servers register, with labels they have: every PromQL expression is read, its metric names and
// labels looked up in the metric definitions of src/ (read from the source, so no server has to run),
// and prom-client's process metrics when src/metrics collects them. Without src/metrics the test
// fails: a dashboard that nothing checks could drift from the metrics silently.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
// vitest runs on vite, whose parseAst (oxc) reads TypeScript: a real parser, not regular expressions
import { parseAst } from 'vite';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');
const METRICS_DIR = path.join(SRC, 'metrics');
const DASHBOARD = path.join(ROOT, 'templates/grafana/iyesmp-dashboard.json');

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';
interface MetricDef {
  type: MetricType;
  /** undefined when the source gives them by a variable (then labels are not checked) */
  labels: Set<string> | undefined;
  files: Set<string>;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** a generic walk over an ESTree AST */
type Node = any;

function unwrap(n: Node): Node {
  while (n && (n.type === 'TSAsExpression' || n.type === 'TSSatisfiesExpression' || n.type === 'TSNonNullExpression' || n.type === 'ParenthesizedExpression'))
    n = n.expression;
  return n;
}
const isString = (n: Node): n is { value: string } => n?.type === 'Literal' && typeof n.value === 'string';
function stringArray(n: Node): string[] | undefined {
  const a = unwrap(n);
  if (a?.type !== 'ArrayExpression') return undefined;
  const els = a.elements.map(unwrap);
  return els.every(isString) ? els.map((e: { value: string }) => e.value) : undefined;
}
function typeOf(callee: string): MetricType {
  const c = callee.toLowerCase();
  for (const t of ['histogram', 'summary', 'counter', 'gauge'] as const) if (c.includes(t)) return t;
  return 'unknown';
}
function calleeName(n: Node): string {
  const c = unwrap(n.callee);
  return c?.type === 'Identifier' ? c.name : c?.type === 'MemberExpression' && c.property?.type === 'Identifier' ? c.property.name : '';
}

/**
 * Metric definitions in the source: a call or `new` with an `iyesmp_…` name among its arguments
 * (the helpers `counter(registry, name, help, labels)` and the like), labels being the first
 * all-string array after the name; or prom-client's `new Counter({ name, labelNames })` form.
 */
function definitionsFromText(text: string, file: string, defs: Map<string, MetricDef>): void {
  if (!text.includes('iyesmp_')) return;
  const add = (name: string, type: MetricType, labels: string[] | undefined) => {
    const d = defs.get(name) ?? { type, labels: new Set<string>(), files: new Set<string>() };
    if (d.type === 'unknown') d.type = type;
    if (labels === undefined) d.labels = undefined;
    else if (d.labels) for (const l of labels) d.labels.add(l);
    d.files.add(path.relative(ROOT, file));
    defs.set(name, d);
  };
  const walk = (n: Node) => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const c of n) walk(c);
      return;
    }
    if (n.type === 'CallExpression' || n.type === 'NewExpression') {
      const args: Node[] = n.arguments.map(unwrap);
      const type = typeOf(calleeName(n));
      const at = args.findIndex((a) => isString(a) && /^iyesmp_[a-z0-9_]+$/.test(a.value));
      if (at >= 0 && type !== 'unknown') {
        const rest = args.slice(at + 1);
        const labelArg = rest.find((a) => stringArray(a) !== undefined);
        // an array argument that is not all strings could be the labels given by a variable
        const unknownLabels = !labelArg && rest.some((a) => a.type === 'Identifier' || a.type === 'ArrayExpression');
        add(args[at].value, type, labelArg ? stringArray(labelArg) : unknownLabels && type !== 'histogram' ? undefined : []);
      }
      for (const a of args) {
        if (a?.type !== 'ObjectExpression' || type === 'unknown') continue;
        const prop = (k: string) => a.properties.find((p: Node) => p.type === 'Property' && (p.key?.name === k || p.key?.value === k))?.value;
        const name = unwrap(prop('name'));
        if (isString(name) && name.value.startsWith('iyesmp_')) {
          const ln = prop('labelNames');
          add(name.value, type, ln === undefined ? [] : stringArray(ln));
        }
      }
    }
    for (const k of Object.keys(n)) if (k !== 'type' && typeof n[k] === 'object') walk(n[k]);
  };
  walk(parseAst(text, { lang: file.endsWith('.tsx') ? 'tsx' : 'ts' }));
}

async function registeredMetrics(): Promise<Map<string, MetricDef>> {
  const defs = new Map<string, MetricDef>();
  for (const f of tsFiles(SRC)) definitionsFromText(readFileSync(f, 'utf8'), f, defs);
  const metricsSource = tsFiles(METRICS_DIR)
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  if (metricsSource.includes('collectDefaultMetrics(')) {
    // the process metrics prom-client registers, under its own names and labels
    const r = new Registry();
    collectDefaultMetrics({ register: r });
    for (const m of await r.getMetricsAsJSON()) {
      const single = r.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined;
      defs.set(m.name, { type: m.type as unknown as MetricType, labels: new Set(single?.labelNames ?? []), files: new Set(['prom-client defaults']) });
    }
  }
  return defs;
}

// PromQL: functions and aggregations the dashboard may call, keywords that are not metric names
const FUNCTIONS = new Set(
  'sum min max avg count stddev stdvar topk bottomk quantile count_values group rate irate increase delta idelta deriv histogram_quantile label_replace label_join clamp clamp_min clamp_max abs ceil floor round sqrt exp ln log2 log10 time vector scalar sort sort_desc absent absent_over_time avg_over_time max_over_time min_over_time sum_over_time count_over_time quantile_over_time last_over_time changes resets predict_linear'.split(
    ' ',
  ),
);
const KEYWORDS = new Set(['bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const TARGET_LABELS = ['job', 'instance']; // added by Prometheus to every scraped series

interface ParsedExpr {
  metrics: string[];
  labels: string[];
  functions: string[];
  variables: string[];
}

/** Names in a PromQL expression: metrics, the labels it matches or groups by, functions, Grafana variables. */
function parsePromQL(expr: string): ParsedExpr {
  const variables = [...expr.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  const labels: string[] = [];
  let rest = expr.replace(/\{([^{}]*)\}/g, (_all, body: string) => {
    for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)) labels.push(m[1]!);
    return ' ';
  });
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)/g, (_all, _kw, body: string) => {
    for (const l of body.split(',')) if (l.trim()) labels.push(l.trim());
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ').replace(/"(?:[^"\\]|\\.)*"/g, ' ');
  const metrics: string[] = [];
  const functions: string[] = [];
  for (const m of rest.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const prev = rest[m.index - 1];
    if (prev && /[0-9.]/.test(prev)) continue; // 1e3, 0.99
    const name = m[1]!;
    if (m[2]) functions.push(name);
    else if (!KEYWORDS.has(name)) metrics.push(name);
  }
  return { metrics, labels: labels.filter((l) => l !== '__name__'), functions, variables };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; legendFormat?: string; refId: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string }> };
}

function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}
const targetsOf = (d: Dashboard) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, ...t })));

describe('Grafana dashboard template', () => {
  it('is a dashboard Grafana can import: unique panel ids, a 24-column grid, a Prometheus data source variable', () => {
    const d = readDashboard();
    expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      // panels never overlap
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      if (p.type === 'row') continue;
      expect(p.targets?.length, `${p.title} has no query`).toBeGreaterThan(0);
      expect(p.datasource).toEqual({ type: 'prometheus', uid: `$${'{datasource}'}` }); // Grafana's ${datasource}
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, `${p.title}: refIds`).toBe(refIds.length);
    }
    const ds = d.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });

  it('uses only Grafana variables it defines and PromQL functions that exist', () => {
    const d = readDashboard();
    const defined = new Set([...d.templating.list.map((v) => v.name), '__rate_interval', '__interval', '__range']);
    const exprs = [
      ...targetsOf(d).map((t) => ({ where: `${t.panel.title} ${t.refId}`, expr: t.expr })),
      ...d.templating.list
        .filter((v) => v.definition)
        .map((v) => ({ where: `variable ${v.name}`, expr: String(v.definition).replace(/^label_values\((.*),\s*\w+\)$/, '$1') })),
    ];
    for (const { where, expr } of exprs) {
      const p = parsePromQL(expr);
      for (const v of p.variables) expect(defined.has(v), `${where}: $${v} is not a dashboard variable`).toBe(true);
      for (const f of p.functions) expect(FUNCTIONS.has(f), `${where}: ${f}() is not a PromQL function`).toBe(true);
      expect((expr.match(/\(/g) ?? []).length, `${where}: unbalanced parentheses`).toBe((expr.match(/\)/g) ?? []).length);
    }
  });

  it('asks only for metrics and labels the servers register', async () => {
    expect(
      existsSync(METRICS_DIR),
      'src/metrics/ is missing: the dashboard is checked against the metrics module of the observability work (branch ops-observe); merge it before this test can pass',
    ).toBe(true);
    const defs = await registeredMetrics();
    const iyesmp = [...defs.keys()].filter((n) => n.startsWith('iyesmp_'));
    expect(iyesmp.length, `no iyesmp_ metric definitions found in ${path.relative(ROOT, SRC)} (did the metric helpers change shape?)`).toBeGreaterThan(10);

    const problems: string[] = [];
    for (const t of targetsOf(readDashboard())) {
      const where = `panel "${t.panel.title}" ${t.refId}`;
      const p = parsePromQL(t.expr);
      expect(p.metrics.length, `${where}: no metric in ${t.expr}`).toBeGreaterThan(0);
      const allowed = new Set(TARGET_LABELS);
      let labelsKnown = true;
      for (const name of p.metrics) {
        let def = defs.get(name);
        const suffix = /_(bucket|sum|count)$/.exec(name);
        if (!def && suffix) {
          const base = defs.get(name.slice(0, -suffix[0].length));
          if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix[1] !== 'bucket'))) {
            def = base;
            if (suffix[1] === 'bucket') allowed.add('le');
          }
        }
        if (!def) {
          problems.push(`${where}: ${name} is not registered anywhere in src/ (nor by prom-client's defaults)`);
          continue;
        }
        // a histogram's own name is no series: only its _bucket, _sum and _count are
        if (def.type === 'histogram' && defs.has(name)) problems.push(`${where}: ${name} is a histogram: use ${name}_bucket/_sum/_count`);
        if (def.labels) for (const l of def.labels) allowed.add(l);
        else labelsKnown = false;
      }
      if (/histogram_quantile/.test(t.expr) && !p.labels.includes('le')) problems.push(`${where}: histogram_quantile without "by (le)"`);
      if (!labelsKnown) continue;
      for (const l of p.labels) if (!allowed.has(l)) problems.push(`${where}: label "${l}" is not a label of ${p.metrics.join(', ')}`);
      for (const m of (t.legendFormat ?? '').matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g))
        if (!allowed.has(m[1]!)) problems.push(`${where}: legend {{${m[1]}}} is not a label of ${p.metrics.join(', ')}`);
    }
    expect(problems).toEqual([]);
  });

  it('covers what an operator watches: logins, queues, matches, hand-off p50/p99, refusals, sessions, results, load, packets, lag, memory', () => {
    const exprs = targetsOf(readDashboard()).map((t) => t.expr);
    const uses = (re: RegExp) => exprs.some((e) => re.test(e));
    const wanted: Array<[string, RegExp]> = [
      ['logins', /iyesmp_auth_logins_total/],
      ['connections', /iyesmp_auth_connections\b/],
      ['queue sizes per mode', /sum by \(mode\) \(iyesmp_matchmaking_queued_players/],
      ['matches formed', /iyesmp_matches_formed_total/],
      ['hand-off p50', /histogram_quantile\(0\.5, sum by \(le\) \(rate\(iyesmp_handoff_duration_seconds_bucket/],
      ['hand-off p99', /histogram_quantile\(0\.99, sum by \(le\) \(rate\(iyesmp_handoff_duration_seconds_bucket/],
      ['refusals by reason', /by \(endpoint, reason\) \(rate\(iyesmp_auth_refusals_total/],
      ['active sessions per host and transport', /by \(instance, transport\) \(iyesmp_host_sessions\b/],
      ['results pending', /iyesmp_results_pending/],
      ['host load', /iyesmp_host_load\b/],
      ['netcode packets', /iyesmp_netcode_packets_total/],
      ['netcode drops', /iyesmp_netcode_dropped_packets_total/],
      ['event-loop lag', /nodejs_eventloop_lag_p99_seconds/],
      ['memory', /process_resident_memory_bytes/],
    ];
    expect(wanted.filter(([, re]) => !uses(re)).map(([what]) => what)).toEqual([]);
  });

  it('reads metric definitions in both shapes the source may use (helper call, prom-client options object)', () => {
    const parsed = parsePromQL('histogram_quantile(0.99, sum by (le, transport) (rate(iyesmp_x_bucket{job=~"$job", state="a"}[$__rate_interval])))');
    expect(parsed).toEqual({
      metrics: ['iyesmp_x_bucket'],
      labels: ['job', 'state', 'le', 'transport'],
      functions: ['histogram_quantile', 'sum', 'rate'],
      variables: ['job', '__rate_interval'],
    });
    const defs = new Map<string, MetricDef>();
    const file = path.join(ROOT, 'src/metrics/inline.ts');
    const src = `
      const a = counter(registry, 'iyesmp_a_total', 'help (with parens)', ['x', 'y'] as const);
      const b = new Histogram<'t'>({ name: 'iyesmp_b_seconds', help: 'h', labelNames: ['t'], buckets: [0.1, 1] });
      gaugeOf(registry, 'iyesmp_c', 'h', [], (g) => g.set(1));
      logger.info({ event: 'iyesmp_not_a_metric' }, 'msg');`;
    definitionsFromText(src, file, defs);
    expect([...defs].map(([n, d]) => [n, d.type, [...(d.labels ?? [])]])).toEqual([
      ['iyesmp_a_total', 'counter', ['x', 'y']],
      ['iyesmp_b_seconds', 'histogram', ['t']],
      ['iyesmp_c', 'gauge', []],
    ]);
  });
});
