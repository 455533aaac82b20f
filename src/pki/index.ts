/**
 * iyesmp PKI library: the certificate hierarchy on disk (init, issue, rotate, retire, check),
 * the signed ClientAuth list servers trust, the peer verifier for TLS callbacks and the fast
 * session-cert minter. See docs/pki.md.
 */
export * from './types.js';
export type * from './api.js';
export { openPki, Pki, type RetirePlan } from './pki.js';
export { initPki } from './init.js';
export { MANIFEST_FILE, MANIFEST_VERSION, type Manifest } from './manifest.js';
export {
  loadTrustBundle,
  TRUST_DIR,
  TRUST_LIST_FILE,
  TRUST_SIG_FILE,
  type TrustBundle,
  type TrustedCa,
  type TrustedClientAuth,
  type LoadTrustOptions,
} from './trust.js';
export { createVerifier, type IyesmpVerifier } from './verifier.js';
export {
  createSessionMinter,
  loadSessionMinter,
  type FastSessionMinter,
  type SessionMinterOptions,
  type LoadSessionMinterOptions,
} from './session.js';
export { readPublicKey, generateKeyPair, type GeneratedKeyPair } from './keys.js';
export { validateSessionId, validatePlayerId, validateName, roleUri, sessionUri, sessionIdentityOf, ID_PATTERN } from './names.js';
export { pemToDerList, derToPem, sha256Hex, derFingerprint } from './pem.js';
export { PKI_ERRORS, type PkiErrorCode } from './errors.js';
