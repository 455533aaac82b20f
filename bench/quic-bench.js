// Shared by the QUIC transport benches (transport, confirm; not a bench itself: bench/run.js runs
// *.bench.js only): a dev PKI in a temp folder, and the bench file itself forked as the server
// child (`node <bench> server <pkiDir>`), so no client shares the server's event loop.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { createQuicServer } = await import(path.join(here, '../dist/transport/index.js'));
const { initPki, openPki } = await import(path.join(here, '../dist/pki/index.js'));

export async function credsOf(pki, name) {
  return { cert: await pki.chainPem(name), key: pki.path(pki.get(name).keyFile) };
}

/** In the server child: iyesmp's QUIC server on loopback with the PKI's auth certificate, room for 10k connections. */
export async function childQuicServer(alpn) {
  const pki = await openPki(process.argv[3], { allowUnencryptedCaKeys: true });
  return createQuicServer({
    host: '127.0.0.1',
    alpn,
    ...(await credsOf(pki, 'auth')),
    verifier: await pki.verifier(),
    policy: { kind: 'auth-client' },
    limits: { maxConnections: 10_000 },
  });
}

/**
 * In the bench: makes the PKI, forks `benchFile server <pkiDir>` and waits for its first message
 * (its ports), then `run({ child, ready, verifier, client })`. The child is asked to stop (killed
 * after 5 s) and the folder removed however `run` ends.
 */
export async function withServerChild(benchFile, prefix, run) {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  let child;
  try {
    const pki = await initPki({ dir: path.join(dir, 'pki'), allowUnencryptedCaKeys: true, authIpAddresses: ['127.0.0.1'] });
    const verifier = await pki.verifier();
    const client = await credsOf(pki, 'client-clientauth-1-1');
    child = fork(benchFile, ['server', path.join(dir, 'pki')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (c) => reject(new Error(`server exited with ${c}`)));
    });
    return await run({ child, ready, verifier, client });
  } finally {
    if (child && child.exitCode === null) {
      child.send('stop');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill();
          r();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    await rm(dir, { recursive: true, force: true });
  }
}
