// tables.test: each printer against realistic objects, and the Table envelope kubectl reads.
import { describe, expect, it } from 'vitest';
import { RESOURCES } from './resources.ts';
import type { ResourceInfo } from './resources.ts';
import type { KubeObject } from './types.ts';
import { humanDuration, tableColumns, tableFor } from './tables.ts';

const NOW = new Date('2024-05-01T12:00:00Z');
/** ago is an RFC 3339 timestamp `sec` seconds before NOW. */
const ago = (sec: number) => new Date(NOW.getTime() - sec * 1000).toISOString().replace('.000Z', 'Z');
const res = (resource: string): ResourceInfo => RESOURCES.find((r) => r.resource === resource)!;

/** cells prints one object and returns its cells keyed by column name. */
function cells(resource: string, obj: KubeObject): Record<string, unknown> {
  const t = tableFor(res(resource), [obj], { now: NOW });
  return Object.fromEntries(t.columnDefinitions.map((c, i) => [c.name, t.rows[0].cells[i]]));
}

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: ago(300), ...extra });
const running = { running: { startedAt: ago(290) } };

describe('Table envelope', () => {
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...meta('web', { labels: { app: 'web' }, resourceVersion: '42', managedFields: [{ manager: 'kubectl' }] }) },
    spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] },
    status: { phase: 'Pending' },
  };

  it('is a meta.k8s.io/v1 Table with list metadata and upstream column definitions', () => {
    const t = tableFor(res('pods'), [pod], { now: NOW, resourceVersion: '77', continue: 'tok', remainingItemCount: 3 });
    expect(t.kind).toBe('Table');
    expect(t.apiVersion).toBe('meta.k8s.io/v1');
    expect(t.metadata).toEqual({ resourceVersion: '77', continue: 'tok', remainingItemCount: 3 });
    expect(t.columnDefinitions[0]).toEqual({
      name: 'Name',
      type: 'string',
      format: 'name',
      priority: 0,
      description: expect.stringMatching(/^Name must be unique within a namespace\./),
    });
    expect(t.columnDefinitions.map((c) => [c.name, c.priority])).toEqual([
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ]);
    expect(t.columnDefinitions.find((c) => c.name === 'Age')!.description).toMatch(/^CreationTimestamp is a timestamp/);
  });

  it('rows carry PartialObjectMetadata by default, without managedFields', () => {
    const t = tableFor(res('pods'), [pod], { now: NOW });
    expect(t.metadata).toEqual({});
    expect(t.rows[0].object).toEqual({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { name: 'web', namespace: 'default', uid: 'uid-web', creationTimestamp: ago(300), labels: { app: 'web' }, resourceVersion: '42' },
    });
  });

  it('includeObject=Object carries the full object with apiVersion and kind; None carries null', () => {
    const bare = { ...pod, apiVersion: undefined, kind: undefined };
    const full = tableFor(res('pods'), [bare], { now: NOW, includeObject: 'Object' }).rows[0].object as KubeObject;
    expect(full.apiVersion).toBe('v1');
    expect(full.kind).toBe('Pod');
    expect(full.spec.containers[0].image).toBe('nginx:1.25');
    expect(tableFor(res('pods'), [pod], { now: NOW, includeObject: 'None' }).rows[0].object).toBeNull();
  });

  it('noHeaders leaves out the column definitions; an empty list has no rows', () => {
    expect(tableFor(res('pods'), [pod], { now: NOW, noHeaders: true }).columnDefinitions).toEqual([]);
    expect(tableFor(res('pods'), [], { now: NOW }).rows).toEqual([]);
  });

  it('a resource without a printer gets Name and Created At (date)', () => {
    const info: ResourceInfo = { ...res('configmaps'), group: 'example.com', resource: 'widgets', kind: 'Widget' };
    const t = tableFor(info, [{ metadata: { name: 'w1', creationTimestamp: '2024-04-30T10:20:30.456Z' } }, { metadata: { name: 'w2' } }], { now: NOW });
    expect(t.columnDefinitions.map((c) => [c.name, c.type, c.format])).toEqual([
      ['Name', 'string', 'name'],
      ['Created At', 'date', ''],
    ]);
    expect(t.rows.map((r) => r.cells)).toEqual([
      ['w1', '2024-04-30T10:20:30Z'],
      ['w2', '0001-01-01T00:00:00Z'],
    ]);
    expect(tableColumns(info)).toHaveLength(2);
  });

  it('exports humanDuration', () => {
    expect(humanDuration(53 * 3600 * 1000)).toBe('2d5h');
  });
});

describe('pods', () => {
  const pod = (status: Record<string, unknown>, spec: Record<string, unknown> = {}, extraMeta: Record<string, unknown> = {}): KubeObject => ({
    metadata: meta('web', extraMeta),
    spec: { nodeName: 'node1', containers: [{ name: 'nginx', image: 'nginx' }], ...spec },
    status,
  });

  it('running 1/1 with its wide cells', () => {
    const c = cells(
      'pods',
      pod({
        phase: 'Running',
        podIP: '10.42.0.5',
        podIPs: [{ ip: '10.42.0.5' }],
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'nginx', ready: true, restartCount: 0, state: running }],
      }),
    );
    expect(c).toEqual({
      Name: 'web',
      Ready: '1/1',
      Status: 'Running',
      Restarts: '0',
      Age: '5m',
      IP: '10.42.0.5',
      Node: 'node1',
      'Nominated Node': '<none>',
      'Readiness Gates': '<none>',
    });
  });

  it('CrashLoopBackOff with restarts and the time of the last one', () => {
    const c = cells(
      'pods',
      pod({
        phase: 'Running',
        containerStatuses: [
          {
            name: 'nginx',
            ready: false,
            restartCount: 5,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2m40s restarting failed container' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(90) } },
          },
        ],
      }),
    );
    expect([c.Ready, c.Status, c.Restarts]).toEqual(['0/1', 'CrashLoopBackOff', '5 (90s ago)']);
  });

  it.each([
    ['ContainerCreating', { waiting: { reason: 'ContainerCreating' } }],
    ['ErrImagePull', { waiting: { reason: 'ErrImagePull' } }],
    ['ImagePullBackOff', { waiting: { reason: 'ImagePullBackOff' } }],
    ['OOMKilled', { terminated: { exitCode: 137, reason: 'OOMKilled' } }],
    ['Signal:9', { terminated: { exitCode: 137, signal: 9 } }],
    ['ExitCode:2', { terminated: { exitCode: 2 } }],
  ])('container state gives %s', (want, state) => {
    const c = cells('pods', pod({ phase: 'Pending', containerStatuses: [{ name: 'nginx', ready: false, restartCount: 0, state }] }));
    expect(c.Status).toBe(want);
  });

  it('Pending with no container statuses yet', () => {
    expect(cells('pods', pod({ phase: 'Pending' }))).toMatchObject({ Ready: '0/1', Status: 'Pending', Restarts: '0', IP: '<none>' });
  });

  it('Terminating when deletionTimestamp is set', () => {
    const c = cells(
      'pods',
      pod({ phase: 'Running', containerStatuses: [{ name: 'nginx', ready: true, restartCount: 0, state: running }] }, {}, { deletionTimestamp: ago(-30) }),
    );
    expect([c.Ready, c.Status]).toEqual(['1/1', 'Terminating']);
  });

  it('a finished pod with a deletionTimestamp keeps its phase; NodeLost reads Unknown', () => {
    expect(cells('pods', pod({ phase: 'Succeeded' }, {}, { deletionTimestamp: ago(0) })).Status).toBe('Succeeded');
    expect(cells('pods', pod({ phase: 'Running', reason: 'NodeLost' }, {}, { deletionTimestamp: ago(0) })).Status).toBe('Unknown');
  });

  it('Init:0/1 while the init container runs', () => {
    const c = cells(
      'pods',
      pod(
        {
          phase: 'Pending',
          conditions: [{ type: 'Initialized', status: 'False' }],
          initContainerStatuses: [{ name: 'setup', ready: false, restartCount: 0, state: running }],
          containerStatuses: [{ name: 'nginx', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
        },
        { initContainers: [{ name: 'setup', image: 'busybox' }] },
      ),
    );
    expect([c.Ready, c.Status]).toEqual(['0/1', 'Init:0/1']);
  });

  it('Init:CrashLoopBackOff and Init:Error; init restarts count while initialising', () => {
    const initSpec = { initContainers: [{ name: 'a', image: 'busybox' }, { name: 'b', image: 'busybox' }] };
    const crash = cells(
      'pods',
      pod(
        {
          phase: 'Pending',
          initContainerStatuses: [
            { name: 'a', restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
            { name: 'b', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(20) } } },
          ],
        },
        initSpec,
      ),
    );
    expect([crash.Status, crash.Restarts]).toEqual(['Init:CrashLoopBackOff', '3 (20s ago)']);
    const failed = cells('pods', pod({ phase: 'Failed', initContainerStatuses: [{ name: 'a', restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } }] }, initSpec));
    expect(failed.Status).toBe('Init:Error');
    const second = cells(
      'pods',
      pod({ phase: 'Pending', initContainerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0 } } }, { name: 'b', state: running }] }, initSpec),
    );
    expect(second.Status).toBe('Init:1/2');
  });

  it('a restartable (sidecar) init container counts toward READY', () => {
    const c = cells(
      'pods',
      pod(
        {
          phase: 'Running',
          conditions: [
            { type: 'Initialized', status: 'True' },
            { type: 'Ready', status: 'True' },
          ],
          initContainerStatuses: [{ name: 'proxy', ready: true, started: true, restartCount: 1, state: running }],
          containerStatuses: [{ name: 'nginx', ready: true, restartCount: 0, state: running }],
        },
        { initContainers: [{ name: 'proxy', image: 'envoy', restartPolicy: 'Always' }] },
      ),
    );
    expect([c.Ready, c.Status, c.Restarts]).toEqual(['2/2', 'Running', '1']);
  });

  it('Completed, with the Completed row condition', () => {
    const t = tableFor(
      res('pods'),
      [pod({ phase: 'Succeeded', containerStatuses: [{ name: 'nginx', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] })],
      { now: NOW },
    );
    expect(t.rows[0].cells.slice(1, 4)).toEqual(['0/1', 'Completed', '0']);
    expect(t.rows[0].conditions).toEqual([{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]);
  });

  it('NotReady when one container completed and another still runs without the Ready condition', () => {
    const status = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'False' }],
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
        { name: 'b', ready: true, restartCount: 0, state: running },
      ],
    };
    const spec = { containers: [{ name: 'a' }, { name: 'b' }] };
    expect(cells('pods', pod(status, spec)).Status).toBe('NotReady');
    const ready = { ...status, conditions: [{ type: 'Ready', status: 'True' }] };
    expect(cells('pods', pod(ready, spec))).toMatchObject({ Ready: '1/2', Status: 'Running' });
  });

  it('SchedulingGated and readiness gates', () => {
    const c = cells(
      'pods',
      pod(
        {
          phase: 'Pending',
          conditions: [
            { type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' },
            { type: 'example.com/lb', status: 'True' },
          ],
        },
        { nodeName: undefined, readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] },
      ),
    );
    expect([c.Status, c.Node, c['Readiness Gates']]).toEqual(['SchedulingGated', '<none>', '1/2']);
  });
});

describe('nodes', () => {
  const node = (conditions: unknown[], extra: { unschedulable?: boolean; labels?: Record<string, string> } = {}): KubeObject => ({
    metadata: { name: 'node1', uid: 'n1', creationTimestamp: ago(3 * 86400 + 2 * 3600), labels: extra.labels ?? {} },
    spec: { unschedulable: extra.unschedulable },
    status: {
      conditions,
      addresses: [
        { type: 'InternalIP', address: '192.168.1.10' },
        { type: 'Hostname', address: 'node1' },
      ],
      nodeInfo: { kubeletVersion: 'v1.32.0-kubeling', osImage: 'Ubuntu 24.04 LTS', kernelVersion: '6.8.0-45-generic', containerRuntimeVersion: 'docker://27.3.1' },
    },
  });

  it('Ready, with roles, version and wide cells', () => {
    expect(cells('nodes', node([{ type: 'Ready', status: 'True' }], { labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/master': 'true' } }))).toEqual({
      Name: 'node1',
      Status: 'Ready',
      Roles: 'control-plane,master',
      Age: '3d2h',
      Version: 'v1.32.0-kubeling',
      'Internal-IP': '192.168.1.10',
      'External-IP': '<none>',
      'OS-Image': 'Ubuntu 24.04 LTS',
      'Kernel-Version': '6.8.0-45-generic',
      'Container-Runtime': 'docker://27.3.1',
    });
  });

  it.each([
    [[{ type: 'Ready', status: 'False' }], false, 'NotReady'],
    [[{ type: 'Ready', status: 'Unknown' }], false, 'NotReady'],
    [[{ type: 'MemoryPressure', status: 'False' }], false, 'Unknown'],
    [[{ type: 'Ready', status: 'True' }], true, 'Ready,SchedulingDisabled'],
    [[{ type: 'Ready', status: 'False' }], true, 'NotReady,SchedulingDisabled'],
  ])('%j unschedulable=%s → %s', (conds, unschedulable, want) => {
    expect(cells('nodes', node(conds, { unschedulable })).Status).toBe(want);
  });

  it('roles: <none>, and the legacy kubernetes.io/role label', () => {
    expect(cells('nodes', node([])).Roles).toBe('<none>');
    expect(cells('nodes', node([], { labels: { 'kubernetes.io/role': 'worker', 'node-role.kubernetes.io/': '' } })).Roles).toBe('worker');
  });
});

describe('services and endpoints', () => {
  const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject => ({ metadata: meta('web'), spec, status });

  it('NodePort ports string and selector', () => {
    const c = cells(
      'services',
      svc({
        type: 'NodePort',
        clusterIP: '10.43.12.7',
        clusterIPs: ['10.43.12.7'],
        selector: { app: 'web', tier: 'fe' },
        ports: [
          { name: 'http', port: 80, targetPort: 8080, nodePort: 31515, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      }),
    );
    expect(c).toEqual({ Name: 'web', Type: 'NodePort', 'Cluster-IP': '10.43.12.7', 'External-IP': '<none>', 'Port(s)': '80:31515/TCP,53/UDP', Age: '5m', Selector: 'app=web,tier=fe' });
  });

  it('ClusterIP: headless, external IPs, no ports, no selector', () => {
    expect(cells('services', svc({ type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'] }))).toMatchObject({ 'Cluster-IP': 'None', 'External-IP': '<none>', 'Port(s)': '<none>', Selector: '<none>' });
    expect(cells('services', svc({ type: 'ClusterIP', clusterIPs: ['10.43.0.9'], externalIPs: ['1.2.3.4', '5.6.7.8'], ports: [{ port: 443 }] }))).toMatchObject({
      'External-IP': '1.2.3.4,5.6.7.8',
      'Port(s)': '443/TCP',
    });
  });

  it('LoadBalancer: <pending>, then ingress IPs sorted, plus external IPs', () => {
    expect(cells('services', svc({ type: 'LoadBalancer', clusterIPs: ['10.43.0.1'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] }))['External-IP']).toBe('<pending>');
    const lb = svc({ type: 'LoadBalancer', clusterIPs: ['10.43.0.1'] }, { loadBalancer: { ingress: [{ ip: '192.168.1.11' }, { ip: '192.168.1.10' }, { hostname: 'lb.example.com' }] } });
    expect(cells('services', lb)['External-IP']).toBe('192.168.1.10,192.168.1.11,lb.example.com');
    const both = svc({ type: 'LoadBalancer', externalIPs: ['9.9.9.9'] }, { loadBalancer: { ingress: [{ ip: '192.168.1.10' }] } });
    expect(cells('services', both)['External-IP']).toBe('192.168.1.10,9.9.9.9');
  });

  it('ExternalName prints the name', () => {
    expect(cells('services', svc({ type: 'ExternalName', externalName: 'db.example.com' }))).toMatchObject({ 'Cluster-IP': '<none>', 'External-IP': 'db.example.com' });
  });

  it('endpoints: ip:port, up to three, then + N more...', () => {
    const ep = (subsets: unknown[] | undefined): KubeObject => ({ metadata: meta('web'), subsets });
    expect(cells('endpoints', ep(undefined)).Endpoints).toBe('<none>');
    expect(cells('endpoints', ep([{ addresses: [{ ip: '10.42.0.5' }, { ip: '10.42.1.7' }], ports: [{ port: 80, protocol: 'TCP' }] }])).Endpoints).toBe('10.42.0.5:80,10.42.1.7:80');
    const many = ep([
      {
        addresses: [{ ip: '10.42.0.5' }, { ip: '10.42.0.6' }],
        ports: [
          { name: 'http', port: 80 },
          { name: 'https', port: 443 },
        ],
      },
      { addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] },
    ]);
    expect(cells('endpoints', many).Endpoints).toBe('10.42.0.5:80,10.42.0.6:80,10.42.0.5:443 + 2 more...');
    expect(cells('endpoints', ep([{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] }])).Endpoints).toBe('[fd00::1]:80');
    expect(cells('endpoints', ep([{ addresses: [{ ip: '10.42.0.5' }] }])).Endpoints).toBe('10.42.0.5');
  });
});

describe('config and identity', () => {
  it('namespaces', () => {
    expect(cells('namespaces', { metadata: { name: 'dev', creationTimestamp: ago(47) }, status: { phase: 'Active' } })).toEqual({ Name: 'dev', Status: 'Active', Age: '47s' });
    expect(cells('namespaces', { metadata: { name: 'old', creationTimestamp: ago(100), deletionTimestamp: ago(0) }, status: { phase: 'Terminating' } }).Status).toBe('Terminating');
  });
  it('configmaps count data and binaryData', () => {
    expect(cells('configmaps', { metadata: meta('cfg'), data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } })).toEqual({ Name: 'cfg', Data: 3, Age: '5m' });
    expect(cells('configmaps', { metadata: meta('empty') }).Data).toBe(0);
  });
  it('secrets', () => {
    expect(cells('secrets', { metadata: meta('tls'), type: 'kubernetes.io/tls', data: { 'tls.crt': 'x', 'tls.key': 'y' } })).toEqual({ Name: 'tls', Type: 'kubernetes.io/tls', Data: 2, Age: '5m' });
  });
  it('serviceaccounts', () => {
    expect(cells('serviceaccounts', { metadata: meta('default') })).toEqual({ Name: 'default', Secrets: 0, Age: '5m' });
  });
  it('leases', () => {
    expect(cells('leases', { metadata: meta('node1', { namespace: 'kube-node-lease' }), spec: { holderIdentity: 'node1', leaseDurationSeconds: 40 } })).toEqual({ Name: 'node1', Holder: 'node1', Age: '5m' });
    expect(cells('leases', { metadata: meta('free'), spec: {} }).Holder).toBe('');
  });
  it('endpointslices: ports and addresses, at most 3 then "+ N more...", <unset> when empty', () => {
    const eps = (n: number) => Array.from({ length: n }, (_, i) => ({ addresses: [`10.42.0.${i + 1}`] }));
    expect(cells('endpointslices', { metadata: meta('web-abcde'), addressType: 'IPv4', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], endpoints: eps(2) })).toEqual({
      Name: 'web-abcde',
      AddressType: 'IPv4',
      Ports: '80',
      Endpoints: '10.42.0.1,10.42.0.2',
      Age: '5m',
    });
    const many = cells('endpointslices', { metadata: meta('big'), addressType: 'IPv4', ports: [{ port: 1 }, { port: 2 }, { name: 'x' }, { port: 4 }], endpoints: eps(5) });
    expect(many.Ports).toBe('1,2,x + 1 more...');
    expect(many.Endpoints).toBe('10.42.0.1,10.42.0.2,10.42.0.3 + 2 more...');
    expect(cells('endpointslices', { metadata: meta('empty'), addressType: 'IPv4', ports: [{}], endpoints: [] })).toMatchObject({ Ports: '*', Endpoints: '<unset>' });
    expect(cells('endpointslices', { metadata: meta('none'), addressType: 'IPv4', endpoints: null })).toMatchObject({ Ports: '<unset>', Endpoints: '<unset>' });
  });
});

describe('events', () => {
  it('prints object, source and counts; wide columns included', () => {
    const ev: KubeObject = {
      metadata: meta('web.17c3'),
      involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', fieldPath: 'spec.containers{nginx}' },
      reason: 'Pulled',
      message: 'Successfully pulled image "nginx"  \n',
      type: 'Normal',
      source: { component: 'kubelet', host: 'node1' },
      firstTimestamp: ago(600),
      lastTimestamp: ago(60),
      count: 3,
    };
    expect(cells('events', ev)).toEqual({
      'Last Seen': '60s',
      Type: 'Normal',
      Reason: 'Pulled',
      Object: 'pod/web',
      Subobject: 'spec.containers{nginx}',
      Source: 'kubelet, node1',
      Message: 'Successfully pulled image "nginx"',
      'First Seen': '10m',
      Count: 3,
      Name: 'web.17c3',
    });
  });
  it('new-style events: eventTime, series, reportingComponent, count defaults to 1', () => {
    const ev: KubeObject = {
      metadata: meta('x'),
      involvedObject: { kind: 'Deployment', name: 'web' },
      reason: 'ScalingReplicaSet',
      type: 'Normal',
      eventTime: '2024-05-01T11:58:00.000000Z',
      reportingComponent: 'deployment-controller',
      source: {},
    };
    expect(cells('events', ev)).toMatchObject({ 'Last Seen': '2m', 'First Seen': '2m', Count: 1, Source: 'deployment-controller', Object: 'deployment/web' });
    const series = { ...ev, series: { count: 7, lastObservedTime: '2024-05-01T11:59:30.000000Z' } };
    expect(cells('events', series)).toMatchObject({ 'Last Seen': '30s', Count: 7 });
    expect(cells('events', { ...ev, involvedObject: { kind: 'Node' } }).Object).toBe('node');
  });
});

describe('storage', () => {
  it('persistentvolumeclaims: bound and pending', () => {
    const bound: KubeObject = {
      metadata: meta('data'),
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'local-path', volumeName: 'pv-1' },
      status: { phase: 'Bound', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], capacity: { storage: '1024Mi' } },
    };
    expect(cells('persistentvolumeclaims', bound)).toEqual({
      Name: 'data',
      Status: 'Bound',
      Volume: 'pv-1',
      Capacity: '1Gi',
      'Access Modes': 'RWO,ROX',
      StorageClass: 'local-path',
      VolumeAttributesClass: '<unset>',
      Age: '5m',
      VolumeMode: '<unset>',
    });
    const pending: KubeObject = { metadata: meta('p', { annotations: { 'volume.beta.kubernetes.io/storage-class': 'slow' } }), spec: { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem' }, status: { phase: 'Pending' } };
    expect(cells('persistentvolumeclaims', pending)).toMatchObject({ Status: 'Pending', Volume: '', Capacity: '', 'Access Modes': '', StorageClass: 'slow', VolumeMode: 'Filesystem' });
  });

  it('persistentvolumes', () => {
    const pv: KubeObject = {
      metadata: { name: 'pv-1', creationTimestamp: ago(7200) },
      spec: {
        capacity: { storage: '5Gi' },
        accessModes: ['ReadWriteMany', 'ReadWriteOncePod'],
        persistentVolumeReclaimPolicy: 'Retain',
        claimRef: { namespace: 'default', name: 'data' },
        storageClassName: 'manual',
        volumeMode: 'Filesystem',
      },
      status: { phase: 'Bound' },
    };
    expect(cells('persistentvolumes', pv)).toEqual({
      Name: 'pv-1',
      Capacity: '5Gi',
      'Access Modes': 'RWX,RWOP',
      'Reclaim Policy': 'Retain',
      Status: 'Bound',
      Claim: 'default/data',
      StorageClass: 'manual',
      VolumeAttributesClass: '<unset>',
      Reason: '',
      Age: '120m',
      VolumeMode: 'Filesystem',
    });
    expect(cells('persistentvolumes', { ...pv, metadata: { ...pv.metadata, deletionTimestamp: ago(0) }, spec: {} })).toMatchObject({ Status: 'Terminating', Capacity: '0', Claim: '' });
  });
});

describe('workloads', () => {
  const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }, { name: 'sidecar', image: 'busybox' }] } };

  it('deployments: READY 2/3 and the selector string', () => {
    const d: KubeObject = {
      metadata: meta('web'),
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
      status: { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 },
    };
    expect(cells('deployments', d)).toEqual({ Name: 'web', Ready: '2/3', 'Up-to-date': 3, Available: 2, Age: '5m', Containers: 'nginx,sidecar', Images: 'nginx:1.25,busybox', Selector: 'app=web' });
    expect(cells('deployments', { metadata: meta('new'), spec: { replicas: 1, template: { spec: { containers: [] } }, selector: { matchExpressions: [{ key: 'a', operator: 'Nope' }] } } })).toMatchObject({
      Ready: '0/1',
      'Up-to-date': 0,
      Selector: '<invalid>',
    });
  });

  it('replicasets and replicationcontrollers', () => {
    const rs: KubeObject = { metadata: meta('web-5d4f8c'), spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d4f8c' } }, template }, status: { replicas: 3, readyReplicas: 1 } };
    expect(cells('replicasets', rs)).toEqual({ Name: 'web-5d4f8c', Desired: 3, Current: 3, Ready: 1, Age: '5m', Containers: 'nginx,sidecar', Images: 'nginx:1.25,busybox', Selector: 'app=web,pod-template-hash=5d4f8c' });
    const rc: KubeObject = { metadata: meta('rc'), spec: { replicas: 2, selector: { app: 'web' }, template }, status: { replicas: 2, readyReplicas: 2 } };
    expect(cells('replicationcontrollers', rc)).toMatchObject({ Desired: 2, Current: 2, Ready: 2, Selector: 'app=web' });
    expect(cells('replicationcontrollers', { metadata: meta('bare'), spec: { replicas: 0 } })).toMatchObject({ Desired: 0, Current: 0, Containers: '', Selector: '<none>' });
  });

  it('statefulsets and daemonsets', () => {
    expect(cells('statefulsets', { metadata: meta('db'), spec: { replicas: 3, template }, status: { readyReplicas: 3 } })).toEqual({ Name: 'db', Ready: '3/3', Age: '5m', Containers: 'nginx,sidecar', Images: 'nginx:1.25,busybox' });
    const ds: KubeObject = {
      metadata: meta('agent'),
      spec: { selector: { matchLabels: { app: 'agent' } }, template: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'a', image: 'agent:1' }] } } },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2 },
    };
    expect(cells('daemonsets', ds)).toEqual({
      Name: 'agent',
      Desired: 3,
      Current: 3,
      Ready: 2,
      'Up-to-date': 3,
      Available: 2,
      'Node Selector': 'kubernetes.io/os=linux',
      Age: '5m',
      Containers: 'a',
      Images: 'agent:1',
      Selector: 'app=agent',
    });
  });

  it('jobs: status, completions and duration', () => {
    const job = (spec: Record<string, unknown>, status: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject => ({
      metadata: meta('pi', extra),
      spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }] } }, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } }, ...spec },
      status,
    });
    const done = job({ completions: 1 }, { succeeded: 1, startTime: ago(300), completionTime: ago(253), conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }, { type: 'Complete', status: 'True' }] });
    expect(cells('jobs', done)).toEqual({ Name: 'pi', Status: 'Complete', Completions: '1/1', Duration: '47s', Age: '5m', Containers: 'pi', Images: 'perl', Selector: 'batch.kubernetes.io/controller-uid=u1' });
    expect(cells('jobs', job({ parallelism: 3 }, { active: 3, startTime: ago(125) }))).toMatchObject({ Status: 'Running', Completions: '0/1 of 3', Duration: '2m5s' });
    expect(cells('jobs', job({ completions: 5 }, { failed: 6, conditions: [{ type: 'Failed', status: 'True' }] }))).toMatchObject({ Status: 'Failed', Completions: '0/5', Duration: '' });
    expect(cells('jobs', job({}, { conditions: [{ type: 'Suspended', status: 'True' }] }))).toMatchObject({ Status: 'Suspended', Completions: '0/1' });
    expect(cells('jobs', job({}, {}, { deletionTimestamp: ago(0) })).Status).toBe('Terminating');
  });

  it('cronjobs', () => {
    const cj: KubeObject = {
      metadata: meta('backup'),
      spec: { schedule: '*/5 * * * *', suspend: false, jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'busybox' }] } } } } },
      status: { active: [{ name: 'backup-123' }], lastScheduleTime: ago(65) },
    };
    expect(cells('cronjobs', cj)).toEqual({
      Name: 'backup',
      Schedule: '*/5 * * * *',
      Timezone: '<none>',
      Suspend: 'False',
      Active: 1,
      'Last Schedule': '65s',
      Age: '5m',
      Containers: 'b',
      Images: 'busybox',
      Selector: '<none>',
    });
    expect(cells('cronjobs', { ...cj, spec: { ...cj.spec, suspend: undefined, timeZone: 'Etc/UTC' }, status: {} })).toMatchObject({ Suspend: '<unset>', Timezone: 'Etc/UTC', Active: 0, 'Last Schedule': '<none>' });
  });

  it('controllerrevisions name their controller kind.group/name', () => {
    const cr: KubeObject = {
      metadata: meta('agent-7b9f', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u', controller: true }] }),
      revision: 2,
    };
    expect(cells('controllerrevisions', cr)).toEqual({ Name: 'agent-7b9f', Controller: 'daemonset.apps/agent', Revision: 2, Age: '5m' });
    expect(cells('controllerrevisions', { metadata: meta('orphan'), revision: 1 }).Controller).toBe('<none>');
  });
});

describe('tableColumns', () => {
  it('lists every printer column, wide ones with priority 1', () => {
    expect(tableColumns(res('deployments')).map((c) => `${c.name}${c.priority ? '*' : ''}`)).toEqual(['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers*', 'Images*', 'Selector*']);
    expect(tableColumns(res('events')).filter((c) => c.format === 'name').map((c) => [c.name, c.priority])).toEqual([['Name', 1]]);
    for (const info of RESOURCES) {
      const cols = tableColumns(info);
      expect(cols.every((c) => typeof c.description === 'string' && c.description.length > 0), info.resource).toBe(true);
    }
  });
});
