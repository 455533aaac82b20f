// Locates and parses ../shared/netcode/vectors.txt and vectors-1.00.txt (byte-exact output of the C references).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const vectorsPath = process.env.NETCODE_VECTORS ?? path.resolve(repoRoot, '../shared/netcode/vectors.txt');
/** The 1.00 vectors sit beside the 1.02 ones. */
export const vectors100Path = path.join(path.dirname(vectorsPath), 'vectors-1.00.txt');

export interface VectorLine {
  name: string;
  fields: Record<string, string>;
}

export function loadVectors(file = vectorsPath): VectorLine[] | undefined {
  if (!existsSync(file)) {
    if (process.env.CI) {
      throw new Error(`netcode vectors not found at ${file}: CI must check out the shared/ folder beside the repo`);
    }
    console.warn(`SKIPPING netcode vector tests: ${file} not found (clone shared/ beside the repo)`);
    return undefined;
  }
  const lines: VectorLine[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // "response(c2s key)" -> "response(c2s_key)" so names stay one token
    const parts = line.replace(/\(([^)]*)\)/g, (_m, g: string) => `(${g.replace(/\s+/g, '_')})`).split(/\s+/);
    const name = parts[0]!.includes('=') ? '' : parts.shift()!;
    const fields: Record<string, string> = {};
    for (const p of parts) {
      const i = p.indexOf('=');
      if (i > 0) fields[p.slice(0, i)] = p.slice(i + 1);
    }
    lines.push({ name, fields });
  }
  return lines;
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
