import type { Registry } from 'prom-client';
import { counterOf, gaugeOf } from './registry.js';

/** What a results sink reports (the webhook's `stats`). */
export interface SinkStats {
  pending: number;
  delivered: number;
  failedAttempts: number;
  setAside: number;
}

/** A results sink's queue and outcomes, read when scraped. */
export function instrumentResultsSink(registry: Registry, sink: string, stats: () => SinkStats): void {
  gaugeOf(registry, 'iyesmp_results_pending', 'results waiting for delivery, per sink', ['sink'], (g) => g.set({ sink }, stats().pending));
  counterOf(registry, 'iyesmp_results_delivered_total', 'results a sink delivered (its receiver answered 2xx)', ['sink'], () => [
    [{ sink }, stats().delivered],
  ]);
  counterOf(registry, 'iyesmp_results_delivery_failures_total', 'delivery attempts that failed (each is retried with backoff)', ['sink'], () => [
    [{ sink }, stats().failedAttempts],
  ]);
  counterOf(registry, 'iyesmp_results_set_aside_total', 'results given up on after max_attempts (kept in the queue folder failed/)', ['sink'], () => [
    [{ sink }, stats().setAside],
  ]);
}
