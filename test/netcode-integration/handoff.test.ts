import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IyesmpError } from '../../src/errors.js';
import { SessionTable } from '../../src/host/session-table.js';
import { Handoff, HandoffTransport } from '../../src/protocol/families/auth.js';
import { ExpectedPlayer as HostctlExpectedPlayer } from '../../src/protocol/families/hostctl.js';
import { CONNECT_TOKEN_BYTES } from '../../src/netcode/constants.js';
import { deriveNetcodeClientId, issueNetcodeHandoff } from '../../src/netcode/handoff.js';
import { NO_ANNOUNCED_ADDRESS, netcodeExpectedPlayer } from '../../src/host/transports/netcode/seat.js';
import { expectedOn } from '../../src/host/auth-connection.js';
import { decryptConnectTokenPrivate, readConnectToken, readConnectTokenPrivate } from '../../src/netcode/token.js';
import { decodeSessionUserData } from '../../src/netcode/user-data.js';
import { formatAddress } from '../../src/netcode/address.js';

const KEY = new Uint8Array(32).fill(1);
const PROTOCOL = 0xfeedn;

function open(token: Uint8Array) {
  const t = readConnectToken(token);
  if (!t.ok) throw new Error(t.reason);
  const plain = decryptConnectTokenPrivate(t.value.privateData, t.value.protocolId, t.value.expireTimestamp, t.value.nonce, KEY);
  if (!plain) throw new Error('decrypt failed');
  const p = readConnectTokenPrivate(plain);
  if (!p.ok) throw new Error(p.reason);
  return { pub: t.value, priv: p.value };
}

describe('issueNetcodeHandoff', () => {
  it("returns exactly the netcode member of the auth family's HandoffTransport", () => {
    const transport = issueNetcodeHandoff({
      privateKey: KEY,
      protocolId: PROTOCOL,
      host: { publicAddresses: ['203.0.113.7:40000', { host: '2001:db8::7', port: 40001 }], internalAddresses: ['10.0.0.7:40000', '[fd00::7]:40001'] },
      sessionId: 'ses-1',
      playerId: 'p-1',
    });
    expect(Object.keys(transport).sort()).toEqual(['connectToken', 'kind']);
    const parsed = HandoffTransport.safeParse(transport);
    expect(parsed.success).toBe(true);
    expect(transport.connectToken.length).toBe(CONNECT_TOKEN_BYTES);
    const whole = Handoff.safeParse({
      sessionId: 'ses-1',
      playerId: 'p-1',
      host: { address: { host: '203.0.113.7', port: 40000 }, tlsName: 'host-1' },
      expiresAt: Date.now() + 30_000,
      transport,
    });
    expect(whole.success).toBe(true);
  });

  it('seals the seat into the token: user data, derived client id, addresses, expiry and timeout', () => {
    const { connectToken } = issueNetcodeHandoff({
      privateKey: KEY,
      protocolId: PROTOCOL,
      host: { publicAddresses: ['203.0.113.7:40000'], internalAddresses: ['10.0.0.7:40000'] },
      sessionId: 'ses-1',
      playerId: 'p-1',
      expireSeconds: 45,
      timeoutSeconds: 7,
      ext: new Uint8Array([1, 2]),
      unixNow: 1_000_000n,
    });
    const { pub, priv } = open(connectToken);
    expect(pub.protocolId).toBe(PROTOCOL);
    expect(pub.createTimestamp).toBe(1_000_000n);
    expect(pub.expireTimestamp).toBe(1_000_045n);
    expect(pub.timeoutSeconds).toBe(7);
    expect(pub.serverAddresses.map(formatAddress)).toEqual(['203.0.113.7:40000']);
    expect(priv.serverAddresses.map(formatAddress)).toEqual(['10.0.0.7:40000']);
    expect(priv.clientId).toBe(deriveNetcodeClientId('ses-1', 'p-1'));
    const ud = decodeSessionUserData(priv.userData);
    expect(ud?.sessionId).toBe('ses-1');
    expect(ud?.playerId).toBe('p-1');
    expect([...(ud?.ext ?? [])]).toEqual([1, 2]);
  });

  it('uses an explicit client id when given', () => {
    const { connectToken } = issueNetcodeHandoff({
      privateKey: KEY,
      protocolId: PROTOCOL,
      host: { publicAddresses: ['127.0.0.1:1'] },
      sessionId: 's',
      playerId: 'p',
      clientId: 99n,
    });
    expect(open(connectToken).priv.clientId).toBe(99n);
  });

  it('refuses host names and oversize ids with a usage error naming the problem', () => {
    const base = { privateKey: KEY, protocolId: PROTOCOL, sessionId: 's', playerId: 'p' };
    const named = (): unknown => issueNetcodeHandoff({ ...base, host: { publicAddresses: [{ host: 'host.example.com', port: 40000 }] } });
    expect(named).toThrow(IyesmpError);
    expect(named).toThrow(/not an IP literal/);
    const long = (): unknown =>
      issueNetcodeHandoff({ ...base, sessionId: 'x'.repeat(200), playerId: 'y'.repeat(100), host: { publicAddresses: ['127.0.0.1:1'] } });
    expect(long).toThrow(expect.objectContaining({ code: 'netcode_user_data_too_long' }));
    expect(() => issueNetcodeHandoff({ ...base, timeoutSeconds: 0, host: { publicAddresses: ['127.0.0.1:1'] } })).toThrow(
      expect.objectContaining({ code: 'netcode_timeout_zero' }),
    );
  });
});

describe('client id derivation', () => {
  it('is stable, fits in u64, and tells the session and player apart (no concatenation ambiguity)', () => {
    const id = deriveNetcodeClientId('ses-1', 'p-1');
    expect(deriveNetcodeClientId('ses-1', 'p-1')).toBe(id);
    expect(id).toBeGreaterThanOrEqual(0n);
    expect(id).toBeLessThan(1n << 64n);
    expect(deriveNetcodeClientId('ab', 'c')).not.toBe(deriveNetcodeClientId('a', 'bc'));
    expect(deriveNetcodeClientId('ses-1', 'p-2')).not.toBe(id);
    expect(deriveNetcodeClientId('ses-2', 'p-1')).not.toBe(id);
  });

  it('differs for different seats (property, 64-bit ids make collisions negligible)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (s, p, q) => {
        fc.pre(p !== q);
        expect(deriveNetcodeClientId(s, p)).not.toBe(deriveNetcodeClientId(s, q));
      }),
    );
  });

  it('matches the hostctl wire form (decimal string) and round-trips through netcodeExpectedPlayer', () => {
    const id = deriveNetcodeClientId('ses-1', 'p-1');
    const wire = HostctlExpectedPlayer.safeParse({ playerId: 'p-1', accountId: 'a-1', netcodeClientId: id.toString() });
    if (!wire.success) throw wire.error;
    // a parsed hostctl ExpectedPlayer goes in as it is
    const fromWire = netcodeExpectedPlayer('ses-1', wire.data);
    const derived = netcodeExpectedPlayer('ses-1', { playerId: 'p-1' });
    // the seat is proven by the client id itself (no stand-in fingerprint)
    expect(fromWire.netcodeClientId).toBe(derived.netcodeClientId);
    expect(fromWire.netcodeClientId).toBe(id);
    expect(id + 1n).not.toBe(fromWire.netcodeClientId);
  });
});

describe('netcodeExpectedPlayer', () => {
  it('produces seats the session table accepts, with 0.0.0.0 when no usable address was announced', () => {
    const seats = [
      netcodeExpectedPlayer('s', { playerId: 'a' }),
      netcodeExpectedPlayer('s', { playerId: 'b', address: '198.51.100.4', displayName: 'Bee', extras: { team: 2 } }),
      netcodeExpectedPlayer('s', { playerId: 'c', address: '[2001:db8::1]' }),
      netcodeExpectedPlayer('s', { playerId: 'd', address: 'not an ip' }),
    ];
    expect(seats.map((s) => s.address.ip)).toEqual([NO_ANNOUNCED_ADDRESS, '198.51.100.4', '2001:db8::1', NO_ANNOUNCED_ADDRESS]);
    expect(seats[0]!.displayName).toBe('a');
    expect(seats[1]).toMatchObject({ displayName: 'Bee', extras: { team: 2 } });
    const table = new SessionTable({ maxSessions: 1, maxPlayers: 4 });
    expect(table.create({ sessionId: 's', transport: 'netcode', players: seats }, 0)).toMatchObject({ ok: true });
  });

  it('hostctl: a netcode seat goes on the host with the address the Auth server announced, and one without an address is refused', () => {
    const wire = { playerId: 'p-1', accountId: 'a-1', address: '198.51.100.4', netcodeClientId: deriveNetcodeClientId('ses-1', 'p-1').toString() };
    expect(expectedOn('netcode', 'ses-1', wire)).toMatchObject({
      playerId: 'p-1',
      address: { ip: '198.51.100.4' },
      netcodeClientId: deriveNetcodeClientId('ses-1', 'p-1'),
    });
    const { address: _, ...anywhere } = wire;
    expect(() => expectedOn('netcode', 'ses-1', anywhere)).toThrow(
      expect.objectContaining({ code: 'invalid_spec', message: expect.stringContaining("needs the player's address") }),
    );
  });

  it('refuses a client id beyond 64 bits', () => {
    expect(() => netcodeExpectedPlayer('s', { playerId: 'a', netcodeClientId: (1n << 64n).toString() })).toThrow(RangeError);
  });
});
