// vitest.config: `npm run e2e` — the multi-host tests, one file at a time in name order in one worker (harness and
// network build their own hosts; the flow-N files share one cluster, see flow/cluster.ts), leftovers of interrupted
// runs removed before and after.
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import NameSequencer from './sequencer.ts';

export default defineConfig({
  root: resolve(import.meta.dirname, '../..'),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    // one worker keeps its modules across files, so the flows' shared cluster outlives each file
    isolate: false,
    sequence: { sequencer: NameSequencer },
  },
});
