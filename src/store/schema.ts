import type { Generated } from 'kysely';

/**
 * The tables, as Kysely sees them. One schema for both engines: times are ms since the epoch in
 * bigint columns, structured values are JSON in text columns (see json.ts), flags are 0/1
 * integers, so every query runs unchanged on SQLite and PostgreSQL.
 */
export interface Database {
  accounts: {
    account_id: string;
    username_key: string;
    username: string;
    display_name: string;
    password_hash: string;
    created_at: number;
    data: string | null;
  };
  bans: {
    id: string;
    target: string;
    reason: string;
    created_at: number;
    expires_at: number | null;
    by_whom: string | null;
  };
  ratings: {
    player_id: string;
    mode: string;
    rating: number;
    updated_at: number;
  };
  lobbies: {
    id: string;
    code: string | null;
    state: string;
    node: string;
    snapshot: string;
    created_at: number;
    updated_at: number;
  };
  tickets: {
    id: string;
    mode: string;
    node: string;
    ticket: string;
    created_at: number;
  };
  hosts: {
    name: string;
    node: string;
    state: string;
    address: string | null;
    region: string | null;
    transports: string;
    capacity: number;
    active: number;
    last_heartbeat: number;
  };
  sessions: {
    id: string;
    state: string;
    live: number;
    unacked: number;
    host_name: string;
    transport: string;
    record: string;
    created_at: number;
    updated_at: number;
  };
  session_players: {
    session_id: string;
    player_id: string;
    live: number;
  };
  results: {
    session_id: string;
    host: string;
    recorded_at: number;
    results: string;
  };
  audit_log: {
    id: Generated<number>;
    at: number;
    actor_name: string;
    actor_fingerprint: string;
    action: string;
    target: string | null;
    details: string;
    outcome: string;
    error: string | null;
  };
  session_certs: {
    serial: string;
    fingerprint: string;
    player_id: string;
    seat: string;
    session_id: string;
    issued_at: number;
    expires_at: number;
  };
}
