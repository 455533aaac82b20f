import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    // the Auth server sends its bodies unchecked; in tests it checks them, strictly (AuthServerOptions.checkOutgoing)
    env: { IYESMP_CHECK_OUTGOING: 'strict' },
  },
});
