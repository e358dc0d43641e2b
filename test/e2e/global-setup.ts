// global-setup: before and after `npm run e2e`, tears down what earlier failed or interrupted runs left behind.
import { teardownLeftovers } from './hosts.ts';
import { checkPrerequisites } from './sys.ts';

export async function setup(): Promise<void> {
  checkPrerequisites();
  const removed = await teardownLeftovers();
  if (removed.length) console.log(`e2e: removed leftovers of earlier runs ${removed.join(', ')}`);
}

export async function teardown(): Promise<void> {
  if (!process.env.E2E_KEEP) await teardownLeftovers();
}
