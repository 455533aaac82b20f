import type { Grant, GrantCommand } from './acl.js';

/**
 * Where broker nodes that share a Redis keep the grants and kicks in force, so a node that starts
 * after a grant was sent (grants otherwise travel only as messages) enforces it too. Written once
 * per command, by the node the host's control message reaches, before any node applies it.
 */
export interface GrantStore {
  save(cmds: readonly GrantCommand[]): Promise<void>;
  /** every grant and kick recorded, as commands to apply at a node's start */
  load(): Promise<GrantCommand[]>;
  close(): Promise<void>;
}

/** A recorded seat: its grant, or `kicked`. */
export type StoredSeat = { grant: Grant } | { kicked: true };

/** The commands a stored session's seats stand for (a kick after a grant of the same seat wins: one entry per seat). */
export function commandsOfStored(sessionId: string, seats: Record<string, string>): GrantCommand[] {
  const out: GrantCommand[] = [];
  for (const [playerId, raw] of Object.entries(seats)) {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const s = v as Record<string, unknown>;
    if (s.kicked === true) out.push({ op: 'kick', sessionId, playerId });
    else if (typeof s.grant === 'object' && s.grant !== null) out.push({ op: 'grant', sessionId, playerId, grant: s.grant as Grant });
  }
  return out;
}
