import { USER_DATA_BYTES } from './constants.js';

/**
 * iyesmp's layout for the 256 bytes of token user data, so an Auth server and a Host agree on who a
 * netcode client is: "IY" | version 1 | u8 length + UTF-8 session id | u8 length + UTF-8 player id |
 * u8 length + opaque extension bytes | zero padding. Other netcode users may put anything there; the
 * decoder returns null for data that does not follow this layout.
 */
export interface SessionUserData {
  sessionId: string;
  playerId: string;
  /** Game-specific bytes (at most what fits: 256 - 6 - ids). */
  ext?: Uint8Array;
}

const MAGIC0 = 0x49; // 'I'
const MAGIC1 = 0x59; // 'Y'
const LAYOUT_VERSION = 1;

export function encodeSessionUserData(d: SessionUserData): Uint8Array {
  const sid = Buffer.from(d.sessionId, 'utf8');
  const pid = Buffer.from(d.playerId, 'utf8');
  const ext = d.ext ?? new Uint8Array(0);
  if (sid.length > 255 || pid.length > 255 || ext.length > 255) throw new RangeError('session id, player id and ext are at most 255 bytes each');
  const size = 3 + 1 + sid.length + 1 + pid.length + 1 + ext.length;
  if (size > USER_DATA_BYTES) throw new RangeError(`session user data needs ${size} bytes; a token carries ${USER_DATA_BYTES}`);
  const out = new Uint8Array(USER_DATA_BYTES);
  let p = 0;
  out[p++] = MAGIC0;
  out[p++] = MAGIC1;
  out[p++] = LAYOUT_VERSION;
  for (const part of [sid, pid, ext]) {
    out[p++] = part.length;
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Reads the layout back; null when the bytes are not iyesmp session user data. Never throws. */
export function decodeSessionUserData(data: Uint8Array): SessionUserData | null {
  if (data.length < 6 || data[0] !== MAGIC0 || data[1] !== MAGIC1 || data[2] !== LAYOUT_VERSION) return null;
  const parts: Uint8Array[] = [];
  let p = 3;
  for (let i = 0; i < 3; i++) {
    const len = data[p];
    if (len === undefined || p + 1 + len > data.length) return null;
    parts.push(data.subarray(p + 1, p + 1 + len));
    p += 1 + len;
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return { sessionId: decoder.decode(parts[0]), playerId: decoder.decode(parts[1]), ext: Uint8Array.from(parts[2]!) };
  } catch {
    return null;
  }
}
