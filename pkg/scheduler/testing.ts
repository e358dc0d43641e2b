// testing: builders of nodes and pods for the scheduler's unit tests (pure data, no I/O).
import type { Container, Node, Pod, Taint } from 'kubernetes-types/core/v1.js';

let seq = 0;

/** makeNode builds a Ready node with `cpu`/`memory`/`pods` allocatable and the hostname label. */
export function makeNode(name: string, o: { cpu?: string; memory?: string; pods?: number; labels?: Record<string, string>; taints?: Taint[]; unschedulable?: boolean; ready?: boolean } = {}): Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { taints: o.taints, unschedulable: o.unschedulable },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: String(o.pods ?? 110) },
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

/** makePod builds a pending pod with one container requesting `cpu`/`memory` (omitted = no request). */
export function makePod(name: string, o: { cpu?: string; memory?: string; spec?: Partial<NonNullable<Pod['spec']>>; labels?: Record<string, string>; ownerUid?: string; nodeName?: string; containers?: Container[] } = {}): Pod {
  const requests: Record<string, string> = {};
  if (o.cpu) requests.cpu = o.cpu;
  if (o.memory) requests.memory = o.memory;
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}-${++seq}`,
      labels: o.labels,
      ownerReferences: o.ownerUid ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: o.ownerUid, controller: true }] : undefined,
    },
    spec: {
      containers: o.containers ?? [{ name: 'c', image: 'busybox', resources: { requests } }],
      nodeName: o.nodeName,
      ...o.spec,
    },
  };
}
