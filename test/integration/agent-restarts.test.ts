// agent-restarts: restart policies, CrashLoopBackOff, init containers, liveness and readiness probes — real dockerd + API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstatus, idOf, pod, pods, startCluster } from './agent-harness.ts';
import type { Cluster } from './agent-harness.ts';

const NODE = 'agent-restarts-node';
let c: Cluster;

beforeAll(async () => {
  c = await startCluster(NODE);
});
afterAll(async () => {
  await c?.cleanup();
});


describe('restarts', () => {
  it('restarts a container killed behind its back (docker kill), keeping lastState and restartCount', async () => {
    await c.admin.create(pods, 'default', pod('victim', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    const p0 = await c.waitPod('victim', (p) => p.status?.phase === 'Running');
    const id0 = idOf(p0, 'main');
    const t0 = Date.now();
    await c.docker.stopContainer(id0, 0); // SIGKILL, as `docker kill`
    const p1 = await c.waitPod('victim', (p) => cstatus(p, 'main')?.restartCount === 1 && !!cstatus(p, 'main').state.running);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(idOf(p1, 'main')).not.toBe(id0);
    expect(cstatus(p1, 'main').lastState.terminated).toMatchObject({ exitCode: 137, reason: 'Error', containerID: `docker://${id0}` });
    // the previous container is kept for `logs --previous`
    expect(await c.docker.inspectContainer(id0)).toBeDefined();
    // killed again at once: CrashLoopBackOff for 10 s
    await c.docker.stopContainer(idOf(p1, 'main'), 0);
    const p2 = await c.waitPod('victim', (p) => cstatus(p, 'main')?.state?.waiting?.reason === 'CrashLoopBackOff');
    expect(cstatus(p2, 'main').state.waiting.message).toMatch(/^back-off 10s restarting failed container=main pod=victim_default\(/);
    expect(p2.status.phase).toBe('Running');
    const p3 = await c.waitPod('victim', (p) => cstatus(p, 'main')?.restartCount === 2 && !!cstatus(p, 'main').state.running, 20_000);
    // only the newest dead container is kept
    expect(await c.docker.inspectContainer(id0)).toBeUndefined();
    expect(cstatus(p3, 'main').lastState.terminated.containerID).toBe(`docker://${idOf(p1, 'main')}`);
  });

  it('recreates a killed sandbox and restarts the containers in it', async () => {
    await c.admin.create(pods, 'default', pod('sandboxed', NODE, { containers: [{ name: 'web', image: 'kubeling/httpd:test' }] }));
    const p0 = await c.waitPod('sandboxed', (p) => p.status?.phase === 'Running');
    const sandbox = (await c.docker.listContainers({ podUid: p0.metadata.uid })).find((x) => x.isSandbox)!;
    await c.docker.stopContainer(sandbox.id, 0);
    const p1 = await c.waitPod('sandboxed', (p) => cstatus(p, 'web')?.restartCount === 1 && !!cstatus(p, 'web').state.running && p.status.conditions.find((x: any) => x.type === 'Ready')?.status === 'True', 20_000);
    const sandboxes = (await c.docker.listContainers({ podUid: p0.metadata.uid })).filter((x) => x.isSandbox);
    expect(sandboxes).toHaveLength(1);
    expect(sandboxes[0]!.id).not.toBe(sandbox.id);
    expect(p1.status.podIP).toBe(sandboxes[0]!.ip);
    expect((await c.podEvents('sandboxed')).some((e) => e.reason === 'SandboxChanged')).toBe(true);
  });

  it('backs off a crashing container (CrashLoopBackOff with BackOff events)', async () => {
    await c.admin.create(pods, 'default', pod('crash', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sh', '-c', 'echo boom; exit 3'] }] }));
    const p = await c.waitPod('crash', (p) => cstatus(p, 'main')?.state?.waiting?.reason === 'CrashLoopBackOff', 20_000);
    expect(cstatus(p, 'main').lastState.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(cstatus(p, 'main').restartCount).toBe(1);
    const ev = (await c.podEvents('crash')).find((e) => e.reason === 'BackOff');
    expect(ev?.message).toMatch(/^Back-off restarting failed container main in pod crash_default\(/);
    expect(ev?.type).toBe('Warning');
    const out = await c.kubectl('get', 'pod', 'crash');
    expect(out.stdout).toMatch(/CrashLoopBackOff/);
  });

  it('OnFailure: retries failures, then Succeeded; Never: Failed', async () => {
    await c.admin.create(pods, 'default', pod('once', NODE, { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sh', '-c', 'exit 0'] }] }));
    await c.admin.create(pods, 'default', pod('fail', NODE, { restartPolicy: 'Never', containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sh', '-c', 'exit 2'] }] }));
    await c.admin.create(pods, 'default', pod('retry', NODE, {
      restartPolicy: 'OnFailure',
      volumes: [{ name: 'd', emptyDir: {} }],
      containers: [{ name: 'main', image: 'kubeling/busybox:test', volumeMounts: [{ name: 'd', mountPath: '/d' }], command: ['sh', '-c', 'if [ -f /d/ran ]; then exit 0; fi; touch /d/ran; exit 1'] }],
    }));
    const once = await c.waitPod('once', (p) => p.status?.phase === 'Succeeded');
    expect(cstatus(once, 'main').state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(once.status.conditions.find((x: any) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    const fail = await c.waitPod('fail', (p) => p.status?.phase === 'Failed');
    expect(cstatus(fail, 'main').state.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    expect(cstatus(fail, 'main').restartCount).toBe(0);
    const retry = await c.waitPod('retry', (p) => p.status?.phase === 'Succeeded');
    expect(cstatus(retry, 'main').restartCount).toBe(1);
    // finished pods stay finished
    await new Promise((r) => setTimeout(r, 1500));
    expect((await c.admin.get(pods, 'default', 'fail')).status.phase).toBe('Failed');
  });

  it('runs init containers in order before the app containers', async () => {
    await c.admin.create(pods, 'default', pod('inits', NODE, {
      volumes: [{ name: 'd', emptyDir: {} }],
      initContainers: [
        { name: 'one', image: 'kubeling/busybox:test', command: ['sh', '-c', 'echo one >> /d/log'], volumeMounts: [{ name: 'd', mountPath: '/d' }] },
        { name: 'two', image: 'kubeling/busybox:test', command: ['sh', '-c', 'sleep 1; echo two >> /d/log'], volumeMounts: [{ name: 'd', mountPath: '/d' }] },
      ],
      containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sh', '-c', 'echo main >> /d/log; sleep 1000'], volumeMounts: [{ name: 'd', mountPath: '/d' }] }],
    }));
    const pending = await c.waitPod('inits', (p) => cstatus(p, 'two')?.state?.running !== undefined || cstatus(p, 'main')?.state?.waiting?.reason === 'PodInitializing');
    expect(pending.status.phase).toBe('Pending');
    const p = await c.waitPod('inits', (p) => p.status?.phase === 'Running');
    expect(cstatus(p, 'one').state.terminated.reason).toBe('Completed');
    expect(cstatus(p, 'two').state.terminated.reason).toBe('Completed');
    expect(p.status.conditions.find((x: any) => x.type === 'Initialized').status).toBe('True');
    const r = await c.docker.execSimple(idOf(p, 'main'), ['cat', '/d/log'], 5000);
    expect(r.stdout).toBe('one\ntwo\nmain\n');
  });

  it('fails the pod when an init container fails under Never', async () => {
    await c.admin.create(pods, 'default', pod('badinit', NODE, {
      restartPolicy: 'Never',
      initContainers: [{ name: 'init', image: 'kubeling/busybox:test', command: ['sh', '-c', 'exit 1'] }],
      containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }],
    }));
    const p = await c.waitPod('badinit', (p) => p.status?.phase === 'Failed');
    expect(cstatus(p, 'main').state.waiting?.reason).toBe('PodInitializing');
  });
});

describe('probes', () => {
  it('restarts a container whose liveness probe fails, with Unhealthy and Killing events', async () => {
    await c.admin.create(pods, 'default', pod('live', NODE, {
      containers: [{
        name: 'main',
        image: 'kubeling/busybox:test',
        command: ['sh', '-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 1000'],
        livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
      }],
    }));
    const p = await c.waitPod('live', (p) => cstatus(p, 'main')?.restartCount >= 1, 30_000);
    expect(cstatus(p, 'main').lastState.terminated).toBeDefined();
    const evs = await c.podEvents('live');
    expect(evs.find((e) => e.reason === 'Unhealthy')?.message).toMatch(/^Liveness probe failed: /);
    expect(evs.find((e) => e.reason === 'Killing')?.message).toBe('Container main failed liveness probe, will be restarted');
  });

  it('drives Ready from the readiness probe (httpGet), both ways', async () => {
    await c.admin.create(pods, 'default', pod('ready', NODE, {
      containers: [{
        name: 'web',
        image: 'kubeling/httpd:test',
        readinessProbe: { httpGet: { path: '/index.html', port: 80 }, periodSeconds: 1, failureThreshold: 1 },
      }],
    }));
    const p = await c.waitPod('ready', (p) => p.status?.conditions?.find((x: any) => x.type === 'Ready')?.status === 'True', 20_000);
    expect(cstatus(p, 'web').ready).toBe(true);
    await c.docker.execSimple(idOf(p, 'web'), ['rm', '/www/index.html'], 5000);
    const notReady = await c.waitPod('ready', (p) => p.status?.conditions?.find((x: any) => x.type === 'Ready')?.status === 'False', 20_000);
    expect(notReady.status.conditions.find((x: any) => x.type === 'ContainersReady')).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [web]' });
    expect(notReady.status.phase).toBe('Running');
    await c.docker.execSimple(idOf(p, 'web'), ['sh', '-c', 'echo back > /www/index.html'], 5000);
    await c.waitPod('ready', (p) => p.status?.conditions?.find((x: any) => x.type === 'Ready')?.status === 'True', 20_000);
  });

  it('gates readiness on a startup probe and checks tcpSocket', async () => {
    await c.admin.create(pods, 'default', pod('startup', NODE, {
      containers: [{
        name: 'web',
        image: 'kubeling/httpd:test',
        startupProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
        readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
      }],
    }));
    const p = await c.waitPod('startup', (p) => cstatus(p, 'web')?.ready === true, 20_000);
    expect(cstatus(p, 'web').started).toBe(true);
  });
});
