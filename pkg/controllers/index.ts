// controllers: the controller manager — the table of every controller (and the scheduler) that `kubeling server` runs.
import type { ControllerFactory } from './types.ts';
import { newEndpointsController } from './endpoints/index.ts';
import { newEndpointSliceController } from './endpointslice/index.ts';
import { newEndpointSliceMirroringController } from './endpointslicemirroring/index.ts';
import { newServiceLbController } from './servicelb/index.ts';
import { newGarbageCollector } from './garbagecollector/index.ts';
import { newNodeIpamController } from './nodeipam/index.ts';
import { newNodeLifecycleController } from './nodelifecycle/index.ts';
import { newReplicaSetController, newReplicationControllerController } from './replicaset/index.ts';
import { newDeploymentController } from './deployment/index.ts';
import { newNamespaceController } from './namespace/index.ts';
import { newCsrApprovingController, newCsrSigningController } from './certificates/index.ts';
import { newRootCaCertPublisher, newServiceAccountsController } from './serviceaccount/index.ts';
import { newScheduler } from '../scheduler/index.ts';

export type { Controller, ControllerContext, ControllerFactory, ControllerOptions } from './types.ts';
export { defaultControllerOptions } from './types.ts';

/** CONTROLLERS lists every reconcile loop by name, in start order. */
export const CONTROLLERS: [name: string, factory: ControllerFactory][] = [
  ['nodeipam', newNodeIpamController],
  ['nodelifecycle', newNodeLifecycleController],
  ['replicaset', newReplicaSetController],
  ['replicationcontroller', newReplicationControllerController],
  ['deployment', newDeploymentController],
  ['endpoint', newEndpointsController],
  ['endpointslice', newEndpointSliceController],
  ['endpointslicemirroring', newEndpointSliceMirroringController],
  ['servicelb', newServiceLbController],
  ['garbagecollector', newGarbageCollector],
  ['namespace', newNamespaceController],
  ['csrapproving', newCsrApprovingController],
  ['csrsigning', newCsrSigningController],
  ['serviceaccount', newServiceAccountsController],
  ['root-ca-cert-publisher', newRootCaCertPublisher],
  ['scheduler', newScheduler],
];

/** SCHEDULER_LOOPS run under the kube-scheduler lease; every other loop under kube-controller-manager's. */
const SCHEDULER_LOOPS = new Set(['scheduler']);

/**
 * controllerEnabled reads upstream's --controllers list: `*` turns on every loop, `name` one loop, `-name` turns one
 * off. Example: `*,-garbagecollector`, or `namespace` alone.
 */
export function controllerEnabled(list: string[], name: string): boolean {
  if (list.includes(`-${name}`)) return false;
  return list.includes(name) || list.includes('*');
}

/** unknownControllers names entries of a --controllers list that match no loop (a typo should fail loudly). */
export function unknownControllers(list: string[]): string[] {
  const names = new Set(CONTROLLERS.map(([n]) => n));
  return list.map((e) => e.replace(/^-/, '')).filter((n) => n !== '*' && !names.has(n));
}

/**
 * managerGroups splits the enabled loops by lease, as upstream runs the scheduler and the controller manager as
 * two leader-elected components. `controllers` is the --controllers list; the scheduler has its own switch.
 */
export function managerGroups(controllers: string[], scheduler: boolean): { lease: string; component: string; loops: [string, ControllerFactory][] }[] {
  return [
    { lease: 'kube-controller-manager', component: 'kube-controller-manager', loops: CONTROLLERS.filter(([n]) => !SCHEDULER_LOOPS.has(n) && controllerEnabled(controllers, n)) },
    { lease: 'kube-scheduler', component: 'default-scheduler', loops: scheduler ? CONTROLLERS.filter(([n]) => SCHEDULER_LOOPS.has(n)) : [] },
  ];
}
