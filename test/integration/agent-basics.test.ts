// agent-basics: node registration, lease, pods running with real containers, env and volumes, bad token — real dockerd + API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../pkg/agent/index.ts';
import { silentLogger } from '../../pkg/util/log.ts';
import { configmaps, cstatus, leases, nodes, pod, pods, secrets, startCluster } from './agent-harness.ts';
import type { Cluster } from './agent-harness.ts';

const NODE = 'agent-basics-node';
let c: Cluster;

beforeAll(async () => {
  c = await startCluster(NODE);
});
afterAll(async () => {
  await c?.cleanup();
});

describe('node registration', () => {
  it('registers a Ready node with capacity, addresses, nodeInfo and labels', async () => {
    const n = await c.admin.get(nodes, undefined, NODE);
    const info = await c.docker.info();
    expect(n.status.capacity).toEqual({ cpu: String(info.cpus), memory: `${Math.floor(info.memoryBytes / 1024)}Ki`, pods: '110' });
    expect(n.status.allocatable).toEqual(n.status.capacity);
    expect(n.status.addresses).toEqual([{ type: 'InternalIP', address: c.nodeIp }, { type: 'Hostname', address: NODE }]);
    expect(n.status.nodeInfo).toMatchObject({ operatingSystem: 'linux', kubeletVersion: 'v1.32.0+kubeling', containerRuntimeVersion: expect.stringMatching(/^docker:\/\/\d/) });
    expect(n.status.daemonEndpoints.kubeletEndpoint.Port).toBe(c.agent!.kubeletPort);
    expect(n.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': NODE, 'kubernetes.io/os': 'linux' });
    expect(n.metadata.labels?.['node-role.kubernetes.io/control-plane']).toBeUndefined();
    const ready = n.status.conditions.find((x: any) => x.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' });
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) expect(n.status.conditions.find((x: any) => x.type === t).status).toBe('False');
    const out = await c.kubectl('get', 'nodes');
    expect(out.stdout).toMatch(new RegExp(`${NODE}\\s+Ready`));
  });

  it('holds a lease in kube-node-lease with a MicroTime renewTime', async () => {
    const l = await c.admin.get(leases, 'kube-node-lease', NODE);
    expect(l.spec).toMatchObject({ holderIdentity: NODE, leaseDurationSeconds: 40 });
    expect(l.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('rejects a bad token with a clear error', async () => {
    await expect(
      runAgent({ server: c.url, token: 'K10' + '0'.repeat(64) + '::server:wrong', caPem: c.caPem, nodeName: 'bad-token-node', nodeIp: '127.0.0.1', dataDir: `${c.dir}/bad`, kubeletPort: 0, labels: {} }, silentLogger()),
    ).rejects.toThrow('Unauthorized: the server rejected the node token');
  });
});

describe('pods', () => {
  it('runs a pod: Running with podIP, containers share localhost', async () => {
    await c.admin.create(pods, 'default', pod('web', NODE, {
      containers: [
        { name: 'web', image: 'kubeling/httpd:test', ports: [{ containerPort: 80 }] },
        { name: 'client', image: 'kubeling/busybox:test', command: ['sh', '-c', 'while true; do wget -q -O /tmp/got http://localhost:80/ && cp /tmp/got /tmp/ok; sleep 0.3; done'] },
      ],
    }));
    const p = await c.waitPod('web', (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.every((s: any) => s.ready));
    expect(p.status.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(p.status.hostIP).toBe(c.nodeIp);
    expect(p.status.startTime).toBeTruthy();
    expect(cstatus(p, 'web').containerID).toMatch(/^docker:\/\/[0-9a-f]{64}$/);
    expect(cstatus(p, 'web').imageID).toMatch(/^docker:\/\/sha256:/);
    // the sidecar fetched from the web container over localhost
    const id = cstatus(p, 'client').containerID.slice('docker://'.length);
    let body = '';
    for (let i = 0; i < 30 && !body; i++) {
      body = (await c.docker.execSimple(id, ['cat', '/tmp/ok'], 5000).catch(() => ({ stdout: '' }))).stdout;
      if (!body) await new Promise((r) => setTimeout(r, 200));
    }
    expect(body).toBe('hello from kubeling\n');
    // containers carry the labels naming pod, namespace, container and node
    const info = await c.docker.inspectContainer(id);
    expect(info!.labels).toMatchObject({ 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.container.name': 'client', 'kubeling.node': NODE, 'io.kubernetes.pod.uid': p.metadata.uid });
  });

  it('resolves env, envFrom, $(VAR) expansion and configMap/secret/downwardAPI/emptyDir volumes', async () => {
    await c.admin.create(configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { greeting: 'hello', 'app.conf': 'x=1\n' } });
    await c.admin.create(secrets, 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, type: 'Opaque', data: { password: Buffer.from('s3cret').toString('base64') } });
    await c.admin.create(pods, 'default', pod('envpod', NODE, {
      containers: [{
        name: 'main',
        image: 'kubeling/busybox:test',
        command: ['sh', '-c', 'echo "$(GREETING) $MSG" > /data/out; sleep 1000'],
        workingDir: '/data',
        env: [
          { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } },
          { name: 'PASS', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
          { name: 'MSG', value: 'from $(POD_NAME)' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        ],
        envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }],
        resources: { limits: { memory: '64Mi', cpu: '500m' } },
        volumeMounts: [
          { name: 'cfg', mountPath: '/etc/cfg' },
          { name: 'sec', mountPath: '/etc/sec' },
          { name: 'info', mountPath: '/etc/info' },
          { name: 'data', mountPath: '/data' },
          { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
        ],
      }],
      volumes: [
        { name: 'cfg', configMap: { name: 'cfg' } },
        { name: 'sec', secret: { secretName: 'sec', items: [{ key: 'password', path: 'pw/file', mode: 0o400 }], defaultMode: 0o644 } },
        { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
        { name: 'data', emptyDir: {} },
      ],
    }, { labels: { app: 'env' } }));
    const p = await c.waitPod('envpod', (p) => p.status?.phase === 'Running');
    const id = cstatus(p, 'main').containerID.slice('docker://'.length);
    const sh = async (cmd: string) => (await c.docker.execSimple(id, ['sh', '-c', cmd], 5000)).stdout;
    // MSG was defined before POD_NAME, so $(POD_NAME) stays unexpanded (upstream order rule)
    expect(await sh('echo "$GREETING|$PASS|$MSG|$POD_NAME|$CFG_greeting"')).toBe('hello|s3cret|from $(POD_NAME)|envpod|hello\n');
    expect((await sh('echo $POD_IP')).trim()).toBe(p.status.podIP);
    expect(await sh('cat /data/out')).toBe('hello from $(POD_NAME)\n');
    expect(await sh('pwd')).toBe('/data\n');
    expect(await sh('cat /etc/cfg/greeting; cat /etc/app.conf')).toBe('hellox=1\n');
    expect(await sh('cat /etc/sec/pw/file; stat -c %a /etc/sec/pw/file')).toBe('s3cret400\n');
    expect(await sh('cat /etc/info/labels; echo; cat /etc/info/name')).toBe('app="env"\nenvpod');
    expect(await sh('touch /etc/cfg/x 2>&1 || echo ro')).toMatch(/ro\n$/);
    // limits became the container's memory limit and CFS quota
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync('docker', ['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}', id], { encoding: 'utf8' })).toBe(`${64 << 20} 50000 100000\n`);
    // the configMap volume follows changes
    const cm = await c.admin.get(configmaps, 'default', 'cfg');
    cm.data.greeting = 'changed';
    await c.admin.update(configmaps, cm);
    let got = '';
    for (let i = 0; i < 100 && got !== 'changed'; i++) {
      got = await sh('cat /etc/cfg/greeting');
      if (got !== 'changed') await new Promise((r) => setTimeout(r, 300));
    }
    expect(got).toBe('changed');
  });

  it('waits in ContainerCreating with FailedMount while a configMap is missing, then starts', async () => {
    await c.admin.create(pods, 'default', pod('needs-cm', NODE, {
      containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'], volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
      volumes: [{ name: 'v', configMap: { name: 'later' } }],
    }));
    await c.waitPod('needs-cm', (p) => cstatus(p, 'main')?.state?.waiting?.reason === 'ContainerCreating');
    const until = Date.now() + 10_000;
    let evs: any[] = [];
    while (Date.now() < until && !evs.some((e) => e.reason === 'FailedMount')) {
      evs = await c.podEvents('needs-cm');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(evs.find((e) => e.reason === 'FailedMount')?.message).toBe('MountVolume.SetUp failed for volume "v" : configmap "later" not found');
    await c.admin.create(configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later' }, data: { a: 'b' } });
    await c.waitPod('needs-cm', (p) => p.status?.phase === 'Running', 30_000);
  });

  it('reports CreateContainerConfigError for a missing secret key', async () => {
    await c.admin.create(pods, 'default', pod('badenv', NODE, {
      containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'], env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'nope' } } }] }],
    }));
    const p = await c.waitPod('badenv', (p) => cstatus(p, 'main')?.state?.waiting?.reason === 'CreateContainerConfigError');
    expect(cstatus(p, 'main').state.waiting.message).toBe("couldn't find key nope in Secret default/sec");
    expect(p.status.phase).toBe('Pending');
  });
});
