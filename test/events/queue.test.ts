import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/events/queue.js';

describe('EventQueue', () => {
  it('hands out what was queued since the last take, oldest first', () => {
    const q = new EventQueue<{ type: 'a' | 'b'; n: number }>();
    q.push({ type: 'a', n: 1 });
    q.push({ type: 'b', n: 2 });
    expect(q.size).toBe(2);
    expect(q.take()).toEqual([
      { type: 'a', n: 1 },
      { type: 'b', n: 2 },
    ]);
    expect(q.take()).toEqual([]);
    expect(q.size).toBe(0);
  });
});
