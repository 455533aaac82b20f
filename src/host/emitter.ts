/**
 * A minimal typed event sink for discriminated-union events. Hand-written rather than Node's
 * EventEmitter: one listener signature per union keeps `switch (e.type)` exhaustive for the adapter.
 * The state machines emit only after they finished mutating, so a listener may call back into them.
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
