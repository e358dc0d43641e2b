// agent-lifecycle: graceful deletion, preStop, adoption across agent restarts, orphans, image pull failures — real dockerd + API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../pkg/api/errors.ts';
import { cstatus, idOf, LABELS, pod, pods, startCluster } from './agent-harness.ts';
import type { Cluster } from './agent-harness.ts';

const NODE = 'agent-lifecycle-node';
let c: Cluster;

beforeAll(async () => {
  c = await startCluster(NODE);
});
afterAll(async () => {
  await c?.cleanup();
});


async function waitGone(name: string, timeoutMs = 30_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (!(await c.admin.getOrUndefined(pods, 'default', name))) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pod ${name} still exists`);
}

describe('deletion', () => {
  it('deletes gracefully: SIGTERM handled, preStop run, containers and sandbox removed, pod finalized', async () => {
    await c.admin.create(pods, 'default', pod('graceful', NODE, {
      terminationGracePeriodSeconds: 10,
      volumes: [{ name: 'h', hostPath: { path: `${c.dir}/host`, type: 'DirectoryOrCreate' } }],
      containers: [{
        name: 'main',
        image: 'kubeling/busybox:test',
        volumeMounts: [{ name: 'h', mountPath: '/h' }],
        command: ['sh', '-c', "trap 'echo term >> /h/log; exit 0' TERM; while true; do sleep 0.1; done"],
        lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /h/log'] } } },
      }],
    }));
    const p = await c.waitPod('graceful', (p) => p.status?.phase === 'Running');
    const uid = p.metadata.uid;
    await c.admin.delete(pods, 'default', 'graceful');
    const took = await waitGone('graceful');
    expect(took).toBeLessThan(8_000); // SIGTERM handled at once, well within the 10 s grace
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(`${c.dir}/host/log`, 'utf8')).toBe('prestop\nterm\n');
    expect((await c.docker.listContainers({ podUid: uid })).length).toBe(0);
    const evs = await c.podEvents('graceful');
    expect(evs.find((e) => e.reason === 'Killing')?.message).toBe('Stopping container main');
  });

  it('respects the grace period for a container that ignores SIGTERM', async () => {
    await c.admin.create(pods, 'default', pod('stubborn', NODE, {
      terminationGracePeriodSeconds: 3,
      containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sh', '-c', "trap '' TERM; while true; do sleep 0.1; done"] }],
    }));
    await c.waitPod('stubborn', (p) => p.status?.phase === 'Running');
    await c.admin.delete(pods, 'default', 'stubborn');
    const took = await waitGone('stubborn');
    expect(took).toBeGreaterThanOrEqual(2_800);
    expect(took).toBeLessThan(9_000);
  });

  it('cleans up containers of a pod force-deleted from the API', async () => {
    await c.admin.create(pods, 'default', pod('forced', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    const p = await c.waitPod('forced', (p) => p.status?.phase === 'Running');
    await c.admin.delete(pods, 'default', 'forced', { gracePeriodSeconds: 0 });
    const until = Date.now() + 20_000;
    let left = 1;
    while (Date.now() < until && left > 0) {
      left = (await c.docker.listContainers({ podUid: p.metadata.uid })).length;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toBe(0);
  });
});

describe('agent restart', () => {
  it('adopts running containers (same IDs, restartCount kept), removes orphans, and stopping the agent leaves pods running', async () => {
    await c.admin.create(pods, 'default', pod('keep', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    const p0 = await c.waitPod('keep', (p) => p.status?.phase === 'Running');
    await c.docker.stopContainer(idOf(p0, 'main'), 0);
    const p1 = await c.waitPod('keep', (p) => cstatus(p, 'main')?.restartCount === 1 && !!cstatus(p, 'main').state.running);
    const id1 = idOf(p1, 'main');
    await c.admin.create(pods, 'default', pod('doomed', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    const doomed = await c.waitPod('doomed', (p) => p.status?.phase === 'Running');

    await c.stopAgent();
    expect((await c.docker.inspectContainer(id1))?.state).toBe('running');
    // while the agent is away the doomed pod is force-deleted
    await c.admin.delete(pods, 'default', 'doomed', { gracePeriodSeconds: 0 }).catch((e) => {
      if (!(e instanceof ApiError)) throw e;
    });
    // the API server may need the agent to finalize; force removal is immediate with grace 0
    await c.startAgent();
    await new Promise((r) => setTimeout(r, 2000));
    const p2 = await c.admin.get(pods, 'default', 'keep');
    expect(idOf(p2, 'main')).toBe(id1);
    expect(cstatus(p2, 'main').restartCount).toBe(1);
    expect((await c.docker.inspectContainer(id1))?.state).toBe('running');
    const until = Date.now() + 20_000;
    let left = 1;
    while (Date.now() < until && left > 0) {
      left = (await c.docker.listContainers({ podUid: doomed.metadata.uid })).length;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toBe(0);
  });

  it('removes stray containers labelled for this node that belong to no pod', async () => {
    const sb = await c.docker.createSandbox({ podUid: 'no-such-uid', namespace: 'default', name: 'ghost', nodeName: NODE, image: 'kubeling/pause:1', hostname: 'ghost' });
    const until = Date.now() + 40_000;
    while (Date.now() < until && (await c.docker.inspectContainer(sb.id))) await new Promise((r) => setTimeout(r, 300));
    expect(await c.docker.inspectContainer(sb.id)).toBeUndefined();
    const labels = (await c.docker.listContainers({ node: NODE })).map((x) => x.labels[LABELS.podUid]);
    expect(labels).not.toContain('no-such-uid');
  });
});

describe('images', () => {
  it('reports ErrImagePull then ImagePullBackOff with events for a missing image, and keeps working', async () => {
    await c.admin.create(pods, 'default', pod('noimage', NODE, { containers: [{ name: 'main', image: '127.0.0.1:1/kubeling/missing:v1' }] }));
    const p = await c.waitPod('noimage', (p) => ['ErrImagePull', 'ImagePullBackOff'].includes(cstatus(p, 'main')?.state?.waiting?.reason), 30_000);
    expect(p.status.phase).toBe('Pending');
    await c.waitPod('noimage', (p) => cstatus(p, 'main')?.state?.waiting?.reason === 'ImagePullBackOff', 30_000);
    const evs = await c.podEvents('noimage');
    expect(evs.find((e) => e.reason === 'Pulling')?.message).toBe('Pulling image "127.0.0.1:1/kubeling/missing:v1"');
    expect(evs.find((e) => e.reason === 'Failed' && e.message.startsWith('Failed to pull image'))?.message).toMatch(/^Failed to pull image "127.0.0.1:1\/kubeling\/missing:v1": /);
    expect(evs.find((e) => e.reason === 'Failed' && e.message === 'Error: ErrImagePull')).toBeDefined();
    expect(evs.find((e) => e.reason === 'BackOff')?.message).toBe('Back-off pulling image "127.0.0.1:1/kubeling/missing:v1"');
    // the agent still serves other pods
    await c.admin.create(pods, 'default', pod('after', NODE, { containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    await c.waitPod('after', (p) => p.status?.phase === 'Running');
  });

  it('restarts a container whose image the pod update changed (even under restartPolicy Never), as upstream', async () => {
    await c.admin.create(pods, 'default', pod('retag', NODE, { restartPolicy: 'Never', containers: [{ name: 'main', image: 'kubeling/busybox:test', command: ['sleep', '1000'] }] }));
    const p0 = await c.waitPod('retag', (p) => !!cstatus(p, 'main')?.state?.running);
    await c.admin.patch(pods, 'default', 'retag', { spec: { containers: [{ name: 'main', image: 'kubeling/httpd:test' }] } }, 'strategic');
    const p1 = await c.waitPod('retag', (p) => cstatus(p, 'main')?.restartCount === 1 && !!cstatus(p, 'main').state.running, 30_000);
    expect(cstatus(p1, 'main').image).toBe('kubeling/httpd:test');
    expect(idOf(p1, 'main')).not.toBe(idOf(p0, 'main'));
    const evs = await c.podEvents('retag');
    expect(evs.find((e) => e.reason === 'Killing')?.message).toBe('Container main definition changed, will be restarted');
  });

  it('reports ErrImageNeverPull for a missing image with pull policy Never', async () => {
    await c.admin.create(pods, 'default', pod('never', NODE, { containers: [{ name: 'main', image: 'kubeling/absent:v1', imagePullPolicy: 'Never' }] }));
    const p = await c.waitPod('never', (p) => cstatus(p, 'main')?.state?.waiting?.reason === 'ErrImageNeverPull');
    expect(cstatus(p, 'main').state.waiting.message).toBe('Container image "kubeling/absent:v1" is not present with pull policy of Never');
  });
});
