/**
 * Key material never appears in what config checking prints: a PEM block or a long base64 run in a
 * value (a key pasted where its path belongs) is replaced by a description of it.
 */

const PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;
// long enough for any key, with the mix of cases and digits random data has; a path has far more
// slashes than base64's one in 64
const BASE64 = /[A-Za-z0-9+/_-]{40,}={0,2}/g;
const isBlob = (s: string): boolean => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s) && (s.split('/').length - 1) * 16 <= s.length;

/** `text` with PEM blocks and base64 blobs replaced by `[PEM block not shown]` / `[base64 data not shown]`. */
export function redactSecrets(text: string): string {
  return text.replace(PEM, '[PEM block not shown]').replace(BASE64, (m) => (isBlob(m) ? '[base64 data not shown]' : m));
}

/** True when `text` holds a PEM block or a base64 blob. */
export function holdsKeyMaterial(text: string): boolean {
  return redactSecrets(text) !== text;
}
