// testdata: builders of Deployments and ReplicaSets for this folder's table tests (upstream's newDeployment / rs helpers).
import type { Deployment, DeploymentCondition, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { setReplicasAnnotations } from './util.ts';

export const T0 = Date.parse('2024-01-01T00:00:00Z');

/** dep is upstream's newDeployment: RollingUpdate with maxSurge/maxUnavailable 0 unless given. */
export function dep(replicas: number, o: { surge?: number | string; unavailable?: number | string; pds?: number; recreate?: boolean; image?: string; history?: number } = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'foo', namespace: 'default', uid: 'dep-uid', generation: 1, annotations: {} },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'foo' } },
      strategy: o.recreate ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.surge ?? 0, maxUnavailable: o.unavailable ?? 0 } },
      template: { metadata: { labels: { app: 'foo' } }, spec: { containers: [{ name: 'c', image: o.image ?? 'img:1' }] } },
      progressDeadlineSeconds: o.pds,
      revisionHistoryLimit: o.history,
    },
    status: {},
  };
}

/** rs is upstream's rs(name, replicas, selector, timestamp) plus status counts; `at` is seconds after T0. */
export function rs(name: string, replicas: number, o: { at?: number; available?: number; statusReplicas?: number; ready?: number; revision?: number; image?: string } = {}): ReplicaSet {
  const annotations: Record<string, string> = {};
  if (o.revision !== undefined) annotations['deployment.kubernetes.io/revision'] = String(o.revision);
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', uid: `${name}-uid`, creationTimestamp: new Date(T0 + (o.at ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, 'Z'), annotations, generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'foo' } },
      template: { metadata: { labels: { app: 'foo', 'pod-template-hash': name } }, spec: { containers: [{ name: 'c', image: o.image ?? 'img:1' }] } },
    },
    status: { replicas: o.statusReplicas ?? replicas, availableReplicas: o.available ?? replicas, readyReplicas: o.ready ?? o.available ?? replicas, observedGeneration: 1 },
  };
}

/** annotated sets the replica annotations as a Deployment of `desired` (+ `surge`) would have left them. */
export function annotated(r: ReplicaSet, desired: number, surge = 0): ReplicaSet {
  setReplicasAnnotations(r, desired, desired + surge);
  return r;
}

/** cond builds a Progressing/Available condition last updated at `ms`. */
export function cond(type: string, status: 'True' | 'False' | 'Unknown', reason: string, ms: number): DeploymentCondition {
  const t = new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  return { type, status, reason, message: '', lastUpdateTime: t, lastTransitionTime: t };
}
