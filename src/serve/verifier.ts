import { createVerifier, loadTrustBundle } from '../pki/index.js';
import type { PeerVerifier, VerifyPolicy, VerifyResult } from '../pki/types.js';

/**
 * A PeerVerifier whose trust data can be re-read at run time (SIGHUP after `iyesmp certs retire`
 * or a rotation): the servers hold this object, and `reload()` swaps the verifier inside it.
 * A trust list that fails its checks leaves the running one in place.
 */
export class ReloadableVerifier implements PeerVerifier {
  #inner: PeerVerifier;
  #sequence: number;

  private constructor(
    readonly trustDir: string,
    inner: PeerVerifier,
    sequence: number,
  ) {
    this.#inner = inner;
    this.#sequence = sequence;
  }

  static async load(trustDir: string): Promise<ReloadableVerifier> {
    const bundle = await loadTrustBundle(trustDir);
    return new ReloadableVerifier(trustDir, createVerifier(bundle), bundle.sequence);
  }

  /** The trust list's sequence number in use. */
  get sequence(): number {
    return this.#sequence;
  }

  verify(chain: readonly Uint8Array[], policy: VerifyPolicy, now?: Date): Promise<VerifyResult> {
    return this.#inner.verify(chain, policy, now);
  }

  /** Re-reads the trust folder; refuses a list older than the one in use (rollback). */
  async reload(): Promise<number> {
    const bundle = await loadTrustBundle(this.trustDir, { minSequence: this.#sequence });
    this.#inner = createVerifier(bundle);
    this.#sequence = bundle.sequence;
    return bundle.sequence;
  }
}
