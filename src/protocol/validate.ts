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
