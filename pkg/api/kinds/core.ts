// core: defaults, validation and selectable fields for the core/v1 kinds (Pod, Service, Namespace, Secret, ConfigMap …).
import { isIP } from 'node:net';
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import { canonicalQuantity, isQuantity, parseQuantity, QUANTITY_PATTERN } from '../quantity.ts';
import type { KubeObject } from '../types.ts';
import type { KindRules } from './meta.ts';
import {
  deepEqual,
  ensure,
  IMMUTABLE,
  isConfigMapKey,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidPortNum,
  nameIsDNS1035Label,
  nameIsDNSLabel,
  nameIsDNSSubdomain,
  specOf,
  validateDNS1123Label,
  validateImmutable,
  validateLabels,
  validateNonnegative,
} from './meta.ts';
import { admitPod, defaultPod, defaultPodTemplate, validatePodSpec, validatePodSpecUpdate, validatePodTemplate, validatePortNumOrName } from './podspec.ts';

type Obj = Record<string, any>;
const listOf = (v: unknown): Obj[] => (Array.isArray(v) ? v : []);
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const protocols = ['SCTP', 'TCP', 'UDP'];
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

// ---------------------------------------------------------------- Pod

export const pod: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj, old) {
    defaultPod(obj);
    // what admission adds happens on create only; on update the stored pod already carries it
    if (!old) admitPod(obj);
  },
  validate(obj) {
    return validatePodSpec(obj.spec, 'spec');
  },
  validateUpdate(next, old) {
    if (!isObj(next.spec) || !isObj(old.spec)) return [];
    return validatePodSpecUpdate(next.spec, old.spec);
  },
  validateStatusUpdate: validatePodStatusUpdate,
  fields(obj) {
    const spec = specOf(obj);
    const status: Obj = isObj(obj.status) ? obj.status : {};
    const podIP = listOf(status.podIPs)[0]?.ip ?? status.podIP;
    return {
      'spec.nodeName': str(spec.nodeName),
      'spec.restartPolicy': str(spec.restartPolicy),
      'spec.schedulerName': str(spec.schedulerName),
      'spec.serviceAccountName': str(spec.serviceAccountName),
      'spec.hostNetwork': String(spec.hostNetwork === true),
      'status.phase': str(status.phase),
      'status.podIP': str(podIP),
      'status.nominatedNodeName': str(status.nominatedNodeName),
    };
  },
};

/** POD_CONDITIONS are the condition types the system sets; any other must be a qualified name. */
const POD_CONDITIONS = new Set(['PodScheduled', 'Ready', 'Initialized']);

/**
 * validatePodStatusUpdate is upstream's ValidatePodStatusUpdate (ObjectMeta is checked by the caller): condition types,
 * a nominated node's name, no terminated container brought back where the restart policy forbids it, and the pod's
 * and host's IPs (valid addresses, at most one per family, no duplicates, hostIPs[0] equal to hostIP).
 */
function validatePodStatusUpdate(next: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const status: Obj = isObj(next.status) ? next.status : {};
  const oldStatus: Obj = isObj(old.status) ? old.status : {};
  listOf(status.conditions).forEach((c, i) => {
    if (typeof c?.type === 'string' && POD_CONDITIONS.has(c.type)) return;
    for (const m of isQualifiedName(str(c?.type))) errs.push(field.invalid(`status.conditions[${i}].type`, c?.type, m));
  });
  const nominated = str(status.nominatedNodeName);
  if (nominated && nominated !== str(oldStatus.nominatedNodeName)) {
    for (const m of isDNS1123Subdomain(nominated)) errs.push(field.invalid('status.nominatedNodeName', nominated, m));
  }
  const spec = specOf(old);
  const sidecars = new Set(listOf(spec.initContainers).filter((c) => c?.restartPolicy === 'Always').map((c) => c.name));
  errs.push(...containerStateTransitions(status.containerStatuses, oldStatus.containerStatuses, 'status.containerStatuses', spec.restartPolicy, new Set()));
  errs.push(...containerStateTransitions(status.initContainerStatuses, oldStatus.initContainerStatuses, 'status.initContainerStatuses', spec.restartPolicy, sidecars));
  errs.push(...validateStatusIPs(listOf(status.podIPs), 'status.podIPs'));
  const hostIPs = listOf(status.hostIPs);
  if (hostIPs.length) {
    if (str(status.hostIP) !== str(hostIPs[0]?.ip)) errs.push(field.invalid('status.hostIPs[0].ip', hostIPs[0]?.ip, 'must be equal to `hostIP`'));
    errs.push(...validateStatusIPs(hostIPs, 'status.hostIPs'));
  }
  return errs;
}

/**
 * containerStateTransitions is upstream's ValidateContainerStateTransition: under restartPolicy Never (or OnFailure
 * after a zero exit), a terminated container stays terminated. Restartable init containers (sidecars) may restart.
 */
function containerStateTransitions(next: unknown, old: unknown, path: string, restartPolicy: unknown, restartable: Set<string>): FieldError[] {
  if (restartPolicy === 'Always') return [];
  const errs: FieldError[] = [];
  listOf(old).forEach((o, i) => {
    const terminated = o?.state?.terminated;
    if (!isObj(terminated) || restartable.has(o.name)) return;
    if (terminated.exitCode !== 0 && restartPolicy === 'OnFailure') return;
    for (const n of listOf(next)) {
      if (n?.name === o.name && !isObj(n?.state?.terminated)) errs.push(field.forbidden(`${path}[${i}].state`, 'may not be transitioned to non-terminated state'));
    }
  });
  return errs;
}

/** validateStatusIPs is upstream's validatePodIPs / validateHostIPs: valid addresses, one per family, no duplicates. */
function validateStatusIPs(ips: Obj[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  ips.forEach((e, i) => {
    if (!isIP(str(e?.ip))) errs.push(field.invalid(`${path}[${i}]`, e?.ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  });
  if (ips.length > 1) {
    const families = new Set(ips.map((e) => isIP(str(e?.ip))));
    if (ips.length > 2 || families.size !== 2 || families.has(0)) errs.push(field.invalid(path, ips, 'may specify no more than one IP for each IP family'));
    const seen = new Set<string>();
    ips.forEach((e, i) => {
      if (seen.has(str(e?.ip))) errs.push(field.duplicate(`${path}[${i}]`, e?.ip));
      seen.add(str(e?.ip));
    });
  }
  return errs;
}

// ---------------------------------------------------------------- Service

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

/** NODE_PORT_RANGE is the NodePort range upstream allocates from by default. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 };

function isHeadless(spec: Obj): boolean {
  return spec.clusterIP === 'None';
}

export const service: KindRules = {
  nameRule: nameIsDNS1035Label,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    spec.sessionAffinity ||= 'None';
    if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
    if (spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined) {
      spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    }
    spec.type ||= 'ClusterIP';
    for (const p of listOf(spec.ports)) {
      p.protocol ||= 'TCP';
      if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
    }
    if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
    if (spec.type !== 'ExternalName') {
      spec.internalTrafficPolicy ||= 'Cluster';
      spec.ipFamilyPolicy ||= 'SingleStack';
      if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) {
        const ip = spec.clusterIP && spec.clusterIP !== 'None' ? spec.clusterIP : undefined;
        spec.ipFamilies = [ip && isIP(ip) === 6 ? 'IPv6' : 'IPv4'];
      }
      if (spec.clusterIP && !Array.isArray(spec.clusterIPs)) spec.clusterIPs = [spec.clusterIP];
    }
    if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
    if (!obj.status) obj.status = { loadBalancer: {} };
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const ports = listOf(spec.ports);
    if (ports.length === 0 && !isHeadless(spec) && spec.type !== 'ExternalName') errs.push(field.required('spec.ports', ''));
    if (spec.type === 'ExternalName') {
      if (spec.clusterIP && spec.clusterIP !== '') errs.push(field.forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
      const cname = str(spec.externalName).replace(/\.$/, '');
      if (cname) for (const m of isDNS1123Subdomain(cname)) errs.push(field.invalid('spec.externalName', cname, m));
      else errs.push(field.required('spec.externalName', ''));
    }
    const names = new Set<string>();
    ports.forEach((sp, i) => {
      const p = `spec.ports[${i}]`;
      if (ports.length > 1 && !sp.name) errs.push(field.required(`${p}.name`, ''));
      else if (sp.name) {
        errs.push(...validateDNS1123Label(sp.name, `${p}.name`));
        if (names.has(sp.name)) errs.push(field.duplicate(`${p}.name`, sp.name));
        names.add(sp.name);
      }
      for (const m of isValidPortNum(sp.port)) errs.push(field.invalid(`${p}.port`, sp.port ?? 0, m));
      if (!sp.protocol) errs.push(field.required(`${p}.protocol`, ''));
      else if (!protocols.includes(sp.protocol)) errs.push(field.notSupported(`${p}.protocol`, sp.protocol, protocols));
      errs.push(...validatePortNumOrName(sp.targetPort, `${p}.targetPort`));
      if (sp.nodePort !== undefined && sp.nodePort !== null && sp.nodePort !== 0) {
        if (spec.type === 'ClusterIP') errs.push(field.forbidden(`${p}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
        else if (!Number.isInteger(sp.nodePort) || sp.nodePort < NODE_PORT_RANGE.min || sp.nodePort > NODE_PORT_RANGE.max) {
          errs.push(field.invalid(`${p}.nodePort`, sp.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`));
        }
      }
    });
    const seenPorts = new Set<string>();
    const seenNodePorts = new Set<string>();
    ports.forEach((sp, i) => {
      const k = `${sp.port}/${sp.protocol}`;
      if (seenPorts.has(k)) errs.push(field.duplicate(`spec.ports[${i}]`, { port: sp.port, protocol: sp.protocol }));
      seenPorts.add(k);
      if (sp.nodePort) {
        const nk = `${sp.nodePort}/${sp.protocol}`;
        if (seenNodePorts.has(nk)) errs.push(field.duplicate(`spec.ports[${i}].nodePort`, sp.nodePort));
        seenNodePorts.add(nk);
      }
    });
    if (spec.selector !== undefined && spec.selector !== null) errs.push(...validateLabels(spec.selector, 'spec.selector'));
    if (!spec.sessionAffinity) errs.push(field.required('spec.sessionAffinity', ''));
    else if (!['ClientIP', 'None'].includes(spec.sessionAffinity)) errs.push(field.notSupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
    if (!spec.type) errs.push(field.required('spec.type', ''));
    else if (!serviceTypes.includes(spec.type)) errs.push(field.notSupported('spec.type', spec.type, serviceTypes));
    if (spec.clusterIP && spec.clusterIP !== 'None' && !isIP(spec.clusterIP)) {
      errs.push(field.invalid('spec.clusterIP', spec.clusterIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
    if (spec.externalTrafficPolicy) {
      if (spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') {
        errs.push(field.invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"));
      } else if (!['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
        errs.push(field.notSupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
      }
    }
    if (spec.internalTrafficPolicy && !['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) {
      errs.push(field.notSupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']));
    }
    if (spec.ipFamilyPolicy && !['SingleStack', 'PreferDualStack', 'RequireDualStack'].includes(spec.ipFamilyPolicy)) {
      errs.push(field.notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
    }
    listOf(spec.ipFamilies).forEach((f, i) => {
      if (!['IPv4', 'IPv6'].includes(f as unknown as string)) errs.push(field.notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
    });
    listOf(spec.externalIPs).forEach((ip, i) => {
      if (!isIP(ip as unknown as string)) errs.push(field.invalid(`spec.externalIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    });
    return errs;
  },
  validateUpdate(next, old) {
    const ns = specOf(next);
    const os = specOf(old);
    // An empty clusterIP on update means "keep the allocated one": the API server copies it over before storing.
    if (os.clusterIP && ns.clusterIP && ns.clusterIP !== os.clusterIP && os.type !== 'ExternalName' && ns.type !== 'ExternalName') {
      return [field.invalid('spec.clusterIP', ns.clusterIP, IMMUTABLE)];
    }
    return [];
  },
  fields(obj) {
    const spec = specOf(obj);
    return { 'spec.clusterIP': str(spec.clusterIP), 'spec.type': str(spec.type) };
  },
};

// ---------------------------------------------------------------- Namespace

export const namespace: KindRules = {
  nameRule: nameIsDNSLabel,
  defaults(obj, old) {
    if (obj.metadata?.name) {
      obj.metadata.labels ??= {};
      obj.metadata.labels['kubernetes.io/metadata.name'] = obj.metadata.name;
    }
    if (!old && !obj.metadata?.deletionTimestamp) {
      const spec = ensure(obj, 'spec');
      const fin: string[] = Array.isArray(spec.finalizers) ? spec.finalizers : [];
      if (!fin.includes('kubernetes')) fin.push('kubernetes');
      spec.finalizers = fin;
    }
    const status = ensure(obj, 'status');
    status.phase ||= 'Active';
  },
  validate(obj) {
    const errs: FieldError[] = [];
    listOf(obj.spec?.finalizers).forEach((f, i) => {
      const name = f as unknown as string;
      const p = `spec.finalizers[${i}]`;
      const msgs = isQualifiedName(name);
      for (const m of msgs) errs.push(field.invalid(p, name, m));
      if (!msgs.length && !name.includes('/') && name !== 'kubernetes') errs.push(field.invalid(p, name, 'name is neither a standard finalizer name nor is it fully qualified'));
    });
    const phase = obj.status?.phase;
    if (phase && !['Active', 'Terminating'].includes(phase)) errs.push(field.notSupported('status.phase', phase, ['Active', 'Terminating']));
    return errs;
  },
  fields(obj) {
    return { 'status.phase': str(obj.status?.phase), name: str(obj.metadata?.name) };
  },
};

// ---------------------------------------------------------------- ConfigMap and Secret

/** MAX_SECRET_SIZE is upstream's MaxSecretSize, also the ConfigMap limit (1 MiB). */
export const MAX_SECRET_SIZE = 1024 * 1024;

function validateKeys(data: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (data === undefined || data === null) return errs;
  if (!isObj(data)) return [field.invalid(path, data, 'must be a map of string to string')];
  for (const k of Object.keys(data)) for (const m of isConfigMapKey(k)) errs.push(field.invalid(`${path}[${k}]`, k, m));
  return errs;
}

const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function immutableUpdate(next: KubeObject, old: KubeObject, keys: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (next.immutable !== true) errs.push(field.forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const k of keys) if (!deepEqual(next[k] ?? {}, old[k] ?? {})) errs.push(field.forbidden(k, 'field is immutable when `immutable` is set'));
  return errs;
}

export const configMap: KindRules = {
  nameRule: nameIsDNSSubdomain,
  validate(obj) {
    const errs = [...validateKeys(obj.data, 'data'), ...validateKeys(obj.binaryData, 'binaryData')];
    let size = 0;
    for (const [k, v] of Object.entries(isObj(obj.data) ? obj.data : {})) {
      if (typeof v !== 'string') errs.push(field.invalid(`data[${k}]`, v, 'must be a string'));
      else size += Buffer.byteLength(v);
      if (isObj(obj.binaryData) && k in obj.binaryData) errs.push(field.invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
    }
    for (const [k, v] of Object.entries(isObj(obj.binaryData) ? obj.binaryData : {})) {
      if (typeof v !== 'string' || !base64Re.test(v)) errs.push(field.invalid(`binaryData[${k}]`, '<binary data>', 'must be base64-encoded'));
      else size += Buffer.from(v, 'base64').length;
    }
    if (size > MAX_SECRET_SIZE) errs.push(field.tooLong('', '', MAX_SECRET_SIZE));
    return errs;
  },
  validateUpdate(next, old) {
    return immutableUpdate(next, old, ['data', 'binaryData']);
  },
};

function requireKeys(data: Obj, keys: string[]): FieldError[] {
  return keys.filter((k) => !data[k]).map((k) => field.required(`data[${k}]`, ''));
}

export const secret: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    obj.type ||= 'Opaque';
    // stringData is write-only: upstream folds it into data on the way in
    if (isObj(obj.stringData)) {
      obj.data = isObj(obj.data) ? obj.data : {};
      for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString('base64');
      delete obj.stringData;
    }
  },
  validate(obj) {
    const errs = validateKeys(obj.data, 'data');
    const data: Obj = isObj(obj.data) ? obj.data : {};
    let size = 0;
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string' || !base64Re.test(v)) errs.push(field.invalid(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
      else size += Buffer.from(v, 'base64').length;
    }
    if (size > MAX_SECRET_SIZE) errs.push(field.tooLong('data', '', MAX_SECRET_SIZE));
    switch (obj.type) {
      case 'kubernetes.io/service-account-token':
        if (!obj.metadata?.annotations?.['kubernetes.io/service-account.name']) errs.push(field.required('metadata.annotations[kubernetes.io/service-account.name]', ''));
        break;
      case 'kubernetes.io/dockercfg':
        errs.push(...requireKeys(data, ['.dockercfg']));
        break;
      case 'kubernetes.io/dockerconfigjson':
        errs.push(...requireKeys(data, ['.dockerconfigjson']));
        if (data['.dockerconfigjson']) {
          try {
            JSON.parse(Buffer.from(data['.dockerconfigjson'], 'base64').toString());
          } catch (e) {
            errs.push(field.invalid('data[.dockerconfigjson]', '<secret contents redacted>', (e as Error).message));
          }
        }
        break;
      case 'kubernetes.io/basic-auth':
        if (!data.username && !data.password) errs.push(field.required('data[username]', ''), field.required('data[password]', ''));
        break;
      case 'kubernetes.io/ssh-auth':
        errs.push(...requireKeys(data, ['ssh-privatekey']));
        break;
      case 'kubernetes.io/tls':
        errs.push(...requireKeys(data, ['tls.crt', 'tls.key']));
        break;
      default:
        if (obj.type) for (const m of isQualifiedName(obj.type)) errs.push(field.invalid('type', obj.type, m));
    }
    return errs;
  },
  validateUpdate(next, old) {
    return [...validateImmutable(next.type, old.type, 'type'), ...immutableUpdate(next, old, ['data'])];
  },
  fields(obj) {
    return { type: str(obj.type) };
  },
};

// ---------------------------------------------------------------- Node

export const node: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const status = obj.status;
    if (isObj(status) && isObj(status.capacity) && status.allocatable === undefined) status.allocatable = { ...status.capacity };
    for (const list of [status?.capacity, status?.allocatable]) {
      if (isObj(list)) for (const [k, v] of Object.entries(list)) if (typeof v === 'string' || typeof v === 'number') list[k] = canonicalQuantity(v);
    }
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const cidrs = [...(spec.podCIDR ? [spec.podCIDR] : []), ...listOf(spec.podCIDRs).filter((c) => (c as unknown as string) !== spec.podCIDR)] as unknown as string[];
    cidrs.forEach((c, i) => {
      if (!isCIDR(c)) errs.push(field.invalid(`spec.podCIDRs[${i}]`, c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
    });
    const seen = new Set<string>();
    listOf(spec.taints).forEach((t, i) => {
      const p = `spec.taints[${i}]`;
      if (!t.key) errs.push(field.required(`${p}.key`, ''));
      else for (const m of isQualifiedName(t.key)) errs.push(field.invalid(`${p}.key`, t.key, m));
      if (!t.effect) errs.push(field.required(`${p}.effect`, ''));
      else if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) errs.push(field.notSupported(`${p}.effect`, t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
      const k = `${t.key}:${t.effect}`;
      if (seen.has(k)) errs.push(field.duplicate(p, { key: t.key, effect: t.effect }));
      seen.add(k);
    });
    for (const kind of ['capacity', 'allocatable']) {
      const list = obj.status?.[kind];
      if (isObj(list)) for (const [k, v] of Object.entries(list)) if (!isQuantity(v)) errs.push(field.invalid(`status.${kind}[${k}]`, v, QUANTITY_PATTERN));
    }
    return errs;
  },
  validateUpdate(next, old) {
    const a = specOf(old).podCIDR;
    const b = specOf(next).podCIDR;
    if (a && b !== a) return [field.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid')];
    return [];
  },
  fields(obj) {
    return { 'spec.unschedulable': String(specOf(obj).unschedulable === true) };
  },
};

function isCIDR(s: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(s ?? '');
  if (!m) return false;
  const v = isIP(m[1]);
  const bits = Number(m[2]);
  return v !== 0 && bits <= (v === 4 ? 32 : 128);
}

// ---------------------------------------------------------------- Event

export const event: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    obj.reportingComponent ??= '';
    obj.reportingInstance ??= '';
    if (obj.eventTime === undefined) obj.eventTime = null;
    if (obj.involvedObject === undefined) obj.involvedObject = {};
  },
  validate(obj) {
    const errs: FieldError[] = [];
    const ns = obj.metadata?.namespace ?? '';
    const io: Obj = isObj(obj.involvedObject) ? obj.involvedObject : {};
    if (!obj.eventTime) {
      if (!io.namespace) {
        if (ns && ns !== 'default') errs.push(field.invalid('involvedObject.namespace', io.namespace ?? '', 'does not match event.namespace'));
      } else if (io.namespace !== ns) {
        errs.push(field.invalid('involvedObject.namespace', io.namespace, 'does not match event.namespace'));
      }
    } else {
      if (!io.namespace && ns !== 'default' && ns !== 'kube-system') errs.push(field.invalid('involvedObject.namespace', io.namespace ?? '', 'does not match event.namespace'));
      if (!obj.reportingComponent) errs.push(field.required('reportingComponent', ''));
      else for (const m of isQualifiedName(obj.reportingComponent)) errs.push(field.invalid('reportingComponent', obj.reportingComponent, m));
      if (!obj.reportingInstance) errs.push(field.required('reportingInstance', ''));
      if (!obj.action) errs.push(field.required('action', ''));
      if (!obj.reason) errs.push(field.required('reason', ''));
      if (obj.type !== 'Normal' && obj.type !== 'Warning') errs.push(field.invalid('type', obj.type ?? '', 'has invalid value, must be one of Normal, Warning'));
    }
    errs.push(...validateNonnegative(obj.count, 'count'));
    return errs;
  },
  fields(obj) {
    const io: Obj = isObj(obj.involvedObject) ? obj.involvedObject : {};
    return {
      'involvedObject.kind': str(io.kind),
      'involvedObject.namespace': str(io.namespace),
      'involvedObject.name': str(io.name),
      'involvedObject.uid': str(io.uid),
      'involvedObject.apiVersion': str(io.apiVersion),
      'involvedObject.resourceVersion': str(io.resourceVersion),
      'involvedObject.fieldPath': str(io.fieldPath),
      reason: str(obj.reason),
      reportingComponent: str(obj.reportingComponent),
      source: str(obj.source?.component || obj.reportingComponent),
      type: str(obj.type),
    };
  },
};

// ---------------------------------------------------------------- PersistentVolumeClaim and PersistentVolume

const accessModes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];

/** defaultPVCSpec sets volumeMode Filesystem (also used for StatefulSet volumeClaimTemplates). */
export function defaultPVC(pvc: Obj, withStatus: boolean): void {
  const spec = ensure(pvc, 'spec');
  spec.volumeMode ??= 'Filesystem';
  for (const list of [spec.resources?.requests, spec.resources?.limits]) {
    if (isObj(list)) for (const [k, v] of Object.entries(list)) if (typeof v === 'string' || typeof v === 'number') list[k] = canonicalQuantity(v);
  }
  if (withStatus) ensure(pvc, 'status').phase ||= 'Pending';
}

/** validatePVCSpec checks access modes, the storage request and volumeMode at path. */
export function validatePVCSpec(spec: unknown, path: string): FieldError[] {
  if (!isObj(spec)) return [field.required(path, '')];
  const errs: FieldError[] = [];
  const modes = listOf(spec.accessModes) as unknown as string[];
  if (modes.length === 0) errs.push(field.required(`${path}.accessModes`, 'at least 1 access mode is required'));
  for (const m of modes) if (!accessModes.includes(m)) errs.push(field.notSupported(`${path}.accessModes`, m, accessModes));
  const storage = spec.resources?.requests?.storage;
  const sp = `${path}.resources[storage]`;
  if (storage === undefined || storage === null) errs.push(field.required(sp, ''));
  else if (!isQuantity(storage)) errs.push(field.invalid(sp, storage, QUANTITY_PATTERN));
  else if (parseQuantity(storage) <= 0) errs.push(field.invalid(sp, String(storage), 'must be greater than zero'));
  if (spec.volumeMode !== undefined && !['Block', 'Filesystem'].includes(spec.volumeMode)) errs.push(field.notSupported(`${path}.volumeMode`, spec.volumeMode, ['Block', 'Filesystem']));
  errs.push(...validateLabelSelectorLoose(spec.selector, `${path}.selector`));
  return errs;
}

function validateLabelSelectorLoose(sel: unknown, path: string): FieldError[] {
  return isObj(sel) ? validateLabels(sel.matchLabels, `${path}.matchLabels`) : [];
}

export const persistentVolumeClaim: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    defaultPVC(obj, true);
  },
  validate(obj) {
    return validatePVCSpec(obj.spec, 'spec');
  },
  validateUpdate(next, old) {
    const a = structuredClone(specOf(old));
    const b = specOf(next);
    a.resources = b.resources;
    if (!a.volumeName) a.volumeName = b.volumeName;
    a.volumeAttributesClassName = b.volumeAttributesClassName;
    if (!deepEqual(a, b)) return [field.forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims')];
    return [];
  },
};

const pvSources = ['hostPath', 'local', 'nfs', 'csi', 'iscsi', 'fc', 'cephfs', 'rbd', 'cinder', 'glusterfs', 'azureFile', 'azureDisk', 'gcePersistentDisk', 'awsElasticBlockStore', 'vsphereVolume', 'flexVolume', 'portworxVolume', 'scaleIO', 'storageos', 'quobyte', 'photonPersistentDisk', 'flocker'];

export const persistentVolume: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    spec.persistentVolumeReclaimPolicy ||= 'Retain';
    spec.volumeMode ??= 'Filesystem';
    if (isObj(spec.hostPath) && spec.hostPath.type === undefined) spec.hostPath.type = '';
    if (isObj(spec.capacity)) for (const [k, v] of Object.entries(spec.capacity)) if (typeof v === 'string' || typeof v === 'number') spec.capacity[k] = canonicalQuantity(v);
    ensure(obj, 'status').phase ||= 'Pending';
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    const modes = listOf(spec.accessModes) as unknown as string[];
    if (modes.length === 0) errs.push(field.required('spec.accessModes', ''));
    for (const m of modes) if (!accessModes.includes(m)) errs.push(field.notSupported('spec.accessModes', m, accessModes));
    if (!isObj(spec.capacity) || Object.keys(spec.capacity).length === 0) errs.push(field.required('spec.capacity', ''));
    else if (spec.capacity.storage === undefined) errs.push(field.notSupported('spec.capacity', Object.keys(spec.capacity)[0], ['storage']));
    else if (!isQuantity(spec.capacity.storage)) errs.push(field.invalid('spec.capacity[storage]', spec.capacity.storage, QUANTITY_PATTERN));
    const reclaim = ['Delete', 'Recycle', 'Retain'];
    if (spec.persistentVolumeReclaimPolicy && !reclaim.includes(spec.persistentVolumeReclaimPolicy)) errs.push(field.notSupported('spec.persistentVolumeReclaimPolicy', spec.persistentVolumeReclaimPolicy, reclaim));
    const set = pvSources.filter((s) => spec[s] !== undefined && spec[s] !== null);
    if (set.length === 0) errs.push(field.required('spec', 'must specify a volume type'));
    for (const s of set.slice(1)) errs.push(field.forbidden(`spec.${s}`, 'may not specify more than 1 volume type'));
    if (set[0] === 'hostPath' && !spec.hostPath.path) errs.push(field.required('spec.hostPath.path', ''));
    return errs;
  },
};

// ---------------------------------------------------------------- ServiceAccount, Endpoints

export const serviceAccount: KindRules = { nameRule: nameIsDNSSubdomain };

export const endpoints: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    for (const ss of listOf(obj.subsets)) for (const p of listOf(ss.ports)) p.protocol ||= 'TCP';
  },
  validate(obj) {
    const errs: FieldError[] = [];
    listOf(obj.subsets).forEach((ss, i) => {
      const p = `subsets[${i}]`;
      if (listOf(ss.addresses).length === 0 && listOf(ss.notReadyAddresses).length === 0) errs.push(field.required(p, 'must specify `addresses` or `notReadyAddresses`'));
      for (const kind of ['addresses', 'notReadyAddresses']) {
        listOf(ss[kind]).forEach((a, j) => {
          if (!isIP(str(a.ip))) errs.push(field.invalid(`${p}.${kind}[${j}].ip`, a.ip ?? '', 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
          if (a.nodeName) for (const m of isDNS1123Subdomain(a.nodeName)) errs.push(field.invalid(`${p}.${kind}[${j}].nodeName`, a.nodeName, m));
        });
      }
      const ports = listOf(ss.ports);
      ports.forEach((port, j) => {
        const pp = `${p}.ports[${j}]`;
        if (ports.length > 1 && !port.name) errs.push(field.required(`${pp}.name`, ''));
        else if (port.name) errs.push(...validateDNS1123Label(port.name, `${pp}.name`));
        for (const m of isValidPortNum(port.port)) errs.push(field.invalid(`${pp}.port`, port.port ?? 0, m));
        if (!port.protocol) errs.push(field.required(`${pp}.protocol`, ''));
        else if (!protocols.includes(port.protocol)) errs.push(field.notSupported(`${pp}.protocol`, port.protocol, protocols));
      });
    });
    return errs;
  },
};

// ---------------------------------------------------------------- ReplicationController

export const replicationController: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = ensure(obj, 'spec');
    const labels = spec.template?.metadata?.labels;
    if (isObj(labels)) {
      if (!isObj(spec.selector) || Object.keys(spec.selector).length === 0) spec.selector = { ...labels };
      if (!obj.metadata.labels || Object.keys(obj.metadata.labels).length === 0) obj.metadata.labels = { ...labels };
    }
    spec.replicas ??= 1;
    defaultPodTemplate(spec.template);
  },
  validate(obj) {
    const spec = specOf(obj);
    const errs: FieldError[] = [];
    errs.push(...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'));
    const selector: Obj = isObj(spec.selector) ? spec.selector : {};
    if (Object.keys(selector).length === 0) errs.push(field.required('spec.selector', ''));
    else errs.push(...validateLabels(selector, 'spec.selector'));
    errs.push(...validateNonnegative(spec.replicas, 'spec.replicas'));
    const tpl = spec.template;
    if (!isObj(tpl)) {
      errs.push(field.required('spec.template', ''));
      return errs;
    }
    const labels: Obj = tpl.metadata?.labels ?? {};
    if (Object.keys(selector).length > 0 && !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
      errs.push(field.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
    }
    errs.push(...validatePodTemplate(tpl, 'spec.template'));
    const rp = tpl.spec?.restartPolicy;
    if (rp && rp !== 'Always') errs.push(field.notSupported('spec.template.spec.restartPolicy', rp, ['Always']));
    if (tpl.spec?.activeDeadlineSeconds !== undefined && tpl.spec?.activeDeadlineSeconds !== null) {
      errs.push(field.invalid('spec.template.spec.activeDeadlineSeconds', tpl.spec.activeDeadlineSeconds, 'must not be specified'));
    }
    return errs;
  },
  fields(obj) {
    return { 'status.replicas': String(obj.status?.replicas ?? 0) };
  },
};
