/**
 * Post-handshake confirmation. In TLS 1.3 the client finishes its handshake before the server has
 * checked the client's certificate, so "connected" on the client proves nothing: a client only counts
 * as accepted once the server said so after its verifier and its limits admitted it. A refusal
 * arrives instead as the connection close (see refusal.ts). Two ways to say it, told apart by the
 * client's first stream:
 *
 * - `first-stream` (current clients): the client opens its first bidirectional stream (id 0) at once
 *   and writes its protocol hello on it. The server holds that stream (it reads nothing from it) until
 *   its verifier and limits admitted the peer, then hands connection and stream to the application,
 *   whose protocol welcome is the confirmation. No extra round trip, no extra stream.
 * - `accepted` (older clients): the client opens its first unidirectional stream (id 2) and writes
 *   HELLO; the server answers ACCEPTED on its first unidirectional stream (id 3) once admitted, and
 *   only then does the client open its protocol stream. Unidirectional streams take no
 *   bidirectional-stream credit; iyesmp protocols use no other uni streams and the application never
 *   sees these.
 *
 * Before admission a peer may have exactly one stream open (0 or 2): any other closes the connection
 * with `confirm_failed`. What it writes there waits in QUIC's flow-control window of that stream, since
 * nothing reads it (FirstStreamGuard in server.ts, PreAdmission below).
 */

/** client-initiated bidirectional stream 0: the protocol stream of a `first-stream` client */
export const FIRST_BIDI_STREAM_ID = 0;
/** client-initiated unidirectional stream 0 */
export const HELLO_STREAM_ID = 2;
/** server-initiated unidirectional stream 0 */
export const ACCEPTED_STREAM_ID = 3;

/** QUIC stream ids with bit 1 set are unidirectional. */
export function isUniStream(id: number): boolean {
  return (id & 2) === 2;
}
const VERSION = 1;
/** 'I' 'Y' 'H' version */
export const HELLO = Uint8Array.of(0x49, 0x59, 0x48, VERSION);
/** 'I' 'Y' 'A' version */
export const ACCEPTED = Uint8Array.of(0x49, 0x59, 0x41, VERSION);
export const FRAME_LEN = 4;

export type ConfirmFrame = 'hello' | 'accepted';

/** Decodes a confirmation frame; anything else (wrong length, magic or version) is `undefined`. */
export function decodeConfirm(bytes: Uint8Array): ConfirmFrame | undefined {
  if (bytes.byteLength !== FRAME_LEN) return undefined;
  if (bytes[0] !== 0x49 || bytes[1] !== 0x59 || bytes[3] !== VERSION) return undefined;
  if (bytes[2] === 0x48) return 'hello';
  if (bytes[2] === 0x41) return 'accepted';
  return undefined;
}

/**
 * Reads one frame: up to FRAME_LEN bytes then end of stream. More bytes than a frame is a protocol
 * error (reported as `undefined`), so a peer cannot make this buffer grow.
 */
export async function readFrame(readable: ReadableStream<Uint8Array>): Promise<Uint8Array | undefined> {
  const reader = readable.getReader();
  const buf = new Uint8Array(FRAME_LEN);
  let n = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (n + value.byteLength > FRAME_LEN) {
        await reader.cancel().catch(() => undefined);
        return undefined;
      }
      buf.set(value, n);
      n += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  return buf.subarray(0, n);
}

export async function writeFrame(writable: WritableStream<Uint8Array>, frame: Uint8Array): Promise<void> {
  const writer = writable.getWriter();
  try {
    await writer.write(frame);
    await writer.close();
  } finally {
    writer.releaseLock();
  }
}

/** How a client asks to be confirmed (see the top of this file). */
export type ConfirmMode = 'first-stream' | 'accepted';

/** `ok: false`: the stream is reset and the connection closed, or only reset with `keepWaiting`. */
export type PreAdmissionVerdict = { ok: true; mode: ConfirmMode } | { ok: false; message: string; keepWaiting?: true };

/**
 * What a server does with the streams a peer opens before the application sees the connection
 * (sans-IO; the server feeds it stream ids in arrival order). The first stream names the mode and
 * waits; anything else is a protocol violation, so a peer can never make the server hold more than
 * one stream (and that stream's flow-control window of bytes) before it is admitted.
 */
export class PreAdmission {
  #first: number | undefined;

  /**
   * `onlyAccepted`: behave as a server from before `first-stream` did (tests of new clients against
   * one): any stream before the HELLO is reset, and the connection keeps waiting for its HELLO.
   */
  constructor(private readonly onlyAccepted = false) {}

  /** the mode, once the first stream arrived */
  get mode(): ConfirmMode | undefined {
    return this.#first === undefined ? undefined : this.#first === HELLO_STREAM_ID ? 'accepted' : 'first-stream';
  }

  stream(id: number): PreAdmissionVerdict {
    if (this.#first !== undefined) return { ok: false, message: `stream ${id} opened before the connection was admitted` };
    if (this.onlyAccepted && id !== HELLO_STREAM_ID) return { ok: false, message: 'stream before confirmation', keepWaiting: true };
    if (id !== FIRST_BIDI_STREAM_ID && id !== HELLO_STREAM_ID) {
      return { ok: false, message: `the first stream is ${id}: expected 0 (the protocol stream) or 2 (HELLO)` };
    }
    this.#first = id;
    return { ok: true, mode: this.mode! };
  }
}
