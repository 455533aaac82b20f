/**
 * Structured values go to text columns as JSON, which both engines store alike. Session records
 * carry certificates and keys as Uint8Array, which JSON would turn into objects of numbers: they
 * are tagged and written as base64 instead.
 */
const TAG = '$bytes';

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { [TAG]: Buffer.from(v).toString('base64') } : v));
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const b = (v as Record<string, unknown>)[TAG];
      if (typeof b === 'string' && Object.keys(v).length === 1) return new Uint8Array(Buffer.from(b, 'base64'));
    }
    return v;
  }) as T;
}
