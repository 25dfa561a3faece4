import { defineConfig } from 'vitest/config';

// e2e specs drive a real browser, gateway process and TLS peers: one file at a time, long timeouts.
export default defineConfig({
  test: {
    root: `${__dirname}/..`,
    include: ['e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default'],
  },
});
