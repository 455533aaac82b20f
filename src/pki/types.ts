/**
 * The PKI's public contract. Commands, the transport and the servers program against these types;
 * src/pki implements them. Change a name here only together with every user.
 */

export type KeyAlgorithm = 'p256' | 'p384' | 'ed25519';

/** Machine-checkable roles, carried in each certificate (URI SAN `iyesmp:role/...`), never inferred from a CN. */
export type Role = 'master' | 'auth' | 'host' | 'clientauth' | 'sessionauth' | 'client' | 'session' | 'admin';

export type ClientAuthStatus = 'active' | 'retired';

/** One certificate as listed in the PKI folder's manifest. Paths are relative to the PKI folder. */
export interface ManifestEntry {
  /** unique name inside this PKI, e.g. `master`, `auth`, `host-1`, `clientauth-2`, `client-clientauth-2-1` */
  name: string;
  role: Role;
  certFile: string;
  /** absent when the key is not kept here (for example a session cert minted from a client's public key) */
  keyFile?: string;
  keyEncrypted: boolean;
  algorithm: KeyAlgorithm;
  /** hex, no colons */
  serial: string;
  /** SHA-256 of the DER certificate, lowercase hex */
  fingerprint: string;
  subject: string;
  /** manifest name of the issuer (itself for master) */
  issuer: string;
  notBefore: string; // ISO 8601
  notAfter: string; // ISO 8601
  /** ClientAuth CAs only */
  status?: ClientAuthStatus;
  /** ClientAuth CAs only: sequence number N of ClientAuth-N */
  clientAuthId?: number;
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** Why a peer certificate chain was refused. Stable identifiers: they travel in protocol errors. */
export type RefusalReason =
  | 'malformed' // not parseable as a certificate chain
  | 'expired'
  | 'not_yet_valid'
  | 'unknown_issuer' // does not chain to a trusted CA of this PKI (foreign CA)
  | 'retired_clientauth' // chains to a ClientAuth that has been retired: an old game build
  | 'wrong_role' // a valid cert of this PKI, but not of the role the policy wants
  | 'wrong_session' // a session cert for another session or player
  | 'wrong_fingerprint' // a session cert that is not the one the host was told to expect
  | 'bad_signature';

/** What a verifier checks a presented chain against. */
export type VerifyPolicy =
  /** a game client connecting to an Auth server: Client cert under an *active* ClientAuth */
  | { kind: 'auth-client' }
  /** a Host server dialling an Auth server (or a client checking a host's server cert): Host role under Master */
  | { kind: 'host' }
  /** a client checking the Auth server it dialled */
  | { kind: 'auth-server' }
  /** a player connecting to a host after hand-off */
  | { kind: 'session'; sessionId: string; playerId?: string; fingerprint?: string }
  /** an operator on a server's admin channel: Admin role under Master */
  | { kind: 'admin' };

export interface VerifiedPeer {
  role: Role;
  /** role-specific name: host name, client build label, player id... */
  name: string;
  subject: string;
  fingerprint: string;
  serial: string;
  notAfter: Date;
  /** session certs only */
  sessionId?: string;
  playerId?: string;
  /** client certs only: which ClientAuth signed it */
  clientAuthId?: number;
}

export type VerifyResult = { ok: true; peer: VerifiedPeer } | { ok: false; reason: RefusalReason; message: string };

export interface PeerVerifier {
  /** `chain` is DER, leaf first; intermediates optional (the verifier knows this PKI's CAs). */
  verify(chain: readonly Uint8Array[], policy: VerifyPolicy, now?: Date): Promise<VerifyResult>;
}

export interface MintSessionRequest {
  /** the client's public key: SPKI DER or PEM */
  publicKey: Uint8Array | string;
  sessionId: string;
  playerId: string;
  /** default 3600 */
  ttlSeconds?: number;
  now?: Date;
}

export interface MintedSession {
  certPem: string;
  certDer: Uint8Array;
  fingerprint: string;
  serial: string;
  notAfter: Date;
  /** SessionAuth chain (PEM) a host needs, for convenience */
  issuerPem: string;
}

/** Holds SessionAuth's cert and key in memory; minting happens at every hand-off so it must be fast. */
export interface SessionMinter {
  mint(req: MintSessionRequest): Promise<MintedSession>;
}
