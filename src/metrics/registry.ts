import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A server's own metrics registry (never prom-client's global one, so two servers in one process, or
 * a test that starts several, never collide), with the process metrics prom-client collects:
 * `process_resident_memory_bytes`, `process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`,
 * `nodejs_eventloop_lag_seconds` and the rest of its defaults, under their usual names so stock
 * Node.js dashboards read them. Every iyesmp metric is prefixed `iyesmp_`.
 */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  if (Object.keys(labels).length > 0) registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}

/** Labels whose values come from peers (refusal reasons, game modes): a bounded set, the rest counted as "other". */
export class LabelBound {
  readonly #seen = new Set<string>();
  constructor(readonly max = 64) {}

  of(value: string | undefined): string {
    const v = value ?? 'unknown';
    if (this.#seen.has(v)) return v;
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(v) || this.#seen.size >= this.max) return 'other';
    this.#seen.add(v);
    return v;
  }
}

export const counter = <L extends string>(r: Registry, name: string, help: string, labelNames: readonly L[] = []) =>
  new Counter<L>({ name, help, labelNames, registers: [r] });
export const histogram = <L extends string>(r: Registry, name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
  new Histogram<L>({ name, help, labelNames, buckets, registers: [r] });

/** A gauge read when scraped: `read` sets it (after a reset, so label sets that went away disappear). */
export function gaugeOf<L extends string>(r: Registry, name: string, help: string, labelNames: readonly L[], read: (g: Gauge<L>) => void): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [r],
    collect() {
      this.reset();
      read(this);
    },
  });
}

/**
 * A counter whose value a server already keeps as a running total (allow-list drops, netcode
 * packets): copied in when scraped. The source only grows while the server runs, as a counter must.
 */
export function counterOf<L extends string>(
  r: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Array<[Partial<Record<L, string>>, number]>,
): Counter<L> {
  return new Counter<L>({
    name,
    help,
    labelNames,
    registers: [r],
    collect() {
      this.reset();
      for (const [labels, v] of read()) if (v > 0) this.inc(labels as never, v);
    },
  });
}
