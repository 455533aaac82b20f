import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netcodeAuthConfigSection, netcodeHostConfigSection } from '../../src/config/netcode.js';
import { resolveNetcodeHost, resolveNetcodeIssuer } from '../../src/netcode/config.js';

let dir: string;
const KEY_HEX = 'ab'.repeat(32);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-netcode-cfg-'));
  await writeFile(path.join(dir, 'netcode.key'), KEY_HEX + '\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('netcode config sections', () => {
  it('host section: defaults match the existing [transports.netcode] table, paths resolve against the config folder', () => {
    expect(netcodeHostConfigSection().parse(undefined)).toEqual({ enabled: false, port: 40000, protocol_id: '0x1', max_clients: 64, enforce_address: false });
    const c = netcodeHostConfigSection('/etc/iyesmp').parse({
      enabled: true,
      private_key_file: 'netcode.key',
      bind_address: '::',
      public_address: '203.0.113.7',
    });
    expect(c.private_key_file).toBe('/etc/iyesmp/netcode.key');
    expect(c.bind_address).toBe('::');
  });

  it('host section: refuses what netcode cannot do, with "expected" messages', () => {
    const bad = (v: unknown) => netcodeHostConfigSection().safeParse(v).error?.issues[0];
    expect(bad({ max_clients: 5000 })?.message).toMatch(/4096/);
    expect(bad({ protocol_id: 17 })?.message).toMatch(/expected a 64-bit hex string/);
    expect(bad({ port: 0 })?.message).toMatch(/expected a port/);
    expect(bad({ secret: 1 })).toBeDefined();
  });

  it('auth section: defaults and checks', () => {
    expect(netcodeAuthConfigSection().parse({})).toEqual({ protocol_id: '0x1', token_expire_seconds: 30, timeout_seconds: 10 });
    expect(netcodeAuthConfigSection().safeParse({ timeout_seconds: 0 }).success).toBe(false);
  });
});

describe('resolvers', () => {
  const hostConfig = (netcode: Record<string, unknown>) => ({
    host: { public_address: '203.0.113.7' },
    listen: { address: '0.0.0.0' },
    transports: { netcode: { port: 40000, protocol_id: '0x1122', max_clients: 16, ...netcode } },
  });

  it('host: reads the key, binds the listen address and names itself by the public address', async () => {
    const r = await resolveNetcodeHost(hostConfig({ private_key_file: path.join(dir, 'netcode.key') }));
    expect(Buffer.from(r.privateKey).toString('hex')).toBe(KEY_HEX);
    expect(r).toMatchObject({ protocolId: 0x1122n, bind: '0.0.0.0:40000', address: '203.0.113.7:40000', maxClients: 16, enforceAddress: false });
  });

  it('host: overrides, IPv6 and a public host name resolved once', async () => {
    const r = await resolveNetcodeHost(
      hostConfig({ private_key_file: path.join(dir, 'netcode.key'), bind_address: '::', public_address: 'game.example.com', enforce_address: true }),
      async (name) => (name === 'game.example.com' ? '2001:db8::7' : Promise.reject(new Error('unknown'))),
    );
    expect(r).toMatchObject({ bind: '[::]:40000', address: '[2001:db8::7]:40000', enforceAddress: true });
    await expect(
      resolveNetcodeHost(hostConfig({ private_key_file: path.join(dir, 'netcode.key'), public_address: 'nowhere.invalid' }), async () => {
        throw new Error('ENOTFOUND');
      }),
    ).rejects.toMatchObject({ code: 'netcode_address_unresolved' });
  });

  it('host: drops unannounced sources unless drop_unannounced = false says otherwise', async () => {
    const key = path.join(dir, 'netcode.key');
    expect(netcodeHostConfigSection().parse({ drop_unannounced: false })).toMatchObject({ drop_unannounced: false });
    expect(() => netcodeHostConfigSection().parse({ drop_unannounced: 'no' })).toThrow();
    expect(await resolveNetcodeHost(hostConfig({ private_key_file: key }))).toMatchObject({ dropUnannounced: true });
    expect(await resolveNetcodeHost(hostConfig({ private_key_file: key, drop_unannounced: true }))).toMatchObject({ dropUnannounced: true });
    expect(await resolveNetcodeHost(hostConfig({ private_key_file: key, drop_unannounced: false }))).toMatchObject({ dropUnannounced: false });
  });

  it('host and auth: a missing key file setting or file is a clear error', async () => {
    await expect(resolveNetcodeHost(hostConfig({}))).rejects.toMatchObject({ code: 'netcode_no_key' });
    await expect(resolveNetcodeIssuer({ netcode: { protocol_id: '0x1', token_expire_seconds: 30, timeout_seconds: 10 } })).rejects.toMatchObject({
      code: 'netcode_no_key',
    });
    await expect(resolveNetcodeHost(hostConfig({ private_key_file: path.join(dir, 'absent.key') }))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('auth: reads the key and the token settings', async () => {
    const r = await resolveNetcodeIssuer({
      netcode: { private_key_file: path.join(dir, 'netcode.key'), protocol_id: '0xff', token_expire_seconds: 20, timeout_seconds: 8 },
    });
    expect(r).toMatchObject({ protocolId: 0xffn, expireSeconds: 20, timeoutSeconds: 8 });
    expect(r.privateKey.length).toBe(32);
  });
});
