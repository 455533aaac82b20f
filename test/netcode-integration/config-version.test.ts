import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostSessions } from '../../src/host/sessions.js';
import { netcodeAuthConfigSection, netcodeHostConfigSection } from '../../src/config/netcode.js';
import { resolveNetcodeHost, resolveNetcodeIssuer } from '../../src/netcode/config.js';
import { issueNetcodeHandoff } from '../../src/netcode/handoff.js';
import { netcodeExpectedPlayer } from '../../src/host/transports/netcode/seat.js';
import { NetcodeHostTransport, type NetcodeHostEvent } from '../../src/host/transports/netcode/transport.js';
import { ClientState, ConnectTokenSequence, NetcodeUdpClient, connectTokenVersion, formatAddress } from '../../src/netcode/index.js';
import { pollUntil } from '../support/wait.js';

let dir: string;
const KEY = new Uint8Array(32).fill(0xab);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-netcode-version-'));
  await writeFile(path.join(dir, 'netcode.key'), Buffer.from(KEY).toString('hex') + '\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('netcode.version in host and auth configs', () => {
  it('is optional (1.02), takes "1.00", and refuses anything else', () => {
    expect(netcodeHostConfigSection().parse({ version: '1.00' }).version).toBe('1.00');
    expect(netcodeAuthConfigSection().parse({ version: '1.02' }).version).toBe('1.02');
    expect(netcodeHostConfigSection().safeParse({ version: '1.01' }).error?.issues[0]?.message).toBe('expected "1.02" or "1.00"');
    expect(netcodeAuthConfigSection().safeParse({ version: 1 }).success).toBe(false);
  });

  it("token_issuer_id: 0..1023 in the auth config, the id of the 1.00 issuer's token sequence", async () => {
    expect(netcodeAuthConfigSection().parse({ version: '1.00', token_issuer_id: 7 }).token_issuer_id).toBe(7);
    expect(netcodeAuthConfigSection().safeParse({ token_issuer_id: 1024 }).error?.issues[0]?.message).toBe('expected an integer 0..1023');
    expect(netcodeAuthConfigSection().safeParse({ token_issuer_id: 1.5 }).success).toBe(false);
    const key = path.join(dir, 'netcode.key');
    const issuer = await resolveNetcodeIssuer({
      netcode: { private_key_file: key, protocol_id: '0x1', token_expire_seconds: 30, timeout_seconds: 10, version: '1.00', token_issuer_id: 7 },
    });
    expect(issuer.tokenSequence?.issuerId).toBe(7);
    // the id sits in bits 12..21 of every sequence this node issues
    expect(Number((issuer.tokenSequence!.next(Date.now()) >> 12n) & 1023n)).toBe(7);
  });

  it('reaches the resolved host and issuer; a 1.00 issuer gets its own token sequence', async () => {
    const key = path.join(dir, 'netcode.key');
    const host = (version?: '1.00') => ({
      host: { public_address: '203.0.113.7' },
      listen: { address: '0.0.0.0' },
      transports: { netcode: { port: 40000, private_key_file: key, protocol_id: '0x1', max_clients: 4, ...(version ? { version } : {}) } },
    });
    expect((await resolveNetcodeHost(host())).version).toBe('1.02');
    expect((await resolveNetcodeHost(host('1.00'))).version).toBe('1.00');
    const auth = (version?: '1.00') => ({
      netcode: { private_key_file: key, protocol_id: '0x1', token_expire_seconds: 30, timeout_seconds: 10, ...(version ? { version } : {}) },
    });
    const plain = await resolveNetcodeIssuer(auth());
    expect(plain.version).toBe('1.02');
    expect(plain.tokenSequence).toBeUndefined();
    const old = await resolveNetcodeIssuer(auth('1.00'));
    expect(old.version).toBe('1.00');
    expect(old.tokenSequence).toBeInstanceOf(ConnectTokenSequence);
    // what the Auth server does with it: spread into the hand-off
    const t = issueNetcodeHandoff({ ...old, host: { publicAddresses: ['127.0.0.1:40000'] }, sessionId: 's', playerId: 'p' }).connectToken;
    expect(connectTokenVersion(t)).toBe('1.00');
  });

  it('a 1.00 host transport admits a seat whose 1.00 token came from the hand-off issuer', { timeout: 30_000 }, async () => {
    const sessions = new HostSessions({ maxSessions: 2, maxPlayers: 4 });
    const transport = await NetcodeHostTransport.listen({
      sessions,
      privateKey: KEY,
      protocolId: 1n,
      bind: '127.0.0.1:0',
      maxClients: 4,
      nowMs: () => 0,
      version: '1.00',
    });
    const client = new NetcodeUdpClient({ version: '1.00' });
    try {
      const events: NetcodeHostEvent[] = [];
      transport.on('netcode', (e) => events.push(e));
      const created = sessions.create(
        { sessionId: 's1', transport: 'netcode', players: [netcodeExpectedPlayer('s1', { playerId: 'alice', displayName: 'Alice', address: '127.0.0.1' })] },
        0,
      );
      expect(created.ok).toBe(true);
      const { connectToken } = issueNetcodeHandoff({
        privateKey: KEY,
        protocolId: 1n,
        host: { publicAddresses: [formatAddress(transport.boundAddress)] },
        sessionId: 's1',
        playerId: 'alice',
        version: '1.00',
        tokenSequence: new ConnectTokenSequence(),
      });
      client.connect(connectToken);
      expect(await client.waitUntilSettled(10_000)).toBe(ClientState.connected);
      await pollUntil(() => events.some((e) => e.type === 'admitted'), 'admission', 10_000, 10);
    } finally {
      await client.close();
      await transport.close();
    }
  });
});
