/**
 * Test peers for the client library: a scripted server side built on the real sans-IO
 * ProtocolSession (over an in-memory duplex, test/support/duplex.ts), so a test can answer each
 * request by hand, push events, or write raw bytes the client must survive.
 */
import { ProtocolSession, type FamilyDef, type GameVersionCheck, type SessionEvent, type StreamPair } from '../../src/protocol/index.js';
import { pemToDerList, type FastSessionMinter, type Pki } from '../../src/pki/index.js';
import { devPki } from '../support/live-servers.js';

type Ev<F extends FamilyDef> = SessionEvent<F, 'listener', unknown>;

/** The listener side of one connection, driven by the test. */
export class ScriptedPeer<F extends FamilyDef> {
  readonly session: ProtocolSession<F, 'listener', unknown>;
  readonly events: Ev<F>[] = [];
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: Array<() => void> = [];
  #ended = false;

  constructor(
    family: F,
    pair: StreamPair,
    opts: { gameVersion?: string; acceptGameVersion?: GameVersionCheck; welcome?: (hello: unknown) => unknown; refuse?: { code: string; reason: string } },
  ) {
    this.session = new ProtocolSession(family, {
      side: 'listener',
      gameVersion: opts.gameVersion ?? '1.0.0',
      nowMs: Date.now(),
      ...(opts.acceptGameVersion ? { acceptGameVersion: opts.acceptGameVersion } : {}),
    });
    this.#writer = pair.writable.getWriter();
    void this.#readLoop(pair, opts);
  }

  async #readLoop(pair: StreamPair, opts: { welcome?: (hello: unknown) => unknown; refuse?: { code: string; reason: string } }): Promise<void> {
    {
      const reader = pair.readable.getReader();
      for (;;) {
        let r;
        try {
          r = await reader.read();
        } catch {
          break;
        }
        if (r.done) break;
        this.session.receive(r.value);
        for (const ev of this.session.takeEvents()) {
          if (ev.kind === 'hello') {
            if (opts.refuse) this.session.refuseHello(opts.refuse.code, opts.refuse.reason);
            else this.session.acceptHello((opts.welcome?.(ev.body) ?? {}) as never);
          } else this.events.push(ev);
        }
        await this.flush();
        this.#wake();
      }
      this.session.transportClosed();
      this.events.push(...this.session.takeEvents());
      this.#wake();
    }
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async flush(): Promise<void> {
    for (const chunk of this.session.takeOutput()) if (!this.#ended) await this.#writer.write(chunk).catch(() => undefined);
  }

  /** The next request (optionally of a type) the client sent, removed from the queue. */
  async request(type?: string, timeoutMs = 10_000): Promise<Extract<Ev<F>, { kind: 'request' }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.kind === 'request' && (type === undefined || (e as { type: string }).type === type));
      if (i >= 0) return this.events.splice(i, 1)[0] as Extract<Ev<F>, { kind: 'request' }>;
      if (Date.now() > deadline) throw new Error(`no ${type ?? ''} request within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => e.kind))}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50).unref();
      });
    }
  }

  async respond(id: number, body: unknown): Promise<void> {
    this.session.respond(id, body as never);
    await this.flush();
  }
  async fail(id: number, code: string, message: string): Promise<void> {
    this.session.respondError(id, code, message);
    await this.flush();
  }
  async notify(type: string, body: unknown): Promise<void> {
    this.session.notify(type as never, body as never);
    await this.flush();
  }
  async close(code: string, reason: string): Promise<void> {
    this.session.close(code, reason);
    await this.flush();
  }
  /** Bytes straight onto the wire, past the protocol layer. */
  async raw(bytes: Uint8Array): Promise<void> {
    await this.flush();
    if (!this.#ended) await this.#writer.write(bytes).catch(() => undefined);
  }
  /** Ends the stream (what a vanished server looks like). */
  async end(): Promise<void> {
    await this.flush();
    this.#ended = true;
    await this.#writer.close().catch(() => undefined);
  }
}

export interface PkiFixture {
  dir: string;
  pki: Pki;
  minter: FastSessionMinter;
  cleanup(): Promise<void>;
}

export async function makePki(): Promise<PkiFixture> {
  const { dir, pki, cleanup } = await devPki('iyesmp-client-');
  return { dir, pki, minter: await pki.sessionMinter(), cleanup };
}

/** A wire hand-off for a QUIC session, with a cert minted for `publicKey` (or a new key: seed design). */
export async function wireHandoff(
  minter: FastSessionMinter,
  o: { sessionId: string; playerId: string; publicKey?: Uint8Array },
): Promise<Record<string, unknown>> {
  const minted = o.publicKey
    ? await minter.mint({ publicKey: o.publicKey, sessionId: o.sessionId, playerId: o.playerId })
    : await minter.mintWithNewKey({ sessionId: o.sessionId, playerId: o.playerId });
  const { createPrivateKey } = await import('node:crypto');
  const privateKeyPem = (minted as { privateKeyPem?: string }).privateKeyPem;
  return {
    sessionId: o.sessionId,
    playerId: o.playerId,
    expiresAt: minted.notAfter.getTime(),
    host: { address: { host: '127.0.0.1', port: 4444 }, tlsName: 'localhost' },
    transport: {
      kind: 'quic',
      alpn: 'iyesmp-host/1',
      sessionCert: new Uint8Array(minted.certDer),
      chain: pemToDerList(minted.issuerPem).map((d) => new Uint8Array(d)),
      ...(privateKeyPem ? { privateKey: new Uint8Array(createPrivateKey(privateKeyPem).export({ type: 'pkcs8', format: 'der' })) } : {}),
    },
  };
}
