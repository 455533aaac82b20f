/**
 * Plumbing @matrixai/quic needs from its host: a logger (silent by default: it logs every stream at
 * INFO otherwise), random bytes for client connection ids, and a keyed MAC for the server's
 * stateless-retry tokens.
 */
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import Logger, { LogLevel } from '@matrixai/logger';
import type { QUICClientCrypto, QUICServerCrypto } from '@matrixai/quic';

export function quicLogger(name: string): Logger {
  const level = process.env.IYESMP_QUIC_DEBUG ? LogLevel.DEBUG : LogLevel.SILENT;
  return new Logger(name, level);
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export const clientCrypto: QUICClientCrypto = {
  ops: {
    randomBytes: async (data: ArrayBuffer) => {
      randomFillSync(new Uint8Array(data));
    },
  },
};

/** A fresh per-process key: retry tokens only need to survive one round trip to this same server. */
export function serverCrypto(): QUICServerCrypto {
  const key = toArrayBuffer(randomBytes(32));
  const mac = (k: ArrayBuffer, d: ArrayBuffer): Buffer => createHmac('sha256', Buffer.from(k)).update(Buffer.from(d)).digest();
  return {
    key,
    ops: {
      sign: async (k, d) => toArrayBuffer(mac(k, d)),
      verify: async (k, d, sig) => {
        const expected = mac(k, d);
        const given = Buffer.from(sig);
        return given.byteLength === expected.byteLength && timingSafeEqual(given, expected);
      },
    },
  };
}
