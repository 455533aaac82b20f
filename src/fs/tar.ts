import { gzipSync } from 'node:zlib';

/**
 * A gzipped POSIX ustar archive of in-memory files, for `iyesmp bundle`. Hand-written because the
 * format's write side is small (a 512-byte header per entry, data padded to 512, two zero blocks)
 * and the archive libraries in the tree (tar-stream, tar-fs) are only transitive dependencies of
 * native-module installers, not ours to rely on. Reading is left to `tar`, which every server has.
 * Entries are written in the given order with the given modes, owner 0 and a fixed mtime, so the
 * same input gives the same bytes.
 */
export interface TarEntry {
  /** relative path with `/` separators; folders end with `/` */
  path: string;
  mode: number;
  data?: Uint8Array | string;
}

const BLOCK = 512;

export function tarGz(entries: TarEntry[], mtime: Date): Uint8Array {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.path.endsWith('/');
    const data = isDir ? Buffer.alloc(0) : Buffer.from(e.data ?? '');
    chunks.push(header(e.path, e.mode, data.length, isDir, mtime));
    if (data.length > 0) {
      chunks.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) chunks.push(Buffer.alloc(pad));
    }
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(chunks));
}

function header(name: string, mode: number, size: number, isDir: boolean, mtime: Date): Buffer {
  const h = Buffer.alloc(BLOCK);
  const nameBytes = Buffer.from(name, 'utf8');
  let prefix = Buffer.alloc(0);
  let short = nameBytes;
  if (nameBytes.length > 100) {
    // ustar splits long paths at a `/` into prefix (155) and name (100)
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = Buffer.from(name.slice(0, cut), 'utf8');
    short = Buffer.from(name.slice(cut + 1), 'utf8');
    if (cut < 0 || prefix.length > 155 || short.length > 100) throw new RangeError(`path too long for a tar header: ${name}`);
  }
  short.copy(h, 0);
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(mtime.getTime() / 1000));
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h[156] = isDir ? 0x35 : 0x30; // '5' folder, '0' file
  h.write('ustar\u000000', 257, 'latin1');
  prefix.copy(h, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return h;
}

function octal(h: Buffer, at: number, len: number, n: number): void {
  h.write(`${n.toString(8).padStart(len - 1, '0')}\u0000`, at, 'latin1');
}
