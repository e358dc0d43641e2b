// patchmeta: the patch metadata of the kinds we serve (patchStrategy/patchMergeKey and listType/listMapKey tags of upstream's types.go).

/**
 * FieldMeta describes one field of a struct as the patch engines need it. Only fields that matter are listed:
 * struct fields that lead to lists with metadata, merge lists, sets, and atomic structs. Anything not listed is a
 * plain field: maps merge key by key, lists are replaced whole (atomic).
 */
export interface FieldMeta {
  /** the struct type of the value, or of each element when the field is a list */
  type?: string;
  /** strategic merge patch: `merge` (lists merged by patchMergeKey, or primitive lists as sets), `retainKeys`, `merge,retainKeys`, `replace` */
  patchStrategy?: string;
  patchMergeKey?: string;
  /** server-side apply: `map` (items keyed by listMapKeys), `set` (primitive items), otherwise atomic */
  listType?: 'map' | 'set' | 'atomic';
  listMapKeys?: string[];
  /** server-side apply: defaults of key fields an item may omit (container ports' protocol is TCP) */
  keyDefaults?: Record<string, unknown>;
  /** server-side apply: the whole value is one field (structType=atomic / mapType=atomic) */
  atomic?: boolean;
}

export type TypeMeta = Record<string, FieldMeta>;

const byName = (type?: string): FieldMeta => ({ type, patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] });
const byType = (type?: string): FieldMeta => ({ type, patchStrategy: 'merge', patchMergeKey: 'type', listType: 'map', listMapKeys: ['type'] });
const conditions = byType();
const atomic: FieldMeta = { atomic: true };
const meta: FieldMeta = { type: 'ObjectMeta' };
const selector: FieldMeta = { atomic: true }; // metav1.LabelSelector is +structType=atomic

const containerFields: TypeMeta = {
  ports: {
    patchStrategy: 'merge',
    patchMergeKey: 'containerPort',
    listType: 'map',
    listMapKeys: ['containerPort', 'protocol'],
    keyDefaults: { protocol: 'TCP' },
  },
  env: byName(),
  volumeMounts: { patchStrategy: 'merge', patchMergeKey: 'mountPath', listType: 'map', listMapKeys: ['mountPath'] },
  volumeDevices: { patchStrategy: 'merge', patchMergeKey: 'devicePath', listType: 'map', listMapKeys: ['devicePath'] },
  resources: { type: 'ResourceRequirements' },
};

/** TYPES maps a struct name to its field metadata. */
export const TYPES: Record<string, TypeMeta> = {
  ObjectMeta: {
    finalizers: { patchStrategy: 'merge', listType: 'set' },
    ownerReferences: { patchStrategy: 'merge', patchMergeKey: 'uid', listType: 'map', listMapKeys: ['uid'] },
  },
  PodTemplateSpec: { metadata: meta, spec: { type: 'PodSpec' } },
  PodSpec: {
    volumes: { type: 'Volume', patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    initContainers: byName('Container'),
    containers: byName('Container'),
    ephemeralContainers: byName('Container'),
    imagePullSecrets: { patchStrategy: 'merge', patchMergeKey: 'name' }, // SSA: atomic in 1.32
    hostAliases: { patchStrategy: 'merge', patchMergeKey: 'ip', listType: 'map', listMapKeys: ['ip'] },
    topologySpreadConstraints: {
      patchStrategy: 'merge',
      patchMergeKey: 'topologyKey',
      listType: 'map',
      listMapKeys: ['topologyKey', 'whenUnsatisfiable'],
    },
    resourceClaims: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    schedulingGates: byName(),
    nodeSelector: { atomic: true }, // +mapType=atomic
  },
  Volume: {},
  Container: containerFields,
  ResourceRequirements: { claims: { listType: 'map', listMapKeys: ['name'] } },
  PodStatus: {
    conditions,
    podIPs: { patchStrategy: 'merge', patchMergeKey: 'ip', listType: 'map', listMapKeys: ['ip'] },
    hostIPs: { patchStrategy: 'merge', patchMergeKey: 'ip' },
    resourceClaimStatuses: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
  },
  ServiceSpec: {
    ports: {
      patchStrategy: 'merge',
      patchMergeKey: 'port',
      listType: 'map',
      listMapKeys: ['port', 'protocol'],
      keyDefaults: { protocol: 'TCP' },
    },
    selector: atomic, // +mapType=atomic
  },
  ServiceStatus: { conditions },
  NamespaceStatus: { conditions },
  NodeSpec: { podCIDRs: { patchStrategy: 'merge', listType: 'set' } },
  NodeStatus: {
    conditions,
    addresses: { patchStrategy: 'merge', patchMergeKey: 'type' }, // SSA: atomic (types may repeat)
  },
  ReplicationControllerSpec: { template: { type: 'PodTemplateSpec' }, selector: atomic },
  ReplicationControllerStatus: { conditions },
  PersistentVolumeClaimStatus: { conditions },
  ServiceAccount: { metadata: meta, secrets: byName() },
  DeploymentSpec: {
    selector,
    template: { type: 'PodTemplateSpec' },
    strategy: { patchStrategy: 'retainKeys' },
  },
  WorkloadStatus: { conditions },
  ReplicaSetSpec: { selector, template: { type: 'PodTemplateSpec' } },
  StatefulSetSpec: { selector, template: { type: 'PodTemplateSpec' } },
  DaemonSetSpec: { selector, template: { type: 'PodTemplateSpec' } },
  JobSpec: { selector, template: { type: 'PodTemplateSpec' } },
  JobStatus: { conditions: { patchStrategy: 'merge', patchMergeKey: 'type' } }, // SSA: +listType=atomic
  JobTemplateSpec: { metadata: meta, spec: { type: 'JobSpec' } },
  CronJobSpec: { jobTemplate: { type: 'JobTemplateSpec' } },
};

function root(spec?: string, status?: string): string {
  const name = `root:${spec ?? ''}:${status ?? ''}`;
  if (!TYPES[name]) {
    const t: TypeMeta = { metadata: meta };
    if (spec) t.spec = { type: spec };
    if (status) t.status = { type: status };
    TYPES[name] = t;
  }
  return name;
}

/** KIND_ROOTS maps `group/Kind` to the root type name of its objects. */
const KIND_ROOTS: Record<string, string> = {
  '/Pod': root('PodSpec', 'PodStatus'),
  '/Service': root('ServiceSpec', 'ServiceStatus'),
  '/Endpoints': root(),
  '/ConfigMap': root(),
  '/Secret': root(),
  '/Namespace': root(undefined, 'NamespaceStatus'),
  '/Node': root('NodeSpec', 'NodeStatus'),
  '/Event': root(),
  '/ReplicationController': root('ReplicationControllerSpec', 'ReplicationControllerStatus'),
  '/PersistentVolumeClaim': root(undefined, 'PersistentVolumeClaimStatus'),
  '/PersistentVolume': root(),
  '/ServiceAccount': 'ServiceAccount',
  '/PodTemplate': 'PodTemplateRoot',
  'apps/Deployment': root('DeploymentSpec', 'WorkloadStatus'),
  'apps/ReplicaSet': root('ReplicaSetSpec', 'WorkloadStatus'),
  'apps/StatefulSet': root('StatefulSetSpec', 'WorkloadStatus'),
  'apps/DaemonSet': root('DaemonSetSpec', 'WorkloadStatus'),
  'batch/Job': root('JobSpec', 'JobStatus'),
  'batch/CronJob': root('CronJobSpec'),
  'coordination.k8s.io/Lease': root(),
};
TYPES.PodTemplateRoot = { metadata: meta, template: { type: 'PodTemplateSpec' } };

/** rootTypeOf names the root type of a kind's objects; kinds without a table get metadata only (the rest merges generically). */
export function rootTypeOf(kind: { group: string; kind: string }): string {
  return KIND_ROOTS[`${kind.group}/${kind.kind}`] ?? root();
}

/** fieldMeta looks up the metadata of `key` inside the struct `type`; undefined when none is known. */
export function fieldMeta(type: string | undefined, key: string): FieldMeta | undefined {
  if (!type) return undefined;
  return TYPES[type]?.[key];
}
