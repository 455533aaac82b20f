/**
 * Wire fuzzer for one port, as its own OS process (issue #9, "a wire fuzz test over real QUIC"):
 * QUIC connections with a valid certificate and the port's ALPN, then malformed and hostile frames
 * on their streams: random bytes, random frames, oversized and truncated length prefixes, deep
 * MsgPack nesting, envelopes with wrong types, unknown message types, known types with wrong
 * bodies, huge strings / arrays / maps / bins within the limits; half of the streams first say a
 * valid hello, so the frames reach the message handlers too. Frames come from fast-check with a
 * fixed seed (a failure can be replayed).
 *
 *   node test/e2e/fuzzer.mjs '{"target":"auth"|"hostctl"|"host","auth":"127.0.0.1:port","hostctl"?:"127.0.0.1:port",
 *                              "ca","cert","key","hostName"?,"frames":300,"seed"?:1,"parallel"?:4,"maxChunks"?:6,
 *                              "softWeight"?:0,"maxSoft"?:100,"maxMs"?:120000}'
 *
 * target auth: the Auth players port with the client certificate; hostctl: the Auth hosts port
 * with a host certificate (`hostName` is its name); host: a Host's players port, with the session
 * certificate of a seat the fuzzer gets by matchmaking two guests of its own (mode "fuzz", so no
 * real player is matched with them), again whenever that session is over.
 * Prints {"ev":"ready"}, {"ev":"progress",...} every 5 s and {"ev":"done","frames","connections",
 * "streams","refused":{code:n},"closed":{code:n},"byKind":{kind:n},"ms"}.
 */
import { readFileSync } from 'node:fs';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { connectToAuth, masterOnlyVerifier } from '../../dist/client/index.js';
import { authFamily, encodeFrame, hostctlFamily, hostFamily } from '../../dist/protocol/index.js';
import { ALPN, connectQuic } from '../../dist/transport/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const T0 = performance.now();
setTimeout(() => {
  out('exit', { reason: 'maxMs' });
  process.exit(3);
}, cfg.maxMs ?? 120_000).unref();

const ca = readFileSync(cfg.ca, 'utf8');
const verifier = masterOnlyVerifier(ca);
const family = { auth: authFamily, hostctl: hostctlFamily, host: hostFamily }[cfg.target];
const dialerRequests = Object.entries(family.requests)
  .filter(([, d]) => d.from === 'dialer')
  .map(([t]) => t);
const dialerEvents = Object.entries(family.events)
  .filter(([, d]) => d.from === 'dialer')
  .map(([t]) => t);

// ------------------------------------------------------------------ hostile frames

const frame = (v) => encodeFrame(encode(v), 0xffff_ffff);
const prefix = (n) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
};
const concat = (...parts) => {
  const outb = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    outb.set(p, o);
    o += p.byteLength;
  }
  return outb;
};
/** MsgPack nested `depth` deep: arrays of one (0x91) or maps of one entry keyed "" (0x81 0xa0). */
const nested = (depth, map) => {
  const unit = map ? [0x81, 0xa0] : [0x91];
  const b = new Uint8Array(depth * unit.length + 1);
  for (let i = 0; i < depth; i++) b.set(unit, i * unit.length);
  b[b.length - 1] = 0xc0;
  return concat(prefix(b.byteLength), b);
};
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 64 }), fc.constant(undefined));
const kinds = fc.constantFrom('hello', 'welcome', 'request', 'response', 'error', 'event', 'close');
const reqId = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.constant(null));

/** One hostile chunk: `{ kind, bytes, end? }`; `end` closes the stream's write side right after it. */
const chunk = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 256 }).map((bytes) => ({ kind: 'random_bytes', bytes })),
  fc.uint8Array({ maxLength: 512 }).map((p) => ({ kind: 'random_frame', bytes: concat(prefix(p.byteLength), p) })),
  fc
    .tuple(fc.integer({ min: 64 * 1024 + 1, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 64 }))
    .map(([n, rest]) => ({ kind: 'oversized_prefix', bytes: concat(prefix(n), rest) })),
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.double({ min: 0, max: 0.99, noNaN: true })).map(([v, cut]) => {
    const f = frame(v);
    return { kind: 'truncated', bytes: f.subarray(0, Math.max(1, Math.floor(f.byteLength * cut))), end: true };
  }),
  fc.tuple(fc.integer({ min: 33, max: 20_000 }), fc.boolean()).map(([depth, map]) => ({ kind: 'deep_nesting', bytes: nested(depth, map) })),
  fc
    .record({
      kind: fc.oneof(kinds, fc.string({ maxLength: 8 }), fc.integer()),
      id: reqId,
      type: fc.oneof(fc.string({ maxLength: 16 }), fc.integer()),
      body: anyValue,
    })
    .map((v) => ({ kind: 'wrong_types', bytes: frame(v) })),
  fc
    .record({
      kind: fc.constantFrom('request', 'event'),
      id: fc.integer({ min: 1, max: 1000 }),
      type: fc.stringMatching(/^[a-z][a-z0-9_]{0,12}(\.[a-z][a-z0-9_]{0,12}){0,2}$/),
      body: anyValue,
    })
    .map((v) => ({ kind: 'unknown_type', bytes: frame(v) })),
  fc
    .record({
      kind: fc.constantFrom('request', 'event'),
      id: fc.integer({ min: 1, max: 1000 }),
      type: fc.constantFrom(...dialerRequests, ...dialerEvents),
      body: fc.oneof(anyValue, fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 8 })),
    })
    .map((v) => ({ kind: 'bad_body', bytes: frame(v) })),
  fc.constantFrom('string', 'array', 'map', 'bin').chain((what) =>
    fc.constantFrom('request', 'event', 'hello').map((k) => {
      const huge = {
        string: 'x'.repeat(16 * 1024),
        array: Array.from({ length: 4096 }, (_, i) => i),
        map: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i])),
        bin: new Uint8Array(60 * 1024),
      }[what];
      return { kind: `huge_${what}`, bytes: frame({ kind: k, id: 1, type: dialerRequests[0], body: { ext: huge, name: huge } }) };
    }),
  ),
  fc.constant({ kind: 'max_prefix', bytes: prefix(0xffff_ffff) }),
);
/**
 * Requests a server answers with an error but that leave the stream open (an unknown type, a known
 * type with a wrong body), so one stream after a valid hello carries many of them.
 */
const softChunk = fc.oneof(
  fc
    .record({ id: fc.integer({ min: 1, max: 0xffff_ffff }), type: fc.stringMatching(/^[a-z][a-z0-9_]{0,12}\.[a-z][a-z0-9_]{0,12}$/), body: anyValue })
    .map((v) => ({ kind: 'soft_unknown_type', bytes: frame({ kind: 'request', ...v }) })),
  fc
    .record({
      id: fc.integer({ min: 1, max: 0xffff_ffff }),
      type: fc.constantFrom(...dialerRequests),
      body: fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 8 }),
    })
    .map((v) => ({ kind: 'soft_bad_body', bytes: frame({ kind: 'request', ...v }) })),
);
/**
 * A stream's script: maybe a valid hello first, then 1-6 (`maxChunks`) hostile chunks; with weight
 * `softWeight` (default 0) instead a valid hello and up to `maxSoft` requests of `softChunk`.
 */
const script = fc.oneof(
  { weight: 1, arbitrary: fc.record({ hello: fc.boolean(), chunks: fc.array(chunk, { minLength: 1, maxLength: cfg.maxChunks ?? 6 }) }) },
  {
    weight: cfg.softWeight ?? 0,
    arbitrary: fc.record({ hello: fc.constant(true), chunks: fc.array(softChunk, { minLength: 1, maxLength: cfg.maxSoft ?? 100 }) }),
  },
);

let batch = 0;
let pendingScripts = [];
function nextScript() {
  if (pendingScripts.length === 0) pendingScripts = fc.sample(script, { seed: (cfg.seed ?? 1) * 1_000_003 + batch++, numRuns: 100 });
  return pendingScripts.pop();
}

// ------------------------------------------------------------------ where to connect, as whom

let seat; // host target: { ticket, clients }

async function newSeat() {
  for (const c of seat?.clients ?? []) await c.close().catch(() => undefined);
  const clients = await Promise.all(
    [0, 1].map(() =>
      connectToAuth({ address: cfg.auth, serverName: '127.0.0.1', identity: { cert: cfg.cert, key: cfg.key }, trust: { caPem: ca }, gameVersion: '1.0.0' }),
    ),
  );
  await Promise.all(clients.map((c, i) => c.login({ method: 'guest', displayName: `fuzz${i}` })));
  const tickets = await Promise.all(clients.map((c) => c.matchmake({ mode: 'fuzz', timeoutMs: 60_000 })));
  seat = { ticket: tickets[0], clients };
}

function target() {
  if (cfg.target === 'host') {
    const t = seat.ticket;
    return {
      host: t.host.host,
      port: t.host.port,
      alpn: ALPN.host,
      serverName: t.host.tlsName,
      cert: t.credentials.certPem,
      key: t.credentials.keyPem,
      serverPolicy: { kind: 'host' },
      hello: { sessionId: t.sessionId, playerId: t.playerId },
    };
  }
  const [host, port] = (cfg.target === 'auth' ? cfg.auth : cfg.hostctl).split(':');
  return {
    host,
    port: Number(port),
    alpn: cfg.target === 'auth' ? ALPN.auth : ALPN.hostctl,
    serverName: '127.0.0.1',
    cert: readFileSync(cfg.cert, 'utf8'),
    key: readFileSync(cfg.key, 'utf8'),
    serverPolicy: { kind: 'auth-server' },
    hello: cfg.target === 'auth' ? {} : { hostName: cfg.hostName },
  };
}

// ------------------------------------------------------------------ the run

const st = { frames: 0, connections: 0, streams: 0, refused: {}, closed: {}, byKind: {} };
const bump = (o, k) => (o[k] = (o[k] ?? 0) + 1);

/** Reads whatever the server answers on a stream until it ends or `ms` after `written`, so flow control never stalls it. */
async function drain(readable, written, ms) {
  const reader = readable.getReader();
  const stop = written.then(() => sleep(ms)).then(() => 'timeout');
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), stop]);
      if (r === 'timeout' || r.done) return;
    }
  } catch {
    // reset by the server: expected
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

async function oneStream(conn, t) {
  const s = nextScript();
  let stream;
  try {
    stream = conn.openStream();
  } catch {
    return; // the server closed the connection meanwhile
  }
  st.streams++;
  let written;
  const reading = drain(stream.readable, new Promise((r) => (written = r)), 150);
  const writer = stream.writable.getWriter();
  try {
    if (s.hello) await writer.write(frame({ kind: 'hello', family: family.name, protocol: family.version, game: '1.0.0', body: t.hello }));
    for (const c of s.chunks) {
      await writer.write(c.bytes);
      st.frames++;
      bump(st.byKind, c.kind);
      if (c.end) break;
    }
    await writer.close();
  } catch {
    // the server reset the stream or closed the connection mid-script: expected
  }
  written();
  await reading;
}

let failures = 0;
if (cfg.target === 'host') await newSeat();
out('ready');
const progress = setInterval(() => out('progress', { frames: st.frames, connections: st.connections }), 5_000);
/** One of `cfg.parallel` loops: connect, a few streams while the connection lasts, again. */
async function loop() {
  while (st.frames < cfg.frames) await oneConnection();
}

async function oneConnection() {
  const t = target();
  let conn;
  try {
    conn = await connectQuic({ ...t, verifier, timeoutMs: 5_000 });
    failures = 0;
  } catch (e) {
    bump(st.refused, e?.code ?? 'error');
    // the seat's session is over (the host no longer expects it), or a burst of refusals: back off
    if (cfg.target === 'host' && ++failures >= 2) await refreshSeat();
    else await sleep(100);
    return;
  }
  st.connections++;
  void conn.closed.then((info) => bump(st.closed, info.code));
  // a few streams per connection, while it lasts
  for (let i = 0; i < 4 && !conn.isClosed && st.frames < cfg.frames; i++) await oneStream(conn, t);
  await conn.close('fuzz', { force: true }).catch(() => undefined);
}

/** One new seat at a time, whichever loop noticed first. */
let refreshing;
function refreshSeat() {
  refreshing ??= newSeat().finally(() => {
    refreshing = undefined;
    failures = 0;
  });
  return refreshing;
}

await Promise.all(Array.from({ length: cfg.parallel ?? 4 }, loop));
clearInterval(progress);
for (const c of seat?.clients ?? []) await c.close().catch(() => undefined);
out('done', { ...st, ms: Math.round(performance.now() - T0) });
process.exit(0);
