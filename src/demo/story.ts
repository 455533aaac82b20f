import { performance } from 'node:perf_hooks';
import type { Output } from '../cli/output.js';

/**
 * The demo's running commentary on stderr: one line per event, stamped with the seconds since
 * the start and the actor (a server or a player), so the order of a real deployment is visible.
 */
export class Story {
  readonly t0 = performance.now();
  constructor(private readonly out: Output) {}

  /** ms since the start */
  now(): number {
    return performance.now() - this.t0;
  }

  tell(actor: string, text: string): void {
    const s = this.out.noteStyle;
    const stamp = s.dim(`[${(this.now() / 1000).toFixed(2).padStart(6)}s]`);
    this.out.note(`${stamp} ${s.cyan(actor.padEnd(7))} ${text}`);
  }

  /** indented lines under the last event (a board) */
  block(text: string): void {
    this.out.note(
      text
        .split('\n')
        .map((l) => `                    ${l}`)
        .join('\n'),
    );
  }
}
