import type { ProtocolLimits } from './limits.js';

/**
 * Walks MsgPack bytes without building values and reports the first limit broken.
 *
 * Hand-written because @msgpack/msgpack has length limits but no depth limit, and checks some
 * lengths only once it reaches them; scanning first means a hostile frame costs one linear pass
 * over at most `maxFrameBytes` bytes and nothing is allocated for it. Iterative (explicit stack of
 * remaining counts) so deep nesting cannot overflow the call stack.
 *
 * Returns undefined when the bytes hold exactly one well-formed value within the limits.
 */
export function scanMsgpack(bytes: Uint8Array, limits: ProtocolLimits): string | undefined {
  const end = bytes.byteLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  // remaining[i] = values still to read at nesting level i; level 0 is the single top-level value.
  const remaining: number[] = [1];

  const need = (n: number): boolean => end - pos >= n;
  const lengthAt = (size: 1 | 2 | 4): number | undefined => {
    if (!need(size)) return undefined;
    const v = size === 1 ? view.getUint8(pos) : size === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += size;
    return v;
  };

  while (remaining.length > 0) {
    const top = remaining.length - 1;
    if (remaining[top] === 0) {
      remaining.pop();
      continue;
    }
    remaining[top]!--;
    if (pos >= end) return 'truncated MsgPack value';
    const tag = bytes[pos++]!;

    let skip = 0; // fixed-size payload bytes
    let str: number | undefined;
    let bin: number | undefined;
    let arr: number | undefined;
    let map: number | undefined;

    if (tag <= 0x7f || tag >= 0xe0 || tag === 0xc0 || tag === 0xc2 || tag === 0xc3) {
      skip = 0;
    } else if (tag <= 0x8f) {
      map = tag & 0x0f;
    } else if (tag <= 0x9f) {
      arr = tag & 0x0f;
    } else if (tag <= 0xbf) {
      str = tag & 0x1f;
    } else {
      switch (tag) {
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xc4:
          bin = lengthAt(1);
          if (bin === undefined) return 'truncated bin length';
          break;
        case 0xc5:
          bin = lengthAt(2);
          if (bin === undefined) return 'truncated bin length';
          break;
        case 0xc6:
          bin = lengthAt(4);
          if (bin === undefined) return 'truncated bin length';
          break;
        case 0xd9:
          str = lengthAt(1);
          if (str === undefined) return 'truncated str length';
          break;
        case 0xda:
          str = lengthAt(2);
          if (str === undefined) return 'truncated str length';
          break;
        case 0xdb:
          str = lengthAt(4);
          if (str === undefined) return 'truncated str length';
          break;
        case 0xdc:
          arr = lengthAt(2);
          if (arr === undefined) return 'truncated array length';
          break;
        case 0xdd:
          arr = lengthAt(4);
          if (arr === undefined) return 'truncated array length';
          break;
        case 0xde:
          map = lengthAt(2);
          if (map === undefined) return 'truncated map length';
          break;
        case 0xdf:
          map = lengthAt(4);
          if (map === undefined) return 'truncated map length';
          break;
        case 0xc1:
          return 'MsgPack tag 0xc1 is never used';
        default:
          // 0xc7-0xc9, 0xd4-0xd8: extension types (timestamps included) carry nothing this protocol uses.
          return `MsgPack extension types are not accepted (tag 0x${tag.toString(16)})`;
      }
    }

    if (str !== undefined) {
      if (str > limits.maxStringBytes) return `string of ${str} bytes exceeds the limit of ${limits.maxStringBytes}`;
      skip = str;
    } else if (bin !== undefined) {
      if (bin > limits.maxBinBytes) return `bin of ${bin} bytes exceeds the limit of ${limits.maxBinBytes}`;
      skip = bin;
    }
    if (skip > 0) {
      if (!need(skip)) return 'truncated MsgPack value';
      pos += skip;
      continue;
    }
    if (arr !== undefined || map !== undefined) {
      let count: number;
      if (arr !== undefined) {
        if (arr > limits.maxArrayLength) return `array of ${arr} elements exceeds the limit of ${limits.maxArrayLength}`;
        count = arr;
      } else {
        if (map! > limits.maxMapEntries) return `map of ${map} entries exceeds the limit of ${limits.maxMapEntries}`;
        count = map! * 2;
      }
      // Each element needs at least one byte: a cheap early refusal of absurd declared counts.
      if (count > end - pos) return 'truncated MsgPack container';
      if (count > 0) {
        if (remaining.length > limits.maxDepth) return `nesting deeper than the limit of ${limits.maxDepth}`;
        remaining.push(count);
      }
    }
  }
  if (pos !== end) return `${end - pos} trailing bytes after the MsgPack value`;
  return undefined;
}
