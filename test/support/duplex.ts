/** An in-memory duplex stream, as a QUIC stream gives one, for tests of what runs over streams. */
import type { StreamPair } from '../../src/protocol/index.js';

/** Two ends of one duplex: what `client` writes `server` reads, and the other way round. */
export function duplexPair(): { client: StreamPair; server: StreamPair } {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  return { client: { readable: down.readable, writable: up.writable }, server: { readable: up.readable, writable: down.writable } };
}
