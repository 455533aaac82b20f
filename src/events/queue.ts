/**
 * The one event style of iyesmp's sans-IO cores (the protocol session, the netcode client and
 * server, the auth and host state machines): a core appends plain discriminated-union values to a
 * queue, and its driver drains the queue after each input (`takeEvents()`).
 *
 * Why a queue, not listeners: a core never calls out while it is half-way through a state change,
 * so no listener can re-enter it; the driver decides when effects happen (after the datagrams or
 * frames of the same input went out, in order); and a test asserts the whole list of what one input
 * caused, with no socket and no clock but the one passed in. Drivers (QUIC servers, the client
 * objects, HostSessions, AuthDomain) turn drained events into named events for applications with
 * TypedEmitter (events/emitter.ts) or Node's typed EventEmitter.
 */
export class EventQueue<E> {
  #items: E[] = [];

  push(event: E): void {
    this.#items.push(event);
  }

  /** Everything queued since the last take, oldest first; the queue is empty afterwards. */
  take(): E[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }

  get size(): number {
    return this.#items.length;
  }
}
