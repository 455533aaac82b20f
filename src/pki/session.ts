/**
 * Session-cert minting. Runs at every hand-off, so the SessionAuth key is parsed once and the cert
 * is filled into a DER template (session-template.ts): a mint is one strict SPKI read, one template
 * copy with the changing fields written in place, one node:crypto signature, and the PEM. Serials
 * come from a pooled random buffer. bench/pki.bench.js measures it against raw signatures.
 */
import { promises as fs } from 'node:fs';
import { pkiError } from './errors.js';
import type { MintedSessionWithKey, PassphraseProvider } from './api.js';
import type { KeyAlgorithm, MintSessionRequest, MintedSession, SessionMinter } from './types.js';
import { hash as oneShotHash, sign } from 'node:crypto';
import { parseClientKey, type ClientKey } from './spki.js';
import { algorithmOf, generateKeyPair, loadPrivateKey, exportPrivateKeyPem, hashOf, spkiDer } from './keys.js';
import { validatePlayerId, validateSessionId } from './names.js';
import { derToPem } from './pem.js';
import { ioError } from './fsutil.js';
import { parseCa } from './trust.js';
import { SerialPool, SessionTemplates, sessionIssuer } from './session-template.js';

/**
 * Session certs are carved from 32 KiB slabs, as Buffer's pool does for small buffers, but as plain
 * Uint8Arrays: a fresh `new Uint8Array` of cert size gets its own backing store, which cost about
 * 0.5 µs and more GC work per mint. A cert kept alive keeps its slab (about 50 certs) alive.
 */
class CertSlab {
  #buf = new ArrayBuffer(32 * 1024);
  #at = 0;

  take(n: number): Uint8Array {
    if (n > 4096) return new Uint8Array(n);
    if (this.#at + n > this.#buf.byteLength) {
      this.#buf = new ArrayBuffer(32 * 1024);
      this.#at = 0;
    }
    const out = new Uint8Array(this.#buf, this.#at, n);
    this.#at += (n + 7) & ~7;
    return out;
  }
}

/**
 * A mint's result. A class rather than an object literal with a `certPem` getter: V8 builds a literal
 * with an accessor through the runtime, with a new closure each time (about 0.8 µs, every mint). The
 * PEM is made on first read (the Auth server's hand-off sends the DER and never reads it); toJSON
 * keeps it in JSON output, where an own property would have been.
 */
class Minted implements MintedSession {
  #pem: string | undefined;

  constructor(
    readonly certDer: Uint8Array,
    readonly fingerprint: string,
    readonly serial: string,
    readonly notAfter: Date,
    readonly issuerPem: string,
  ) {}

  get certPem(): string {
    this.#pem ??= derToPem(this.certDer);
    return this.#pem;
  }

  toJSON(): MintedSession {
    return {
      certPem: this.certPem,
      certDer: this.certDer,
      fingerprint: this.fingerprint,
      serial: this.serial,
      notAfter: this.notAfter,
      issuerPem: this.issuerPem,
    };
  }
}

export const DEFAULT_SESSION_TTL = 3600;
/** a session cert is for one game; a week is already generous */
export const MAX_SESSION_TTL = 7 * 24 * 3600;
/** tolerate small clock differences between auth server and host */
const BACKDATE_MS = 60_000;

export interface FastSessionMinter extends SessionMinter {
  readonly algorithm: KeyAlgorithm;
  /** SessionAuth cert, PEM */
  readonly issuerPem: string;
  /** seed-design option: generate the client's key pair here and return its private key too */
  mintWithNewKey(req: Omit<MintSessionRequest, 'publicKey'> & { algorithm?: KeyAlgorithm }): Promise<MintedSessionWithKey>;
}

export interface SessionMinterOptions {
  /** SessionAuth cert PEM */
  certPem: string;
  /** SessionAuth key, PKCS#8 PEM (maybe encrypted) */
  keyPem: string;
  passphrase?: PassphraseProvider;
}

export interface LoadSessionMinterOptions {
  certFile: string;
  keyFile: string;
  passphrase?: PassphraseProvider;
}

export async function loadSessionMinter(opts: LoadSessionMinterOptions): Promise<FastSessionMinter> {
  const read = (f: string) => fs.readFile(f, 'utf8').catch((err: unknown) => Promise.reject(ioError(err, 'read', f)));
  return createSessionMinter({ certPem: await read(opts.certFile), keyPem: await read(opts.keyFile), passphrase: opts.passphrase });
}

export async function createSessionMinter(opts: SessionMinterOptions): Promise<FastSessionMinter> {
  const ca = parseCa(opts.certPem, 'sessionauth', 'sessionauth', 'SessionAuth certificate');
  const key = await loadPrivateKey(opts.keyPem, 'SessionAuth key', opts.passphrase);
  const algorithm = algorithmOf(key, 'SessionAuth key');
  if (!ca.node.checkPrivateKey(key)) {
    throw pkiError('key_mismatch', 'the SessionAuth key does not belong to the SessionAuth certificate');
  }
  const organization = ca.cert.subjectName.getField('O')[0] ?? 'iyesmp';
  const issuer = sessionIssuer(ca.der, ca.keyId, algorithm, organization);
  const templates = new SessionTemplates(issuer);
  const serials = new SerialPool();
  const hash = hashOf(algorithm);
  const sigAlg = issuer.sigAlg;
  // reused by every mint (minting is synchronous from here to the signature)
  const serial = Buffer.alloc(16);
  const slab = new CertSlab();

  // synchronous: the promise is made once, in mint(), instead of one per async layer
  function mintFor(client: ClientKey, req: Omit<MintSessionRequest, 'publicKey'>): Minted {
    const sessionId = validateSessionId(req.sessionId);
    const playerId = validatePlayerId(req.playerId);
    const ttl = req.ttlSeconds ?? DEFAULT_SESSION_TTL;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_SESSION_TTL) {
      throw pkiError('bad_ttl', `session ttl ${ttl}s is out of range (1..${MAX_SESSION_TTL})`);
    }
    // whole seconds, as every cert of this PKI (profiles.ts floorSeconds), without the Dates
    const nowMs = Math.floor((req.now ? req.now.getTime() : Date.now()) / 1000) * 1000;
    if (nowMs < ca.notBefore.getTime()) {
      throw pkiError('issuer_not_yet_valid', `SessionAuth is not valid before ${ca.notBefore.toISOString()}`, {
        hint: 'check the clock of this machine',
      });
    }
    if (nowMs >= ca.notAfter.getTime()) {
      throw pkiError('issuer_expired', `SessionAuth expired at ${ca.notAfter.toISOString()}`, {
        hint: 'issue a new PKI or SessionAuth',
      });
    }
    // validity nested inside SessionAuth's, as for every cert of this PKI
    const notBefore = new Date(Math.max(nowMs - BACKDATE_MS, ca.notBefore.getTime()));
    const notAfter = new Date(Math.min(nowMs + ttl * 1000, ca.notAfter.getTime()));
    serials.next(serial);
    const fields = {
      serial,
      notBefore,
      notAfter,
      sessionId,
      playerId,
      spki: client.spki,
      ski: oneShotHash('sha1', client.raw, 'binary'),
    };
    const tbs = templates.tbs(fields);
    const tbsLength = tbs.length;
    const signature = sign(hash, tbs, key);
    // Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING (no unused bits) signature },
    // the two headers written byte by byte (a signature is under 128 bytes, the body under 64 KiB)
    const bits = signature.length + 1;
    const bitsHead = bits < 0x80 ? 2 : 3;
    const bodyLength = tbsLength + sigAlg.length + bitsHead + bits;
    const head = bodyLength < 0x80 ? 2 : bodyLength < 0x100 ? 3 : 4;
    const certDer = slab.take(head + bodyLength);
    let at = 0;
    certDer[at++] = 0x30;
    if (head === 4) certDer[at++] = 0x82;
    if (head === 3) certDer[at++] = 0x81;
    if (head === 4) certDer[at++] = bodyLength >> 8;
    certDer[at++] = bodyLength & 0xff;
    certDer.set(tbs, at);
    at += tbsLength;
    certDer.set(sigAlg, at);
    at += sigAlg.length;
    certDer[at++] = 0x03;
    if (bitsHead === 3) certDer[at++] = 0x81;
    certDer[at++] = bits;
    certDer[at++] = 0;
    certDer.set(signature, at);
    return new Minted(certDer, oneShotHash('sha256', certDer, 'hex'), serial.toString('hex'), notAfter, ca.pem);
  }

  return {
    algorithm,
    issuerPem: ca.pem,
    mint(req) {
      try {
        return Promise.resolve(mintFor(parseClientKey(req.publicKey), req));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async mintWithNewKey(req) {
      const pair = generateKeyPair(req.algorithm ?? algorithm);
      const minted = mintFor(parseClientKey(new Uint8Array(spkiDer(pair.publicKey))), req);
      return { ...minted.toJSON(), privateKeyPem: exportPrivateKeyPem(pair.privateKey) };
    },
  };
}
