import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['pkg/**/*.test.ts', 'test/**/*.test.ts'],
    // the multi-host tests build namespaces and dockerds of their own: `npm run e2e` (test/e2e/vitest.config.ts)
    exclude: ['test/e2e/**', 'test/vms/cluster.test.ts', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
