/** PROXY protocol v2 over UDP: the header parser and the route table of a server behind trusted proxies. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseIp, type IpAddress } from '../../src/net/address.js';
import { ProxyRouter, encodeProxyV2, parseProxyV2, parseTrustedProxies, PROXY_V2_SIGNATURE } from '../../src/transport/proxy-protocol.js';

const ip = (text: string): IpAddress => {
  const r = parseIp(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const payload = Uint8Array.from([0xc3, 1, 2, 3, 4]);
const v4 = (src = '203.0.113.7', sport = 50_000) => encodeProxyV2({ ip: ip(src), port: sport }, { ip: ip('198.51.100.1'), port: 7350 });
const withPayload = (header: Uint8Array, body = payload) => Uint8Array.from([...header, ...body]);
/** a header with byte `at` replaced */
const patched = (header: Uint8Array, at: number, value: number) => {
  const out = Uint8Array.from(header);
  out[at] = value;
  return out;
};

describe('parseProxyV2', () => {
  it('reads a UDP-over-IPv4 header byte for byte, and leaves the payload', () => {
    const h = v4();
    expect([...h.subarray(0, 16)]).toEqual([...PROXY_V2_SIGNATURE, 0x21, 0x12, 0, 12]);
    expect([...h.subarray(16)]).toEqual([203, 0, 113, 7, 198, 51, 100, 1, 0xc3, 0x50, 0x1c, 0xb6]);
    const r = parseProxyV2(withPayload(h));
    expect(r).toMatchObject({ ok: true, source: { ip: { text: '203.0.113.7' }, port: 50_000 }, destination: { ip: { text: '198.51.100.1' }, port: 7350 } });
    if (r.ok) expect([...r.payload]).toEqual([...payload]);
  });

  it('reads a UDP-over-IPv6 header; an IPv4-mapped source is the IPv4 client', () => {
    const h = encodeProxyV2({ ip: ip('2001:db8::7'), port: 1 }, { ip: ip('2001:db8::1'), port: 443 });
    expect(h[13]).toBe(0x22);
    expect(h.byteLength).toBe(16 + 36);
    expect(parseProxyV2(withPayload(h))).toMatchObject({ ok: true, source: { ip: { family: 6, text: '2001:db8::7' }, port: 1 }, destination: { port: 443 } });
    const mapped = encodeProxyV2({ ip: ip('::ffff:192.0.2.9'), port: 9 }, { ip: ip('::1'), port: 443 });
    expect(parseProxyV2(mapped)).toMatchObject({ ok: true, source: { ip: { family: 4, text: '192.0.2.9' } } });
  });

  it('skips TLVs: the payload starts after the length the header gives', () => {
    const tlvs = Uint8Array.from([0x01, 0, 2, 0x68, 0x33, 0x05, 0, 3, 9, 9, 9]); // ALPN "h3", a unique id
    const r = parseProxyV2(withPayload(encodeProxyV2({ ip: ip('10.0.0.5'), port: 4000 }, { ip: ip('10.0.0.1'), port: 7350 }, tlvs)));
    expect(r.ok && [...r.payload]).toEqual([...payload]);
    expect(r.ok && r.source.ip.text).toBe('10.0.0.5');
  });

  it('refuses a datagram cut short anywhere in the header', () => {
    const full = v4();
    for (let n = 12; n < full.byteLength; n++) expect(parseProxyV2(full.subarray(0, n)), `${n} bytes`).toEqual({ ok: false, reason: 'truncated' });
    // a length field that claims less than an address block
    expect(parseProxyV2(withPayload(patched(full, 15, 11)))).toEqual({ ok: false, reason: 'truncated' });
    // and one that claims more than the datagram holds
    expect(parseProxyV2(patched(full, 15, 40))).toEqual({ ok: false, reason: 'truncated' });
  });

  it('refuses what is not a v2 PROXY header for a datagram', () => {
    const h = v4();
    expect(parseProxyV2(payload)).toEqual({ ok: false, reason: 'no_header' });
    expect(parseProxyV2(patched(h, 11, 0x0b))).toEqual({ ok: false, reason: 'no_header' });
    expect(parseProxyV2(new TextEncoder().encode('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'))).toEqual({ ok: false, reason: 'no_header' });
    expect(parseProxyV2(patched(h, 12, 0x11))).toEqual({ ok: false, reason: 'bad_version' });
    expect(parseProxyV2(patched(h, 12, 0x31))).toEqual({ ok: false, reason: 'bad_version' });
    expect(parseProxyV2(patched(h, 12, 0x22))).toEqual({ ok: false, reason: 'bad_command' });
    expect(parseProxyV2(patched(h, 12, 0x20))).toEqual({ ok: false, reason: 'local' });
    expect(parseProxyV2(patched(h, 13, 0x11))).toEqual({ ok: false, reason: 'not_datagram' }); // TCP over IPv4
    expect(parseProxyV2(patched(h, 13, 0x10))).toEqual({ ok: false, reason: 'not_datagram' });
    expect(parseProxyV2(patched(h, 13, 0x02))).toEqual({ ok: false, reason: 'bad_family' }); // UNSPEC
    expect(parseProxyV2(patched(h, 13, 0x32))).toEqual({ ok: false, reason: 'bad_family' }); // UNIX
    expect(parseProxyV2(patched(patched(h, 24, 0), 25, 0))).toEqual({ ok: false, reason: 'bad_address' }); // source port 0
  });

  it('accepts LOCAL with an empty address block as LOCAL, not as truncated', () => {
    const local = Uint8Array.from([...PROXY_V2_SIGNATURE, 0x20, 0x00, 0, 0]);
    expect(parseProxyV2(local)).toEqual({ ok: false, reason: 'local' });
  });

  it('never throws, and a successful parse always names a client with a port', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (tail, signed) => {
        const data = signed ? Uint8Array.from([...PROXY_V2_SIGNATURE, ...tail]) : tail;
        const r = parseProxyV2(data);
        if (r.ok) expect(r.source.port).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ProxyRouter', () => {
  const router = (ttl = 1000) => new ProxyRouter({ trusted: parseTrustedProxies(['10.0.0.0/8', '2001:db8:ffff::/48']), routeTtlMs: ttl });

  it('refuses bad ranges with an input error', () => {
    expect(() => parseTrustedProxies(['10.0.0.0/33'])).toThrowError(expect.objectContaining({ kind: 'input', code: 'bad_proxy_range' }));
    expect(() => parseTrustedProxies(['proxy.example.com'])).toThrowError(expect.objectContaining({ code: 'bad_proxy_range' }));
    expect(parseTrustedProxies([' 10.0.0.0/8 ', '::1'])).toHaveLength(2);
  });

  it('a trusted proxy: the header names the peer, replies to it go to the proxy', () => {
    const r = router();
    const d = r.inbound(withPayload(v4('203.0.113.7', 5000)), '10.1.1.1', 40_000, 0);
    expect(d).toMatchObject({ pass: true, host: '203.0.113.7', port: 5000, viaProxy: { host: '10.1.1.1', port: 40_000 } });
    expect(d.pass && [...d.data]).toEqual([...payload]);
    expect(r.outbound('203.0.113.7', 5000)).toEqual({ host: '10.1.1.1', port: 40_000 });
    expect(r.outbound('::ffff:203.0.113.7', 5000)).toEqual({ host: '10.1.1.1', port: 40_000 });
    expect(r.outbound('203.0.113.7', 5001)).toBeUndefined();
    expect(r.stats()).toEqual({ relayed: 1, dropped: {}, routes: 1 });
  });

  it('a dual-stack socket sees the client as IPv4-mapped, like a direct IPv4 client', () => {
    const r = router();
    r.ipv4As = 'mapped';
    expect(r.inbound(withPayload(v4()), '::ffff:10.1.1.1', 40_000, 0)).toMatchObject({
      pass: true,
      host: '::ffff:203.0.113.7',
      viaProxy: { host: '::ffff:10.1.1.1' },
    });
    expect(r.outbound('::ffff:203.0.113.7', 50_000)).toEqual({ host: '::ffff:10.1.1.1', port: 40_000 });
  });

  it('a trusted proxy without a valid header: dropped and counted by why', () => {
    const r = router();
    expect(r.inbound(payload, '10.1.1.1', 1, 0)).toEqual({ pass: false, reason: 'no_header' });
    expect(r.inbound(patched(v4(), 12, 0x20), '2001:db8:ffff::2', 1, 0)).toEqual({ pass: false, reason: 'local' });
    expect(r.inbound(v4().subarray(0, 20), '10.1.1.1', 1, 0)).toEqual({ pass: false, reason: 'truncated' });
    expect(r.stats()).toEqual({ relayed: 0, dropped: { no_header: 1, local: 1, truncated: 1 }, routes: 0 });
  });

  it('anyone else: passed as is, unless it carries a header (never honoured, dropped)', () => {
    const r = router();
    expect(r.inbound(payload, '192.0.2.1', 7, 0)).toEqual({ pass: true, data: payload, host: '192.0.2.1', port: 7 });
    expect(r.inbound(withPayload(v4()), '192.0.2.1', 7, 0)).toEqual({ pass: false, reason: 'untrusted_header' });
    expect(r.inbound(withPayload(v4()), '11.0.0.1', 7, 0)).toEqual({ pass: false, reason: 'untrusted_header' });
    expect(r.outbound('203.0.113.7', 50_000)).toBeUndefined();
    expect(r.stats().dropped).toEqual({ untrusted_header: 2 });
  });

  it('a client reached through a proxy is not also taken straight while its route lives', () => {
    const r = router();
    r.inbound(withPayload(v4('192.0.2.1', 7)), '10.1.1.1', 40_000, 0);
    expect(r.inbound(payload, '192.0.2.1', 7, 10)).toEqual({ pass: false, reason: 'shadowed' });
    expect(r.inbound(payload, '::ffff:192.0.2.1', 7, 10)).toEqual({ pass: false, reason: 'shadowed' });
    expect(r.inbound(payload, '192.0.2.1', 8, 10).pass).toBe(true);
    expect(r.inbound(payload, '192.0.2.1', 7, 1011).pass).toBe(true);
  });

  it('routes follow the latest proxy and expire after the TTL without datagrams', () => {
    const r = router(1000);
    r.inbound(withPayload(v4('192.0.2.1', 7)), '10.1.1.1', 1, 0);
    r.inbound(withPayload(v4('192.0.2.2', 7)), '10.1.1.1', 2, 500);
    r.inbound(withPayload(v4('192.0.2.1', 7)), '10.2.2.2', 3, 900);
    expect(r.outbound('192.0.2.1', 7)).toEqual({ host: '10.2.2.2', port: 3 });
    r.inbound(payload, '198.51.100.1', 1, 1600); // any datagram sweeps
    expect(r.outbound('192.0.2.2', 7)).toBeUndefined();
    expect(r.outbound('192.0.2.1', 7)).toEqual({ host: '10.2.2.2', port: 3 });
    expect(r.stats().routes).toBe(1);
  });

  it('keeps at most maxRoutes, dropping the least recently seen', () => {
    const r = new ProxyRouter({ trusted: parseTrustedProxies(['10.0.0.0/8']), routeTtlMs: 10_000, maxRoutes: 2 });
    for (const [i, port] of [1, 2, 1, 3].entries()) r.inbound(withPayload(v4('192.0.2.1', port)), '10.1.1.1', 9, i);
    expect(r.outbound('192.0.2.1', 2)).toBeUndefined();
    expect(r.outbound('192.0.2.1', 1)).toBeDefined();
    expect(r.outbound('192.0.2.1', 3)).toBeDefined();
  });
});
