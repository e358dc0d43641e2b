// vitest.config: `npm run e2e:vms` — the VM test (issue 11) alone: one file, one worker, long timeouts (QEMU under
// software emulation), leftovers of interrupted runs (prefix klvm) removed before and after.
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: resolve(import.meta.dirname, '../..'),
  test: {
    include: ['test/vms/**/*.test.ts'],
    globalSetup: ['test/vms/global-setup.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});
