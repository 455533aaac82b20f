import { Transform, type TransformCallback } from 'node:stream';

/**
 * A pass-through that reads each MQTT packet's fixed header and fails the stream on a packet
 * larger than `maxBytes`, before the parser buffers it. Hand-written: aedes 1.2 has no packet size
 * limit and mqtt-packet's parser would accumulate up to 256 MiB for a single declared length.
 */
export class PacketGuard extends Transform {
  readonly #max: number;
  #skip = 0; // body bytes of the current packet still to pass
  #header: number[] = []; // bytes of a fixed header split across chunks

  constructor(maxBytes: number) {
    super();
    this.#max = maxBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      this.#header.push(chunk[i++]!);
      const h = this.#header;
      if (h.length < 2) continue;
      const last = h[h.length - 1]!;
      if (last & 0x80) {
        if (h.length >= 5) return done(new Error('malformed MQTT remaining length'));
        continue;
      }
      let len = 0;
      for (let k = h.length - 1; k >= 1; k--) len = len * 128 + (h[k]! & 0x7f);
      this.#header = [];
      if (len + h.length > this.#max) return done(new Error(`MQTT packet of ${len + h.length} bytes exceeds the limit of ${this.#max}`));
      this.#skip = len;
    }
    done(null, chunk);
  }
}
