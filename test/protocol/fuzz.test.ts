import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authFamily,
  BulkStreamDecoder,
  Deframer,
  DEFAULT_CONTROL_LIMITS,
  encodeBulkHeader,
  encodeFrame,
  Envelope,
  hostctlFamily,
  hostFamily,
  MsgpackCodec,
  ProtocolSession,
  type CloseInfo,
  type FamilyDef,
} from '../../src/protocol/index.js';
import { samples } from './fixtures.js';
import { ofKind, openPair } from './helpers.js';

const families: FamilyDef[] = [authFamily, hostctlFamily, hostFamily];
const MAX = DEFAULT_CONTROL_LIMITS.maxFrameBytes;
const frame = (value: unknown) => encodeFrame(encode(value), 1 << 24);
/** Close codes the protocol layer may produce on bad input; `internal` would mean a bug. */
const PEER_FAULT_CODES = [
  'malformed',
  'frame_too_large',
  'hello_required',
  'unknown_type',
  'bad_request',
  'too_many_errors',
  'wrong_family',
  'version_too_old',
  'version_too_new',
  'closed',
  'normal',
];

function wireOf(chunks: Uint8Array[]): Record<string, unknown>[] {
  const d = new Deframer(1 << 24);
  const codec = new MsgpackCodec(DEFAULT_CONTROL_LIMITS);
  return chunks
    .flatMap((c) => d.push(c).frames)
    .map((f) => {
      const r = codec.decode(f);
      if (!r.ok) throw new Error(`session wrote undecodable bytes: ${r.reason}`);
      const env = Envelope.safeParse(r.value);
      if (!env.success) throw new Error('session wrote an invalid envelope');
      return r.value as Record<string, unknown>;
    });
}

/** All sample messages of a family as wire envelopes the dialer (or listener) may send. */
function validEnvelopes(family: FamilyDef, from: 'dialer' | 'listener'): Record<string, unknown>[] {
  const s = samples[family.name]!;
  const out: Record<string, unknown>[] = [];
  let id = 1;
  for (const [type, def] of Object.entries(family.requests)) {
    if (def.from !== from && def.from !== 'both') continue;
    for (const body of s.requests[type]!.request) out.push({ kind: 'request', id: id++, type, body });
  }
  for (const [type, def] of Object.entries(family.events)) {
    if (def.from !== from && def.from !== 'both') continue;
    for (const body of s.events[type]!) out.push({ kind: 'event', type, body });
  }
  return out;
}

/** Replaces, deletes or adds a value at a random path inside a message. */
function mutate(value: unknown, path: number[], replacement: unknown, op: number): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return replacement;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || path.length === 0) {
    (copy as Record<string, unknown>)[`x${op}`] = replacement;
    return copy;
  }
  const key = keys[path[0]! % keys.length]!;
  if (path.length === 1 && op % 3 === 0) delete (copy as Record<string, unknown>)[key];
  else (copy as Record<string, unknown>)[key] = mutate((copy as Record<string, unknown>)[key], path.slice(1), replacement, op);
  return copy;
}

function assertHealthy(session: { bufferedBytes: number; state: string; closeInfo: CloseInfo | undefined }): void {
  expect(session.bufferedBytes).toBeLessThanOrEqual(MAX + 4 + 4096);
  // A peer's own close frame may carry any code; our closes must name a peer fault, never `internal`.
  if (session.state === 'closed' && session.closeInfo!.by === 'local') {
    expect(PEER_FAULT_CODES).toContain(session.closeInfo!.code);
    expect(session.closeInfo!.reason.length).toBeGreaterThan(0);
  }
}

const messy = fc.oneof(
  fc.anything({ maxDepth: 3, withTypedArray: true, withBigInt: false, withObjectString: false }),
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.constantFrom(null, undefined, -1, 0, 2 ** 53, 1e308, '', '__proto__', 'constructor'),
);

describe('fuzzing the decoders', () => {
  it('Deframer, MsgpackCodec, Envelope and BulkStreamDecoder never throw on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        const d = new Deframer(MAX);
        const codec = new MsgpackCodec(DEFAULT_CONTROL_LIMITS);
        const bulk = new BulkStreamDecoder();
        for (const c of chunks) {
          d.push(c);
          bulk.push(c);
          const r = codec.decode(c);
          if (r.ok) Envelope.safeParse(r.value);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('BulkStreamDecoder takes a header then opaque frames, and refuses a bad header', () => {
    const stream = [
      encodeBulkHeader({ family: 'iyesmp-host/1', purpose: 'game.state', sessionId: 'ses-1', channel: 'p1' }),
      encodeFrame(new Uint8Array([1, 2]), MAX),
    ];
    const good = new BulkStreamDecoder({ family: 'iyesmp-host/1' });
    const r = good.push(Uint8Array.from(stream.flatMap((s) => [...s])));
    expect(r.header).toMatchObject({ kind: 'stream', purpose: 'game.state', channel: 'p1' });
    expect(r.frames.map((f) => [...f])).toEqual([[1, 2]]);
    expect(new BulkStreamDecoder({ family: 'iyesmp-auth/1' }).push(stream[0]!).error?.code).toBe('wrong_family');
    expect(new BulkStreamDecoder().push(frame({ kind: 'stream', purpose: 5 })).error?.code).toBe('bad_request');
    expect(new BulkStreamDecoder().push(encodeFrame(new Uint8Array([0xc1]), MAX)).error?.code).toBe('malformed');
  });
});

describe.each(families.map((f) => [f.name, f] as const))('fuzzing ProtocolSession (%s)', (_name, family) => {
  const s = samples[family.name]!;

  it('survives random bytes before and after the hello, split anywhere', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 }), (open, chunks) => {
        const session = open ? openPair(family, s.hello).listener : new ProtocolSession(family, { side: 'listener', gameVersion: '1', nowMs: 0 });
        for (const c of chunks) {
          session.receive(c);
          assertHealthy(session);
        }
        wireOf(session.takeOutput());
        session.takeEvents();
      }),
      { numRuns: 400 },
    );
  });

  it('answers or closes on random MsgPack values and random envelopes', () => {
    const envelope = fc.record(
      {
        kind: fc.constantFrom('hello', 'welcome', 'request', 'response', 'error', 'event', 'close', 'nope'),
        id: fc.oneof(fc.nat(5), fc.integer(), fc.constant(2 ** 32), fc.string({ maxLength: 3 })),
        type: fc.oneof(fc.constantFrom(...Object.keys(family.requests), ...Object.keys(family.events)), fc.string({ maxLength: 20 })),
        body: messy,
        code: fc.oneof(fc.constant('bad_request'), fc.string({ maxLength: 10 })),
        message: fc.string({ maxLength: 10 }),
        reason: fc.string({ maxLength: 10 }),
      },
      { requiredKeys: ['kind'] },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(envelope, messy), { minLength: 1, maxLength: 6 }), fc.boolean(), (values, dialerSide) => {
        const p = openPair(family, s.hello);
        const session = dialerSide ? p.dialer : p.listener;
        for (const v of values) {
          let bytes: Uint8Array;
          try {
            bytes = frame(v);
          } catch {
            continue; // a value @msgpack cannot encode is not a test of ours
          }
          session.receive(bytes);
          assertHealthy(session);
        }
        const out = wireOf(session.takeOutput());
        for (const o of out) expect(['error', 'close', 'response']).toContain(o['kind']);
      }),
      { numRuns: 400 },
    );
  });

  it('mutated valid messages are delivered valid, answered with an error, or closed with a reason', () => {
    const envelopes = validEnvelopes(family, 'dialer');
    if (envelopes.length === 0) return;
    fc.assert(
      fc.property(fc.constantFrom(...envelopes), fc.array(fc.nat(20), { maxLength: 5 }), messy, fc.nat(), (env, path, replacement, op) => {
        const p = openPair(family, s.hello);
        const mutated = mutate(env, path, replacement, op);
        let bytes: Uint8Array;
        try {
          bytes = frame(mutated);
        } catch {
          return;
        }
        p.listener.receive(bytes);
        assertHealthy(p.listener);
        const events = p.listener.takeEvents() as { kind: string }[];
        const out = wireOf(p.listener.takeOutput());
        const delivered = events.filter((e) => e.kind === 'request' || e.kind === 'event') as { kind: string; type: string; body: unknown }[];
        for (const d of delivered) {
          // whatever got through satisfies the schema of its type
          const schema = d.kind === 'request' ? family.requests[d.type]!.request : family.events[d.type]!.body;
          expect(schema.safeParse(d.body).success).toBe(true);
        }
        if (delivered.length === 0) {
          const replied = out.some((o) => o['kind'] === 'error');
          expect(replied || p.listener.state === 'closed').toBe(true);
        }
        // a session that is still open keeps working
        if (p.listener.state === 'open') {
          const [first] = validEnvelopes(family, 'dialer');
          p.listener.receive(frame({ ...first, ...(first!['kind'] === 'request' ? { id: 4_000_000 } : {}) }));
          expect((p.listener.takeEvents() as { kind: string }[]).filter((e) => e.kind === first!['kind'])).toHaveLength(1);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('hostile sizes', () => {
  it('refuses oversize length prefixes before buffering the payload', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX + 1, max: 0xffffffff }), fc.boolean(), (len, open) => {
        const session = open
          ? openPair(hostFamily, samples['iyesmp-host/1']!.hello).listener
          : new ProtocolSession(hostFamily, { side: 'listener', gameVersion: '1', nowMs: 0 });
        const prefix = new Uint8Array(4);
        new DataView(prefix.buffer).setUint32(0, len);
        session.receive(prefix);
        expect(session.closeInfo?.code).toBe('frame_too_large');
        expect(session.bufferedBytes).toBe(0);
        session.receive(new Uint8Array(1000)); // ignored once closed
        expect(session.bufferedBytes).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses deeply nested MsgPack and huge declared bin/str/array/map lengths inside a frame', () => {
    const base = encode({ kind: 'request', id: 1, type: 'game.action', body: { ext: 0 } });
    expect(base[base.length - 1]).toBe(0x00);
    const withValue = (bytes: number[]) => encodeFrame(Uint8Array.from([...base.subarray(0, base.length - 1), ...bytes]), MAX);
    const hostile = [
      [...new Array(10_000).fill(0x91), 0x00], // 10 000 nested arrays
      [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GB
      [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GB
      [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4 G elements
      [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 of 4 G entries
      [0xc7, 0x01, 0xff, 0x00], // an extension type (timestamps etc. are not accepted)
    ];
    for (const bytes of hostile) {
      const p = openPair(hostFamily, samples['iyesmp-host/1']!.hello);
      p.listener.receive(withValue(bytes));
      expect(p.listener.closeInfo?.code).toBe('malformed');
      expect(ofKind(p.listener.takeEvents(), 'request')).toHaveLength(0);
    }
    // the same depth within limits is fine
    const ok = openPair(hostFamily, samples['iyesmp-host/1']!.hello);
    ok.listener.receive(withValue([...new Array(20).fill(0x91), 0x00]));
    expect(ofKind(ok.listener.takeEvents(), 'request')).toHaveLength(1);
  });

  it('refuses any nesting depth above the limit and accepts any depth within it', () => {
    const base = encode({ kind: 'request', id: 1, type: 'game.action', body: { ext: 0 } });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.constantFrom(0x91, 0x81), (depth, tag) => {
        // 0x91: array of one; 0x81: map of one entry (key "a", then the nested value)
        const unit = tag === 0x91 ? [0x91] : [0x81, 0xa1, 0x61];
        const nested = [...Array.from({ length: depth }, () => unit).flat(), 0x00];
        const bytes = Uint8Array.from([...base.subarray(0, base.length - 1), ...nested]);
        const p = openPair(hostFamily, samples['iyesmp-host/1']!.hello);
        if (bytes.byteLength > MAX) return;
        p.listener.receive(encodeFrame(bytes, MAX));
        // envelope map (1) + body map (2) + ext value nesting
        const total = 2 + depth;
        if (total > DEFAULT_CONTROL_LIMITS.maxDepth) expect(p.listener.closeInfo?.code).toBe('malformed');
        else expect(ofKind(p.listener.takeEvents(), 'request')).toHaveLength(1);
      }),
      { numRuns: 200 },
    );
  });

  it('a dialer waiting for its welcome survives random envelopes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('welcome', 'hello', 'close', 'event', 'response'),
            family: fc.constantFrom('iyesmp-host/1', 'iyesmp-auth/1', ''),
            protocol: fc.record({ major: fc.integer({ min: -1, max: 3 }), minor: fc.integer({ min: -1, max: 3 }) }),
            game: fc.oneof(fc.constant('1.0.0'), fc.string({ maxLength: 5 })),
            body: fc.oneof(messy, fc.constant(samples['iyesmp-host/1']!.hello.listener)),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (values) => {
          const d = new ProtocolSession(hostFamily, { side: 'dialer', gameVersion: '1', nowMs: 0 });
          d.start(samples['iyesmp-host/1']!.hello.dialer as never);
          d.takeOutput();
          for (const v of values) {
            d.receive(frame(v));
            assertHealthy(d);
          }
          const events = d.takeEvents();
          if (d.state === 'open') expect(ofKind(events, 'ready')).toHaveLength(1);
          wireOf(d.takeOutput());
        },
      ),
      { numRuns: 400 },
    );
  });

  const FF_TAIL = new Uint8Array(1024 * 1024 + 8).fill(0xff);
  it('one bad session does not affect another', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 5 }), (garbage) => {
        const hello = samples['iyesmp-host/1']!.hello;
        const bad = openPair(hostFamily, hello);
        const good = openPair(hostFamily, hello);
        for (const g of garbage) bad.listener.receive(g);
        // The garbage may open a frame of up to the largest allowed length (1 MiB) that swallows a
        // short tail, so the tail is longer than any frame: whatever frame is open ends in 0xff
        // bytes (not an envelope) or the next length prefix is 0xffffffff (too long).
        bad.listener.receive(FF_TAIL);
        expect(bad.listener.state).toBe('closed');
        const id = good.dialer.request('game.action', { ext: { ok: 1 } });
        good.flush();
        const req = ofKind(good.listenerEvents, 'request')[0]!;
        good.listener.respond(req.id, { ext: { ok: 2 } });
        good.flush();
        expect(ofKind(good.dialerEvents, 'response')).toEqual([{ kind: 'response', id, type: 'game.action', body: { ext: { ok: 2 } } }]);
      }),
      { numRuns: 100 },
    );
  });
});
