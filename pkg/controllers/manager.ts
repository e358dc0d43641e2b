// manager: runs the controller table (and the scheduler) under leader election, with one shared informer factory per term.
import type { Logger } from 'pino';
import { EventRecorder } from '../client/events.ts';
import { SharedInformerFactory, stripManagedFields } from '../client/informer.ts';
import type { ApiClient } from '../client/interface.ts';
import { LeaderElector } from '../client/leaderelection.ts';
import type { Controller, ControllerFactory, ControllerOptions } from './types.ts';

export interface ManagerOptions {
  /** client per component name (the user agent / field manager it writes as) */
  clientFor(component: string): ApiClient;
  log: Logger;
  options: ControllerOptions;
  /** take a coordination.k8s.io Lease before running (default on, as upstream's --leader-elect) */
  leaderElect: boolean;
  /** this process's identity in the leases (upstream: hostname_uuid) */
  identity: string;
  /** which loops of `table` run, grouped by the lease they run under */
  groups: { lease: string; component: string; loops: [name: string, factory: ControllerFactory][] }[];
}

export interface ControllerManager {
  /** resolves once every group leads (or at once without leader election) — for tests and start-up logs */
  readonly leading: () => string[];
  stop(): Promise<void>;
}

/**
 * startControllerManager starts one term per group: when the group's lease is won, a fresh informer factory is
 * made, the loops are built and started, and the informers begin; when the lease is lost everything of that term
 * stops, so a new leader never shares a cache with an old one.
 */
export function startControllerManager(o: ManagerOptions): ControllerManager {
  const terms = new Map<string, { stop(): Promise<void> }>();
  const electors: LeaderElector[] = [];

  const startTerm = (g: ManagerOptions['groups'][number]) => {
    const client = o.clientFor(g.component);
    const log = o.log.child({ component: g.component });
    // cached objects without managedFields, as upstream's controller manager and scheduler keep them
    const informers = new SharedInformerFactory(client, log.child({ part: 'informers' }), { transform: stripManagedFields });
    const recorders = new Map<string, EventRecorder>();
    const recorder = (component: string) => {
      let r = recorders.get(component);
      if (!r) recorders.set(component, (r = new EventRecorder(client, { component }, log.child({ part: 'events' }))));
      return r;
    };
    const loops: Controller[] = [];
    for (const [name, factory] of g.loops) {
      loops.push(factory({ client, informers, log: log.child({ controller: name }), recorder, options: o.options }));
    }
    for (const c of loops) c.start();
    informers.start();
    log.info({ loops: loops.map((c) => c.name) }, 'started');
    terms.set(g.lease, {
      async stop() {
        await Promise.all(loops.map((c) => c.stop().catch((err) => log.warn({ err, controller: c.name }, 'stop failed'))));
        informers.stop();
        await client.close();
      },
    });
  };
  const stopTerm = async (lease: string) => {
    const t = terms.get(lease);
    terms.delete(lease);
    await t?.stop();
  };

  for (const g of o.groups) {
    if (!g.loops.length) continue;
    if (!o.leaderElect) {
      startTerm(g);
      continue;
    }
    const elector = new LeaderElector({
      client: o.clientFor(g.component),
      name: g.lease,
      namespace: 'kube-system',
      identity: o.identity,
      leaseDurationSeconds: 15,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      log: o.log.child({ component: g.component, part: 'leader-election' }),
      onStartedLeading: () => startTerm(g),
      onStoppedLeading: () => void stopTerm(g.lease),
    });
    electors.push(elector);
    void elector.run();
  }

  return {
    leading: () => [...terms.keys()],
    async stop() {
      await Promise.all([...terms.keys()].map(stopTerm));
      await Promise.all(electors.map((e) => e.stop()));
    },
  };
}
