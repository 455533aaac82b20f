/**
 * Glue between @matrixai/quic's TLS verify callback and a PeerVerifier. The callback only sees the
 * peer's DER chain, not which connection it belongs to, so accepted results are remembered by leaf
 * fingerprint for the moment the connection object appears (the same bytes were just proven by the
 * TLS handshake, so the result is the same); a miss simply verifies again.
 */
import { X509Certificate } from 'node:crypto';
import { derFingerprint } from '../pki/pem.js';
import type { PeerVerifier, RefusalReason, VerifiedPeer, VerifyPolicy } from '../pki/types.js';
import { INTERNAL_CRYPTO_ERROR, refusalToCryptoError } from './refusal.js';

/**
 * A chain that verifies under `policy` is refused all the same, with this reason and message: the
 * resolver knows the chain is no good here (say, its session does not run on this host) but the
 * peer still learns only what verification would tell it, and a bad chain is refused for itself.
 */
export interface PolicyRefusal {
  policy: VerifyPolicy;
  refuse: { reason: RefusalReason; message: string };
}

export type PolicyResolver = (chain: readonly Uint8Array[]) => VerifyPolicy | PolicyRefusal | Promise<VerifyPolicy | PolicyRefusal>;

export interface Refusal {
  reason: RefusalReason | 'verifier_error';
  message: string;
  /** subject of the refused leaf, when it parses */
  subject?: string;
  fingerprint?: string;
}

export function leafFingerprint(chain: readonly Uint8Array[]): string | undefined {
  const leaf = chain[0];
  return leaf === undefined ? undefined : derFingerprint(leaf);
}

function subjectOf(der: Uint8Array | undefined): string | undefined {
  if (der === undefined) return undefined;
  try {
    return new X509Certificate(der).subject.replace(/\n/g, ', ');
  } catch {
    return undefined;
  }
}

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 4096;

export class VerifyGate {
  private readonly cache = new Map<string, { peer: VerifiedPeer; at: number }>();

  constructor(
    /** replaceable: a server swaps in a verifier built from a reloaded trust list */
    public verifier: PeerVerifier,
    public policy: VerifyPolicy | PolicyResolver,
    private readonly now: (() => Date) | undefined,
    private readonly onRefused: (r: Refusal) => void,
  ) {}

  async verify(
    chain: readonly Uint8Array[],
    fingerprint = leafFingerprint(chain),
  ): Promise<{ ok: true; peer: VerifiedPeer } | { ok: false; refusal: Refusal }> {
    try {
      const decided = typeof this.policy === 'function' ? await this.policy(chain) : this.policy;
      const refusal = 'refuse' in decided ? decided.refuse : undefined;
      const r = await this.verifier.verify(chain, 'refuse' in decided ? decided.policy : decided, this.now?.());
      if (r.ok && refusal) return { ok: false, refusal: { ...refusal, subject: subjectOf(chain[0]), fingerprint } };
      if (r.ok) return r;
      return {
        ok: false,
        refusal: { reason: r.reason, message: r.message, subject: subjectOf(chain[0]), fingerprint },
      };
    } catch (e) {
      return {
        ok: false,
        refusal: { reason: 'verifier_error', message: (e as Error).message, subject: subjectOf(chain[0]), fingerprint },
      };
    }
  }

  /** The function given to @matrixai/quic as `verifyCallback`. */
  readonly callback = async (certs: Uint8Array[]): Promise<number | undefined> => {
    const fp = leafFingerprint(certs);
    const r = await this.verify(certs, fp);
    if (r.ok) {
      if (fp !== undefined) this.remember(fp, r.peer);
      return undefined;
    }
    this.onRefused(r.refusal);
    return r.refusal.reason === 'verifier_error' ? INTERNAL_CRYPTO_ERROR : refusalToCryptoError(r.refusal.reason);
  };

  /** The verified peer for a chain a connection presented: remembered, or verified again. */
  async peerFor(chain: readonly Uint8Array[]): Promise<{ ok: true; peer: VerifiedPeer } | { ok: false; refusal: Refusal }> {
    const fp = leafFingerprint(chain);
    const hit = fp === undefined ? undefined : this.cache.get(fp);
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return { ok: true, peer: hit.peer };
    return this.verify(chain, fp);
  }

  /** Forget remembered results (after the verifier or policy changed). */
  clear(): void {
    this.cache.clear();
  }

  private remember(fp: string, peer: VerifiedPeer): void {
    const t = Date.now();
    if (this.cache.size >= CACHE_MAX) {
      for (const [k, v] of this.cache) if (t - v.at >= CACHE_TTL_MS) this.cache.delete(k);
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.delete(fp); // re-insert so Map order stays oldest-first
    this.cache.set(fp, { peer, at: t });
  }
}
