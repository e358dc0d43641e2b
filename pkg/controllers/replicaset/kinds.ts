// kinds: what differs between ReplicaSet (apps/v1, structured selector) and ReplicationController (v1, map
// selector) — one controller serves both through this table, as upstream runs the RS controller for RCs.
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { PodTemplateSpec, ReplicationController } from 'kubernetes-types/core/v1.js';
import { lookupKind } from '../../api/resources.ts';
import type { ResourceInfo } from '../../api/resources.ts';
import { labelSelectorFromObject, selectorFromSet, selectsNothing } from '../../api/selectors.ts';
import type { LabelRequirement } from '../../api/selectors.ts';
import type { KubeObject } from '../../api/types.ts';
import type { OwnerKind } from '../util/controllerref.ts';
import type { SetStatus, SetView } from './plan.ts';

/** SetKind is one row of the table. */
export interface SetKind {
  /** the controller's name in the controller manager */
  name: string;
  /** the events' source component (upstream's names) */
  component: string;
  info: ResourceInfo;
  ownerKind: OwnerKind;
  /** selector converts spec.selector; undefined when it is invalid or selects nothing (the set is left alone) */
  selector(set: KubeObject): LabelRequirement[] | undefined;
  template(set: KubeObject): PodTemplateSpec | undefined;
  view(set: KubeObject): SetView;
}

function view(spec: ReplicaSet['spec'] | ReplicationController['spec'], set: KubeObject): SetView {
  return {
    replicas: spec?.replicas ?? 1,
    minReadySeconds: spec?.minReadySeconds ?? 0,
    templateLabels: { ...(spec?.template?.metadata?.labels ?? {}) },
    generation: set.metadata.generation ?? 0,
    status: (set.status ?? { replicas: 0 }) as SetStatus,
  };
}

export const REPLICA_SET: SetKind = {
  name: 'replicaset',
  component: 'replicaset-controller',
  info: lookupKind('apps/v1', 'ReplicaSet')!,
  ownerKind: { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  selector(set) {
    try {
      const reqs = labelSelectorFromObject((set as ReplicaSet).spec?.selector);
      return selectsNothing(reqs) ? undefined : reqs;
    } catch {
      return undefined;
    }
  },
  template: (set) => (set as ReplicaSet).spec?.template,
  view: (set) => view((set as ReplicaSet).spec, set),
};

export const REPLICATION_CONTROLLER: SetKind = {
  name: 'replicationcontroller',
  component: 'replication-controller',
  info: lookupKind('v1', 'ReplicationController')!,
  ownerKind: { apiVersion: 'v1', kind: 'ReplicationController' },
  selector: (set) => selectorFromSet((set as ReplicationController).spec?.selector),
  template: (set) => (set as ReplicationController).spec?.template,
  view: (set) => view((set as ReplicationController).spec, set),
};
