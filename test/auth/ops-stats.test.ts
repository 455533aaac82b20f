import { describe, expect, it } from 'vitest';
import { OpsStats } from '../../src/auth/ops-stats.js';

describe('OpsStats', () => {
  it('reports hand-off rate and latency percentiles over the sliding window only', () => {
    const s = new OpsStats({ windowMs: 10_000 });
    expect(s.handoffs(0)).toEqual({ total: 0, failed: 0, perSecond: 0, p50Ms: null, p95Ms: null });
    for (let i = 1; i <= 20; i++) s.handoff(1000 + i, i * 10, true);
    s.handoff(1100, 5, false);
    const now = s.handoffs(2000);
    expect(now).toMatchObject({ total: 21, failed: 1, perSecond: 2 });
    expect(now.p50Ms).toBe(110);
    expect(now.p95Ms).toBe(200);
    // ten seconds later the samples left the window; totals stay
    expect(s.handoffs(12_000)).toEqual({ total: 21, failed: 1, perSecond: 0, p50Ms: null, p95Ms: null });
  });

  it('keeps bounded samples, refusals and results, newest last', () => {
    const s = new OpsStats({ maxSamples: 5, maxRefusals: 3, maxResults: 2 });
    for (let i = 0; i < 100; i++) s.handoff(i, i, true);
    expect(s.handoffs(100).p50Ms).toBeGreaterThanOrEqual(95);
    for (let i = 0; i < 10; i++) s.refusal({ at: i, endpoint: 'client', reason: `r${i}`, message: 'x'.repeat(1000) });
    expect(s.refusals().map((r) => r.reason)).toEqual(['r7', 'r8', 'r9']);
    expect(s.refusals()[0]!.message.length).toBe(300);
    for (let i = 0; i < 5; i++) s.result({ sessionId: `s${i}`, host: 'h', endedAt: i, reason: 'completed', players: [], results: [] });
    expect(s.results().map((r) => r.sessionId)).toEqual(['s3', 's4']);
    expect(s.results({ since: 4 }).map((r) => r.sessionId)).toEqual(['s4']);
  });
});
