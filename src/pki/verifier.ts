/**
 * PeerVerifier: decides whether a presented chain belongs to this PKI and fits a policy, with a
 * precise RefusalReason. Called from TLS handshake callbacks, so CA certs and their public keys are
 * parsed once (from the trust bundle) and leaf parses are cached by fingerprint.
 */
import { X509Certificate as NodeCert } from 'node:crypto';
import type { PeerVerifier, RefusalReason, Role, VerifiedPeer, VerifyPolicy, VerifyResult } from './types.js';
import type { TrustBundle, TrustedCa, TrustedClientAuth } from './trust.js';
import { parseIdentity, uriSansOfNode, type ParsedIdentity } from './names.js';
import { PROFILES } from './profiles.js';
import { derFingerprint } from './pem.js';

interface ParsedLeaf {
  fingerprint: string;
  node: NodeCert;
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  eku: string[];
  identity: ParsedIdentity;
  /**
   * Which of this verifier's CAs issued the leaf and whether its signature verifies, found once:
   * both depend only on these bytes and the CA certificates, which are fixed for a verifier (a
   * reloaded trust list builds a new one). Every client presents the same game-build certificate,
   * so this saves an OpenSSL signature check and a name match per CA on every login. What can
   * change (a ClientAuth's retirement, validity against the clock, the policy) is checked anew
   * on every call.
   */
  issuer?: TrustedCa | null;
  signatureOk?: boolean;
}

/** What a leaf must be, independent of where the requirement came from (TLS policy or a file check). */
export interface LeafRequirement {
  role?: Role;
  sessionId?: string;
  playerId?: string;
  fingerprint?: string;
}

export interface IyesmpVerifier extends PeerVerifier {
  /** like verify, but with a plain role requirement (used by `certs verify`) */
  verifyLeaf(chain: readonly Uint8Array[], req: LeafRequirement, now?: Date): VerifyResult;
  /** the CA of this PKI with that fingerprint, if any */
  caByFingerprint(fp: string): TrustedCa | undefined;
}

const POLICY_ROLE: Record<VerifyPolicy['kind'], Role> = {
  'auth-client': 'client',
  host: 'host',
  'auth-server': 'auth',
  session: 'session',
  admin: 'admin',
};

const CACHE_MAX = 512;

export function createVerifier(bundle: TrustBundle): IyesmpVerifier {
  const cas: TrustedCa[] = [bundle.master, ...bundle.clientAuths, bundle.sessionAuth];
  const byFp = new Map(cas.map((c) => [c.fingerprint, c]));
  const cache = new Map<string, ParsedLeaf>();

  function parseLeaf(der: Uint8Array): ParsedLeaf | undefined {
    const fp = derFingerprint(der);
    const hit = cache.get(fp);
    if (hit) return hit;
    let leaf: ParsedLeaf;
    try {
      // node:crypto (OpenSSL) only: a fresh session cert per joining player misses the cache, and
      // @peculiar/x509 took about 2 ms to build per cert where node takes a tenth of that
      const node = new NodeCert(der);
      leaf = {
        fingerprint: fp,
        node,
        serial: node.serialNumber.toLowerCase(),
        // "O=iyesmp, OU=…, CN=…" as before (node prints one attribute per line)
        subject: node.subject.split('\n').join(', '),
        notBefore: new Date(node.validFrom),
        notAfter: new Date(node.validTo),
        isCa: node.ca,
        eku: node.keyUsage ?? [],
        identity: parseIdentity(uriSansOfNode(node)),
      };
      if (Number.isNaN(leaf.notBefore.getTime()) || Number.isNaN(leaf.notAfter.getTime())) return undefined;
    } catch {
      return undefined;
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(fp, leaf);
    return leaf;
  }

  function refuse(reason: RefusalReason, message: string): VerifyResult {
    return { ok: false, reason, message };
  }

  function findIssuer(leaf: ParsedLeaf): TrustedCa | undefined {
    // checkIssued compares issuer/subject names and AKI/SKI the way OpenSSL does; a PKI has a
    // handful of CAs, so they are all asked
    return cas.find((ca) => leaf.node.checkIssued(ca.node));
  }

  function verifyLeaf(chain: readonly Uint8Array[], req: LeafRequirement, now: Date = new Date()): VerifyResult {
    try {
      return check(chain, req, now);
    } catch {
      // OpenSSL may still refuse a cert late (odd key encodings): that is a malformed cert, not a crash
      return refuse('malformed', 'the presented certificate cannot be processed');
    }
  }

  function check(chain: readonly Uint8Array[], req: LeafRequirement, now: Date): VerifyResult {
    const first = chain[0];
    if (!first || first.length === 0) return refuse('malformed', 'no certificate was presented');
    const leaf = parseLeaf(first);
    if (!leaf) return refuse('malformed', 'the presented certificate cannot be parsed');
    const self = byFp.get(leaf.fingerprint);
    if (self) return refuse('wrong_role', `a CA certificate (${self.name}) was presented instead of a ${req.role ?? 'leaf'} certificate`);
    if (leaf.issuer === undefined) leaf.issuer = findIssuer(leaf) ?? null;
    const issuer = leaf.issuer;
    if (!issuer) {
      return refuse('unknown_issuer', `the certificate (${leaf.subject}) was not issued by this PKI's CAs`);
    }
    leaf.signatureOk ??= leaf.node.verify(issuer.node.publicKey);
    if (!leaf.signatureOk) {
      return refuse('bad_signature', `the certificate claims ${issuer.name} as issuer but its signature does not verify`);
    }
    const id = leaf.identity;
    if (issuer.role === 'clientauth' && (issuer as TrustedClientAuth).status === 'retired') {
      return refuse('retired_clientauth', `this game build's certificate was issued by a retired ClientAuth (${issuer.name}): update the game`);
    }
    const t = now.getTime();
    if (t < issuer.notBefore.getTime()) return refuse('not_yet_valid', `the issuing CA ${issuer.name} is not valid before ${issuer.notBefore.toISOString()}`);
    if (t > issuer.notAfter.getTime()) return refuse('expired', `the issuing CA ${issuer.name} expired at ${issuer.notAfter.toISOString()}`);
    if (t < leaf.notBefore.getTime()) return refuse('not_yet_valid', `the certificate is not valid before ${leaf.notBefore.toISOString()} (check clocks)`);
    if (t > leaf.notAfter.getTime()) return refuse('expired', `the certificate expired at ${leaf.notAfter.toISOString()}`);
    if (id.conflicting || !id.role) return refuse('wrong_role', 'the certificate carries no single iyesmp role');
    const profile = PROFILES[id.role];
    if (leaf.isCa || profile.ca) return refuse('wrong_role', `a ${id.role} CA certificate cannot be a peer`);
    if (profile.issuerRole !== issuer.role) {
      return refuse('wrong_role', `a ${id.role} certificate must be issued by ${profile.issuerRole}, not by ${issuer.name}`);
    }
    if (!(profile.eku ?? []).every((u) => leaf.eku.includes(u))) {
      return refuse('wrong_role', `the ${id.role} certificate lacks the extended key usage its role needs`);
    }
    if (req.role && id.role !== req.role) {
      return refuse('wrong_role', `expected a ${req.role} certificate, got a ${id.role} certificate (${id.name ?? '?'})`);
    }
    if (id.role === 'session' && (!id.sessionId || !id.playerId)) return refuse('wrong_role', 'a session certificate without session and player');
    if (req.sessionId !== undefined && id.sessionId !== req.sessionId) {
      return refuse('wrong_session', `the session certificate is for session ${id.sessionId ?? '?'}, not ${req.sessionId}`);
    }
    if (req.playerId !== undefined && id.playerId !== req.playerId) {
      return refuse('wrong_session', `the session certificate is for player ${id.playerId ?? '?'}, not ${req.playerId}`);
    }
    if (req.fingerprint !== undefined && normFp(req.fingerprint) !== leaf.fingerprint) {
      return refuse('wrong_fingerprint', 'the session certificate is not the one the host was told to expect');
    }
    const peer: VerifiedPeer = {
      role: id.role,
      name: id.role === 'session' ? (id.playerId ?? '') : (id.name ?? ''),
      subject: leaf.subject,
      fingerprint: leaf.fingerprint,
      serial: leaf.serial,
      notAfter: leaf.notAfter,
    };
    if (id.role === 'session') {
      peer.sessionId = id.sessionId;
      peer.playerId = id.playerId;
    }
    if (issuer.role === 'clientauth') peer.clientAuthId = (issuer as TrustedClientAuth).id;
    return { ok: true, peer };
  }

  return {
    verifyLeaf,
    caByFingerprint: (fp) => byFp.get(normFp(fp)),
    async verify(chain, policy, now) {
      const req: LeafRequirement = { role: POLICY_ROLE[policy.kind] };
      if (!req.role) return refuse('wrong_role', `unknown verify policy ${String((policy as { kind: unknown }).kind)}`);
      if (policy.kind === 'session') {
        req.sessionId = policy.sessionId;
        if (policy.playerId !== undefined) req.playerId = policy.playerId;
        if (policy.fingerprint !== undefined) req.fingerprint = policy.fingerprint;
      }
      return verifyLeaf(chain, req, now);
    },
  };
}

function normFp(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}
