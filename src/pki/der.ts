/**
 * A minimal DER writer/reader for the session-cert hot path. Hand-written on purpose: the generic
 * generator serialises through asn1-schema object graphs and async WebCrypto on every call, which
 * made minting ~100x slower than one signature. Only the handful of types a session cert needs.
 */

/** The tag and length octets of an element whose contents are `n` bytes long. */
export function tlvHead(tag: number, n: number): number[] {
  if (n < 0x80) return [tag, n];
  if (n < 0x100) return [tag, 0x81, n];
  if (n < 0x10000) return [tag, 0x82, n >> 8, n & 0xff];
  return [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
}

export function tlv(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const head = tlvHead(tag, n);
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, concat(parts));
export const set = (...parts: Uint8Array[]): Uint8Array => tlv(0x31, concat(parts));
export const octets = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const bitString = (b: Uint8Array): Uint8Array => tlv(0x03, concat([Uint8Array.of(0), b]));
export const utf8 = (s: string): Uint8Array => tlv(0x0c, Buffer.from(s, 'utf8'));
export const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

/** Positive INTEGER from unsigned big-endian bytes. */
export function uint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return tlv(0x02, (b[0]! & 0x80) !== 0 ? concat([Uint8Array.of(0), b]) : b);
}

/** X.509 Time: UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
export function time(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'latin1')) : tlv(0x18, Buffer.from(digits, 'latin1'));
}

export interface Tlv {
  tag: number;
  /** start of the whole element */
  start: number;
  /** start of the contents */
  body: number;
  end: number;
}

/** Reads one element at `at`; throws on anything malformed (callers turn that into an IyesmpError). */
export function read(buf: Uint8Array, at: number): Tlv {
  const tag = buf[at];
  let len = buf[at + 1];
  if (tag === undefined || len === undefined) throw new Error('DER: truncated');
  let body = at + 2;
  if (len & 0x80) {
    const k = len & 0x7f;
    if (k === 0 || k > 3) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < k; i++) len = (len << 8) | (buf[body + i] ?? NaN);
    body += k;
  }
  const end = body + len;
  if (Number.isNaN(len) || end > buf.length) throw new Error('DER: truncated');
  return { tag, start: at, body, end };
}

/** The children of a constructed element. */
export function children(buf: Uint8Array, el: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = el.body; at < el.end; ) {
    const c = read(buf, at);
    out.push(c);
    at = c.end;
  }
  return out;
}
