/** manifest.json: the list of every certificate in a PKI folder. Validated strictly on load. */
import { z } from 'zod';
import { IyesmpError } from '../errors.js';
import { pkiError } from './errors.js';
import { ID_PATTERN } from './names.js';
import type { ManifestEntry } from './types.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

const relPath = z
  .string()
  .min(1)
  .max(200)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a relative path inside the PKI folder');
const hex = z.string().regex(/^[0-9a-f]+$/);
const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date');

const entrySchema = z.object({
  name: z.string().regex(ID_PATTERN),
  role: z.enum(['master', 'auth', 'host', 'clientauth', 'sessionauth', 'client', 'session', 'admin']),
  certFile: relPath,
  keyFile: relPath.optional(),
  keyEncrypted: z.boolean(),
  algorithm: z.enum(['p256', 'p384', 'ed25519']),
  serial: hex,
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  subject: z.string(),
  issuer: z.string(),
  notBefore: iso,
  notAfter: iso,
  status: z.enum(['active', 'retired']).optional(),
  clientAuthId: z.number().int().positive().optional(),
  dnsNames: z.array(z.string()).optional(),
  ipAddresses: z.array(z.string()).optional(),
});

const manifestSchema = z.object({
  version: z.number().int(),
  pkiId: z.string().regex(/^[0-9a-f]{8,32}$/),
  organization: z.string().min(1).max(64),
  algorithm: z.enum(['p256', 'p384', 'ed25519']),
  createdAt: iso,
  /** bumped each time the signed ClientAuth list is rewritten */
  trustSequence: z.number().int().nonnegative(),
  entries: z.array(entrySchema),
});

export type Manifest = z.infer<typeof manifestSchema> & { entries: ManifestEntry[] };

/** Parses and checks manifest text; every problem is an IyesmpError('input', 'bad_manifest'). */
export function parseManifest(text: string, source = MANIFEST_FILE): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad(source, 'it is not valid JSON (truncated or edited?)');
  }
  if (raw && typeof raw === 'object' && 'version' in raw && (raw as { version: unknown }).version !== MANIFEST_VERSION) {
    throw pkiError(
      'manifest_version',
      `${source}: manifest version ${JSON.stringify((raw as { version: unknown }).version)} is not supported (this iyesmp reads version ${MANIFEST_VERSION})`,
      {
        hint: 'use the iyesmp release that wrote this PKI',
      },
    );
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw bad(source, `${issue?.path.join('.') || 'top level'}: ${issue?.message ?? 'invalid'}`);
  }
  const m = parsed.data as Manifest;
  const names = new Set<string>();
  for (const e of m.entries) {
    if (names.has(e.name)) throw bad(source, `two entries are named ${e.name}`);
    names.add(e.name);
  }
  for (const e of m.entries) {
    if (!names.has(e.issuer)) throw bad(source, `${e.name}: issuer ${e.issuer} is not in the manifest`);
    if (e.role === 'clientauth' && (e.clientAuthId === undefined || e.status === undefined)) {
      throw bad(source, `${e.name}: a ClientAuth entry needs clientAuthId and status`);
    }
  }
  if (m.entries.filter((e) => e.role === 'master').length !== 1) throw bad(source, 'there must be exactly one master entry');
  return m;
}

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 2) + '\n';
}

function bad(source: string, why: string): IyesmpError {
  return pkiError('bad_manifest', `${source} is damaged: ${why}`, {
    hint: 'restore the PKI folder from a backup',
  });
}
