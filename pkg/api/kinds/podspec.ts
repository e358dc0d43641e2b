// podspec: defaulting and validation of PodSpec and PodTemplateSpec, shared by Pods and every workload kind.
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import { canonicalQuantity, compareQuantity, isQuantity, parseQuantity, QUANTITY_PATTERN } from '../quantity.ts';
import {
  ensure,
  IS_NEGATIVE,
  inclusiveRangeError,
  isConfigMapKey,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidPortName,
  isValidLabelValue,
  isValidPortNum,
  validateAnnotations,
  validateDNS1123Label,
  validateLabels,
  validateNonnegative,
} from './meta.ts';

type Obj = Record<string, any>;

// ---------------------------------------------------------------- defaults

/** imageTag returns the tag of an image reference: 'nginx:1.25' → '1.25', 'nginx' → 'latest', 'nginx@sha256:…' → ''. */
export function imageTag(image: string): string {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const lastPart = ref.slice(ref.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  if (colon >= 0) return lastPart.slice(colon + 1);
  return at >= 0 ? '' : 'latest';
}

function defaultProbe(p: Obj | undefined): void {
  if (!p || typeof p !== 'object') return;
  p.timeoutSeconds ||= 1;
  p.periodSeconds ||= 10;
  p.successThreshold ||= 1;
  p.failureThreshold ||= 3;
  defaultHandler(p);
}

function defaultHandler(h: Obj | undefined): void {
  if (!h || typeof h !== 'object') return;
  if (h.httpGet && typeof h.httpGet === 'object') {
    h.httpGet.path ||= '/';
    h.httpGet.scheme ||= 'HTTP';
  }
}

function defaultResourceList(list: Obj | undefined): void {
  if (!list || typeof list !== 'object') return;
  for (const [k, v] of Object.entries(list)) {
    if (typeof v === 'string' || typeof v === 'number') list[k] = canonicalQuantity(v);
  }
}

/** defaultContainer applies SetDefaults_Container plus the nested defaults (ports, probes, env, resources). */
export function defaultContainer(c: Obj): void {
  if (!c || typeof c !== 'object') return;
  if (!c.imagePullPolicy && typeof c.image === 'string') c.imagePullPolicy = imageTag(c.image) === 'latest' ? 'Always' : 'IfNotPresent';
  c.terminationMessagePath ||= '/dev/termination-log';
  c.terminationMessagePolicy ||= 'File';
  for (const p of Array.isArray(c.ports) ? c.ports : []) if (p && typeof p === 'object') p.protocol ||= 'TCP';
  const res = ensure(c, 'resources');
  defaultResourceList(res.limits);
  defaultResourceList(res.requests);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (c.lifecycle && typeof c.lifecycle === 'object') {
    defaultHandler(c.lifecycle.postStart);
    defaultHandler(c.lifecycle.preStop);
  }
  for (const e of Array.isArray(c.env) ? c.env : []) {
    const ref = e?.valueFrom?.fieldRef;
    if (ref && typeof ref === 'object') ref.apiVersion ||= 'v1';
  }
}

const volumeSources = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap',
  'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi',
  'ephemeral', 'image',
];

function defaultVolume(v: Obj): void {
  if (!v || typeof v !== 'object') return;
  if (!volumeSources.some((s) => v[s] !== undefined && v[s] !== null)) v.emptyDir = {};
  for (const s of ['configMap', 'secret', 'downwardAPI', 'projected']) {
    if (v[s] && typeof v[s] === 'object' && v[s].defaultMode === undefined) v[s].defaultMode = 420;
  }
  if (v.hostPath && typeof v.hostPath === 'object' && v.hostPath.type === undefined) v.hostPath.type = '';
  for (const src of Array.isArray(v.projected?.sources) ? v.projected.sources : []) {
    if (src?.serviceAccountToken && src.serviceAccountToken.expirationSeconds === undefined) src.serviceAccountToken.expirationSeconds = 3600;
    for (const item of Array.isArray(src?.downwardAPI?.items) ? src.downwardAPI.items : []) if (item?.fieldRef) item.fieldRef.apiVersion ||= 'v1';
  }
  for (const item of Array.isArray(v.downwardAPI?.items) ? v.downwardAPI.items : []) if (item?.fieldRef) item.fieldRef.apiVersion ||= 'v1';
  const claim = v.ephemeral?.volumeClaimTemplate?.spec;
  if (claim && typeof claim === 'object') claim.volumeMode ??= 'Filesystem';
}

/** defaultPodSpec applies SetDefaults_PodSpec and the container/volume defaults: what every pod template gets. */
export function defaultPodSpec(spec: Obj): void {
  if (!spec || typeof spec !== 'object') return;
  spec.dnsPolicy ||= 'ClusterFirst';
  spec.restartPolicy ||= 'Always';
  if (!spec.securityContext || typeof spec.securityContext !== 'object') spec.securityContext = {};
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ||= 'default-scheduler';
  for (const list of [spec.initContainers, spec.containers, spec.ephemeralContainers]) {
    for (const c of Array.isArray(list) ? list : []) defaultContainer(c);
  }
  for (const v of Array.isArray(spec.volumes) ? spec.volumes : []) defaultVolume(v);
}

/** defaultPodTemplate defaults the spec inside a PodTemplateSpec (Deployment, Job … templates). */
export function defaultPodTemplate(tpl: Obj | undefined): void {
  if (!tpl || typeof tpl !== 'object') return;
  if (tpl.spec && typeof tpl.spec === 'object') defaultPodSpec(tpl.spec);
}

/** DEFAULT_TOLERATION_KEYS are what upstream's DefaultTolerationSeconds admission plugin adds to every pod. */
export const DEFAULT_TOLERATION_KEYS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

/** defaultPod applies SetDefaults_Pod (requests from limits, enableServiceLinks, host-network ports) and the PodSpec defaults. */
export function defaultPod(pod: Obj): void {
  const spec = pod.spec;
  if (!spec || typeof spec !== 'object') return;
  for (const list of [spec.containers, spec.initContainers]) {
    for (const c of Array.isArray(list) ? list : []) {
      const res = c?.resources;
      if (res?.limits && typeof res.limits === 'object') {
        if (!res.requests || typeof res.requests !== 'object') res.requests = {};
        for (const [k, v] of Object.entries(res.limits)) if (!(k in res.requests)) res.requests[k] = v;
      }
    }
  }
  defaultPodSpec(spec);
  spec.enableServiceLinks ??= true;
  if (spec.hostNetwork) {
    for (const list of [spec.containers, spec.initContainers]) {
      for (const c of Array.isArray(list) ? list : []) for (const p of Array.isArray(c?.ports) ? c.ports : []) if (p && !p.hostPort) p.hostPort = p.containerPort;
    }
  }
}

/**
 * admitPod does on create what upstream's admission plugins and pod strategy add: serviceAccountName `default`
 * (ServiceAccount plugin), priority 0 and preemptionPolicy (Priority), and the initial status (phase Pending, qosClass).
 * DefaultTolerationSeconds needs the server's flags, so the registry applies it (apiserver/registry.ts admit).
 */
export function admitPod(pod: Obj): void {
  const spec = pod.spec;
  if (!spec || typeof spec !== 'object') return;
  spec.serviceAccountName ||= spec.serviceAccount || 'default';
  spec.serviceAccount = spec.serviceAccountName;
  spec.priority ??= 0;
  spec.preemptionPolicy ||= 'PreemptLowerPriority';
  const status = ensure(pod, 'status');
  status.phase ||= 'Pending';
  status.qosClass ||= qosClassOf(spec);
}

/** qosClassOf computes a pod's QoS class from its containers' cpu and memory requests and limits. */
export function qosClassOf(spec: Obj): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const containers: Obj[] = [...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.containers) ? spec.containers : [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      const hasReq = req[r] !== undefined && safeQuantity(req[r]) !== 0;
      const hasLim = lim[r] !== undefined && safeQuantity(lim[r]) !== 0;
      if (hasReq || hasLim) any = true;
      if (!hasLim) guaranteed = false;
      else if (hasReq && safeQuantity(req[r]) !== safeQuantity(lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function safeQuantity(q: unknown): number {
  try {
    return typeof q === 'string' || typeof q === 'number' ? parseQuantity(q) : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- validation

/** PodSpecOptions: `template` is true for specs inside workload templates. */
export interface PodSpecOptions {
  template?: boolean;
}

const restartPolicies = ['Always', 'OnFailure', 'Never'];
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const protocols = ['SCTP', 'TCP', 'UDP'];
const pullPolicies = ['Always', 'IfNotPresent', 'Never'];
const terminationMessagePolicies = ['File', 'FallbackToLogsOnError'];
const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage']);
const fieldRefPaths = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];
const resourceFieldRefs = ['limits.cpu', 'limits.ephemeral-storage', 'limits.memory', 'requests.cpu', 'requests.ephemeral-storage', 'requests.memory'];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): Obj[] => (Array.isArray(v) ? v : []);

/** validatePortNumOrName is upstream's ValidatePortNumOrName for intstr ports (probes, targetPort). */
export function validatePortNumOrName(port: unknown, path: string): FieldError[] {
  if (typeof port === 'number') return isValidPortNum(port).map((m) => field.invalid(path, port, m));
  if (typeof port === 'string') {
    if (port === '') return [field.required(path, '')];
    return isValidPortName(port).map((m) => field.invalid(path, port, m));
  }
  if (port === undefined || port === null) return [field.required(path, '')];
  return [field.invalid(path, port, 'must be an integer or a string')];
}

/** validateHandler checks that exactly one handler type (exec, httpGet, tcpSocket, grpc, sleep) is set. */
function validateHandler(h: Obj, path: string, kinds: string[]): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  for (const k of kinds) {
    const v = h[k];
    if (v === undefined || v === null) continue;
    if (n > 0) {
      errs.push(field.forbidden(`${path}.${k}`, 'may not specify more than 1 handler type'));
      continue;
    }
    n++;
    const p = `${path}.${k}`;
    if (k === 'exec' && !(Array.isArray(v.command) && v.command.length > 0)) errs.push(field.required(`${p}.command`, ''));
    if (k === 'httpGet') {
      if (!v.path) errs.push(field.required(`${p}.path`, ''));
      errs.push(...validatePortNumOrName(v.port, `${p}.port`));
      if (v.scheme !== undefined && !['HTTP', 'HTTPS'].includes(v.scheme)) errs.push(field.notSupported(`${p}.scheme`, v.scheme, ['HTTP', 'HTTPS']));
    }
    if (k === 'tcpSocket') errs.push(...validatePortNumOrName(v.port, `${p}.port`));
    if (k === 'grpc') errs.push(...isValidPortNum(v.port).map((m) => field.invalid(`${p}.port`, v.port, m)));
    if (k === 'sleep') errs.push(...validateNonnegative(v.seconds, `${p}.seconds`));
  }
  if (n === 0) errs.push(field.required(path, 'must specify a handler type'));
  return errs;
}

function validateProbe(p: unknown, path: string, mustSucceedOnce: boolean): FieldError[] {
  if (p === undefined || p === null) return [];
  if (!isObj(p)) return [field.invalid(path, p, 'must be an object')];
  const errs = validateHandler(p, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    errs.push(...validateNonnegative(p[k], `${path}.${k}`));
  }
  if (mustSucceedOnce && p.successThreshold !== undefined && p.successThreshold !== 1) errs.push(field.invalid(`${path}.successThreshold`, p.successThreshold, 'must be 1'));
  if (p.terminationGracePeriodSeconds !== undefined && !(p.terminationGracePeriodSeconds > 0)) {
    errs.push(field.invalid(`${path}.terminationGracePeriodSeconds`, p.terminationGracePeriodSeconds, 'must be greater than 0'));
  }
  return errs;
}

function validatePorts(ports: unknown, path: string, hostNetwork: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  listOf(ports).forEach((port, i) => {
    const p = `${path}[${i}]`;
    if (port.name) {
      const msgs = isValidPortName(port.name);
      if (msgs.length) for (const m of msgs) errs.push(field.invalid(`${p}.name`, port.name, m));
      else if (names.has(port.name)) errs.push(field.duplicate(`${p}.name`, port.name));
      else names.add(port.name);
    }
    if (!port.containerPort) errs.push(field.required(`${p}.containerPort`, ''));
    else for (const m of isValidPortNum(port.containerPort)) errs.push(field.invalid(`${p}.containerPort`, port.containerPort, m));
    if (port.hostPort) for (const m of isValidPortNum(port.hostPort)) errs.push(field.invalid(`${p}.hostPort`, port.hostPort, m));
    if (hostNetwork && port.hostPort && port.hostPort !== port.containerPort) {
      errs.push(field.invalid(`${p}.hostPort`, port.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
    }
    if (!port.protocol) errs.push(field.required(`${p}.protocol`, ''));
    else if (!protocols.includes(port.protocol)) errs.push(field.notSupported(`${p}.protocol`, port.protocol, protocols));
  });
  return errs;
}

function validateEnv(env: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  listOf(env).forEach((ev, i) => {
    const p = `${path}[${i}]`;
    if (!ev.name) errs.push(field.required(`${p}.name`, ''));
    else for (const m of isEnvVarName(ev.name)) errs.push(field.invalid(`${p}.name`, ev.name, m));
    if (ev.valueFrom === undefined || ev.valueFrom === null) return;
    const vf = ev.valueFrom as Obj;
    const vp = `${p}.valueFrom`;
    const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'].filter((k) => vf[k] !== undefined && vf[k] !== null);
    if (sources.length === 0) errs.push(field.invalid(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (sources.length > 1) errs.push(field.invalid(vp, '', 'may not have more than one field specified at a time'));
    if (ev.value && sources.length > 0) errs.push(field.invalid(vp, '', 'may not be specified when `value` is not empty'));
    if (vf.fieldRef) {
      const fp = vf.fieldRef.fieldPath;
      if (!fp) errs.push(field.required(`${vp}.fieldRef.fieldPath`, ''));
      else if (!fieldRefPaths.includes(fp) && !/^metadata\.(labels|annotations)\['[^']+'\]$/.test(fp)) {
        errs.push(field.notSupported(`${vp}.fieldRef.fieldPath`, fp, fieldRefPaths));
      }
    }
    if (vf.resourceFieldRef) {
      const r = vf.resourceFieldRef.resource;
      if (!r) errs.push(field.required(`${vp}.resourceFieldRef.resource`, ''));
      else if (!resourceFieldRefs.includes(r) && !/^(limits|requests)\.hugepages-/.test(r)) errs.push(field.notSupported(`${vp}.resourceFieldRef.resource`, r, resourceFieldRefs));
    }
    for (const k of ['configMapKeyRef', 'secretKeyRef']) {
      if (!vf[k]) continue;
      if (!vf[k].key) errs.push(field.required(`${vp}.${k}.key`, ''));
      else for (const m of isConfigMapKey(vf[k].key)) errs.push(field.invalid(`${vp}.${k}.key`, vf[k].key, m));
      if (!vf[k].name) errs.push(field.required(`${vp}.${k}.name`, ''));
    }
  });
  return errs;
}

function validateResourceName(name: string, path: string): FieldError[] {
  const errs = isQualifiedName(name).map((m) => field.invalid(path, name, m));
  if (errs.length) return errs;
  if (!name.includes('/')) {
    if (!standardContainerResources.has(name) && !name.startsWith('hugepages-')) errs.push(field.invalid(path, name, 'must be a standard resource for containers'));
  }
  return errs;
}

/** validateResources checks resource names, that quantities parse and are not negative, and requests <= limits. */
export function validateResources(res: unknown, path: string): FieldError[] {
  if (res === undefined || res === null) return [];
  if (!isObj(res)) return [field.invalid(path, res, 'must be an object')];
  const errs: FieldError[] = [];
  const good: Record<string, Record<string, string | number>> = { limits: {}, requests: {} };
  for (const kind of ['limits', 'requests']) {
    const list = res[kind];
    if (list === undefined || list === null) continue;
    if (!isObj(list)) {
      errs.push(field.invalid(`${path}.${kind}`, list, 'must be a map of resource name to quantity'));
      continue;
    }
    for (const [name, q] of Object.entries(list)) {
      const p = `${path}.${kind}[${name}]`;
      errs.push(...validateResourceName(name, p));
      if (!isQuantity(q)) {
        errs.push(field.invalid(p, q, QUANTITY_PATTERN));
        continue;
      }
      const v = parseQuantity(q as string | number);
      if (v < 0) errs.push(field.invalid(p, String(q), IS_NEGATIVE));
      else if ((name.startsWith('hugepages-') || name.includes('/')) && !Number.isInteger(v)) errs.push(field.invalid(p, String(q), 'must be an integer'));
      else good[kind][name] = q as string | number;
    }
  }
  for (const [name, q] of Object.entries(good.requests)) {
    const lim = good.limits[name];
    if (lim !== undefined && compareQuantity(q, lim) > 0) {
      errs.push(field.invalid(`${path}.requests`, String(q), `must be less than or equal to ${name} limit of ${lim}`));
    }
  }
  return errs;
}

function validateVolumeMounts(mounts: unknown, path: string, volumes: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  const paths = new Set<string>();
  listOf(mounts).forEach((m, i) => {
    const p = `${path}[${i}]`;
    if (!m.name) errs.push(field.required(`${p}.name`, ''));
    else if (!volumes.has(m.name)) errs.push(field.notFound(`${p}.name`, m.name));
    if (!m.mountPath) errs.push(field.required(`${p}.mountPath`, ''));
    else if (paths.has(m.mountPath)) errs.push(field.invalid(`${p}.mountPath`, m.mountPath, 'must be unique'));
    else paths.add(m.mountPath);
    if (m.subPath) errs.push(...validateLocalDescendingPath(m.subPath, `${p}.subPath`));
  });
  return errs;
}

function validateLocalDescendingPath(target: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (target.startsWith('/')) errs.push(field.invalid(path, target, 'must be a relative path'));
  if (target.split(/[\\/]/).includes('..')) errs.push(field.invalid(path, target, "must not contain '..'"));
  return errs;
}

function validateContainer(c: Obj, path: string, volumes: Set<string>, hostNetwork: boolean, init: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!c.name) errs.push(field.required(`${path}.name`, ''));
  else errs.push(...validateDNS1123Label(c.name, `${path}.name`));
  if (!c.image || (typeof c.image === 'string' && c.image.trim() === '')) errs.push(field.required(`${path}.image`, ''));
  else if (typeof c.image === 'string' && c.image !== c.image.trim()) errs.push(field.invalid(`${path}.image`, c.image, 'must not have leading or trailing whitespace'));
  if (c.imagePullPolicy !== undefined && !pullPolicies.includes(c.imagePullPolicy)) errs.push(field.notSupported(`${path}.imagePullPolicy`, c.imagePullPolicy, pullPolicies));
  if (c.terminationMessagePolicy !== undefined && !terminationMessagePolicies.includes(c.terminationMessagePolicy)) {
    errs.push(field.notSupported(`${path}.terminationMessagePolicy`, c.terminationMessagePolicy, terminationMessagePolicies));
  }
  errs.push(...validatePorts(c.ports, `${path}.ports`, hostNetwork));
  errs.push(...validateEnv(c.env, `${path}.env`));
  listOf(c.envFrom).forEach((ef, i) => {
    const p = `${path}.envFrom[${i}]`;
    const n = (ef.configMapRef ? 1 : 0) + (ef.secretRef ? 1 : 0);
    if (n === 0) errs.push(field.invalid(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    if (n > 1) errs.push(field.invalid(p, '', 'may not have more than one field specified at a time'));
    if (ef.prefix) for (const m of isEnvVarName(ef.prefix)) errs.push(field.invalid(`${p}.prefix`, ef.prefix, m));
  });
  errs.push(...validateVolumeMounts(c.volumeMounts, `${path}.volumeMounts`, volumes));
  errs.push(...validateResources(c.resources, `${path}.resources`));
  const sidecar = init && c.restartPolicy === 'Always';
  if (init && !sidecar) {
    for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']) {
      if (c[k] !== undefined && c[k] !== null) errs.push(field.forbidden(`${path}.${k}`, 'may not be set for init containers without restartPolicy=Always'));
    }
  } else {
    errs.push(...validateProbe(c.livenessProbe, `${path}.livenessProbe`, true));
    errs.push(...validateProbe(c.readinessProbe, `${path}.readinessProbe`, false));
    errs.push(...validateProbe(c.startupProbe, `${path}.startupProbe`, true));
    if (isObj(c.lifecycle)) {
      for (const k of ['postStart', 'preStop']) {
        if (c.lifecycle[k] !== undefined && c.lifecycle[k] !== null) errs.push(...validateHandler(c.lifecycle[k], `${path}.lifecycle.${k}`, ['exec', 'httpGet', 'tcpSocket', 'sleep']));
      }
    }
  }
  if (c.restartPolicy !== undefined && !(init && c.restartPolicy === 'Always')) {
    errs.push(init ? field.notSupported(`${path}.restartPolicy`, c.restartPolicy, ['Always']) : field.forbidden(`${path}.restartPolicy`, 'may not be set for non-init containers'));
  }
  return errs;
}

function validateVolumes(volumes: unknown, path: string): { errs: FieldError[]; names: Set<string> } {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  listOf(volumes).forEach((v, i) => {
    const p = `${path}[${i}]`;
    if (!v.name) errs.push(field.required(`${p}.name`, ''));
    else {
      errs.push(...validateDNS1123Label(v.name, `${p}.name`));
      if (names.has(v.name)) errs.push(field.duplicate(`${p}.name`, v.name));
      else names.add(v.name);
    }
    const set = volumeSources.filter((s) => v[s] !== undefined && v[s] !== null);
    if (set.length === 0) errs.push(field.required(p, 'must specify a volume type'));
    for (const s of set.slice(1)) errs.push(field.forbidden(`${p}.${s}`, 'may not specify more than 1 volume type'));
    const src = set.length ? v[set[0]] : undefined;
    const sp = `${p}.${set[0]}`;
    if (set[0] === 'configMap' && !src?.name) errs.push(field.required(`${sp}.name`, ''));
    if (set[0] === 'secret' && !src?.secretName) errs.push(field.required(`${sp}.secretName`, ''));
    if (set[0] === 'hostPath' && !src?.path) errs.push(field.required(`${sp}.path`, ''));
    if (set[0] === 'persistentVolumeClaim' && !src?.claimName) errs.push(field.required(`${sp}.claimName`, ''));
    if (set[0] === 'emptyDir' && src?.sizeLimit !== undefined && !isQuantity(src.sizeLimit)) errs.push(field.invalid(`${sp}.sizeLimit`, src.sizeLimit, QUANTITY_PATTERN));
    if (src && isObj(src) && src.defaultMode !== undefined) {
      const m = src.defaultMode;
      if (!Number.isInteger(m) || m < 0 || m > 0o777) errs.push(field.invalid(`${sp}.defaultMode`, m, 'must be a number between 0 and 0777 (octal), both inclusive'));
    }
    for (const [j, item] of listOf(src?.items).entries()) {
      if (!item.path) errs.push(field.required(`${sp}.items[${j}].path`, ''));
      else errs.push(...validateLocalDescendingPath(item.path, `${sp}.items[${j}].path`));
    }
  });
  return { errs, names };
}

function validateTolerations(tolerations: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  listOf(tolerations).forEach((t, i) => {
    const p = `${path}[${i}]`;
    if (t.key) for (const m of isQualifiedName(t.key)) errs.push(field.invalid(`${p}.key`, t.key, m));
    if (!t.key && t.operator !== 'Exists') errs.push(field.invalid(`${p}.operator`, t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
      errs.push(field.invalid(`${p}.effect`, t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    switch (t.operator ?? '') {
      case '':
      case 'Equal':
        if (t.value) for (const m of isValidLabelValue(t.value)) errs.push(field.invalid(`${p}.value`, t.value, m));
        break;
      case 'Exists':
        if (t.value) errs.push(field.invalid(`${p}.operator`, t.value, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(field.notSupported(`${p}.operator`, t.operator, ['Equal', 'Exists']));
    }
    if (t.effect && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      errs.push(field.notSupported(`${p}.effect`, t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
    }
  });
  return errs;
}

/** validatePodSpec checks a PodSpec at path (`spec` for pods, `spec.template.spec` for workloads). */
export function validatePodSpec(spec: unknown, path: string, opts: PodSpecOptions = {}): FieldError[] {
  if (!isObj(spec)) return [field.required(path, '')];
  const errs: FieldError[] = [];
  const vol = validateVolumes(spec.volumes, `${path}.volumes`);
  errs.push(...vol.errs);
  const hostNetwork = spec.hostNetwork === true;
  const names = new Set<string>();
  const checkName = (c: Obj, p: string) => {
    if (!c.name) return;
    if (names.has(c.name)) errs.push(field.duplicate(`${p}.name`, c.name));
    names.add(c.name);
  };
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) errs.push(field.required(`${path}.containers`, ''));
  listOf(spec.initContainers).forEach((c, i) => {
    const p = `${path}.initContainers[${i}]`;
    errs.push(...validateContainer(c, p, vol.names, hostNetwork, true));
    checkName(c, p);
  });
  listOf(spec.containers).forEach((c, i) => {
    const p = `${path}.containers[${i}]`;
    errs.push(...validateContainer(c, p, vol.names, hostNetwork, false));
    checkName(c, p);
  });
  if (!spec.restartPolicy) errs.push(field.required(`${path}.restartPolicy`, ''));
  else if (!restartPolicies.includes(spec.restartPolicy)) errs.push(field.notSupported(`${path}.restartPolicy`, spec.restartPolicy, restartPolicies));
  if (!spec.dnsPolicy) errs.push(field.required(`${path}.dnsPolicy`, ''));
  else if (!dnsPolicies.includes(spec.dnsPolicy)) errs.push(field.notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, dnsPolicies));
  if (spec.dnsPolicy === 'None' && !spec.dnsConfig) errs.push(field.required(`${path}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None"));
  errs.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  if (spec.serviceAccountName) for (const m of isDNS1123Subdomain(spec.serviceAccountName)) errs.push(field.invalid(`${path}.serviceAccountName`, spec.serviceAccountName, m));
  if (spec.nodeName) for (const m of isDNS1123Subdomain(spec.nodeName)) errs.push(field.invalid(`${path}.nodeName`, spec.nodeName, m));
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) {
    const v = spec.activeDeadlineSeconds;
    if (!Number.isInteger(v) || v < 1 || v > 2147483647) errs.push(field.invalid(`${path}.activeDeadlineSeconds`, v, inclusiveRangeError(1, 2147483647)));
  }
  if (spec.hostname) errs.push(...validateDNS1123Label(spec.hostname, `${path}.hostname`));
  if (spec.subdomain) errs.push(...validateDNS1123Label(spec.subdomain, `${path}.subdomain`));
  errs.push(...validateTolerations(spec.tolerations, `${path}.tolerations`));
  listOf(spec.imagePullSecrets).forEach((s, i) => {
    if (!s.name) errs.push(field.required(`${path}.imagePullSecrets[${i}].name`, ''));
  });
  if (spec.priorityClassName) for (const m of isDNS1123Subdomain(spec.priorityClassName)) errs.push(field.invalid(`${path}.priorityClassName`, spec.priorityClassName, m));
  if (spec.preemptionPolicy !== undefined && !['PreemptLowerPriority', 'Never'].includes(spec.preemptionPolicy)) {
    errs.push(field.notSupported(`${path}.preemptionPolicy`, spec.preemptionPolicy, ['Never', 'PreemptLowerPriority']));
  }
  if (opts.template && spec.ephemeralContainers?.length) errs.push(field.forbidden(`${path}.ephemeralContainers`, 'ephemeral containers not allowed in pod template'));
  return errs;
}

/** validatePodTemplate checks a PodTemplateSpec at path: its labels, annotations and spec. */
export function validatePodTemplate(tpl: unknown, path: string): FieldError[] {
  if (!isObj(tpl)) return [field.required(path, '')];
  const meta = isObj(tpl.metadata) ? tpl.metadata : {};
  return [
    ...validateLabels(meta.labels, `${path}.metadata.labels`),
    ...validateAnnotations(meta.annotations, `${path}.metadata.annotations`),
    ...validatePodSpec(tpl.spec, `${path}.spec`, { template: true }),
  ];
}

/** POD_UPDATE_FORBIDDEN is upstream's message when a pod update touches fields that may not change. */
export const POD_UPDATE_FORBIDDEN =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** validatePodSpecUpdate allows only images, activeDeadlineSeconds (shortened), added tolerations and a negative grace period set to 1. */
export function validatePodSpecUpdate(next: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const nd = next.activeDeadlineSeconds;
  const od = old.activeDeadlineSeconds;
  if (nd !== undefined && nd !== null) {
    if (od !== undefined && od !== null && nd > od) errs.push(field.invalid('spec.activeDeadlineSeconds', nd, 'must be less than or equal to previous value'));
  } else if (od !== undefined && od !== null) {
    errs.push(field.invalid('spec.activeDeadlineSeconds', nd ?? null, 'must not update from a positive integer to nil value'));
  }
  // Overlay the allowed changes onto a copy of the old spec; anything else that differs is forbidden.
  const mutated = structuredClone(old);
  for (const k of ['containers', 'initContainers'] as const) {
    const a = listOf(mutated[k]);
    const b = listOf(next[k]);
    if (a.length === b.length) a.forEach((c, i) => (c.image = b[i].image));
  }
  mutated.activeDeadlineSeconds = next.activeDeadlineSeconds;
  const oldTol = listOf(old.tolerations);
  const newTol = listOf(next.tolerations);
  if (oldTol.every((t) => newTol.some((n) => sameJSON(n, t)))) mutated.tolerations = next.tolerations;
  if ((old.terminationGracePeriodSeconds ?? 0) < 0 && next.terminationGracePeriodSeconds === 1) mutated.terminationGracePeriodSeconds = 1;
  if (!sameJSON(stripUndefined(mutated), stripUndefined(next))) errs.push(field.forbidden('spec', POD_UPDATE_FORBIDDEN));
  return errs;
}

function stripUndefined(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

function sameJSON(a: unknown, b: unknown): boolean {
  return canonicalJSON(a) === canonicalJSON(b);
}

function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Obj;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
