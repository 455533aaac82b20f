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

/** Where the private keys of live sessions are kept, so a restarted client can rejoin its game. */
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

export interface SessionKey {
  keyPem: string;
  /** SPKI DER, what `session.claim` carries */
  publicKeyDer: Uint8Array<ArrayBuffer>;
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
  };
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
  let serverMadeKey = false;
  if (t.privateKey !== undefined) {
    try {
      keyPem = createPrivateKey({ key: Buffer.from(t.privateKey), format: 'der', type: 'pkcs8' })
        .export({ format: 'pem', type: 'pkcs8' })
        .toString();
    } catch {
      throw badServerData('hand-off', 'the private key it carries cannot be parsed');
    }
    serverMadeKey = true;
  } else if (ownKey !== undefined) {
    keyPem = ownKey.keyPem;
  } else {
    throw badServerData('hand-off', 'it has no private key and this client sent no public key');
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
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
