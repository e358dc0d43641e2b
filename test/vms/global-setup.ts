// global-setup: before and after `npm run e2e:vms`, removes whatever VM runs (netns klvm-*, their QEMU, registry and
// apt server, /tmp/klvm-*) an interrupted or failed run left behind — also on Ctrl-C of the runner.
import { sweepLeftovers, sweepNow } from './harness.ts';

let swept = false;
async function sweep(): Promise<void> {
  const removed = await sweepLeftovers();
  if (removed.length) console.log(`vms: removed runs ${removed.join(', ')}`);
}

export async function setup(): Promise<void> {
  await sweep();
  // synchronous: the runner's own handler exits the process right after
  const onSignal = () => {
    if (swept) return;
    swept = true;
    sweepNow();
  };
  process.prependListener('SIGINT', onSignal);
  process.prependListener('SIGTERM', onSignal);
}

export async function teardown(): Promise<void> {
  if (!process.env.KUBELING_VMS_KEEP) await sweep();
}
