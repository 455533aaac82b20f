// patches/@matrixai+quic+*.patch: a QUIC stream keeps no logger of its own. Each one used to get a
// child of its connection's logger at creation (a Logger with a Map, a Set and a
// FinalizationRegistry, ~0.6 KB), kept for the stream's life even though iyesmp's QUIC loggers are
// silent; an idle player's control stream held one. Now the child is made only for a line its
// connection's logger lets through, with the same key as before.
import { Handler, LogLevel, type LogRecord } from '@matrixai/logger';
import type Logger from '@matrixai/logger';
import { describe, expect, it } from 'vitest';
import { transportSuite, authServerOpts, authClientOpts, connect, echo, roundTrip, startServer } from './helpers.js';

const f = transportSuite();
const T = 60_000;

class Capture extends Handler {
  readonly records: LogRecord[] = [];
  override handle(record: LogRecord): void {
    this.records.push(record);
  }
  emit(): void {}
}

/** The library's connection under a PeerConnection (internal; only read). */
const quicConnOf = (c: unknown): { logger: Logger } => (c as { conn: { logger: Logger } }).conn;
const streamChildren = (logger: Logger): string[] => [...logger.loggers.keys()].filter((k) => k.startsWith('QUICStream'));

describe('QUIC stream loggers', () => {
  it(
    'an open stream of a silent connection holds no child logger; an enabled one logs under the same key',
    async () => {
      const server = await startServer(authServerOpts(f));
      echo(server);
      const conn = await connect(authClientOpts(f, server.port));
      const q = quicConnOf(conn);
      const open = conn.openStream();
      const w = open.writable.getWriter();
      await w.write(Buffer.from('still open'));
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
});
