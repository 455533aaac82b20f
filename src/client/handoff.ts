/**
 * Hand-off: the client's seat in a game session. The client makes the session key pair itself and
 * sends only the public key with `session.claim`; the Auth server answers with a session
 * certificate for that key. (In the seed design the server makes the pair and the hand-off carries
 * the private key.) The result is a `HostTicket`: everything `joinHost` needs, as PEM text.
 */
import { createHash, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { SECRET_MODE, writeFileAtomic } from '../fs/atomic.js';
import type { AuthResponse, HostTransportKind } from '../protocol/index.js';
import { generateKeyPair, derToPem } from '../pki/index.js';
import type { KeyAlgorithm } from '../pki/types.js';
import { badServerData } from './errors.js';

export type WireHandoff<Ext = unknown> = AuthResponse<'session.claim', Ext>;

/** Everything needed to join the game host, self-contained (it can be saved and reused). */
export interface HostTicket<Ext = unknown> {
  sessionId: string;
  playerId: string;
  /** ms since the epoch: the seat is only valid until then */
  expiresAt: number;
  host: { host: string; port: number; tlsName: string };
  transport: HostTransportKind;
  /** QUIC and MQTT: the session certificate (then its issuer chain) and its private key, PEM */
  credentials?: { certPem: string; keyPem: string; fingerprint: string };
  /** netcode.io: the 2048-byte connect token */
  connectToken?: Uint8Array;
  /** MQTT: where and which room */
  mqtt?: { brokerUrl: string; room: string; hostKey?: Uint8Array; topicPrefix?: string; game?: string };
  /** true when the Auth server made the key pair (seed design) */
  serverMadeKey: boolean;
  ext?: Ext;
}

/**
 * Where the private keys of live sessions are kept, so a restarted client can rejoin its game.
 * Entries are named by session id; one more, `CONFIRMED_KEYS_ID`, holds the keys sent with match
 * confirmations (iyesmp-auth 1.3) whose hand-off has not arrived yet.
 */
export interface SessionKeyStore {
  get(sessionId: string): Promise<string | undefined>;
  set(sessionId: string, keyPem: string): Promise<void>;
  delete(sessionId: string): Promise<void>;
}

export class MemoryKeyStore implements SessionKeyStore {
  readonly #keys = new Map<string, string>();
  async get(sessionId: string): Promise<string | undefined> {
    return this.#keys.get(sessionId);
  }
  async set(sessionId: string, keyPem: string): Promise<void> {
    this.#keys.set(sessionId, keyPem);
  }
  async delete(sessionId: string): Promise<void> {
    this.#keys.delete(sessionId);
  }
}

/**
 * Keeps session keys as files (mode 0600) in a folder, so a client that crashed mid-game can log in
 * again, get the same hand-off and still hold the key its certificate names. File names are a hash
 * of the session id: ids come from the server and must not choose paths.
 */
export class FileKeyStore implements SessionKeyStore {
  constructor(readonly dir: string) {}
  #file(sessionId: string): string {
    return path.join(this.dir, `${createHash('sha256').update(sessionId).digest('hex').slice(0, 32)}.key.pem`);
  }
  async get(sessionId: string): Promise<string | undefined> {
    try {
      return await readFile(this.#file(sessionId), 'utf8');
    } catch {
      return undefined;
    }
  }
  async set(sessionId: string, keyPem: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.#file(sessionId), keyPem, { mode: SECRET_MODE });
  }
  async delete(sessionId: string): Promise<void> {
    await rm(this.#file(sessionId), { force: true });
  }
}

/** The key-store entry of the keys sent with `match.confirm` whose hand-off has not come yet (JSON). */
export const CONFIRMED_KEYS_ID = 'iyesmp:confirmed-keys';

export interface ConfirmedKey {
  matchId: string;
  keyPem: string;
  /** ms since the epoch: forgotten after this */
  until: number;
}

/**
 * (1.3) The session keys sent with match confirmations, kept in the key store before the confirm is
 * sent: the session id is not known until the hand-off, so they are named by match id, all in one
 * entry (one atomic write; no listing needed to find or clean them after a restart). At most `cap`
 * entries, each dropped when its match is cancelled, its hand-off arrives (the key then moves to the
 * session id) or its time is up. Operations run one at a time.
 */
export class ConfirmedKeys {
  #chain: Promise<unknown> = Promise.resolve();
  constructor(
    readonly store: SessionKeyStore,
    readonly cap = 8,
  ) {}

  /** Keeps `keyPem` for `matchId` (replacing an older one), dropping the oldest beyond the cap. */
  add(matchId: string, keyPem: string, until: number): Promise<void> {
    return this.#run(async () => {
      const list = (await this.#read()).filter((e) => e.matchId !== matchId);
      list.push({ matchId, keyPem, until });
      await this.#write(list.slice(-this.cap));
    });
  }

  /** The live entries, oldest first. */
  all(): Promise<ConfirmedKey[]> {
    return this.#run(() => this.#read());
  }

  remove(matchId: string): Promise<void> {
    return this.#run(async () => {
      const list = await this.#read();
      const left = list.filter((e) => e.matchId !== matchId);
      if (left.length !== list.length) await this.#write(left);
    });
  }

  /**
   * The hand-off of `matchId` is for `sessionId`: its key is stored under the session id (unless
   * one is there already: a later claim's) and its entry dropped. Returns the session's key.
   */
  adopt(matchId: string, sessionId: string): Promise<string | undefined> {
    return this.#run(async () => {
      const list = await this.#read();
      const entry = list.find((e) => e.matchId === matchId);
      const stored = await this.store.get(sessionId);
      if (!entry) return stored;
      if (stored === undefined) await this.store.set(sessionId, entry.keyPem);
      await this.#write(list.filter((e) => e !== entry));
      return stored ?? entry.keyPem;
    });
  }

  /** Drops the entries whose time is up. */
  prune(): Promise<void> {
    return this.#run(async () => {
      const raw = await this.store.get(CONFIRMED_KEYS_ID);
      if (raw === undefined) return;
      const list = await this.#read();
      if (JSON.stringify(list) !== raw) await this.#write(list);
    });
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /** The live, well-formed entries (a damaged entry is treated as empty). */
  async #read(): Promise<ConfirmedKey[]> {
    const raw = await this.store.get(CONFIRMED_KEYS_ID);
    if (raw === undefined) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return [];
    }
    if (!Array.isArray(parsed)) return [];
    const now = Date.now();
    return parsed
      .filter(
        (e): e is ConfirmedKey =>
          typeof e === 'object' && e !== null && typeof e.matchId === 'string' && typeof e.keyPem === 'string' && typeof e.until === 'number' && e.until > now,
      )
      .map((e) => ({ matchId: e.matchId, keyPem: e.keyPem, until: e.until }))
      .slice(-this.cap);
  }

  async #write(list: ConfirmedKey[]): Promise<void> {
    if (list.length === 0) await this.store.delete(CONFIRMED_KEYS_ID);
    else await this.store.set(CONFIRMED_KEYS_ID, JSON.stringify(list));
  }
}

export interface SessionKey {
  keyPem: string;
  /** SPKI DER, what `session.claim` carries */
  publicKeyDer: Uint8Array<ArrayBuffer>;
  /**
   * The parsed key, kept in memory: OpenSSL 3 takes 0.4-0.5 ms to decode a PEM or DER key again
   * (ten times the P-256 key generation), paid per hand-off otherwise.
   */
  privateKey?: KeyObject;
}

/** The key object of `k`, parsed from its PEM only when it was not kept. */
function keyObjectOf(k: SessionKey): KeyObject {
  return k.privateKey ?? createPrivateKey(k.keyPem);
}

export function newSessionKey(algorithm: KeyAlgorithm = 'p256'): SessionKey {
  const pair = generateKeyPair(algorithm);
  return fromPrivate(pair.privateKey);
}

export function sessionKeyFromPem(keyPem: string): SessionKey {
  return fromPrivate(createPrivateKey(keyPem));
}

function fromPrivate(key: KeyObject): SessionKey {
  return {
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyDer: new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' })),
    privateKey: key,
  };
}

/** Of `keys`, the one whose public half the hand-off's session certificate certifies (none for netcode). */
export function certifiedKey<Ext>(h: WireHandoff<Ext>, keys: readonly SessionKey[]): SessionKey | undefined {
  if (h.transport.kind === 'netcode') return undefined;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(h.transport.sessionCert);
  } catch {
    return undefined;
  }
  return keys.find((k) => {
    try {
      return cert.checkPrivateKey(keyObjectOf(k));
    } catch {
      return false;
    }
  });
}

/**
 * Checks a hand-off and turns it into a ticket. `ownKey` is the key whose public half was sent; the
 * certificate must certify it. Throws IyesmpError('input', 'bad_server_data') on anything unusable.
 */
export function ticketFromHandoff<Ext>(h: WireHandoff<Ext>, ownKey: SessionKey | undefined): HostTicket<Ext> {
  const base = {
    sessionId: h.sessionId,
    playerId: h.playerId,
    expiresAt: h.expiresAt,
    host: { host: h.host.address.host, port: h.host.address.port, tlsName: h.host.tlsName },
    transport: h.transport.kind,
    serverMadeKey: false,
    ...(h.ext === undefined ? {} : { ext: h.ext }),
  };
  const t = h.transport;
  if (t.kind === 'netcode') return { ...base, connectToken: t.connectToken };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(t.sessionCert);
  } catch {
    throw badServerData('hand-off', 'the session certificate cannot be parsed');
  }
  let keyPem: string;
  let key: KeyObject;
  let serverMadeKey = false;
  if (t.privateKey !== undefined) {
    try {
      key = createPrivateKey({ key: Buffer.from(t.privateKey), format: 'der', type: 'pkcs8' });
      keyPem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
    } catch {
      throw badServerData('hand-off', 'the private key it carries cannot be parsed');
    }
    serverMadeKey = true;
  } else if (ownKey !== undefined) {
    keyPem = ownKey.keyPem;
    try {
      key = keyObjectOf(ownKey);
    } catch {
      throw badServerData('hand-off', "the session certificate is not for this client's session key");
    }
  } else {
    throw badServerData('hand-off', 'it has no private key and this client sent no public key');
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) {
    throw badServerData('hand-off', "the session certificate is not for this client's session key");
  }
  const chain = [t.sessionCert, ...t.chain].map((der) => derToPem(der)).join('');
  const fingerprint = createHash('sha256').update(t.sessionCert).digest('hex');
  const ticket: HostTicket<Ext> = { ...base, serverMadeKey, credentials: { certPem: chain, keyPem, fingerprint } };
  if (t.kind === 'mqtt')
    ticket.mqtt = {
      brokerUrl: t.brokerUrl,
      room: t.room,
      ...(t.hostKey ? { hostKey: new Uint8Array(t.hostKey) } : {}),
      ...(t.topicPrefix ? { topicPrefix: t.topicPrefix } : {}),
      ...(t.game ? { game: t.game } : {}),
    };
  return ticket;
}
