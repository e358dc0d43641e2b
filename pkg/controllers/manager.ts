// manager: runs the controller table (and the scheduler) under leader election over ONE informer factory for the process (each term a view of it).
import type { Logger } from 'pino';
import { EventRecorder } from '../client/events.ts';
import { SharedInformerFactory, stripManagedFields } from '../client/informer.ts';
import { sharingSubtrees } from '../client/share.ts';
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
 * startControllerManager starts one term per group: when the group's lease is won, the loops are built and started
 * over a view of the process's one informer factory; when the lease is lost the term's loops stop and its handlers
 * are removed. The informers are read-only caches of the cluster and stay: the scheduler and the controller manager
 * share one cache of every pod (upstream runs them as two processes with a cache each; here they are one process).
 */
export function startControllerManager(o: ManagerOptions): ControllerManager {
  const terms = new Map<string, { stop(): Promise<void> }>();
  const electors: LeaderElector[] = [];
  // made with the first term; cached objects without managedFields, as upstream's controller manager and scheduler keep
  // them, and with the parts that repeat across objects shared (read-only) among them
  let shared: { factory: SharedInformerFactory; client: ApiClient } | undefined;
  const sharedFactory = () => {
    if (!shared) {
      const client = o.clientFor('kubeling-informers');
      shared = { client, factory: new SharedInformerFactory(client, o.log.child({ part: 'informers' }), { transform: stripManagedFields, share: sharingSubtrees() }) };
    }
    return shared.factory;
  };

  const startTerm = (g: ManagerOptions['groups'][number]) => {
    const client = o.clientFor(g.component);
    const log = o.log.child({ component: g.component });
    const informers = sharedFactory().scoped();
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
        informers.stop(); // this term's handlers go; the caches stay for the next term
        await Promise.all(loops.map((c) => c.stop().catch((err) => log.warn({ err, controller: c.name }, 'stop failed'))));
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
      shared?.factory.stop();
      await shared?.client.close();
      shared = undefined;
    },
  };
}
