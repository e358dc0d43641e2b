// controllers: the controller manager — the table of every controller (and the scheduler) that `kubeling server` runs.
import type { ControllerFactory } from './types.ts';

export type { Controller, ControllerContext, ControllerFactory, ControllerOptions } from './types.ts';
export { defaultControllerOptions } from './types.ts';

/** CONTROLLERS lists every reconcile loop by name, in start order. */
export const CONTROLLERS: [name: string, factory: ControllerFactory][] = [
];

/** SCHEDULER_LOOPS run under the kube-scheduler lease; every other loop under kube-controller-manager's. */
const SCHEDULER_LOOPS = new Set(['scheduler']);

/**
 * managerGroups splits the enabled loops by lease, as upstream runs the scheduler and the controller manager as
 * two leader-elected components. `disabled` names loops to leave out ('scheduler', 'replicaset', …).
 */
export function managerGroups(disabled: Set<string>): { lease: string; component: string; loops: [string, ControllerFactory][] }[] {
  const enabled = CONTROLLERS.filter(([name]) => !disabled.has(name));
  return [
    { lease: 'kube-controller-manager', component: 'kube-controller-manager', loops: enabled.filter(([n]) => !SCHEDULER_LOOPS.has(n)) },
    { lease: 'kube-scheduler', component: 'default-scheduler', loops: enabled.filter(([n]) => SCHEDULER_LOOPS.has(n)) },
  ];
}
