import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey, addressMatches, canonicalIp } from '../../src/host/address.js';
import { AllowList } from '../../src/host/allow-list.js';
import { driven } from './helpers.js';

describe('canonicalIp', () => {
  it('normalises IPv6 spelling and unwraps IPv4-mapped addresses', () => {
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8::0:1')).toBe('2001:db8::1');
    expect(canonicalIp('[::1]')).toBe('::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('::FFFF:a00:1')).toBe('10.0.0.1');
    expect(canonicalIp('1:0:0:1:0:0:0:1')).toBe('1:0:0:1::1'); // longest zero run wins
    expect(canonicalIp('1:0:0:1:0:0:1:1')).toBe('1::1:0:0:1:1'); // first on ties
    expect(canonicalIp('1:0:1:1:1:1:1:1')).toBe('1:0:1:1:1:1:1:1'); // a single zero group stays
    expect(canonicalIp('64:ff9b::192.0.2.33')).toBe('64:ff9b::c000:221');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1%eth0');
  });

  it('rejects what is not an IP address', () => {
    for (const bad of ['', 'example.com', '1.2.3', '1.2.3.256', '::g', '1.2.3.4:80']) expect(() => canonicalIp(bad)).toThrow(TypeError);
  });

  it('agrees with the WHATWG URL serialiser on random IPv6 addresses', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.boolean(), (groups, upper) => {
        let text = groups.map((g) => g.toString(16)).join(':');
        if (upper) text = text.toUpperCase();
        const isMapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
        fc.pre(!isMapped);
        const viaUrl = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        expect(canonicalIp(text)).toBe(viaUrl);
        // idempotent
        expect(canonicalIp(canonicalIp(text))).toBe(viaUrl);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but TypeError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          const c = canonicalIp(s);
          expect(canonicalIp(c)).toBe(c);
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('address keys and matching', () => {
  it('keys IPv6 with brackets when a port is given', () => {
    expect(addressKey({ ip: '2001:db8::1', port: 4000 })).toBe('[2001:db8::1]:4000');
    expect(addressKey({ ip: '10.0.0.1', port: 4000 })).toBe('10.0.0.1:4000');
    expect(addressKey({ ip: '::ffff:10.0.0.1' })).toBe('10.0.0.1');
    expect(() => addressKey({ ip: '10.0.0.1', port: 70000 })).toThrow(TypeError);
  });

  it('matches any port when none was announced, the exact port otherwise', () => {
    expect(addressMatches({ ip: '10.0.0.1' }, { ip: '::ffff:10.0.0.1', port: 1 })).toBe(true);
    expect(addressMatches({ ip: '10.0.0.1', port: 5 }, { ip: '10.0.0.1', port: 6 })).toBe(false);
    expect(addressMatches({ ip: '10.0.0.1', port: 5 }, { ip: '10.0.0.1', port: 5 })).toBe(true);
    expect(addressMatches({ ip: '10.0.0.1' }, { ip: '10.0.0.2', port: 5 })).toBe(false);
    expect(addressMatches({ ip: '10.0.0.1' }, { ip: 'garbage', port: 5 })).toBe(false);
  });
});

describe('AllowList', () => {
  it('allows on first add, revokes on last release (players sharing a NAT address)', () => {
    const { core: list, events } = driven(new AllowList());
    list.add({ ip: '10.0.0.1' });
    list.add({ ip: '::ffff:10.0.0.1' });
    expect(events).toEqual([{ type: 'allow', key: '10.0.0.1', address: { ip: '10.0.0.1' } }]);
    expect(list.refCount({ ip: '10.0.0.1' })).toBe(2);
    list.release({ ip: '10.0.0.1' });
    expect(list.has({ ip: '10.0.0.1' })).toBe(true);
    list.release({ ip: '10.0.0.1' });
    expect(events.at(-1)).toEqual({ type: 'revoke', key: '10.0.0.1', address: { ip: '10.0.0.1' } });
    expect(list.size).toBe(0);
    list.release({ ip: '10.0.0.1' }); // releasing an absent address is harmless
    expect(events).toHaveLength(2);
  });

  it('filters sources by bare IP or exact ip:port entries', () => {
    const list = new AllowList();
    list.add({ ip: '10.0.0.1' });
    list.add({ ip: '2001:db8::7', port: 9000 });
    expect(list.allows({ ip: '10.0.0.1', port: 1234 })).toBe(true);
    expect(list.allows({ ip: '2001:DB8::7', port: 9000 })).toBe(true);
    expect(list.allows({ ip: '2001:db8::7', port: 9001 })).toBe(false);
    expect(list.allows({ ip: '10.0.0.2', port: 1234 })).toBe(false);
    expect(list.keys()).toEqual(new Set(['10.0.0.1', '[2001:db8::7]:9000']));
  });
});
