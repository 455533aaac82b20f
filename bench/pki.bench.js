// Session-cert minting rate vs the raw signing rate of the same key in the same run.
// The raw figure is the ceiling: one node:crypto sign over a TBS-sized (~300-byte) message.
// Build first: npx tsc -p tsconfig.json
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initPki } from '../dist/pki/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

async function rate(fn, seconds = SECONDS) {
  for (let i = 0; i < 50; i++) await fn(i); // warm-up
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 20; k++) await fn(n++);
  }
  return n / seconds;
}

const fmt = (x) => x.toFixed(0).padStart(8);
const root = mkdtempSync(path.join(tmpdir(), 'iyesmp-bench-'));
try {
  for (const algorithm of ['p256', 'ed25519']) {
    const pki = await initPki({ dir: path.join(root, algorithm), algorithm, allowUnencryptedCaKeys: true });
    const minter = await pki.sessionMinter();
    const curve = algorithm === 'p256' ? { type: 'ec', opts: { namedCurve: 'P-256' } } : { type: 'ed25519', opts: {} };
    const client = generateKeyPairSync(curve.type, curve.opts);
    const clientPub = client.publicKey.export({ format: 'der', type: 'spki' });
    const signer = generateKeyPairSync(curve.type, curve.opts).privateKey;
    const tbs = Buffer.alloc(300, 7);
    const hash = algorithm === 'p256' ? 'sha256' : null;

    const raw = await rate(async (i) => {
      tbs[0] = i & 0xff;
      sign(hash, tbs, signer);
    });
    const mint = await rate((i) => minter.mint({ publicKey: clientPub, sessionId: `s${i}`, playerId: 'player-1' }));
    console.log(`${algorithm.padEnd(8)} raw sign ${fmt(raw)}/s   session mint ${fmt(mint)}/s   ratio ${(mint / raw).toFixed(2)}`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
