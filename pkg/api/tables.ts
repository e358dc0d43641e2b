// tables: server-side printing — the meta.k8s.io/v1 Table that `kubectl get` renders, one printer per kind as upstream's.
import type { KubeObject, ObjectMeta } from './types.ts';
import type { ResourceInfo } from './resources.ts';
import { apiVersionOf } from './resources.ts';
import { humanDuration, parseTime, translateTimestampSince } from './age.ts';
import { canonicalQuantity } from './quantity.ts';
import { formatLabelSelector, formatLabels, selectorToString } from './selectors.ts';
import type { LabelSelectorObject } from './selectors.ts';

export { humanDuration, translateTimestampSince } from './age.ts';

/** TableColumnDefinition is one column; priority 0 columns always show, priority 1 only with `-o wide`. */
export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** TableRowCondition marks a row, e.g. a pod that has completed. */
export interface TableRowCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** TableRow is one object: its cells, in column order, and the object itself (per includeObject). */
export interface TableRow {
  cells: unknown[];
  conditions?: TableRowCondition[];
  object: unknown;
}

/** Table is meta.k8s.io/v1 Table. */
export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

/** TableOptions: the clock for ages, what each row's object carries, and the list metadata to copy. */
export interface TableOptions {
  now: Date;
  includeObject?: 'None' | 'Metadata' | 'Object';
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
  noHeaders?: boolean;
}

type Printer = {
  columns: TableColumnDefinition[];
  cells: (obj: KubeObject, now: Date) => unknown[];
  conditions?: (obj: KubeObject) => TableRowCondition[] | undefined;
};

// ---------------------------------------------------------------------------------------------
// DOC: the column descriptions, copied from upstream's API field documentation (SwaggerDoc).

const DOC: Record<string, string> = {
  "ObjectMeta.name": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
  "ObjectMeta.creationTimestamp": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
  "PodStatus.podIP": "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
  "PodSpec.nodeName": "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.",
  "PodStatus.nominatedNodeName": "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
  "PodSpec.readinessGates": "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
  "ReplicationControllerSpec.replicas": "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
  "ReplicationControllerStatus.replicas": "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
  "ReplicationControllerStatus.readyReplicas": "The number of ready replicas for this replication controller.",
  "ReplicationControllerSpec.selector": "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
  "ReplicaSetSpec.replicas": "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
  "ReplicaSetStatus.replicas": "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
  "ReplicaSetStatus.readyReplicas": "readyReplicas is the number of pods targeted by this ReplicaSet with a Ready Condition.",
  "ReplicaSetSpec.selector": "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
  "DaemonSetStatus.desiredNumberScheduled": "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
  "DaemonSetStatus.currentNumberScheduled": "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
  "DaemonSetStatus.numberReady": "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
  "DaemonSetStatus.updatedNumberScheduled": "The total number of nodes that are running updated daemon pod",
  "DaemonSetStatus.numberAvailable": "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
  "PodSpec.nodeSelector": "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
  "DaemonSetSpec.selector": "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
  "JobStatus.succeeded": "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
  "JobSpec.selector": "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
  "CronJobSpec.schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
  "CronJobSpec.timeZone": "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
  "CronJobSpec.suspend": "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
  "CronJobStatus.active": "A list of pointers to currently running jobs.",
  "CronJobStatus.lastScheduleTime": "Information when was the last time the job was successfully scheduled.",
  "ServiceSpec.type": "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
  "ServiceSpec.clusterIP": "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
  "ServiceSpec.externalIPs": "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
  "ServiceSpec.ports": "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
  "ServiceSpec.selector": "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
  "Endpoints.subsets": "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
  "NodeSystemInfo.kubeletVersion": "Kubelet Version reported by the node.",
  "NodeStatus.addresses": "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/concepts/nodes/node/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).",
  "NodeSystemInfo.osImage": "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
  "NodeSystemInfo.kernelVersion": "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
  "NodeSystemInfo.containerRuntimeVersion": "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
  "Event.lastTimestamp": "The time at which the most recent occurrence of this event was recorded.",
  "Event.type": "Type of this event (Normal, Warning), new types could be added in the future",
  "Event.reason": "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
  "Event.involvedObject": "The object that this event is about.",
  "Event.source": "The component reporting this event. Should be a short machine understandable string.",
  "Event.message": "A human-readable description of the status of this operation.",
  "Event.firstTimestamp": "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
  "Event.count": "The number of times this event has occurred.",
  "ObjectReference.fieldPath": "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
  "Secret.type": "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
  "Secret.data": "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
  "ServiceAccount.secrets": "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
  "PersistentVolumeSpec.capacity": "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity",
  "PersistentVolumeSpec.accessModes": "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes",
  "PersistentVolumeSpec.persistentVolumeReclaimPolicy": "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming",
  "PersistentVolumeSpec.claimRef": "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding",
  "PersistentVolumeSpec.volumeMode": "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.",
  "PersistentVolumeStatus.phase": "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase",
  "PersistentVolumeStatus.reason": "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
  "PersistentVolumeClaimStatus.phase": "phase represents the current phase of PersistentVolumeClaim.",
  "PersistentVolumeClaimStatus.capacity": "capacity represents the actual resources of the underlying volume.",
  "PersistentVolumeClaimStatus.accessModes": "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
  "PersistentVolumeClaimSpec.volumeName": "volumeName is the binding reference to the PersistentVolume backing this claim.",
  "PersistentVolumeClaimSpec.volumeMode": "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
  "DeploymentStatus.updatedReplicas": "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
  "DeploymentStatus.availableReplicas": "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
  "DeploymentSpec.selector": "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
  "ConfigMap.data": "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
  "LeaseSpec.holderIdentity": "holderIdentity contains the identity of the holder of a current lease.",
  "ControllerRevision.revision": "Revision indicates the revision of the state represented by Data.",
};

// ---------------------------------------------------------------------------------------------
// Column helpers.

function col(name: string, type: string, description: string, priority = 0, format = ''): TableColumnDefinition {
  return { name, type, format, description, priority };
}
const nameCol = () => col('Name', 'string', DOC['ObjectMeta.name'], 0, 'name');
const ageCol = () => col('Age', 'string', DOC['ObjectMeta.creationTimestamp']);
const containersCol = () => col('Containers', 'string', 'Names of each container in the template.', 1);
const imagesCol = () => col('Images', 'string', 'Images referenced by each container in the template.', 1);

const age = (o: KubeObject, now: Date) => translateTimestampSince(o.metadata.creationTimestamp, now);

/** layoutContainerCells is upstream's: names and images, comma separated. */
function layoutContainerCells(containers: { name?: string; image?: string }[] | undefined): [string, string] {
  const cs = containers ?? [];
  return [cs.map((c) => c.name ?? '').join(','), cs.map((c) => c.image ?? '').join(',')];
}

/** selectorString is the deployment SELECTOR cell: LabelSelectorAsSelector(sel).String(), `<invalid>` on error. */
function selectorString(sel: LabelSelectorObject | null | undefined): string {
  try {
    return selectorToString(sel);
  } catch {
    return '<invalid>';
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

// ---------------------------------------------------------------------------------------------
// Pods.

function isRestartableInit(c: { restartPolicy?: string } | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

function conditionTrue(conds: { type?: string; status?: string }[] | undefined, type: string): boolean {
  return (conds ?? []).some((c) => c.type === type && c.status === 'True');
}

/** firstConditionTrue is upstream's isPodInitializedConditionTrue / hasJobCondition: the first condition of the type decides. */
function firstConditionTrue(conds: { type?: string; status?: string }[] | undefined, type: string): boolean {
  const c = (conds ?? []).find((x) => x.type === type);
  return c?.status === 'True';
}

/**
 * podCells is upstream's printPod: READY counts ready containers (plus started restartable init containers),
 * STATUS walks init containers then containers (last first) for the most telling reason, RESTARTS gains
 * `(5m ago)` from the latest lastState.terminated.finishedAt.
 */
function podCells(pod: KubeObject, now: Date): unknown[] {
  const spec = pod.spec ?? {};
  const status = pod.status ?? {};
  const containers: any[] = spec.containers ?? [];
  const initContainers: any[] = spec.initContainers ?? [];
  let restarts = 0;
  let restartableInitRestarts = 0;
  let totalContainers = containers.length;
  let readyContainers = 0;
  let lastRestart = 0;
  let lastRestartableInitRestart = 0;

  const phase: string = status.phase ?? '';
  let reason: string = status.reason || phase;
  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  const initByName = new Map<string, any>();
  for (const c of initContainers) {
    initByName.set(c.name, c);
    if (isRestartableInit(c)) totalContainers++;
  }

  const finishedAt = (cs: any) => parseTime(cs.lastState?.terminated?.finishedAt) ?? 0;

  let initializing = false;
  const initStatuses: any[] = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    restarts += num(cs.restartCount);
    if (cs.lastState?.terminated) lastRestart = Math.max(lastRestart, finishedAt(cs));
    const restartable = isRestartableInit(initByName.get(cs.name));
    if (restartable) {
      restartableInitRestarts += num(cs.restartCount);
      if (cs.lastState?.terminated) lastRestartableInitRestart = Math.max(lastRestartableInitRestart, finishedAt(cs));
    }
    const term = cs.state?.terminated;
    const waiting = cs.state?.waiting;
    if (term && num(term.exitCode) === 0) continue;
    if (restartable && cs.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (term) {
      if (!term.reason) reason = num(term.signal) !== 0 ? `Init:Signal:${term.signal}` : `Init:ExitCode:${num(term.exitCode)}`;
      else reason = 'Init:' + term.reason;
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = 'Init:' + waiting.reason;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || firstConditionTrue(status.conditions, 'Initialized')) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses: any[] = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i];
      restarts += num(cs.restartCount);
      if (cs.lastState?.terminated) lastRestart = Math.max(lastRestart, finishedAt(cs));
      const term = cs.state?.terminated;
      if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
      else if (term?.reason) reason = term.reason;
      else if (term) reason = num(term.signal) !== 0 ? `Signal:${term.signal}` : `ExitCode:${num(term.exitCode)}`;
      else if (cs.ready && cs.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(status.conditions, 'Ready') ? 'Running' : 'NotReady';
  }

  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  let restartsStr = String(restarts);
  if (restarts !== 0 && lastRestart !== 0) restartsStr = `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)`;

  const podIP: string = status.podIPs?.[0]?.ip || status.podIP || '<none>';
  const gates: any[] = spec.readinessGates ?? [];
  let readinessGates = '<none>';
  if (gates.length) {
    let trueConditions = 0;
    for (const g of gates) {
      const c = (status.conditions ?? []).find((x: any) => x.type === g.conditionType);
      if (c?.status === 'True') trueConditions++;
    }
    readinessGates = `${trueConditions}/${gates.length}`;
  }
  return [
    pod.metadata.name,
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsStr,
    age(pod, now),
    podIP,
    spec.nodeName || '<none>',
    status.nominatedNodeName || '<none>',
    readinessGates,
  ];
}

function podConditions(pod: KubeObject): TableRowCondition[] | undefined {
  switch (pod.status?.phase) {
    case 'Succeeded':
      return [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
    case 'Failed':
      return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Nodes.

function nodeCells(node: KubeObject, now: Date): unknown[] {
  const status = node.status ?? {};
  const ready = (status.conditions ?? []).filter((c: any) => c.type === 'Ready').pop();
  const st: string[] = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (node.spec?.unschedulable) st.push('SchedulingDisabled');
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v !== '') {
      roles.add(v);
    }
  }
  const info = status.nodeInfo ?? {};
  const address = (type: string) => (status.addresses ?? []).find((a: any) => a.type === type)?.address ?? '<none>';
  return [
    node.metadata.name,
    st.join(','),
    roles.size ? [...roles].sort().join(',') : '<none>',
    age(node, now),
    info.kubeletVersion ?? '',
    address('InternalIP'),
    address('ExternalIP'),
    info.osImage || '<unknown>',
    info.kernelVersion || '<unknown>',
    info.containerRuntimeVersion || '<unknown>',
  ];
}

// ---------------------------------------------------------------------------------------------
// Services and endpoints.

function serviceExternalIP(svc: KubeObject): string {
  const spec = svc.spec ?? {};
  const externalIPs: string[] = spec.externalIPs ?? [];
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      // the server prints wide, so the list is never clipped
      const lb = [...new Set<string>((svc.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip || i.hostname).filter(Boolean))].sort();
      if (externalIPs.length) return [...lb, ...externalIPs].join(',');
      return lb.length ? lb.join(',') : '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
  }
  return '<unknown>';
}

/** makePortString: `80/TCP`, or `80:31515/TCP` with a node port. */
function makePortString(ports: any[] | undefined): string {
  return (ports ?? []).map((p) => (p.nodePort > 0 ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function serviceCells(svc: KubeObject, now: Date): unknown[] {
  const spec = svc.spec ?? {};
  const clusterIP = spec.clusterIPs?.[0] ?? spec.clusterIP ?? '<none>';
  return [svc.metadata.name, spec.type ?? '', clusterIP || '<none>', serviceExternalIP(svc), makePortString(spec.ports) || '<none>', age(svc, now), formatLabels(spec.selector)];
}

const joinHostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** formatEndpoints lists up to three `ip:port` pairs, then ` + N more...`. */
function formatEndpoints(ep: KubeObject): string {
  const subsets: any[] = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addrs: any[] = ss.addresses ?? [];
    const ports: any[] = ss.ports ?? [];
    if (ports.length === 0) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip);
      }
      continue;
    }
    for (const p of ports) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(a.ip, p.port));
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

// ---------------------------------------------------------------------------------------------
// Events.

function eventCells(ev: KubeObject, now: Date): unknown[] {
  const first = parseTime(ev.firstTimestamp) !== undefined ? translateTimestampSince(ev.firstTimestamp, now) : translateTimestampSince(ev.eventTime, now);
  let last = parseTime(ev.lastTimestamp) !== undefined ? translateTimestampSince(ev.lastTimestamp, now) : first;
  let count = num(ev.count);
  if (ev.series) {
    last = translateTimestampSince(ev.series.lastObservedTime, now);
    count = num(ev.series.count);
  } else if (count === 0) {
    count = 1;
  }
  const io = ev.involvedObject ?? {};
  const kind = String(io.kind ?? '').toLowerCase();
  const target = io.name ? `${kind}/${io.name}` : kind;
  const component = ev.source?.component || ev.reportingComponent || '';
  const instance = ev.source?.host || ev.reportingInstance || '';
  const source = instance ? `${component}, ${instance}` : component;
  return [last, ev.type ?? '', ev.reason ?? '', target, io.fieldPath ?? '', source, String(ev.message ?? '').trim(), first, count, ev.metadata.name];
}

// ---------------------------------------------------------------------------------------------
// Storage.

/** accessModesString is upstream's GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order. */
function accessModesString(modes: string[] | undefined): string {
  const m = new Set(modes ?? []);
  const out: string[] = [];
  if (m.has('ReadWriteOnce')) out.push('RWO');
  if (m.has('ReadOnlyMany')) out.push('ROX');
  if (m.has('ReadWriteMany')) out.push('RWX');
  if (m.has('ReadWriteOncePod')) out.push('RWOP');
  return out.join(',');
}

/** storageClassOf prefers the beta annotation, as upstream's GetPersistentVolume(Claim)Class. */
function storageClassOf(o: KubeObject): string {
  const ann = o.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'];
  return ann !== undefined ? ann : (o.spec?.storageClassName ?? '');
}

/** quantity prints a stored quantity canonically (`1024Mi` → `1Gi`); a missing one is upstream's zero Quantity, `0`. */
function quantity(q: unknown): string {
  if (q === undefined || q === null || q === '') return '0';
  try {
    return canonicalQuantity(q as string | number);
  } catch {
    return String(q);
  }
}

function pvCells(pv: KubeObject, now: Date): unknown[] {
  const spec = pv.spec ?? {};
  const claim = spec.claimRef ? `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}` : '';
  const phase = pv.metadata.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? '');
  return [
    pv.metadata.name,
    quantity(spec.capacity?.storage),
    accessModesString(spec.accessModes),
    spec.persistentVolumeReclaimPolicy ?? '',
    phase,
    claim,
    storageClassOf(pv),
    spec.volumeAttributesClassName ?? '<unset>',
    pv.status?.reason ?? '',
    age(pv, now),
    spec.volumeMode ?? '<unset>',
  ];
}

function pvcCells(pvc: KubeObject, now: Date): unknown[] {
  const spec = pvc.spec ?? {};
  const phase = pvc.metadata.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? '');
  const bound = !!spec.volumeName;
  return [
    pvc.metadata.name,
    phase,
    spec.volumeName ?? '',
    bound ? quantity(pvc.status?.capacity?.storage) : '',
    bound ? accessModesString(pvc.status?.accessModes) : '',
    storageClassOf(pvc),
    spec.volumeAttributesClassName ?? '<unset>',
    age(pvc, now),
    spec.volumeMode ?? '<unset>',
  ];
}

// ---------------------------------------------------------------------------------------------
// Workloads.

function jobCells(job: KubeObject, now: Date): unknown[] {
  const spec = job.spec ?? {};
  const status = job.status ?? {};
  const succeeded = num(status.succeeded);
  let completions: string;
  if (spec.completions !== undefined && spec.completions !== null) completions = `${succeeded}/${spec.completions}`;
  else completions = num(spec.parallelism) > 1 ? `${succeeded}/1 of ${spec.parallelism}` : `${succeeded}/1`;
  const start = parseTime(status.startTime);
  const end = parseTime(status.completionTime);
  const duration = start === undefined ? '' : humanDuration((end ?? now.getTime()) - start);
  const conds = status.conditions;
  let st = 'Running';
  if (firstConditionTrue(conds, 'Complete')) st = 'Complete';
  else if (firstConditionTrue(conds, 'Failed')) st = 'Failed';
  else if (job.metadata.deletionTimestamp) st = 'Terminating';
  else if (firstConditionTrue(conds, 'Suspended')) st = 'Suspended';
  else if (firstConditionTrue(conds, 'FailureTarget')) st = 'FailureTarget';
  const [names, images] = layoutContainerCells(spec.template?.spec?.containers);
  return [job.metadata.name, st, completions, duration, age(job, now), names, images, formatLabelSelector(spec.selector)];
}

function cronJobCells(cj: KubeObject, now: Date): unknown[] {
  const spec = cj.spec ?? {};
  const last = cj.status?.lastScheduleTime ? translateTimestampSince(cj.status.lastScheduleTime, now) : '<none>';
  const suspend = spec.suspend === undefined || spec.suspend === null ? '<unset>' : spec.suspend ? 'True' : 'False';
  const [names, images] = layoutContainerCells(spec.jobTemplate?.spec?.template?.spec?.containers);
  return [
    cj.metadata.name,
    spec.schedule ?? '',
    spec.timeZone ?? '<none>',
    suspend,
    (cj.status?.active ?? []).length,
    last,
    age(cj, now),
    names,
    images,
    formatLabelSelector(spec.jobTemplate?.spec?.selector),
  ];
}

/** controllerName is `kind.group/name` of the controller owner reference, or `<none>`. */
function controllerName(o: KubeObject): string {
  const ref = (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
  if (!ref) return '<none>';
  const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
  const gk = group ? `${ref.kind}.${group}` : ref.kind;
  return gk ? `${gk.toLowerCase()}/${ref.name}` : ref.name;
}

// ---------------------------------------------------------------------------------------------
// The printers, by storeKey.

const replicasOf = (o: KubeObject) => (o.spec?.replicas ?? 1) as number;

/** bindingPrinter is upstream's for RoleBinding and ClusterRoleBinding: the role as Kind/name, subjects by kind when wide. */
const bindingPrinter: Printer = {
  columns: [
    nameCol(),
    col('Role', 'string', 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.'),
    ageCol(),
    col('Users', 'string', 'Users in the roleBinding', 1),
    col('Groups', 'string', 'Groups in the roleBinding', 1),
    col('ServiceAccounts', 'string', 'ServiceAccounts in the roleBinding', 1),
  ],
  cells: (o, now) => {
    const subjects: { kind?: string; name?: string; namespace?: string }[] = Array.isArray(o.subjects) ? o.subjects : [];
    const of = (kind: string) => subjects.filter((x) => x.kind === kind).map((x) => (kind === 'ServiceAccount' ? `${x.namespace ?? ''}/${x.name}` : x.name ?? '')).join(', ');
    return [o.metadata.name, `${o.roleRef?.kind ?? ''}/${o.roleRef?.name ?? ''}`, age(o, now), of('User'), of('Group'), of('ServiceAccount')];
  },
};

const PRINTERS: Record<string, Printer> = {
  pods: {
    columns: [
      nameCol(),
      col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      ageCol(),
      col('IP', 'string', DOC['PodStatus.podIP'], 1),
      col('Node', 'string', DOC['PodSpec.nodeName'], 1),
      col('Nominated Node', 'string', DOC['PodStatus.nominatedNodeName'], 1),
      col('Readiness Gates', 'string', DOC['PodSpec.readinessGates'], 1),
    ],
    cells: podCells,
    conditions: podConditions,
  },
  nodes: {
    columns: [
      nameCol(),
      col('Status', 'string', 'The status of the node'),
      col('Roles', 'string', 'The roles of the node'),
      ageCol(),
      col('Version', 'string', DOC['NodeSystemInfo.kubeletVersion']),
      col('Internal-IP', 'string', DOC['NodeStatus.addresses'], 1),
      col('External-IP', 'string', DOC['NodeStatus.addresses'], 1),
      col('OS-Image', 'string', DOC['NodeSystemInfo.osImage'], 1),
      col('Kernel-Version', 'string', DOC['NodeSystemInfo.kernelVersion'], 1),
      col('Container-Runtime', 'string', DOC['NodeSystemInfo.containerRuntimeVersion'], 1),
    ],
    cells: nodeCells,
  },
  namespaces: {
    columns: [nameCol(), col('Status', 'string', 'The status of the namespace'), ageCol()],
    cells: (o, now) => [o.metadata.name, o.status?.phase ?? '', age(o, now)],
  },
  services: {
    columns: [
      nameCol(),
      col('Type', 'string', DOC['ServiceSpec.type']),
      col('Cluster-IP', 'string', DOC['ServiceSpec.clusterIP']),
      col('External-IP', 'string', DOC['ServiceSpec.externalIPs']),
      col('Port(s)', 'string', DOC['ServiceSpec.ports']),
      ageCol(),
      col('Selector', 'string', DOC['ServiceSpec.selector'], 1),
    ],
    cells: serviceCells,
  },
  endpoints: {
    columns: [nameCol(), col('Endpoints', 'string', DOC['Endpoints.subsets']), ageCol()],
    cells: (o, now) => [o.metadata.name, formatEndpoints(o), age(o, now)],
  },
  configmaps: {
    columns: [nameCol(), col('Data', 'string', DOC['ConfigMap.data']), ageCol()],
    cells: (o, now) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o, now)],
  },
  secrets: {
    columns: [nameCol(), col('Type', 'string', DOC['Secret.type']), col('Data', 'string', DOC['Secret.data']), ageCol()],
    cells: (o, now) => [o.metadata.name, o.type ?? '', Object.keys(o.data ?? {}).length, age(o, now)],
  },
  events: {
    columns: [
      col('Last Seen', 'string', DOC['Event.lastTimestamp']),
      col('Type', 'string', DOC['Event.type']),
      col('Reason', 'string', DOC['Event.reason']),
      col('Object', 'string', DOC['Event.involvedObject']),
      col('Subobject', 'string', DOC['ObjectReference.fieldPath'], 1),
      col('Source', 'string', DOC['Event.source'], 1),
      col('Message', 'string', DOC['Event.message']),
      col('First Seen', 'string', DOC['Event.firstTimestamp'], 1),
      col('Count', 'string', DOC['Event.count'], 1),
      col('Name', 'string', DOC['ObjectMeta.name'], 1, 'name'),
    ],
    cells: eventCells,
  },
  replicationcontrollers: {
    columns: [
      nameCol(),
      col('Desired', 'integer', DOC['ReplicationControllerSpec.replicas']),
      col('Current', 'integer', DOC['ReplicationControllerStatus.replicas']),
      col('Ready', 'integer', DOC['ReplicationControllerStatus.readyReplicas']),
      ageCol(),
      containersCol(),
      imagesCol(),
      col('Selector', 'string', DOC['ReplicationControllerSpec.selector'], 1),
    ],
    cells: (o, now) => {
      const [names, images] = layoutContainerCells(o.spec?.template?.spec?.containers);
      return [o.metadata.name, replicasOf(o), num(o.status?.replicas), num(o.status?.readyReplicas), age(o, now), names, images, formatLabels(o.spec?.selector)];
    },
  },
  persistentvolumeclaims: {
    columns: [
      nameCol(),
      col('Status', 'string', DOC['PersistentVolumeClaimStatus.phase']),
      col('Volume', 'string', DOC['PersistentVolumeClaimSpec.volumeName']),
      col('Capacity', 'string', DOC['PersistentVolumeClaimStatus.capacity']),
      col('Access Modes', 'string', DOC['PersistentVolumeClaimStatus.accessModes']),
      col('StorageClass', 'string', 'StorageClass of the pvc'),
      col('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pvc'),
      ageCol(),
      col('VolumeMode', 'string', DOC['PersistentVolumeClaimSpec.volumeMode'], 1),
    ],
    cells: pvcCells,
  },
  persistentvolumes: {
    columns: [
      nameCol(),
      col('Capacity', 'string', DOC['PersistentVolumeSpec.capacity']),
      col('Access Modes', 'string', DOC['PersistentVolumeSpec.accessModes']),
      col('Reclaim Policy', 'string', DOC['PersistentVolumeSpec.persistentVolumeReclaimPolicy']),
      col('Status', 'string', DOC['PersistentVolumeStatus.phase']),
      col('Claim', 'string', DOC['PersistentVolumeSpec.claimRef']),
      col('StorageClass', 'string', 'StorageClass of the pv'),
      col('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pv'),
      col('Reason', 'string', DOC['PersistentVolumeStatus.reason']),
      ageCol(),
      col('VolumeMode', 'string', DOC['PersistentVolumeSpec.volumeMode'], 1),
    ],
    cells: pvCells,
  },
  serviceaccounts: {
    columns: [nameCol(), col('Secrets', 'string', DOC['ServiceAccount.secrets']), ageCol()],
    cells: (o, now) => [o.metadata.name, (o.secrets ?? []).length, age(o, now)],
  },
  'apps/deployments': {
    columns: [
      nameCol(),
      col('Ready', 'string', 'Number of the pod with ready state'),
      col('Up-to-date', 'string', DOC['DeploymentStatus.updatedReplicas']),
      col('Available', 'string', DOC['DeploymentStatus.availableReplicas']),
      ageCol(),
      containersCol(),
      imagesCol(),
      col('Selector', 'string', DOC['DeploymentSpec.selector'], 1),
    ],
    cells: (o, now) => {
      const [names, images] = layoutContainerCells(o.spec?.template?.spec?.containers);
      const st = o.status ?? {};
      return [o.metadata.name, `${num(st.readyReplicas)}/${replicasOf(o)}`, num(st.updatedReplicas), num(st.availableReplicas), age(o, now), names, images, selectorString(o.spec?.selector)];
    },
  },
  'apps/replicasets': {
    columns: [
      nameCol(),
      col('Desired', 'integer', DOC['ReplicaSetSpec.replicas']),
      col('Current', 'integer', DOC['ReplicaSetStatus.replicas']),
      col('Ready', 'integer', DOC['ReplicaSetStatus.readyReplicas']),
      ageCol(),
      containersCol(),
      imagesCol(),
      col('Selector', 'string', DOC['ReplicaSetSpec.selector'], 1),
    ],
    cells: (o, now) => {
      const [names, images] = layoutContainerCells(o.spec?.template?.spec?.containers);
      return [o.metadata.name, replicasOf(o), num(o.status?.replicas), num(o.status?.readyReplicas), age(o, now), names, images, formatLabelSelector(o.spec?.selector)];
    },
  },
  'apps/statefulsets': {
    columns: [nameCol(), col('Ready', 'string', 'Number of the pod with ready state'), ageCol(), containersCol(), imagesCol()],
    cells: (o, now) => {
      const [names, images] = layoutContainerCells(o.spec?.template?.spec?.containers);
      return [o.metadata.name, `${num(o.status?.readyReplicas)}/${replicasOf(o)}`, age(o, now), names, images];
    },
  },
  'apps/daemonsets': {
    columns: [
      nameCol(),
      col('Desired', 'integer', DOC['DaemonSetStatus.desiredNumberScheduled']),
      col('Current', 'integer', DOC['DaemonSetStatus.currentNumberScheduled']),
      col('Ready', 'integer', DOC['DaemonSetStatus.numberReady']),
      col('Up-to-date', 'integer', DOC['DaemonSetStatus.updatedNumberScheduled']),
      col('Available', 'integer', DOC['DaemonSetStatus.numberAvailable']),
      col('Node Selector', 'string', DOC['PodSpec.nodeSelector']),
      ageCol(),
      containersCol(),
      imagesCol(),
      col('Selector', 'string', DOC['DaemonSetSpec.selector'], 1),
    ],
    cells: (o, now) => {
      const st = o.status ?? {};
      const podSpec = o.spec?.template?.spec ?? {};
      const [names, images] = layoutContainerCells(podSpec.containers);
      return [
        o.metadata.name,
        num(st.desiredNumberScheduled),
        num(st.currentNumberScheduled),
        num(st.numberReady),
        num(st.updatedNumberScheduled),
        num(st.numberAvailable),
        formatLabels(podSpec.nodeSelector),
        age(o, now),
        names,
        images,
        formatLabelSelector(o.spec?.selector),
      ];
    },
  },
  'apps/controllerrevisions': {
    columns: [nameCol(), col('Controller', 'string', 'Controller of the object'), col('Revision', 'string', DOC['ControllerRevision.revision']), ageCol()],
    cells: (o, now) => [o.metadata.name, controllerName(o), num(o.revision), age(o, now)],
  },
  'batch/jobs': {
    columns: [
      nameCol(),
      col('Status', 'string', 'Status of the job.'),
      col('Completions', 'string', DOC['JobStatus.succeeded']),
      col('Duration', 'string', 'Time required to complete the job.'),
      ageCol(),
      containersCol(),
      imagesCol(),
      col('Selector', 'string', DOC['JobSpec.selector'], 1),
    ],
    cells: jobCells,
  },
  'batch/cronjobs': {
    columns: [
      nameCol(),
      col('Schedule', 'string', DOC['CronJobSpec.schedule']),
      col('Timezone', 'string', DOC['CronJobSpec.timeZone']),
      col('Suspend', 'boolean', DOC['CronJobSpec.suspend']),
      col('Active', 'integer', DOC['CronJobStatus.active']),
      col('Last Schedule', 'string', DOC['CronJobStatus.lastScheduleTime']),
      ageCol(),
      containersCol(),
      imagesCol(),
      col('Selector', 'string', DOC['JobSpec.selector'], 1),
    ],
    cells: cronJobCells,
  },
  'coordination.k8s.io/leases': {
    columns: [nameCol(), col('Holder', 'string', DOC['LeaseSpec.holderIdentity']), ageCol()],
    cells: (o, now) => [o.metadata.name, o.spec?.holderIdentity ?? '', age(o, now)],
  },
  'rbac.authorization.k8s.io/rolebindings': bindingPrinter,
  'rbac.authorization.k8s.io/clusterrolebindings': bindingPrinter,
  'discovery.k8s.io/endpointslices': {
    columns: [
      nameCol(),
      col('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.'),
      col('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.'),
      col('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.'),
      ageCol(),
    ],
    cells: (o, now) => [o.metadata.name, o.addressType ?? '', formatDiscoveryPorts(o.ports), formatDiscoveryEndpoints(o.endpoints), age(o, now)],
  },
};

/** listWithMoreString is upstream's: the first `max` joined by commas, then ` + N more...`; `<unset>` when empty. */
function listWithMoreString(list: string[], more: boolean, count: number, max: number): string {
  const ret = list.join(',');
  if (more) return `${ret} + ${count - max} more...`;
  return ret || '<unset>';
}

/** formatDiscoveryPorts is the EndpointSlice PORTS cell: port numbers (a name, or `*` for all ports), at most 3. */
function formatDiscoveryPorts(ports: { port?: number | null; name?: string | null }[] | undefined): string {
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const p of ports ?? []) {
    if (list.length < 3) list.push(p.port !== undefined && p.port !== null ? String(p.port) : p.name !== undefined && p.name !== null ? p.name : '*');
    else more = true;
    count++;
  }
  return listWithMoreString(list, more, count, 3);
}

/** formatDiscoveryEndpoints is the ENDPOINTS cell: the first 3 addresses over all endpoints, then ` + N more...`. */
function formatDiscoveryEndpoints(endpoints: { addresses?: string[] }[] | undefined): string {
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ep of endpoints ?? []) {
    for (const a of ep.addresses ?? []) {
      if (list.length < 3) list.push(a);
      else more = true;
      count++;
    }
  }
  return listWithMoreString(list, more, count, 3);
}

/** createdAt is the default table's cell: RFC 3339 in UTC, whole seconds; a missing time is Go's zero time. */
function createdAt(ts: string | null | undefined): string {
  const t = parseTime(ts);
  return t === undefined ? '0001-01-01T00:00:00Z' : new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** DEFAULT_PRINTER is the apiserver's table for resources without a printer: Name and `Created At` (type date). */
const DEFAULT_PRINTER: Printer = {
  columns: [nameCol(), col('Created At', 'date', DOC['ObjectMeta.creationTimestamp'])],
  cells: (o) => [o.metadata.name, createdAt(o.metadata.creationTimestamp)],
};

function printerFor(info: Pick<ResourceInfo, 'group' | 'resource'>): Printer {
  return PRINTERS[info.group ? `${info.group}/${info.resource}` : info.resource] ?? DEFAULT_PRINTER;
}

/** tableColumns is every column of the resource's table, wide (priority 1) ones included. */
export function tableColumns(info: Pick<ResourceInfo, 'group' | 'resource'>): TableColumnDefinition[] {
  return printerFor(info).columns.map((c) => ({ ...c }));
}

/** partialObjectMetadata is the row object kubectl reads NAMESPACE and LABELS from: the metadata without managedFields. */
function partialObjectMetadata(obj: KubeObject): { kind: 'PartialObjectMetadata'; apiVersion: 'meta.k8s.io/v1'; metadata: ObjectMeta } {
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata };
}

/**
 * tableFor prints objects as a meta.k8s.io/v1 Table. Like the apiserver it always prints wide (all cells,
 * kubectl hides priority-1 columns itself). Each row's object is a PartialObjectMetadata by default, the
 * full object (apiVersion/kind filled in) for includeObject=Object, or null for None.
 */
export function tableFor(info: ResourceInfo, objects: KubeObject[], opts: TableOptions): Table {
  const printer = printerFor(info);
  const include = opts.includeObject ?? 'Metadata';
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  if (opts.remainingItemCount !== undefined && opts.remainingItemCount !== null) metadata.remainingItemCount = opts.remainingItemCount;
  const rows = objects.map((obj): TableRow => {
    const row: TableRow = { cells: printer.cells(obj, opts.now), object: null };
    const conditions = printer.conditions?.(obj);
    if (conditions) row.conditions = conditions;
    if (include === 'Metadata') row.object = partialObjectMetadata(obj);
    else if (include === 'Object') row.object = { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(info), kind: obj.kind ?? info.kind };
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: opts.noHeaders ? [] : tableColumns(info),
    rows,
  };
}
