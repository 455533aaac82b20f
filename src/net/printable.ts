/**
 * Text that came from a peer, made safe to show on an operator's terminal: control characters
 * (C0, DEL, C1: ESC and CSI start terminal escape sequences that can rewrite the screen, set the
 * window title or, in some terminals, the clipboard) and the bidirectional overrides (which make a
 * line read differently from what it holds) become visible `\xHH` / `\uHHHH` escapes.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
