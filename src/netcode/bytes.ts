/**
 * Little-endian writer/reader over a Uint8Array. Hand-written because the netcode layouts are a few
 * fixed fields and Node's Buffer methods need a Buffer; a reader that returns null on overrun keeps
 * every decoder free of exceptions.
 */
export class ByteWriter {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number): this {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
    return this;
  }
  u64(v: bigint): this {
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
}

export class ByteReader {
  private readonly view: DataView;
  pos = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  u8(): number | null {
    if (this.remaining < 1) return null;
    return this.view.getUint8(this.pos++);
  }
  u16(): number | null {
    if (this.remaining < 2) return null;
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number | null {
    if (this.remaining < 4) return null;
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number | null {
    if (this.remaining < 4) return null;
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): bigint | null {
    if (this.remaining < 8) return null;
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Uint8Array | null {
    if (this.remaining < n) return null;
    const v = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A small Uint8Array for the per-packet hot path, carved from a shared 16 KiB slab (as Buffer's own
 * pool, but a plain Uint8Array): a fresh `new Uint8Array(n)` of packet size gets its own backing
 * store, about 0.5 µs and more GC work, several times per payload round trip. A view kept alive
 * keeps its slab alive, as with any pooled Buffer. Contents are not zeroed: callers write every byte.
 */
const SLAB_BYTES = 16 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabAt = 0;

export function allocPooled(n: number): Uint8Array {
  if (n > 2048) return new Uint8Array(n);
  if (slabAt + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabAt = 0;
  }
  const out = new Uint8Array(slab, slabAt, n);
  slabAt += (n + 7) & ~7; // keep views 8-byte aligned
  return out;
}
