import type { AuthConfig } from '../config/auth.js';
import type { HostConfig } from '../config/host.js';

/**
 * Settings the config schema accepts (they are part of the documented file format) but this build
 * does not act on. `serve` logs one warning per entry at start, so an operator is never left
 * believing a setting works when it is silently ignored. Settings that cannot be honoured safely
 * (encrypted server keys, QUIC disabled) are refused instead (config.ts).
 */
export interface Unserved {
  /** the config key, as written in the file */
  key: string;
  message: string;
}

/** Every Auth setting is served now (the store took `[database]`, the log schema `logging.format`). */
export function unservedAuthSettings(_c: AuthConfig): Unserved[] {
  return [];
}

export function unservedHostSettings(c: HostConfig): Unserved[] {
  const out: Unserved[] = [];
  const labels = Object.keys(c.host.labels).filter((k) => k !== 'game_version');
  if (labels.length > 0) {
    out.push({
      key: 'host.labels',
      message: `host.labels ${labels.join(', ')}: not used by this build (only game_version is, as the host's version); the Auth server does not pick hosts by label`,
    });
  }
  return out;
}
