// patches/@matrixai+quic+*.patch: what an idle QUIC stream (an idle player's control stream) keeps.
// - No logger of its own. Each stream used to get a child of its connection's logger at creation (a
//   Logger with a Map, a Set and a FinalizationRegistry, ~0.6 KB), kept for the stream's life even
//   though iyesmp's QUIC loggers are silent. Now the child is made only for a line its connection's
//   logger lets through, with the same key as before.
// - No listeners of its own error and close events, nor its connection's of its destruction, until
//   one is dispatched or listened to (four listeners of an Evented target, ~1.8 KB); they still
//   run before any other listener of them.
import { utils as eventsUtils } from '@matrixai/events';
import { Handler, LogLevel, type LogRecord } from '@matrixai/logger';
import type Logger from '@matrixai/logger';
import { describe, expect, it } from 'vitest';
import type { PeerConnection } from '../../src/transport/index.js';
import { transportSuite, authServerOpts, authClientOpts, connect, echo, readAll, roundTrip, startServer } from './helpers.js';

const f = transportSuite();
const T = 60_000;

class Capture extends Handler {
  readonly records: LogRecord[] = [];
  override handle(record: LogRecord): void {
    this.records.push(record);
  }
  emit(): void {}
}

type QuicStreamView = EventTarget & { writeClosed: boolean };
/** The library's connection under a PeerConnection (internal; only read). */
const quicConnOf = (c: unknown): { logger: Logger; streamMap: Map<number, QuicStreamView> } =>
  (c as { conn: { logger: Logger; streamMap: Map<number, QuicStreamView> } }).conn;
const OWN_EVENTS = ['EventQUICStreamError', 'EventQUICStreamCloseRead', 'EventQUICStreamCloseWrite', 'EventQUICStreamDestroyed'];
const listenedTypes = (s: QuicStreamView): string[] => [...(s as unknown as Record<symbol, Map<string, Set<unknown>>>)[eventsUtils.eventHandlers]!.keys()];
const streamChildren = (logger: Logger): string[] => [...logger.loggers.keys()].filter((k) => k.startsWith('QUICStream'));

/** A client connected to an echo server, with a stream open on which `text` was written (not ended). */
async function openEchoStream(text: string) {
  const server = await startServer(authServerOpts(f));
  echo(server);
  const conn = await connect(authClientOpts(f, server.port));
  const s = conn.openStream();
  const w = s.writable.getWriter();
  await w.write(Buffer.from(text));
  return { conn, q: quicConnOf(conn), s, w };
}

describe('QUIC stream loggers', () => {
  it(
    'an open stream of a silent connection holds no child logger; an enabled one logs under the same key',
    async () => {
      const { conn, q, w } = await openEchoStream('still open');
      expect(streamChildren(q.logger)).toEqual([]);

      const capture = new Capture();
      q.logger.setLevel(LogLevel.INFO);
      q.logger.addHandler(capture);
      expect((await roundTrip(conn, Buffer.from('logged'))).toString()).toBe('logged');
      const lines = capture.records.filter((r) => r.key === 'QUICStream 4').map((r) => [r.keys, r.msg]);
      expect(lines).toContainEqual([`${q.logger.keys}.QUICStream 4`, 'Create QUICStream']);
      expect(lines).toContainEqual([`${q.logger.keys}.QUICStream 4`, 'Created QUICStream']);
      // the first stream made no child while its connection was silent, and logs none when it is not
      expect(capture.records.some((r) => r.key === 'QUICStream 0')).toBe(false);
      await w.close();
    },
    T,
  );

  it(
    'an open stream has no listener of its error and close events; its own handlers still run first, and it closes',
    async () => {
      const { q, s, w } = await openEchoStream('open');
      const qs = q.streamMap.get(s.id)!;
      expect(listenedTypes(qs).filter((t) => OWN_EVENTS.includes(t))).toEqual([]);
      // a listener added now runs after the stream's own handler, which marks the direction closed
      const seen: boolean[] = [];
      qs.addEventListener('EventQUICStreamCloseWrite', () => seen.push(qs.writeClosed));
      await w.close();
      expect((await readAll(s.readable)).toString()).toBe('open');
      expect(seen).toEqual([true]);
      // both directions ended: the stream is destroyed and leaves its connection's map
      for (let i = 0; i < 100 && q.streamMap.has(s.id); i++) await new Promise((r) => setTimeout(r, 10));
      expect(q.streamMap.has(s.id)).toBe(false);
    },
    T,
  );
});

describe('PeerConnection listeners', () => {
  it(
    'a server-side connection is listened to once (streams, errors and the stop through EventAll), and all three are still heard',
    async () => {
      const server = await startServer(authServerOpts(f));
      const accepted = new Promise<PeerConnection>((resolve) => server.on('connection', resolve));
      echo(server);
      const conn = await connect(authClientOpts(f, server.port));
      // the hand-over comes with the first stream
      expect((await roundTrip(conn, Buffer.from('heard'))).toString()).toBe('heard');
      const pc = await accepted;
      const handlers = (quicConnOf(pc) as unknown as Record<symbol, Map<string, Set<unknown>>>)[eventsUtils.eventHandlers]!;
      const listened = (type: string): number => handlers.get(type)?.size ?? 0;
      // the library's own: one of the stop and one EventAll (QUICServer); each more is ~0.3 KB per
      // idle connection (were: the server's stop listener, and the PeerConnection's three)
      expect(listened('EventQUICConnectionStream')).toBe(0);
      expect(listened('EventQUICConnectionStopped')).toBe(1);
      expect(listened('EventAll')).toBe(2);
      // a second stream is still delivered, and the close heard on both sides
      expect((await roundTrip(conn, Buffer.from('again'))).toString()).toBe('again');
      const serverClosed = pc.closed;
      await conn.close('bye');
      await expect(serverClosed).resolves.toMatchObject({ code: 'peer_closed', message: 'bye', byPeer: true });
    },
    T,
  );
});
