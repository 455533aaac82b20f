// Close reasons name what failed even when an error has no message (the QUIC library's idle
// timeout once read "stream failed: " and hid the cause of lost players under load).
import { errors as quicErrors } from '@matrixai/quic';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/protocol/stream-adapter.js';

describe('describeError', () => {
  it('uses the message when there is one', () => {
    expect(describeError(new Error('reset by peer'))).toBe('reset by peer');
    expect(describeError('plain')).toBe('plain');
  });

  it('names an error without a message by its class and description', () => {
    const idle = new quicErrors.ErrorQUICConnectionIdleTimeout();
    expect(idle.message).toBe('');
    expect(describeError(idle)).toBe('ErrorQUICConnectionIdleTimeout (QUIC Connection max idle timeout exhausted)');
    class Quiet extends Error {
      override name = 'Quiet';
    }
    expect(describeError(new Quiet())).toBe('Quiet');
  });
});
