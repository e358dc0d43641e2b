// global-setup: before and after `npm run e2e`, tears down what earlier failed or interrupted runs left behind, and
// the tutorial flows' shared cluster (its run id is recorded in a file the flows' worker appends to).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { teardownLeftovers, teardownRun } from './hosts.ts';
import { checkPrerequisites } from './sys.ts';

let runsDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  checkPrerequisites();
  const removed = await teardownLeftovers();
  if (removed.length) console.log(`e2e: removed leftovers of earlier runs ${removed.join(', ')}`);
  runsDir = mkdtempSync(join(tmpdir(), 'kle2e-flowruns-'));
  project.provide('e2eFlowRuns', join(runsDir, 'runs'));
}

export async function teardown(): Promise<void> {
  const runs = runsDir && existsSync(join(runsDir, 'runs')) ? readFileSync(join(runsDir, 'runs'), 'utf8').split('\n').filter(Boolean) : [];
  if (process.env.E2E_KEEP) {
    for (const id of runs) console.log(`E2E_KEEP: the flows' run ${id} left up (kubectl --kubeconfig /tmp/kle2e-${id}/server/kubeconfig.yaml); the next run removes it`);
  } else {
    for (const id of runs) await teardownRun(id);
    await teardownLeftovers();
  }
  if (runsDir) rmSync(runsDir, { recursive: true, force: true });
}
