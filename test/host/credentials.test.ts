import { describe, expect, it } from 'vitest';
import { SessionTable } from '../../src/host/session-table.js';
import type { ExpectedPlayer, SeatClaim, SeatCredential } from '../../src/host/types.js';
import { fp, player, spec } from './helpers.js';

const A = { ip: '10.0.0.1', port: 4000 };

function netcodeSeat(id: string, clientId: bigint): ExpectedPlayer {
  return { playerId: id, address: { ip: A.ip }, netcodeClientId: clientId, displayName: id };
}

function claim(sessionId: string, playerId: string, credential: SeatCredential): SeatClaim {
  return { sessionId, playerId, credential };
}

describe('admission by seat credential', () => {
  it('admits a netcode seat by its client id, and refuses another id with wrong_client_id', () => {
    const t = new SessionTable({ maxSessions: 2, maxPlayers: 4 });
    expect(t.create(spec('n', [netcodeSeat('a', 7n), netcodeSeat('b', 8n)], { transport: 'netcode' }), 0).ok).toBe(true);
    const wrong = t.admit({ source: A, peer: claim('n', 'a', { kind: 'netcode', clientId: 8n }), connectionId: 'x' }, 1);
    expect(wrong).toMatchObject({ ok: false, reason: 'wrong_client_id' });
    expect(t.admit({ source: A, peer: claim('n', 'a', { kind: 'netcode', clientId: 7n }), connectionId: 'c' }, 2)).toMatchObject({ ok: true });
    expect(t.session('n')!.players.find((p) => p.playerId === 'a')).toMatchObject({ netcodeClientId: 7n, status: 'connected' });
  });

  it('never lets one kind of proof stand in for another', () => {
    const t = new SessionTable({ maxSessions: 2, maxPlayers: 4 });
    t.create(spec('q', [player('a', A.ip)]), 0);
    t.create(spec('n', [netcodeSeat('a', 7n)], { transport: 'netcode' }), 0);
    expect(t.admit({ source: A, peer: claim('q', 'a', { kind: 'netcode', clientId: 7n }), connectionId: 'x1' }, 1)).toMatchObject({
      ok: false,
      reason: 'wrong_client_id',
    });
    expect(t.admit({ source: A, peer: claim('n', 'a', { kind: 'cert', fingerprint: fp('a') }), connectionId: 'x2' }, 1)).toMatchObject({
      ok: false,
      reason: 'wrong_fingerprint',
    });
  });

  it('admits an MQTT peer by the fingerprint of the session certificate the broker checked', () => {
    const t = new SessionTable({ maxSessions: 1, maxPlayers: 2 });
    t.create(spec('m', [player('a', A.ip)], { transport: 'mqtt' }), 0);
    const other = claim('m', 'a', { kind: 'mqtt', fingerprint: fp('other'), brokerClientId: 'b1' });
    expect(t.admit({ source: A, peer: other, connectionId: 'x' }, 1)).toMatchObject({ ok: false, reason: 'wrong_fingerprint' });
    const own = claim('m', 'a', { kind: 'mqtt', fingerprint: fp('a').toUpperCase(), brokerClientId: 'b1' });
    expect(t.admit({ source: A, peer: own, connectionId: 'c' }, 2)).toMatchObject({ ok: true });
  });

  it('wants exactly one proof per seat, each well formed', () => {
    const t = new SessionTable({ maxSessions: 4, maxPlayers: 8 });
    const both = { ...player('a', A.ip), netcodeClientId: 1n };
    const none = { playerId: 'a', address: { ip: A.ip }, displayName: 'a' };
    expect(t.create(spec('x', [both]), 0)).toMatchObject({ ok: false, message: /not both/ });
    expect(t.create(spec('y', [none]), 0)).toMatchObject({ ok: false, message: /SHA-256/ });
    expect(t.create(spec('z', [netcodeSeat('a', 1n << 64n)], { transport: 'netcode' }), 0)).toMatchObject({ ok: false, message: /u64/ });
  });
});
