import type { z } from 'zod';

export type Checked = { ok: true; value: unknown } | { ok: false; message: string };

/** Short, bounded description of what failed: enough for a log line or an error reply. */
export function summarizeIssues(error: z.ZodError): string {
  const parts = error.issues.slice(0, 3).map((i) => {
    const path = i.path.map(String).join('.');
    return `${path === '' ? '(body)' : path}: ${i.message}`;
  });
  if (error.issues.length > 3) parts.push(`and ${error.issues.length - 3} more`);
  const text = parts.join('; ');
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/**
 * Validates a message body against its schema, then (if the game supplied one) its `ext` field
 * against the game's ext schema. The parsed result replaces the input, so unknown keys are dropped.
 */
export function checkBody(schema: z.ZodType, body: unknown, extSchema: z.ZodType | undefined): Checked {
  const parsed = schema.safeParse(body);
  if (!parsed.success) return { ok: false, message: summarizeIssues(parsed.error) };
  const value = parsed.data;
  if (extSchema !== undefined && typeof value === 'object' && value !== null && 'ext' in value) {
    const ext = (value as { ext?: unknown }).ext;
    if (ext !== undefined) {
      const extParsed = extSchema.safeParse(ext);
      if (!extParsed.success) return { ok: false, message: `ext: ${summarizeIssues(extParsed.error)}` };
      return { ok: true, value: { ...value, ext: extParsed.data } };
    }
  }
  return { ok: true, value };
}

/**
 * The path of the first key of `sent` (with a value other than undefined) that `checked`, its
 * schema-parsed copy, no longer has: what an unchecked send would put on the wire that a checked one
 * would not. `ext` slots are opaque and not looked into. Undefined when nothing was dropped.
 */
export function droppedPath(sent: unknown, checked: unknown, path = '(body)'): string | undefined {
  if (typeof sent !== 'object' || sent === null || typeof checked !== 'object' || checked === null) return undefined;
  if (ArrayBuffer.isView(sent)) return undefined;
  if (Array.isArray(sent)) {
    if (!Array.isArray(checked)) return undefined;
    for (let i = 0; i < sent.length; i++) {
      const d = droppedPath(sent[i], checked[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const out = checked as Record<string, unknown>;
  for (const [k, v] of Object.entries(sent)) {
    if (v === undefined) continue;
    const at = path === '(body)' ? k : `${path}.${k}`;
    if (!Object.hasOwn(out, k)) return at;
    if (k === 'ext') continue;
    const d = droppedPath(v, out[k], at);
    if (d !== undefined) return d;
  }
  return undefined;
}
