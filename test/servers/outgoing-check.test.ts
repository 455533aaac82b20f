/**
 * The Auth server sends its bodies unchecked by default (its own code builds them to the schemas;
 * docs/protocol.md, "What is checked of the bodies a side sends"); the tests run it strict, so a
 * body that would go out wrong, or with a key its schema does not name, fails them instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fxSuite, startAuth } from './helpers.js';

const suite = fxSuite();
const closers = suite.closers;
const setting = process.env.IYESMP_CHECK_OUTGOING;
afterEach(() => {
  process.env.IYESMP_CHECK_OUTGOING = setting;
});

async function checkOf(env: string | undefined, option?: boolean | 'strict') {
  if (env === undefined) delete process.env.IYESMP_CHECK_OUTGOING;
  else process.env.IYESMP_CHECK_OUTGOING = env;
  const auth = await startAuth(suite.fx, option === undefined ? {} : { checkOutgoing: option });
  closers.push(() => auth.close({ graceMs: 0 }));
  return auth.options.checkOutgoing;
}

describe("the Auth server's outgoing checks", () => {
  it('are strict under the test setup', () => {
    expect(setting).toBe('strict');
  });

  it('are off by default, on with IYESMP_CHECK_OUTGOING=1 or strict, and the option wins', async () => {
    expect(await checkOf(undefined)).toBe(false);
    expect(await checkOf('1')).toBe(true);
    expect(await checkOf('strict')).toBe('strict');
    expect(await checkOf('0')).toBe(false);
    expect(await checkOf('strict', false)).toBe(false);
    expect(await checkOf(undefined, true)).toBe(true);
  });
});
