/**
 * The operator's live numbers of an Auth server, for `iyesmp admin status` and `iyesmp top`:
 * hand-offs (rate and latency over a sliding window), the latest refusals with their reasons, and
 * the latest recorded results. Sans-IO (time comes in as arguments) and bounded: a busy or
 * attacked server keeps at most a fixed number of samples, whatever the traffic.
 */
import { printable } from '../net/printable.js';

export interface Refusal {
  at: number;
  /** which endpoint refused: `client`, `host`, `admin`, or `login` */
  endpoint: string;
  reason: string;
  message: string;
  remote?: string;
}

export interface RecordedResult {
  sessionId: string;
  host: string;
  mode?: string;
  endedAt: number;
  reason: string;
  players: string[];
  results: unknown;
}

export interface HandoffSnapshot {
  total: number;
  failed: number;
  perSecond: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface OpsStatsOptions {
  /** hand-off rate and latency are computed over this window (default 60 s) */
  windowMs?: number;
  /** hand-off samples kept in the window at most (default 10,000): beyond it the oldest go first */
  maxSamples?: number;
  /** refusals kept (default 50) */
  maxRefusals?: number;
  /** results kept (default 1,000) */
  maxResults?: number;
}

export class OpsStats {
  readonly #windowMs: number;
  readonly #maxSamples: number;
  readonly #maxRefusals: number;
  readonly #maxResults: number;
  /** [at, ms] pairs of successful hand-offs, oldest first */
  #samples: Array<[number, number]> = [];
  #total = 0;
  #failed = 0;
  #refusals: Refusal[] = [];
  #results: RecordedResult[] = [];

  constructor(o: OpsStatsOptions = {}) {
    this.#windowMs = o.windowMs ?? 60_000;
    this.#maxSamples = o.maxSamples ?? 10_000;
    this.#maxRefusals = o.maxRefusals ?? 50;
    this.#maxResults = o.maxResults ?? 1000;
  }

  /** A claim answered (ok) or refused/failed, `ms` after the player asked. */
  handoff(now: number, ms: number, ok: boolean): void {
    this.#total++;
    if (!ok) {
      this.#failed++;
      return;
    }
    this.#samples.push([now, ms]);
    if (this.#samples.length > this.#maxSamples) this.#samples.splice(0, this.#samples.length - this.#maxSamples);
  }

  refusal(r: Refusal): void {
    // refusal messages quote what a peer sent (an offered ALPN, an address): `admin status` and `top` show them on a terminal
    this.#refusals.push({ ...r, message: printable(r.message).slice(0, 300), ...(r.remote !== undefined ? { remote: printable(r.remote) } : {}) });
    if (this.#refusals.length > this.#maxRefusals) this.#refusals.splice(0, this.#refusals.length - this.#maxRefusals);
  }

  result(r: RecordedResult): void {
    this.#results.push(r);
    if (this.#results.length > this.#maxResults) this.#results.splice(0, this.#results.length - this.#maxResults);
  }

  handoffs(now: number): HandoffSnapshot {
    const from = now - this.#windowMs;
    // samples arrive in time order: drop the ones that left the window
    let i = 0;
    while (i < this.#samples.length && this.#samples[i]![0] < from) i++;
    if (i > 0) this.#samples.splice(0, i);
    const ms = this.#samples.map((s) => s[1]).sort((a, b) => a - b);
    const pct = (p: number) => (ms.length === 0 ? null : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!);
    return { total: this.#total, failed: this.#failed, perSecond: ms.length / (this.#windowMs / 1000), p50Ms: pct(0.5), p95Ms: pct(0.95) };
  }

  /** The latest refusals, newest last. */
  refusals(limit = this.#maxRefusals): Refusal[] {
    return this.#refusals.slice(-limit).map((r) => ({ ...r }));
  }

  /** Recorded results, oldest first: the newest `limit`, ended at or after `since`. */
  results(o: { limit?: number; since?: number } = {}): RecordedResult[] {
    const hits = o.since === undefined ? this.#results : this.#results.filter((r) => r.endedAt >= o.since!);
    return hits.slice(-(o.limit ?? 100));
  }
}
