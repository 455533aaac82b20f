import { ErrorCodes } from './error-codes.js';
import type { ProtocolVersion } from './envelope.js';

export type VersionVerdict = 'ok' | 'too_old' | 'too_new';

/**
 * Protocol version rule: majors must match; minors interoperate and the lower one is used.
 * The verdict is about the *peer*: 'too_old' means the peer's major is below ours.
 */
export function negotiateProtocol(
  ours: ProtocolVersion,
  peer: ProtocolVersion,
): { verdict: 'ok'; version: ProtocolVersion } | { verdict: 'too_old' | 'too_new' } {
  if (peer.major < ours.major) return { verdict: 'too_old' };
  if (peer.major > ours.major) return { verdict: 'too_new' };
  return { verdict: 'ok', version: { major: ours.major, minor: Math.min(ours.minor, peer.minor) } };
}

/** The game's own compatibility rule for the peer's game build version. */
export type GameVersionCheck = (peerVersion: string) => VersionVerdict | boolean;

/**
 * Compares dotted numeric versions ("1.10.2" > "1.9"); a pre-release or build suffix after '-' or
 * '+' is ignored. Hand-written (15 lines) instead of adding `semver` for one comparison; games with
 * richer rules pass their own GameVersionCheck.
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .split(/[-+]/, 1)[0]!
      .split('.')
      .map((p) => (/^\d+$/.test(p) ? Number(p) : 0));
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** A GameVersionCheck accepting `min <= v` and `v < below` (either bound optional). */
export function gameVersionRange(range: { min?: string; below?: string }): GameVersionCheck {
  return (peer) => {
    if (range.min !== undefined && compareVersions(peer, range.min) < 0) return 'too_old';
    if (range.below !== undefined && compareVersions(peer, range.below) >= 0) return 'too_new';
    return 'ok';
  };
}

export function verdictCode(verdict: 'too_old' | 'too_new'): string {
  return verdict === 'too_old' ? ErrorCodes.versionTooOld : ErrorCodes.versionTooNew;
}
