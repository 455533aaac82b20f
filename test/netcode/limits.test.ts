// Sizes taken from the netcode C reference: 4 MiB socket buffers on every netcode socket (with a
// clear warning when the kernel grants less), and 1,024 pending handshakes whatever max clients is.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { netcodeHostConfigSection } from '../../src/config/netcode.js';
import {
  DEFAULT_SOCKET_BUFFER_BYTES,
  MAX_PENDING_HANDSHAKES,
  NetcodeClientCore,
  NetcodeServerCore,
  NetcodeUdpClient,
  NetcodeUdpServer,
  generateConnectToken,
  makeAddress,
} from '../../src/netcode/index.js';
import { resolveNetcodeHost } from '../../src/netcode/config.js';

const KEY = new Uint8Array(32).fill(3);
const PROTOCOL = 0x77n;

/** net.core.rmem_max / wmem_max, or undefined off Linux */
function kernelMax(): number | undefined {
  try {
    const r = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const w = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
    return Math.min(r, w);
  } catch {
    return undefined;
  }
}

describe('netcode socket buffers', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  it('a server asks for 4 MiB by default and reports what the kernel granted', async () => {
    const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: KEY, protocolId: PROTOCOL, maxClients: 4 });
    open.push(server);
    expect(DEFAULT_SOCKET_BUFFER_BYTES).toBe(4 * 1024 * 1024);
    const b = server.socketBuffers;
    expect(b.requested).toBe(DEFAULT_SOCKET_BUFFER_BYTES);
    const max = kernelMax();
    if (max !== undefined) {
      // Linux grants min(requested, sysctl max); far above the ~208 KiB the socket starts with
      expect(b.receive).toBe(Math.min(DEFAULT_SOCKET_BUFFER_BYTES, max));
      expect(b.capped).toBe(max < DEFAULT_SOCKET_BUFFER_BYTES);
    }
  });

  it.runIf(process.platform === 'linux')('says so, naming the sysctl, when the kernel caps the size', async () => {
    const max = kernelMax()!;
    const asked = max + 1024 * 1024;
    const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: KEY, protocolId: PROTOCOL, maxClients: 4, socketBufferBytes: asked });
    open.push(server);
    const warning = await new Promise<Error>((resolve) => server.once('warning', resolve));
    expect(server.socketBuffers).toMatchObject({ requested: asked, receive: max, capped: true });
    expect(warning.message).toContain('net.core.rmem_max');
    expect(warning.message).toContain(`sysctl -w net.core.rmem_max=${asked}`);
  });

  it('refuses a size that is not a positive integer', async () => {
    await expect(NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: KEY, protocolId: PROTOCOL, maxClients: 4, socketBufferBytes: 0 })).rejects.toThrow(
      /positive integer/,
    );
    expect(() => new NetcodeUdpClient({ socketBufferBytes: 1.5 })).toThrow(/positive integer/);
  });

  it('a client socket gets the same default once it is bound', async () => {
    const server = await NetcodeUdpServer.listen({ bind: '127.0.0.1:0', privateKey: KEY, protocolId: PROTOCOL, maxClients: 4 });
    open.push(server);
    const client = new NetcodeUdpClient();
    open.push(client);
    client.connect(
      generateConnectToken({
        privateKey: KEY,
        protocolId: PROTOCOL,
        clientId: 9n,
        publicServerAddresses: [server.boundAddress],
        expireSeconds: 30,
        timeoutSeconds: 5,
      }),
    );
    await client.waitUntilSettled(10_000);
    const b = client.socketBuffers.get(4);
    expect(b?.requested).toBe(DEFAULT_SOCKET_BUFFER_BYTES);
    const max = kernelMax();
    if (max !== undefined) expect(b?.receive).toBe(Math.min(DEFAULT_SOCKET_BUFFER_BYTES, max));
  });

  it('the host config takes socket_buffer_bytes and passes it to the transport', async () => {
    expect(netcodeHostConfigSection().parse({ socket_buffer_bytes: 8388608 }).socket_buffer_bytes).toBe(8388608);
    expect(netcodeHostConfigSection().safeParse({ socket_buffer_bytes: 100 }).error?.issues[0]?.message).toMatch(/at least 1024/);
    expect(netcodeHostConfigSection().safeParse({ socket_buffer_bytes: '4M' }).success).toBe(false);
    const config = (socket_buffer_bytes?: number) => ({
      host: { public_address: '127.0.0.1' },
      listen: { address: '127.0.0.1' },
      transports: {
        netcode: { port: 40000, private_key_file: 'k', protocol_id: '0x1', max_clients: 8, ...(socket_buffer_bytes ? { socket_buffer_bytes } : {}) },
      },
    });
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'iyesmp-nc-'));
    const keyFile = path.join(dir, 'k');
    writeFileSync(keyFile, Buffer.from(KEY).toString('hex'), { mode: 0o600 });
    const withKey = (c: ReturnType<typeof config>) => ({ ...c, transports: { netcode: { ...c.transports.netcode, private_key_file: keyFile } } });
    try {
      expect((await resolveNetcodeHost(withKey(config(1 << 23)))).socketBufferBytes).toBe(1 << 23);
      expect((await resolveNetcodeHost(withKey(config()))).socketBufferBytes).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pending handshakes', () => {
  it(`holds ${MAX_PENDING_HANDSHAKES} at once, as the C reference, even for a server of one slot`, () => {
    expect(MAX_PENDING_HANDSHAKES).toBe(1024);
    const server = new NetcodeServerCore({ protocolId: PROTOCOL, privateKey: KEY, address: '127.0.0.1:40000', maxClients: 1 }, 0);
    const unix = BigInt(Math.floor(Date.now() / 1000));
    for (let i = 0; i <= MAX_PENDING_HANDSHAKES; i++) {
      const token = generateConnectToken({
        privateKey: KEY,
        protocolId: PROTOCOL,
        clientId: BigInt(i + 1),
        publicServerAddresses: ['127.0.0.1:40000'],
        expireSeconds: 60,
        timeoutSeconds: 5,
      });
      const client = new NetcodeClientCore(0);
      client.connect(token, 0);
      client.update(0);
      const [request] = client.takeDatagrams();
      server.receive(request!.data, makeAddress('10.0.0.1', 1000 + i), 0, unix);
    }
    // every request but the last got a challenge; the last found the table full
    expect(server.drops.too_many_mappings).toBe(1);
    const challenges = server.takeDatagrams().length;
    expect(challenges).toBe(MAX_PENDING_HANDSHAKES);
  });
});
