// core.test: defaults, required fields and update rules of the core/v1 kinds.
import { describe, expect, it } from 'vitest';
import { fieldErrorText } from '../errors.ts';
import { lookupKind } from '../resources.ts';
import type { KubeObject } from '../types.ts';
import { applyDefaults, validate, validateStatusUpdate } from './index.ts';

const info = (kind: string) => lookupKind('v1', kind)!;
const texts = (kind: string, obj: KubeObject, old?: KubeObject) => validate(info(kind), obj, old).map(fieldErrorText);
const defaulted = (kind: string, obj: KubeObject, old?: KubeObject) => {
  applyDefaults(info(kind), obj, old);
  return obj;
};

function pod(spec: Record<string, unknown>): KubeObject {
  return defaulted('Pod', { metadata: { name: 'p', namespace: 'default', uid: 'u' }, spec });
}

describe('Pod validation', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['no containers', { containers: [] }, ['spec.containers: Required value']],
    ['container without name and image', { containers: [{}] }, ['spec.containers[0].name: Required value', 'spec.containers[0].image: Required value']],
    [
      'bad container name',
      { containers: [{ name: 'Web_1', image: 'x' }] },
      [
        `spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
      ],
    ],
    ['duplicate container names', { containers: [{ name: 'a', image: 'x' }, { name: 'a', image: 'y' }] }, ['spec.containers[1].name: Duplicate value: "a"']],
    [
      'port out of range and bad protocol',
      { containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 70000, protocol: 'HTTP' }] }] },
      [
        'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
        'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      ],
    ],
    ['missing containerPort', { containers: [{ name: 'a', image: 'x', ports: [{}] }] }, ['spec.containers[0].ports[0].containerPort: Required value']],
    [
      'restartPolicy',
      { containers: [{ name: 'a', image: 'x' }], restartPolicy: 'Sometimes' },
      ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'],
    ],
    ['probe without handler', { containers: [{ name: 'a', image: 'x', livenessProbe: {} }] }, ['spec.containers[0].livenessProbe: Required value: must specify a handler type']],
    [
      'probe with two handlers',
      { containers: [{ name: 'a', image: 'x', readinessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 80 } } }] },
      ['spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type'],
    ],
    ['liveness successThreshold', { containers: [{ name: 'a', image: 'x', livenessProbe: { tcpSocket: { port: 80 }, successThreshold: 2 } }] }, ['spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1']],
    ['duplicate volumes', { containers: [{ name: 'a', image: 'x' }], volumes: [{ name: 'v' }, { name: 'v' }] }, ['spec.volumes[1].name: Duplicate value: "v"']],
    ['mount of a missing volume', { containers: [{ name: 'a', image: 'x', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }] }, ['spec.containers[0].volumeMounts[0].name: Not found: "nope"']],
    ['mount without path', { containers: [{ name: 'a', image: 'x', volumeMounts: [{ name: 'v' }] }], volumes: [{ name: 'v' }] }, ['spec.containers[0].volumeMounts[0].mountPath: Required value']],
    [
      'bad env name',
      { containers: [{ name: 'a', image: 'x', env: [{ name: '1BAD', value: 'x' }] }] },
      [
        `spec.containers[0].env[0].name: Invalid value: "1BAD": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
      ],
    ],
    ['env without name', { containers: [{ name: 'a', image: 'x', env: [{ value: 'x' }] }] }, ['spec.containers[0].env[0].name: Required value']],
    [
      'unparseable quantity',
      { containers: [{ name: 'a', image: 'x', resources: { limits: { memory: '1GB' } } }] },
      [
        `spec.containers[0].resources.limits[memory]: Invalid value: "1GB": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
        `spec.containers[0].resources.requests[memory]: Invalid value: "1GB": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      ],
    ],
    [
      'requests above limits',
      { containers: [{ name: 'a', image: 'x', resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }] },
      ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'],
    ],
    ['unknown resource', { containers: [{ name: 'a', image: 'x', resources: { limits: { gpu: '1' } } }] }, [
      'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers',
      'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers',
    ]],
    [
      'toleration seconds without NoExecute',
      { containers: [{ name: 'a', image: 'x' }], tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }] },
      ["spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"],
    ],
  ])('%s', (_name, spec, want) => {
    expect(texts('Pod', pod(spec))).toEqual(want);
  });
});

describe('Pod defaults', () => {
  it('picks imagePullPolicy from the tag', () => {
    const p = pod({ containers: [{ name: 'a', image: 'nginx:latest' }, { name: 'b', image: 'nginx:1.25' }, { name: 'c', image: 'reg:5000/x' }, { name: 'd', image: 'x@sha256:abc' }] });
    expect(p.spec.containers.map((c: any) => c.imagePullPolicy)).toEqual(['Always', 'IfNotPresent', 'Always', 'IfNotPresent']);
  });
  it('copies limits to requests and computes QoS', () => {
    const p = pod({ containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1', memory: '1Gi' } } }] });
    expect(p.spec.containers[0].resources.requests).toEqual({ cpu: '1', memory: '1Gi' });
    expect(p.status.qosClass).toBe('Guaranteed');
    const b = pod({ containers: [{ name: 'a', image: 'x', resources: { requests: { cpu: '100m' } } }] });
    expect(b.status.qosClass).toBe('Burstable');
  });
  it('defaults volume modes, probes and host-network ports', () => {
    const p = pod({
      hostNetwork: true,
      containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 8080 }], startupProbe: { exec: { command: ['true'] } } }],
      volumes: [{ name: 's', secret: { secretName: 's' } }, { name: 'h', hostPath: { path: '/tmp' } }],
    });
    expect(p.spec.containers[0].ports[0]).toEqual({ containerPort: 8080, hostPort: 8080, protocol: 'TCP' });
    expect(p.spec.containers[0].startupProbe.failureThreshold).toBe(3);
    expect(p.spec.volumes[0].secret.defaultMode).toBe(420);
    expect(p.spec.volumes[1].hostPath.type).toBe('');
  });
  it('keeps a toleration the user already has', () => {
    const p = pod({ containers: [{ name: 'a', image: 'x' }], tolerations: [{ operator: 'Exists' }] });
    expect(p.spec.tolerations).toEqual([{ operator: 'Exists' }]);
  });
});

describe('Pod update', () => {
  const base = () => pod({ containers: [{ name: 'a', image: 'nginx:1.24' }], activeDeadlineSeconds: 100 });
  it('allows image, activeDeadlineSeconds decrease and added tolerations', () => {
    const old = base();
    const next = structuredClone(old);
    next.spec.containers[0].image = 'nginx:1.25';
    next.spec.activeDeadlineSeconds = 50;
    (next.spec.tolerations ??= []).push({ key: 'x', operator: 'Exists' });
    next.metadata.labels = { a: 'b' };
    expect(texts('Pod', defaulted('Pod', next, old), old)).toEqual([]);
  });
  it('forbids other spec changes with the upstream message', () => {
    const old = base();
    const next = structuredClone(old);
    next.spec.containers[0].ports = [{ containerPort: 80, protocol: 'TCP' }];
    expect(texts('Pod', next, old)).toEqual([
      'spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
    ]);
  });
  it('forbids raising activeDeadlineSeconds', () => {
    const old = base();
    const next = structuredClone(old);
    next.spec.activeDeadlineSeconds = 200;
    expect(texts('Pod', next, old)).toEqual(['spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value']);
  });
  it('does not re-add admission fields on update', () => {
    const old = base();
    const next: KubeObject = { metadata: structuredClone(old.metadata), spec: { containers: [{ name: 'a', image: 'nginx:1.24' }] } };
    applyDefaults(info('Pod'), next, old);
    expect(next.spec.serviceAccountName).toBeUndefined();
    expect(next.status).toBeUndefined();
  });
});

describe('Pod status update', () => {
  const running = (restartPolicy: string) => {
    const p = pod({ containers: [{ name: 'a', image: 'x' }], restartPolicy });
    p.status = { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }] };
    return p;
  };
  const withStatus = (old: KubeObject, status: Record<string, unknown>): KubeObject => ({ ...old, metadata: { ...old.metadata }, status: { ...old.status, ...status } });
  const statusTexts = (next: KubeObject, old: KubeObject) => validateStatusUpdate(info('Pod'), next, old).map(fieldErrorText);
  const terminated = { terminated: { exitCode: 0, reason: 'Completed', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z' } };

  it('accepts what a kubelet writes: phase, conditions, container states, pod and host IPs', () => {
    const old = running('Always');
    const next = withStatus(old, {
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }, { type: 'example.com/gate', status: 'False' }],
      hostIP: '10.0.0.5', hostIPs: [{ ip: '10.0.0.5' }], podIP: '10.42.0.7', podIPs: [{ ip: '10.42.0.7' }, { ip: 'fd00::7' }],
    });
    expect(statusTexts(next, old)).toEqual([]);
  });
  it('does not validate the stored spec again, as upstream\'s status strategy', () => {
    // a spec this server would refuse today (no image) is the stored one: a status write is not refused for it
    const old = running('Always');
    old.spec.containers[0].image = '';
    expect(texts('Pod', old)).toContain('spec.containers[0].image: Required value');
    expect(statusTexts(withStatus(old, { phase: 'Running' }), old)).toEqual([]);
  });
  it('refuses bad IPs, two of one family, duplicates and a hostIPs[0] other than hostIP', () => {
    const old = running('Always');
    expect(statusTexts(withStatus(old, { podIPs: [{ ip: '10.42.0.300' }] }), old)).toEqual(['status.podIPs[0]: Invalid value: "10.42.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
    expect(statusTexts(withStatus(old, { podIPs: [{ ip: '10.42.0.7' }, { ip: '10.42.0.7' }] }), old)).toEqual([
      'status.podIPs: Invalid value: [{"ip":"10.42.0.7"},{"ip":"10.42.0.7"}]: may specify no more than one IP for each IP family',
      'status.podIPs[1]: Duplicate value: "10.42.0.7"',
    ]);
    expect(statusTexts(withStatus(old, { hostIP: '10.0.0.5', hostIPs: [{ ip: '10.0.0.6' }] }), old)).toEqual(['status.hostIPs[0].ip: Invalid value: "10.0.0.6": must be equal to `hostIP`']);
  });
  it('refuses a condition type that is not a qualified name and a bad nominated node', () => {
    const old = running('Always');
    const errs = statusTexts(withStatus(old, { conditions: [{ type: 'not ok', status: 'True' }], nominatedNodeName: 'Node_1' }), old);
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^status\.conditions\[0\]\.type: Invalid value: "not ok": name part must consist of alphanumeric characters/);
    expect(errs[1]).toMatch(/^status\.nominatedNodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain/);
  });
  it('keeps a terminated container terminated unless the restart policy restarts it', () => {
    for (const [policy, exitCode, refused] of [['Never', 0, true], ['OnFailure', 0, true], ['OnFailure', 1, false], ['Always', 0, false]] as const) {
      const old = running(policy);
      old.status.containerStatuses[0].state = { terminated: { ...terminated.terminated, exitCode } };
      const next = withStatus(old, { containerStatuses: [{ ...old.status.containerStatuses[0], state: { running: { startedAt: '2026-01-01T00:00:02Z' } } }] });
      expect(statusTexts(next, old), `${policy} after exit ${exitCode}`).toEqual(refused ? ['status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state'] : []);
    }
  });
  it('lets a restartable init container (a sidecar) restart under restartPolicy Never', () => {
    const old = running('Never');
    old.spec.initContainers = [{ name: 'side', image: 'x', restartPolicy: 'Always' }, { name: 'once', image: 'x' }];
    old.status.initContainerStatuses = [{ name: 'side', state: terminated }, { name: 'once', state: terminated }];
    const next = withStatus(old, { initContainerStatuses: [{ name: 'side', state: { running: {} } }, { name: 'once', state: { running: {} } }] });
    expect(statusTexts(next, old)).toEqual(['status.initContainerStatuses[1].state: Forbidden: may not be transitioned to non-terminated state']);
  });
});

describe('Service', () => {
  const svc = (spec: Record<string, unknown>, name = 'web') => defaulted('Service', { metadata: { name, namespace: 'default' }, spec });
  it('defaults like upstream', () => {
    const s = svc({ selector: { app: 'web' }, ports: [{ port: 80 }] });
    expect(s.spec).toEqual({
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    });
    expect(texts('Service', s)).toEqual([]);
    const np = svc({ type: 'NodePort', ports: [{ port: 80, targetPort: 'http' }] });
    expect(np.spec.externalTrafficPolicy).toBe('Cluster');
    expect(np.spec.ports[0].targetPort).toBe('http');
    expect(svc({ type: 'LoadBalancer', ports: [{ port: 80 }] }).spec.allocateLoadBalancerNodePorts).toBe(true);
  });
  it.each<[string, Record<string, unknown>, string[]]>([
    ['no ports', {}, ['spec.ports: Required value']],
    [
      'port 0',
      { ports: [{ port: 0 }] },
      ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive', 'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive'],
    ],
    ['unnamed ports', { ports: [{ port: 80 }, { port: 443 }] }, ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']],
    ['duplicate names', { ports: [{ port: 80, name: 'a' }, { port: 443, name: 'a' }] }, ['spec.ports[1].name: Duplicate value: "a"']],
    ['nodePort on ClusterIP', { ports: [{ port: 80, nodePort: 30001 }] }, ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]],
    [
      'nodePort out of range',
      { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] },
      ['spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767'],
    ],
    ['type', { type: 'Magic', ports: [{ port: 80 }] }, ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']],
    ['headless without ports', { clusterIP: 'None' }, []],
    ['ExternalName', { type: 'ExternalName', externalName: 'example.com' }, []],
  ])('%s', (_n, spec, want) => {
    expect(texts('Service', svc(spec))).toEqual(want);
  });
  it('validates selector labels and DNS-1035 names', () => {
    expect(texts('Service', svc({ selector: { app: 'a b' }, ports: [{ port: 80 }] }))[0]).toMatch(/^spec.selector: Invalid value: "a b": a valid label/);
    expect(texts('Service', svc({ ports: [{ port: 80 }] }, '1web'))[0]).toMatch(/^metadata.name: Invalid value: "1web": a DNS-1035 label/);
  });
  it('keeps clusterIP once set', () => {
    const old = svc({ ports: [{ port: 80 }], clusterIP: '10.43.0.10' });
    const next = structuredClone(old);
    next.spec.clusterIP = '10.43.0.11';
    expect(texts('Service', next, old)).toEqual(['spec.clusterIP: Invalid value: "10.43.0.11": field is immutable']);
    next.spec.clusterIP = '10.43.0.10';
    expect(texts('Service', next, old)).toEqual([]);
  });
});

describe('Secret and ConfigMap', () => {
  const sec = (extra: Record<string, unknown>) => defaulted('Secret', { metadata: { name: 's', namespace: 'default' }, ...extra });
  it('defaults type Opaque and folds stringData into data', () => {
    const s = sec({ stringData: { password: 'hunter2' } });
    expect(s.type).toBe('Opaque');
    expect(s.data).toEqual({ password: Buffer.from('hunter2').toString('base64') });
    expect(s.stringData).toBeUndefined();
    expect(texts('Secret', s)).toEqual([]);
  });
  it('checks keys, base64 and type-specific keys', () => {
    expect(texts('Secret', sec({ data: { 'bad key': 'YQ==' } }))).toEqual([
      `data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    ]);
    expect(texts('Secret', sec({ data: { a: 'not base64!' } }))).toEqual(['data[a]: Invalid value: "<secret contents redacted>": illegal base64 data']);
    expect(texts('Secret', sec({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'YQ==' } }))).toEqual(['data[tls.key]: Required value']);
  });
  it('enforces immutable and type on update', () => {
    const old = sec({ data: { a: 'YQ==' }, immutable: true });
    const next = structuredClone(old);
    next.data.a = 'Yg==';
    next.type = 'kubernetes.io/basic-auth';
    next.data.username = 'YQ==';
    expect(texts('Secret', next, old)).toEqual([
      'type: Invalid value: "kubernetes.io/basic-auth": field is immutable',
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
  });
  it('validates ConfigMap keys and immutability', () => {
    const cm = defaulted('ConfigMap', { metadata: { name: 'c', namespace: 'default' }, data: { 'app.conf': 'x', 'a/b': 'y' } });
    expect(texts('ConfigMap', cm)).toHaveLength(1);
    const old = defaulted('ConfigMap', { metadata: { name: 'c', namespace: 'default' }, data: { a: '1' }, immutable: true });
    const next = structuredClone(old);
    delete next.immutable;
    expect(texts('ConfigMap', next, old)).toEqual(['immutable: Forbidden: field is immutable when `immutable` is set']);
  });
});

describe('Namespace, PVC, Node, Event, RC', () => {
  it('namespace defaults and label rule', () => {
    const ns = defaulted('Namespace', { metadata: { name: 'team-a' } });
    expect(ns.spec).toEqual({ finalizers: ['kubernetes'] });
    expect(ns.status).toEqual({ phase: 'Active' });
    expect(ns.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'team-a' });
    expect(texts('Namespace', ns)).toEqual([]);
    expect(texts('Namespace', defaulted('Namespace', { metadata: { name: 'a.b' } }))[0]).toMatch(/^metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label/);
    // finalize removes the finalizer; defaults must not bring it back on a namespace being deleted
    const dying = { metadata: { name: 'x', deletionTimestamp: '2024-01-01T00:00:00Z' }, spec: { finalizers: [] } };
    expect(defaulted('Namespace', dying).spec.finalizers).toEqual([]);
  });
  it('PVC defaults and required fields', () => {
    const pvc = defaulted('PersistentVolumeClaim', { metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    expect(pvc.spec.volumeMode).toBe('Filesystem');
    expect(pvc.status.phase).toBe('Pending');
    expect(texts('PersistentVolumeClaim', pvc)).toEqual([]);
    expect(texts('PersistentVolumeClaim', defaulted('PersistentVolumeClaim', { metadata: { name: 'd', namespace: 'default' }, spec: {} }))).toEqual([
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources[storage]: Required value',
    ]);
  });
  it('node allocatable defaults from capacity; taints are checked', () => {
    const n = defaulted('Node', { metadata: { name: 'n1' }, spec: { podCIDR: '10.42.1.0/24', taints: [{ key: 'k', effect: 'Sometimes' }] }, status: { capacity: { cpu: '4', memory: '8Gi' } } });
    expect(n.status.allocatable).toEqual({ cpu: '4', memory: '8Gi' });
    expect(texts('Node', n)).toEqual(['spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"']);
  });
  it('event namespace must match its object', () => {
    const ev = defaulted('Event', { metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'p', namespace: 'other' }, reason: 'X' });
    expect(ev.reportingComponent).toBe('');
    expect(texts('Event', ev)).toEqual(['involvedObject.namespace: Invalid value: "other": does not match event.namespace']);
  });
  it('RC selector and labels default from the template', () => {
    const rc = defaulted('ReplicationController', {
      metadata: { name: 'rc', namespace: 'default' },
      spec: { template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'x' }] } } },
    });
    expect(rc.spec.selector).toEqual({ app: 'x' });
    expect(rc.metadata.labels).toEqual({ app: 'x' });
    expect(rc.spec.replicas).toBe(1);
    expect(texts('ReplicationController', rc)).toEqual([]);
    rc.spec.selector = { app: 'y' };
    expect(texts('ReplicationController', rc)).toEqual(['spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`']);
  });
});
