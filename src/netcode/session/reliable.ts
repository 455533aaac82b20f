import { MAX_PAYLOAD_BYTES } from '../constants.js';

/**
 * Reliable, ordered messages over netcode payloads, for what a game cannot afford to lose: a
 * host-judged action and its answer, the state a turn-based game broadcasts, the results at the
 * end. netcode.io itself only carries unreliable datagrams (game bytes keep using those, tag
 * 0x10); this is a small selective-repeat ARQ next to them, sans-IO: bytes and time in, messages
 * and datagrams out, no timers or sockets of its own.
 *
 * Hand-written because the libraries that do this (reliable.io, yojimbo, ENet) are C/C++ and none
 * on npm runs over an existing netcode connection; the part needed here is small.
 *
 *   data: 0x30 | seq u32 BE | flags u8 (bit 0: last fragment of a message) | fragment bytes
 *   ack:  0x31 | next u32 BE (every seq below it arrived) | bits u32 BE (bit i: next + 1 + i arrived)
 *
 * A message is split into fragments of at most FRAGMENT_BYTES, each with its own sequence number;
 * the receiver delivers fragments in sequence order and joins them at each `last` flag. The sender
 * keeps at most `window` fragments in flight, resends each one not acknowledged within `resendMs`,
 * and queues the rest (bounded: `send` says false when the queue is full). The receiver buffers at
 * most `window` fragments ahead of the next one it needs and refuses messages over
 * `maxMessageBytes`, so a peer can make it hold only a bounded amount.
 */
export const RELIABLE_DATA = 0x30;
export const RELIABLE_ACK = 0x31;
const DATA_HEADER = 6;
const ACK_BYTES = 9;
/** Bytes of one message per datagram. */
export const FRAGMENT_BYTES = MAX_PAYLOAD_BYTES - DATA_HEADER;
const FLAG_LAST = 0x01;

export interface ReliableOptions {
  /** resend a fragment not acknowledged within this long; default 100 ms */
  resendMs?: number;
  /** fragments in flight, and fragments buffered ahead on the receiving side; default and most 32 (the ack bits) */
  window?: number;
  /** largest message either way; default 64 KiB */
  maxMessageBytes?: number;
  /** fragments waiting for window space before `send` refuses; default 1024 */
  maxQueuedFragments?: number;
}

export type ReliableReceive =
  | { ok: true; messages: Uint8Array[] }
  /** the peer broke the protocol (a message over the limit): drop the connection */
  | { ok: false; reason: 'message_too_large' };

interface InFlight {
  seq: number;
  datagram: Uint8Array;
  sentAt: number;
}

export class ReliableChannel {
  readonly #resendMs: number;
  readonly #window: number;
  readonly #maxMessage: number;
  readonly #maxQueued: number;
  // sending
  #nextSeq = 0;
  readonly #inFlight = new Map<number, InFlight>();
  #queue: Uint8Array[] = [];
  // receiving
  #recvNext = 0;
  readonly #ahead = new Map<number, { last: boolean; data: Uint8Array }>();
  #parts: Uint8Array[] = [];
  #partsBytes = 0;
  #ackDue = false;
  /** counters: fragments sent again, duplicates and out-of-window fragments received */
  readonly stats = { resent: 0, duplicates: 0, outOfWindow: 0 };

  constructor(o: ReliableOptions = {}) {
    this.#resendMs = o.resendMs ?? 100;
    this.#window = Math.max(1, Math.min(o.window ?? 32, 32));
    this.#maxMessage = o.maxMessageBytes ?? 64 * 1024;
    this.#maxQueued = o.maxQueuedFragments ?? 1024;
  }

  /** Nothing waits to be sent or acknowledged. */
  get idle(): boolean {
    return this.#inFlight.size === 0 && this.#queue.length === 0;
  }

  /** Queues a message; false (nothing queued) when it is over the size limit or the queue is full. */
  send(message: Uint8Array): boolean {
    if (message.length > this.#maxMessage) return false;
    const count = Math.max(1, Math.ceil(message.length / FRAGMENT_BYTES));
    if (this.#queue.length + count > this.#maxQueued) return false;
    for (let i = 0; i < count; i++) {
      const part = message.subarray(i * FRAGMENT_BYTES, Math.min(message.length, (i + 1) * FRAGMENT_BYTES));
      const d = new Uint8Array(DATA_HEADER + part.length);
      d[0] = RELIABLE_DATA;
      // the sequence number is written when the fragment enters the window (poll)
      d[5] = i === count - 1 ? FLAG_LAST : 0;
      d.set(part, DATA_HEADER);
      this.#queue.push(d);
    }
    return true;
  }

  /** Is this payload one of ours (a data or ack datagram)? */
  static owns(payload: Uint8Array): boolean {
    return payload[0] === RELIABLE_DATA || payload[0] === RELIABLE_ACK;
  }

  /** One received payload (data or ack). Malformed datagrams are ignored, like lost ones. */
  receive(payload: Uint8Array): ReliableReceive {
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    if (payload[0] === RELIABLE_ACK) {
      if (payload.length === ACK_BYTES) this.#onAck(view.getUint32(1), view.getUint32(5));
      return { ok: true, messages: [] };
    }
    if (payload[0] !== RELIABLE_DATA || payload.length < DATA_HEADER || (payload[5]! & ~FLAG_LAST) !== 0) return { ok: true, messages: [] };
    const seq = view.getUint32(1);
    this.#ackDue = true;
    if (seq < this.#recvNext || this.#ahead.has(seq)) {
      this.stats.duplicates++;
      return { ok: true, messages: [] };
    }
    if (seq >= this.#recvNext + this.#window) {
      this.stats.outOfWindow++;
      return { ok: true, messages: [] };
    }
    // copied: the caller's buffer may be reused for the next datagram
    this.#ahead.set(seq, { last: (payload[5]! & FLAG_LAST) !== 0, data: payload.slice(DATA_HEADER) });
    const messages: Uint8Array[] = [];
    for (let f = this.#ahead.get(this.#recvNext); f; f = this.#ahead.get(this.#recvNext)) {
      this.#ahead.delete(this.#recvNext);
      this.#recvNext++;
      this.#partsBytes += f.data.length;
      if (this.#partsBytes > this.#maxMessage) return { ok: false, reason: 'message_too_large' };
      this.#parts.push(f.data);
      if (f.last) {
        messages.push(this.#parts.length === 1 ? this.#parts[0]! : join(this.#parts, this.#partsBytes));
        this.#parts = [];
        this.#partsBytes = 0;
      }
    }
    return { ok: true, messages };
  }

  /** The datagrams to send at `now`: new fragments the window allows, fragments due again, and an ack if one is owed. */
  poll(now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const f of this.#inFlight.values()) {
      if (now - f.sentAt >= this.#resendMs) {
        f.sentAt = now;
        this.stats.resent++;
        out.push(f.datagram);
      }
    }
    while (this.#inFlight.size < this.#window && this.#queue.length > 0) {
      const d = this.#queue.shift()!;
      const seq = this.#nextSeq++;
      new DataView(d.buffer, d.byteOffset, d.byteLength).setUint32(1, seq);
      this.#inFlight.set(seq, { seq, datagram: d, sentAt: now });
      out.push(d);
    }
    if (this.#ackDue) {
      this.#ackDue = false;
      out.push(this.#ack());
    }
    return out;
  }

  #ack(): Uint8Array {
    const a = new Uint8Array(ACK_BYTES);
    const v = new DataView(a.buffer);
    a[0] = RELIABLE_ACK;
    v.setUint32(1, this.#recvNext);
    let bits = 0;
    for (let i = 0; i < 32; i++) if (this.#ahead.has(this.#recvNext + 1 + i)) bits |= 1 << i;
    v.setUint32(5, bits >>> 0);
    return a;
  }

  #onAck(next: number, bits: number): void {
    for (const seq of this.#inFlight.keys()) {
      if (seq < next) this.#inFlight.delete(seq);
      else if (seq > next && seq - next - 1 < 32 && (bits >>> (seq - next - 1)) & 1) this.#inFlight.delete(seq);
    }
  }
}

function join(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
