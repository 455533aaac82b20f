// The QUIC library alone, as the floor other benches measure against (not a bench itself: bench/run.js
// runs *.bench.js only). A raw @matrixai/quic server and client, each a child process of this file:
// mutual TLS with our CA checked natively (no iyesmp verifier, no confirmation step, no protocol),
// 32-byte request/response echo on one stream. The server answers `cpu` with process.cpuUsage();
// the client runs `{ op: 'hs', n }` (n sequential handshakes, each closed by force afterwards) and
// `{ op: 'rtt', n }` (n round trips on one open stream) and answers with the latencies in ms.
//
// A "variant" is where @matrixai/quic is loaded from: the installed package, or a copy of it in a
// scratch folder with patches/@matrixai+quic+*.patch applied or reverted (`quicVariants`), so the
// patch's effect is measured in one run, interleaved.
//
//   node bench/quic-raw.js server <quicUrl> <pkiDir>
//   node bench/quic-raw.js client <quicUrl> <pkiDir> <port>
import { execFileSync, fork } from 'node:child_process';
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countDatagrams } from './datagram-count.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');
export const FLOOR_ALPN = 'iyesmp-floor';
const INSTALLED = path.join(ROOT, 'node_modules/@matrixai/quic');

/** Whether `patch` applies to the package in `dir` forwards (`-R`: backwards), without changing it. */
function patchApplies(dir, patchFile, reverse) {
  try {
    execFileSync('patch', ['-s', '-p4', '--dry-run', '-f', ...(reverse ? ['-R'] : []), '-d', dir, '-i', patchFile], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `{ installed, other }`: the installed package and a scratch copy in `scratch` with the patch applied
 * (when the installed one lacks it) or reverted (when it has it). Each is `{ label, url }`; `other` is
 * undefined when there is no patch file or it does not apply.
 */
export function quicVariants(scratch) {
  const url = pathToFileURL(path.join(INSTALLED, 'dist/index.js')).href;
  // BENCH_QUIC_BASELINE=<a copy of the package, its dependencies resolvable>: the installed package
  // against that copy instead (e.g. the previous version of the patch, to measure a change to it)
  const baseline = process.env.BENCH_QUIC_BASELINE;
  if (baseline) {
    return {
      installed: { label: 'installed', url },
      other: { label: 'baseline', url: pathToFileURL(path.join(path.resolve(baseline), 'dist/index.js')).href },
    };
  }
  const patchDir = path.join(ROOT, 'patches');
  const patch = existsSync(patchDir) ? readdirSync(patchDir).find((f) => f.startsWith('@matrixai+quic+')) : undefined;
  if (!patch) return { installed: { label: 'unpatched', url }, other: undefined };
  const installedPatched = patchApplies(INSTALLED, path.join(patchDir, patch), true);
  const installed = { label: installedPatched ? 'patched' : 'unpatched', url };
  if (!installedPatched && !patchApplies(INSTALLED, path.join(patchDir, patch), false)) {
    // e.g. node_modules still holds an older version of the patch: `npx patch-package` after a fresh install fixes it
    process.stderr.write(`(the installed @matrixai/quic matches neither side of ${patch}; measuring the installed package only)\n`);
    return { installed: { label: 'installed', url }, other: undefined };
  }
  // node_modules/@matrixai/quic as a copy; its dependencies and everything else as links to the real tree
  const nm = path.join(scratch, 'node_modules');
  const copy = path.join(nm, '@matrixai/quic');
  mkdirSync(path.join(nm, '@matrixai'), { recursive: true });
  for (const e of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (e !== '@matrixai' && !e.startsWith('.')) symlinkSync(path.join(ROOT, 'node_modules', e), path.join(nm, e));
  }
  for (const e of readdirSync(path.join(ROOT, 'node_modules/@matrixai'))) {
    if (e !== 'quic') symlinkSync(path.join(ROOT, 'node_modules/@matrixai', e), path.join(nm, '@matrixai', e));
  }
  cpSync(INSTALLED, copy, { recursive: true, dereference: true });
  try {
    // patch-package writes paths as a/node_modules/@matrixai/quic/<file>: strip four levels
    execFileSync('patch', ['-s', '-p4', ...(installedPatched ? ['-R'] : []), '-d', copy, '-i', path.join(patchDir, patch)], { stdio: 'pipe' });
  } catch (e) {
    process.stderr.write(`(cannot ${installedPatched ? 'revert' : 'apply'} ${patch}: ${e.message.split('\n')[0]}; measuring the installed package only)\n`);
    return { installed, other: undefined };
  }
  return { installed, other: { label: installedPatched ? 'unpatched' : 'patched', url: pathToFileURL(path.join(copy, 'dist/index.js')).href } };
}

/** Forks a raw server or client child; resolves with the child and its first message. */
export async function startRaw(args, execArgv = []) {
  const child = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const first = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`quic-raw ${args[0]} exited with ${code}`)));
  });
  return { child, first };
}

export function request(child, msg) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return reject(new Error('child exited'));
    const onExit = (code) => reject(new Error(`quic-raw child exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m);
    });
    child.send(msg);
  });
}

/** CPU microseconds (user + system) of a child answering `cpu`. */
export async function cpuOf(child) {
  const { cpu } = await request(child, 'cpu');
  return cpu.user + cpu.system;
}

/** CPU microseconds (user + system) of a raw server and the datagrams it has received so far. */
export async function cpuAndRx(child) {
  const { cpu, rx } = await request(child, 'cpu');
  return { cpu: cpu.user + cpu.system, rx };
}

// ---------------------------------------------------------------- children

async function pkiCreds(pkiDir, name) {
  const { openPki } = await import(pathToFileURL(path.join(ROOT, 'dist/pki/index.js')).href);
  const pki = await openPki(pkiDir);
  const master = pki.list().find((e) => e.role === 'master');
  return { cert: await pki.chainPem(name), key: readFileSync(pki.path(pki.get(name).keyFile), 'utf8'), ca: await pki.certPem(master.name), pki };
}

async function quietLogger() {
  const { default: Logger, LogLevel } = await import('@matrixai/logger');
  return new Logger('floor', LogLevel.SILENT);
}

const ab = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

async function serverChild(quicUrl, pkiDir) {
  const datagrams = countDatagrams();
  const quic = await import(quicUrl);
  const { cert, key, ca } = await pkiCreds(pkiDir, 'auth');
  const mac = (k, d) => createHmac('sha256', Buffer.from(k)).update(Buffer.from(d)).digest();
  const server = new quic.QUICServer({
    crypto: {
      key: ab(randomBytes(32)),
      ops: {
        sign: async (k, d) => ab(mac(k, d)),
        verify: async (k, d, sig) => timingSafeEqual(Buffer.from(sig), mac(k, d)),
      },
    },
    logger: await quietLogger(),
    config: { cert, key, ca, verifyPeer: true, applicationProtos: [FLOOR_ALPN], maxIdleTimeout: Number(process.env.QUIC_RAW_SERVER_IDLE_MS ?? 30_000) },
  });
  server.addEventListener(quic.events.EventQUICServerConnection.name, (evt) => {
    const conn = evt.detail;
    // an idle timeout or a peer's close arrives as an error event; unhandled it would end the process
    conn.addEventListener(quic.events.EventQUICConnectionError.name, () => undefined);
    conn.addEventListener(quic.events.EventQUICConnectionStream.name, async (se) => {
      const s = se.detail;
      const reader = s.readable.getReader();
      const writer = s.writable.getWriter();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          await writer.write(value);
        }
        await writer.close();
      } catch {
        // the client went away
      }
    });
  });
  await server.start({ host: '127.0.0.1', port: 0 });
  process.on('message', (m) => {
    // rx: datagrams received, for CPU per keep-alive PING (the same counter in every variant)
    if (m === 'cpu') process.send({ cpu: process.cpuUsage(), datagrams: { ...datagrams }, rx: datagrams.received });
    if (m === 'mem') {
      globalThis.gc?.();
      process.send({ rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ port: server.port });
}

async function clientChild(quicUrl, pkiDir, port) {
  const quic = await import(quicUrl);
  const { pki, ca } = await pkiCreds(pkiDir, 'auth');
  const clientName = pki.list().find((e) => e.role === 'client').name;
  const { cert, key } = await pkiCreds(pkiDir, clientName);
  const logger = await quietLogger();
  const dial = (extra = {}) => dialRaw(extra);
  // a connection's end (idle timeout, peer close) is also dispatched on its client: unhandled, it would end this process
  const dialRaw = async (extra) => {
    const c = await quic.QUICClient.createQUICClient({
      host: '127.0.0.1',
      port,
      // BoringSSL's name check does not match an IP against the cert's IP SANs; the cert names localhost too
      serverName: 'localhost',
      localHost: '127.0.0.1',
      crypto: { ops: { randomBytes: async (d) => randomFillSync(new Uint8Array(d)) } },
      logger,
      config: { cert, key, ca, verifyPeer: true, applicationProtos: [FLOOR_ALPN], maxIdleTimeout: 30_000, ...extra },
    });
    c.addEventListener(quic.events.EventQUICClientError.name, () => undefined);
    return c;
  };
  let echo;
  const idle = [];
  const msg = Buffer.alloc(32, 7);
  process.on('message', async (m) => {
    const ms = [];
    if (m.op === 'hs') {
      for (let i = 0; i < m.n; i++) {
        const t = performance.now();
        const c = await dial();
        ms.push(performance.now() - t);
        c.connection.addEventListener(quic.events.EventQUICConnectionError.name, () => undefined);
        await c.destroy({ force: true });
      }
    } else if (m.op === 'open') {
      // n idle connections, `concurrency` handshakes at a time, kept open with the given keep-alive
      const extra = { maxIdleTimeout: m.idleTimeoutMs, ...(m.keepAliveMs ? { keepAliveIntervalTime: m.keepAliveMs } : {}) };
      let next = 0;
      let failed = 0;
      const lane = async () => {
        while (next < m.n) {
          next++;
          // a busy server can let a handshake time out: try again, and count what never opened
          for (let attempt = 1; ; attempt++) {
            try {
              const c = await dial(extra);
              c.connection.addEventListener(quic.events.EventQUICConnectionError.name, () => undefined);
              idle.push(c);
              break;
            } catch {
              if (attempt === 3) {
                failed++;
                break;
              }
            }
          }
        }
      };
      await Promise.all(Array.from({ length: m.concurrency ?? 16 }, lane));
      process.send({ ms, failed, open: idle.length, quicErrors });
      return;
    } else if (m.op === 'count') {
      // connections still open (an idle timeout or a peer's close stops a connection)
      process.send({ open: idle.filter((c) => !c.closed).length });
      return;
    } else if (m.op === 'closeAll') {
      await Promise.all(idle.splice(0).map((c) => c.destroy({ force: true }).catch(() => undefined)));
    } else if (m.op === 'rtt') {
      if (!echo) {
        const c = await dial();
        // the echo connection idles while other phases run: if it times out, the next phase dials again
        c.connection.addEventListener(quic.events.EventQUICConnectionError.name, () => {
          if (echo?.c === c) echo = undefined;
        });
        const s = c.connection.newStream();
        echo = { c, w: s.writable.getWriter(), r: s.readable.getReader() };
      }
      for (let i = 0; i < m.n; i++) {
        const t = performance.now();
        await echo.w.write(msg);
        let got = 0;
        while (got < msg.byteLength) got += (await echo.r.read()).value.byteLength;
        ms.push(performance.now() - t);
      }
    }
    process.send({ ms });
  });
  process.on('disconnect', () => process.exit(0));
  // @matrixai/quic dispatches the idle timeout of a connection whose handshake failed with no
  // listener left, which would end this process: count it instead (the bench reports it)
  process.on('uncaughtException', (e) => {
    if (!String(e?.name ?? e?.constructor?.name).startsWith('ErrorQUIC')) throw e;
    quicErrors++;
  });
  process.send({ ready: true });
}

let quicErrors = 0;

if (process.argv[1] === SELF) {
  const [role, url, pkiDir, port] = process.argv.slice(2);
  if (role === 'server') await serverChild(url, pkiDir);
  else if (role === 'client') await clientChild(url, pkiDir, Number(port));
  else throw new Error(`bench/quic-raw.js: unknown role ${role}`);
}
