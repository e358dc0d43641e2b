// flow-6: control-plane crash — the server SIGKILLed in the middle of a rollout and started again on the same data:
// the rollout completes, no object is lost, and pods that were running (outside the rollout) never restarted.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { ResourceInfo } from '../../pkg/api/resources.ts';
import { clientDeployment, flowCluster, flowTimer, kubectlAsync, live, ok, podsOf, ready, writeManifest, type FlowCluster } from './flow/cluster.ts';

const REPLICAS = 3;
/** KINDS are the objects whose survival is checked (pods separately: the rollout replaces some on purpose). */
const KINDS: [string, string][] = [
  ['v1', 'Namespace'], ['v1', 'Service'], ['v1', 'ServiceAccount'], ['v1', 'ConfigMap'], ['v1', 'Secret'],
  ['apps/v1', 'Deployment'], ['apps/v1', 'ReplicaSet'], ['v1', 'Node'],
];

const steady = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: steady
spec:
  replicas: 2
  selector:
    matchLabels:
      app: steady
  template:
    metadata:
      labels:
        app: steady
    spec:
      containers:
      - name: web
        image: IMAGE
`;

describe('flow 6: SIGKILL of the server during a rollout (kubectl 1.32)', () => {
  let f: FlowCluster;
  const timer = flowTimer('flow 6 (server crash)');

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
  });
  afterAll(() => {
    f.c.kubectl('delete', 'deployment', 'steady', '--ignore-not-found', '--wait=false');
    timer.done();
  });

  /** inventory maps kind/namespace/name → uid for every object of KINDS. */
  const inventory = async () => {
    const out = new Map<string, string>();
    for (const [gv, kind] of KINDS) {
      const info = lookupKind(gv, kind) as ResourceInfo;
      const list = await f.c.admin.list(info, undefined);
      for (const o of list.items) out.set(`${kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, o.metadata!.uid!);
    }
    return out;
  };
  /** running maps pod uid → its container's id and restart count */
  const running = (ps: Pod[]) => new Map(ps.map((p) => [p.metadata!.uid!, `${p.status!.containerStatuses![0]!.containerID} restarts=${p.status!.containerStatuses![0]!.restartCount}`]));

  it('completes the rollout after the restart, loses no object, restarts no running pod', async () => {
    await clientDeployment(f, REPLICAS);
    ok(f.c.kubectl('apply', '-f', writeManifest(f, 'steady.yaml', steady.replace('IMAGE', f.image('v1')))));
    const steadyPods = await f.c.waitFor('2 steady pods Ready', async () => {
      const ps = (await podsOf(f.c, 'app=steady')).filter(live);
      return ps.length === 2 && ps.every(ready) ? ps : undefined;
    }, 90_000);
    const before = await inventory();
    const steadyBefore = running(steadyPods);

    const image = f.image('v3');
    ok(f.c.kubectl('set', 'image', 'deployment/client-deployment', `client=${image}`));
    // crash once the rollout is under way: the new ReplicaSet's first pod exists
    await f.c.waitFor('a v3 client pod', async () => (await podsOf(f.c, 'component=web')).some((p) => p.spec!.containers[0]!.image === image), 30_000);
    const t0 = Date.now();
    await f.c.killServer();
    expect(f.c.kubectl('get', 'pods', '--request-timeout=2s').code).not.toBe(0);
    await f.c.startServer();
    const st = await kubectlAsync(f.c, ['rollout', 'status', 'deployment/client-deployment', '--timeout=120s']);
    expect(ok(st)).toContain('deployment "client-deployment" successfully rolled out');
    console.log(`e2e flow 6: server SIGKILLed mid-rollout; back and rollout complete ${((Date.now() - t0) / 1000).toFixed(1)} s later`);

    const pods = await f.c.waitFor(`${REPLICAS} v3 client pods Ready`, async () => {
      const ps = (await podsOf(f.c, 'component=web')).filter(live);
      return ps.length === REPLICAS && ps.every((p) => ready(p) && p.spec!.containers[0]!.image === image) ? ps : undefined;
    }, 60_000);
    expect(pods).toHaveLength(REPLICAS);

    const after = await inventory();
    const lost = [...before].filter(([k, uid]) => after.get(k) !== uid).map(([k]) => k);
    expect(lost, 'objects lost or replaced across the crash').toEqual([]);
    const steadyAfter = running((await podsOf(f.c, 'app=steady')).filter(live));
    expect(steadyAfter).toEqual(steadyBefore);
    for (const h of f.c.hosts) expect(await f.c.nodeReady(h.name), `${h.name} Ready`).toBeTruthy();
  });
});
