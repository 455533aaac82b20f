import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seatIdOf } from '../../src/auth/handoff/index.js';
import { parseHostPort } from '../../src/serve/config.js';
import { validatePlayerId } from '../../src/pki/index.js';
import { IyesmpError } from '../../src/errors.js';

describe('seat ids', () => {
  it('always gives a valid session-cert player id, the same for the same player and different for different players', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (a, b) => {
        const sa = seatIdOf(a);
        expect(() => validatePlayerId(sa)).not.toThrow();
        expect(seatIdOf(a)).toBe(sa);
        if (a !== b && !(a.replace(':', '.') === b || b.replace(':', '.') === a)) expect(seatIdOf(b)).not.toBe(sa);
      }),
    );
    expect(seatIdOf('guest:Ab-1')).toBe('guest.Ab-1');
    expect(seatIdOf('token:a:b')).not.toBe(seatIdOf('token:a.b'));
  });
});

describe('host:port parsing', () => {
  it('parses what it accepts and refuses the rest with an IyesmpError', () => {
    expect(parseHostPort('127.0.0.1:7351')).toEqual({ host: '127.0.0.1', port: 7351 });
    expect(parseHostPort('[::1]:7351')).toEqual({ host: '::1', port: 7351 });
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          const r = parseHostPort(s);
          expect(Number.isInteger(r.port)).toBe(true);
          expect(r.host.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(IyesmpError);
        }
      }),
    );
  });
});
