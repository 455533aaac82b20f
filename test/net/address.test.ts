import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  cidrContains,
  formatHostPort,
  formatIpv6,
  ipFromParts,
  ipKey,
  ipText,
  isValidPort,
  parseEndpoint,
  parseCidr,
  parseHostPort,
  parseIp,
  unmapIpv4,
} from '../../src/net/address.js';

const key = (text: string): string | undefined => {
  const r = ipKey(text);
  return r.ok ? r.value : undefined;
};

/** Independent oracle for RFC 5952 text: the WHATWG URL host serialiser built into Node. */
const viaUrl = (groups: number[]): string => new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);

describe('parseIp', () => {
  it('parses IPv4 and IPv6 into parts and canonical text', () => {
    expect(parseIp('192.168.1.20')).toEqual({ ok: true, value: { family: 4, text: '192.168.1.20', parts: [192, 168, 1, 20] } });
    const v6 = parseIp('[2001:DB8:0:0:0:0:0:1]');
    expect(v6).toEqual({ ok: true, value: { family: 6, text: '2001:db8::1', parts: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1] } });
    const scoped = parseIp('fe80::1%eth0');
    expect(scoped.ok && scoped.value.zone).toBe('eth0');
    expect(scoped.ok && ipText(scoped.value)).toBe('fe80::1%eth0');
  });

  it('writes RFC 5952 text: longest zero run, first on ties, a lone zero group stays', () => {
    expect(formatIpv6([1, 0, 0, 1, 0, 0, 0, 1])).toBe('1:0:0:1::1');
    expect(formatIpv6([1, 0, 0, 1, 0, 0, 1, 1])).toBe('1::1:0:0:1:1');
    expect(formatIpv6([1, 0, 1, 1, 1, 1, 1, 1])).toBe('1:0:1:1:1:1:1:1');
    expect(formatIpv6([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::');
    expect(formatIpv6([1, 2, 3, 4, 5, 6, 7, 0])).toBe('1:2:3:4:5:6:7:0');
  });

  it('reads an embedded IPv4 tail as two groups, and ::a.b.c.d is not IPv4-mapped', () => {
    expect(key('64:ff9b::192.0.2.33')).toBe('64:ff9b::c000:221');
    // ipaddr.js alone would turn this deprecated IPv4-compatible form into ::ffff:1.2.3.4
    expect(key('::1.2.3.4')).toBe('::102:304');
    expect(key('ffff::1.2.3.4')).toBe('ffff::102:304');
  });

  it('refuses the loose IPv4 spellings inet_aton accepts, and other garbage, with a clear failure', () => {
    for (const bad of [
      '',
      ' ',
      '127.1',
      '0x7f.0.0.1',
      '010.0.0.1',
      '1.2.3.256',
      '1.2.3.4%eth0',
      '1::2::3',
      '::g',
      '12345::',
      'fe80::1%',
      '[::1',
      'localhost',
      '1.2.3.4:80',
    ]) {
      const r = parseIp(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) {
        expect(r.what).toBe('address');
        expect(r.error).toContain(JSON.stringify(bad));
      }
    }
    fc.assert(
      fc.property(fc.anything(), (v) => {
        expect(parseIp(v as string).ok).toBe(typeof v === 'string' && parseIp(v).ok);
        expect(parseHostPort(v as string).ok).toBe(typeof v === 'string' && parseHostPort(v).ok);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ipKey: one key for every spelling of one address', () => {
  it('unwraps IPv4-mapped IPv6 and compresses zero runs', () => {
    for (const s of ['127.0.0.1', '::ffff:127.0.0.1', '::FFFF:7f00:1', '0:0:0:0:0:ffff:7f00:1', '[::ffff:127.0.0.1]']) expect(key(s), s).toBe('127.0.0.1');
    for (const s of ['::1', '0:0::1', '[::1]', '0000:0000:0000:0000:0000:0000:0000:0001', '0::0:1']) expect(key(s), s).toBe('::1');
    expect(key('2001:DB8::0:1')).toBe('2001:db8::1');
    // a scoped mapped address is left alone: the zone says it is about an IPv6 interface
    expect(key('::ffff:127.0.0.1%eth0')).toBe('::ffff:7f00:1%eth0');
  });

  it('unmapIpv4 leaves non-mapped addresses unchanged', () => {
    const a = parseIp('::1');
    expect(a.ok && unmapIpv4(a.value)).toEqual(a.ok && a.value);
    const b = parseIp('10.0.0.1');
    expect(b.ok && unmapIpv4(b.value)).toEqual(b.ok && b.value);
  });
});

describe('parseHostPort / formatHostPort', () => {
  it('parses IP, [IP], IPv4:port and [IP]:port', () => {
    const hp = (s: string) => {
      const r = parseHostPort(s);
      return r.ok ? { ip: ipText(r.value.ip), port: r.value.port } : r.what;
    };
    expect(hp('10.0.0.1')).toEqual({ ip: '10.0.0.1', port: undefined });
    expect(hp('10.0.0.1:5000')).toEqual({ ip: '10.0.0.1', port: 5000 });
    expect(hp('[10.0.0.1]:0')).toEqual({ ip: '10.0.0.1', port: 0 });
    expect(hp('[2001:DB8::1]:443')).toEqual({ ip: '2001:db8::1', port: 443 });
    expect(hp('[::1]')).toEqual({ ip: '::1', port: undefined });
    expect(hp('::1:80')).toEqual({ ip: '::1:80', port: undefined }); // a bare IPv6 address never has a port
    expect(hp('[fe80::1%eth0]:9')).toEqual({ ip: 'fe80::1%eth0', port: 9 });
    expect(hp('10.0.0.1:70000')).toBe('port');
    expect(hp('10.0.0.1:123456')).toBe('port');
    expect(hp('10.0.0.1:000080')).toEqual({ ip: '10.0.0.1', port: 80 });
    expect(hp('host.example:1')).toBe('address');
    expect(hp('[::1]:x')).toBe('form');
    expect(hp('[::1]:')).toBe('form');
    expect(hp('::1:80:')).toBe('form');
    expect(hp('')).toBe('form');
  });

  it('brackets hosts with colons', () => {
    expect(formatHostPort('::1', 5)).toBe('[::1]:5');
    expect(formatHostPort('1.2.3.4', 5)).toBe('1.2.3.4:5');
  });

  it('checks ports', () => {
    expect([0, 1, 65535, 65536, 1.5, -1].map((p) => isValidPort(p))).toEqual([false, true, true, false, false, false]);
    expect(isValidPort(0, 0)).toBe(true);
  });
});

describe('ipFromParts', () => {
  it('builds either family and refuses other shapes', () => {
    expect(ipFromParts([10, 0, 0, 1])?.text).toBe('10.0.0.1');
    expect(ipFromParts([0, 0, 0, 0, 0, 0, 0, 1])?.text).toBe('::1');
    for (const bad of [[], [1, 2, 3], [256, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0x10000], [1.5, 0, 0, 0]]) expect(ipFromParts(bad)).toBeUndefined();
  });
});

/** Eight groups and one of their many valid spellings (case, leading zeros, any zero run as `::`, IPv4 tail). */
const spelledIpv6 = fc
  .record({
    // zeros and 0xffff weighted up so zero runs, IPv4-mapped and IPv4-compatible (::a.b.c.d) forms are common
    groups: fc.array(fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    }),
    pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
    upper: fc.boolean(),
    compress: fc.nat(),
    dotted: fc.boolean(),
  })
  .map(({ groups, pad, upper, compress, dotted }) => {
    const hex = groups.map((g, i) => g.toString(16).padStart(Math.min(4, g.toString(16).length + pad[i]!), '0'));
    const runs: [number, number][] = [];
    for (let i = 0; i < 8; i++) for (let j = i + 1; j <= 8 && groups[j - 1] === 0; j++) runs.push([i, j]);
    const run = runs.length > 0 && compress % 3 !== 0 ? runs[compress % runs.length] : undefined;
    const tail = dotted && (run === undefined || run[1] <= 6);
    const words: string[] = tail ? [...hex.slice(0, 6), [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.')] : [...hex];
    let text: string;
    if (run === undefined) text = words.join(':');
    else text = `${words.slice(0, run[0]).join(':')}::${words.slice(run[1]).join(':')}`;
    return { groups, text: upper ? text.toUpperCase() : text };
  });

const isMapped = (g: number[]) => g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;

describe('properties', () => {
  it('any spelling of eight groups parses to those groups, and its key is the RFC 5952 text (or the IPv4 it maps)', () => {
    fc.assert(
      fc.property(spelledIpv6, ({ groups, text }) => {
        const r = parseIp(text);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.parts).toEqual(groups);
        expect(r.value.text).toBe(viaUrl(groups));
        const expected = isMapped(groups) ? [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.') : viaUrl(groups);
        expect(key(text)).toBe(expected);
        expect(key(`[${text}]`)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('an IPv4 address and its IPv4-mapped spellings share one key', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const o = v4.split('.').map(Number);
        const hi = ((o[0]! << 8) | o[1]!).toString(16);
        const lo = ((o[2]! << 8) | o[3]!).toString(16);
        for (const s of [`::ffff:${v4}`, `::FFFF:${hi}:${lo}`, `0:0:0:0:0:ffff:${v4}`, `[::ffff:${hi}:${lo}]`]) expect(key(s)).toBe(v4);
        expect(key(v4)).toBe(v4);
      }),
      { numRuns: 300 },
    );
  });

  it('canonical form is idempotent, and garbage never throws but fails with what and why', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.[]%'), maxLength: 45 }),
      fc.ipV4(),
      fc.ipV6(),
      spelledIpv6.map((s) => s.text),
    );
    fc.assert(
      fc.property(text, (s) => {
        const r = ipKey(s);
        if (r.ok) {
          expect(ipKey(r.value)).toEqual(r);
          const p = parseIp(s);
          expect(p.ok && p.value.parts.length).toBe(p.ok && p.value.family === 4 ? 4 : 8);
        } else {
          expect(['address']).toContain(r.what);
          expect(r.error.length).toBeGreaterThan(0);
        }
        const hp = parseHostPort(s);
        if (!hp.ok) expect(['address', 'port', 'form']).toContain(hp.what);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatHostPort output parses back to the same address and port', () => {
    const ip = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      spelledIpv6.map((s) => s.text),
    );
    fc.assert(
      fc.property(ip, fc.integer({ min: 0, max: 65535 }), (text, port) => {
        const a = parseIp(text);
        expect(a.ok).toBe(true);
        if (!a.ok) return;
        const back = parseHostPort(formatHostPort(a.value.text, port));
        expect(back).toEqual({ ok: true, value: { ip: a.value, port } });
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseEndpoint / canonicalIp', () => {
  it('parses dialable host:port, names included, and says what was wrong', () => {
    const ep = (s: string) => {
      const r = parseEndpoint(s);
      return r.ok ? r.value : r.what;
    };
    expect(ep('auth.example.org:7351')).toEqual({ host: 'auth.example.org', port: 7351 });
    expect(ep('127.0.0.1:1')).toEqual({ host: '127.0.0.1', port: 1 });
    expect(ep('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
    expect(ep('host:0')).toBe('port');
    expect(ep('host:65536')).toBe('port');
    expect(ep('::1:80')).toBe('form');
    expect(ep('host')).toBe('form');
    expect(ep('a b:1')).toBe('form');
    expect(ep('')).toBe('form');
  });

  it('gives one text per address, zone kept, and undefined for what is not an IP', () => {
    expect(canonicalIp(' ::FFFF:a00:1 ')).toBe('10.0.0.1');
    expect(canonicalIp('[2001:DB8::0:1]')).toBe('2001:db8::1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1%eth0');
    expect(canonicalIp('example.com')).toBeUndefined();
    expect(canonicalIp('1.2.3.4:80')).toBeUndefined();
  });
});

describe('parseCidr / cidrContains', () => {
  const range = (s: string) => {
    const r = parseCidr(s);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const inside = (r: string, a: string) => {
    const ip = parseIp(a);
    if (!ip.ok) throw new Error(ip.error);
    return cidrContains(range(r), ip.value);
  };

  it('parses IPv4 and IPv6 ranges, a bare address as a single-address range', () => {
    expect(range('10.0.0.0/8')).toEqual({ network: { family: 4, text: '10.0.0.0', parts: [10, 0, 0, 0] }, prefix: 8 });
    expect(range('2001:DB8::/32').network.text).toBe('2001:db8::');
    expect(range('192.0.2.7').prefix).toBe(32);
    expect(range('::1').prefix).toBe(128);
    expect(range('0.0.0.0/0').prefix).toBe(0);
  });

  it('refuses what is not a range, saying what was wrong', () => {
    const what = (s: string) => {
      const r = parseCidr(s);
      return r.ok ? 'ok' : r.what;
    };
    for (const bad of ['', '10.0.0.0/', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/8/8', 'example.com/8', '10.0.0/8', '10.0.0.0/ 8']) {
      expect(what(bad), bad).toBe('form');
    }
    expect(what('fe80::/10%eth0')).toBe('form');
    expect(what('fe80::1%eth0/128')).toBe('address');
    expect(what('::ffff:10.0.0.0/104')).toBe('address');
  });

  it('matches by prefix within one family; IPv4-mapped sources count as IPv4', () => {
    expect(inside('10.0.0.0/8', '10.255.1.2')).toBe(true);
    expect(inside('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(inside('10.1.2.3/8', '10.9.9.9')).toBe(true);
    expect(inside('10.0.0.0/8', '::ffff:10.0.0.1')).toBe(true);
    expect(inside('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(inside('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(inside('0.0.0.0/0', '::1')).toBe(false);
    expect(inside('::/0', '127.0.0.1')).toBe(false);
    expect(inside('127.0.0.2', '127.0.0.2')).toBe(true);
    expect(inside('127.0.0.2', '127.0.0.3')).toBe(false);
  });
});
