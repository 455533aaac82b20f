/**
 * The ALPN ids a client offered, read from its QUIC v1 Initial packet (RFC 9001 section 5: Initial
 * packets are protected with keys anyone can derive from the packet's destination connection id).
 * Used only to log what a refused client asked for; quiche tells nothing but "no application protocol".
 * Sans-IO and total: anything it cannot read gives undefined.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

const QUIC_V1 = 0x00000001;
const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
const EXT_ALPN = 0x0010;

/** The ALPN ids in the ClientHello of this datagram's first (Initial) packet, or undefined. */
export function offeredAlpn(datagram: Uint8Array): string[] | undefined {
  try {
    const hello = clientHelloOf(Buffer.from(datagram));
    return hello === undefined ? undefined : alpnOf(hello);
  } catch {
    return undefined;
  }
}

class Reader {
  constructor(
    readonly b: Buffer,
    public at = 0,
  ) {}
  u8(): number {
    if (this.at + 1 > this.b.length) throw new RangeError('short');
    return this.b[this.at++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u24(): number {
    return (this.u16() << 8) | this.u8();
  }
  bytes(n: number): Buffer {
    if (n < 0 || this.at + n > this.b.length) throw new RangeError('short');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  varint(): number {
    const first = this.u8();
    const len = 1 << (first >> 6);
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + this.u8();
    return v;
  }
  get done(): boolean {
    return this.at >= this.b.length;
  }
}

function expandLabel(secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'ascii');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0, 1])]);
  // one HKDF-Expand block (SHA-256) covers every length used here
  return createHmac('sha256', secret).update(info).digest().subarray(0, length);
}

/** Decrypts the first packet if it is a v1 Initial, and returns the ClientHello its CRYPTO frames carry. */
function clientHelloOf(pkt: Buffer): Buffer | undefined {
  const r = new Reader(pkt);
  const first = r.u8();
  // long header, fixed bit, type Initial (0)
  if ((first & 0xf0) !== 0xc0) return undefined;
  if (r.bytes(4).readUInt32BE(0) !== QUIC_V1) return undefined;
  const dcid = r.bytes(r.u8());
  r.bytes(r.u8()); // scid
  r.bytes(r.varint()); // token
  const length = r.varint();
  const pnOffset = r.at;
  if (pnOffset + length > pkt.length || length < 20) return undefined;

  const initial = createHmac('sha256', INITIAL_SALT_V1).update(dcid).digest();
  const client = expandLabel(initial, 'client in', 32);
  const key = expandLabel(client, 'quic key', 16);
  const iv = expandLabel(client, 'quic iv', 12);
  const hp = expandLabel(client, 'quic hp', 16);

  const sample = pkt.subarray(pnOffset + 4, pnOffset + 20);
  const mask = createCipheriv('aes-128-ecb', hp, null).update(sample);
  const header = Buffer.from(pkt.subarray(0, pnOffset + 4));
  header[0] = first ^ (mask[0]! & 0x0f);
  const pnLength = (header[0]! & 0x03) + 1;
  let pn = 0;
  for (let i = 0; i < pnLength; i++) {
    header[pnOffset + i] = pkt[pnOffset + i]! ^ mask[1 + i]!;
    pn = pn * 256 + header[pnOffset + i]!;
  }
  const aad = header.subarray(0, pnOffset + pnLength);
  const body = pkt.subarray(pnOffset + pnLength, pnOffset + length);
  const nonce = Buffer.from(iv);
  for (let i = 0; i < 6; i++) nonce[11 - i]! ^= Math.floor(pn / 256 ** i) & 0xff;
  const d = createDecipheriv('aes-128-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(body.subarray(body.length - 16));
  const plain = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
  return cryptoStream(plain);
}

/** The bytes of the CRYPTO frames from offset 0 on, as far as they are contiguous. */
function cryptoStream(frames: Buffer): Buffer | undefined {
  const r = new Reader(frames);
  const parts: Array<{ offset: number; data: Buffer }> = [];
  while (!r.done) {
    const type = r.varint();
    if (type === 0x00 || type === 0x01) continue; // PADDING, PING
    if (type === 0x02 || type === 0x03) {
      // ACK: largest, delay, range count, first range, ranges (and ECN counts for 0x03)
      r.varint();
      r.varint();
      const ranges = r.varint();
      r.varint();
      for (let i = 0; i < ranges * 2; i++) r.varint();
      if (type === 0x03) for (let i = 0; i < 3; i++) r.varint();
      continue;
    }
    if (type !== 0x06) break; // nothing else belongs in a client's first Initial
    const offset = r.varint();
    parts.push({ offset, data: r.bytes(r.varint()) });
  }
  parts.sort((a, b) => a.offset - b.offset);
  let out = Buffer.alloc(0);
  for (const p of parts) {
    if (p.offset > out.length) break;
    out = Buffer.concat([out, p.data.subarray(out.length - p.offset)]);
  }
  return out.length > 0 ? out : undefined;
}

function alpnOf(handshake: Buffer): string[] | undefined {
  const r = new Reader(handshake);
  if (r.u8() !== 0x01) return undefined; // ClientHello
  const hello = new Reader(r.bytes(Math.min(r.u24(), handshake.length - 4)));
  hello.bytes(2 + 32); // legacy_version, random
  hello.bytes(hello.u8()); // legacy_session_id
  hello.bytes(hello.u16()); // cipher_suites
  hello.bytes(hello.u8()); // legacy_compression_methods
  const exts = new Reader(hello.bytes(hello.u16()));
  while (!exts.done) {
    const type = exts.u16();
    const data = exts.bytes(exts.u16());
    if (type !== EXT_ALPN) continue;
    const list = new Reader(data);
    const names = new Reader(list.bytes(list.u16()));
    const out: string[] = [];
    while (!names.done) out.push(names.bytes(names.u8()).toString('latin1'));
    return out;
  }
  return [];
}
