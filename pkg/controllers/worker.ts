// worker: the loop every controller runs — take a key, reconcile it, forget it or re-queue it with back-off.
import type { Logger } from 'pino';
import { ApiError } from '../api/errors.ts';
import type { WorkQueue } from '../client/queue.ts';

/** SyncResult lets reconcile ask to be called again after a delay (a timed wait: never sleep in reconcile). */
export type SyncResult = void | { requeueAfterMs: number };

/**
 * runWorkers starts `n` workers on `queue`. A key is reconciled by one worker at a time (the queue guarantees
 * it); an error re-queues the key with growing delay, success forgets its failures. Resolves when the queue
 * shuts down and every worker has finished its key.
 */
export function runWorkers(queue: WorkQueue, n: number, reconcile: (key: string) => Promise<SyncResult>, log: Logger): Promise<void> {
  const worker = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const r = await reconcile(key);
        queue.forget(key);
        if (r && r.requeueAfterMs >= 0) queue.addAfter(key, r.requeueAfterMs);
      } catch (e) {
        // a 409 is an ordinary lost race: retry quietly
        if (!(e instanceof ApiError && e.code === 409)) log.warn({ err: e, key }, 'sync failed; retrying with back-off');
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  return Promise.all(Array.from({ length: n }, worker)).then(() => undefined);
}

/** splitKey turns `ns/name` (or `name`) back into its parts. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Workers is a controller's running worker pool. */
export interface Workers {
  /** stop shuts the queue down, ends a wait for caches that never listed, and resolves when every worker is done */
  stop(): Promise<void>;
}

/**
 * startWorkers runs `n` workers on `queue` once every cache in `synced` has listed (upstream's WaitForCacheSync:
 * a controller never acts on a partial view). A stop before that ends the wait without starting them.
 */
export function startWorkers(queue: WorkQueue, synced: Promise<unknown>[], n: number, reconcile: (key: string) => Promise<SyncResult>, log: Logger): Workers {
  let stop!: () => void;
  const stopped = new Promise<false>((r) => (stop = () => r(false)));
  const running = (async () => {
    const ready = await Promise.race([Promise.all(synced).then(() => true), stopped]);
    if (ready) await runWorkers(queue, n, reconcile, log);
  })();
  return {
    async stop() {
      queue.shutdown();
      stop();
      await running;
    },
  };
}
