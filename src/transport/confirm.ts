/**
 * Post-handshake confirmation. In TLS 1.3 the client finishes its handshake before the server has
 * checked the client's certificate, so "connected" on the client proves nothing. The client therefore
 * opens its first unidirectional stream (id 2) and writes HELLO; the server answers ACCEPTED on its
 * first unidirectional stream (id 3) only once its verifier accepted the peer and its limits allow one
 * more connection. A refusal arrives instead as the connection close (see refusal.ts).
 * Unidirectional streams are used so the confirmation takes no bidirectional-stream credit (the
 * application's concurrent-stream limit stays exact); iyesmp protocols use no other uni streams and
 * the application never sees these.
 */

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
