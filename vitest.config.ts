import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['pkg/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
