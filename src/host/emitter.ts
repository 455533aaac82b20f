/**
 * A minimal typed event sink for discriminated-union events, left for the results outbox until it
 * queues like the other cores (events/queue.ts); the session table, allow-list and Auth links
 * already do, and their drivers emit through events/emitter.ts.
 */
export type Listener<E> = (event: E) => void;

export class Emitter<E extends { type: string }> {
  readonly #listeners = new Set<Listener<E>>();

  /** Subscribe; returns the unsubscribe function. */
  on(listener: Listener<E>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: E): void {
    for (const l of [...this.#listeners]) l(event);
  }
}
