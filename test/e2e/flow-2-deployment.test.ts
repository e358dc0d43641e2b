// flow-2: the Deployment tutorial with kubectl 1.32 — the pod replaced by client-deployment.yaml, generated pod names,
// `set image --record` rolled out while a request loop on NodePort 31515 sees no failure, rollout history and undo,
// scaling 1 → 5 → 2.
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import {
  appUrls, example, flowCluster, flowTimer, kubectlAsync, live, ok, podsOf, ready, requestLoop, withImage, writeManifest,
  type FlowCluster,
} from './flow/cluster.ts';

const NODE_PORT = 31515;
const deployInfo = lookupKind('apps/v1', 'Deployment')!;

describe('flow 2: the client Deployment (kubectl 1.32)', () => {
  let f: FlowCluster;
  const timer = flowTimer('flow 2 (deployment)');

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
  });
  afterAll(() => timer.done());

  const deployment = async () => (await f.c.admin.get(deployInfo, 'default', 'client-deployment')) as Deployment;
  const readyCount = async (n: number) => {
    const pods = await podsOf(f.c, 'component=web');
    return pods.filter(live).length === n && pods.filter(ready).length === n;
  };

  it('replaces the pod by client-deployment.yaml; kubectl get pods shows the generated names', async () => {
    ok(f.c.kubectl('delete', 'pod', 'client-pod', '--ignore-not-found', '--wait=true'));
    ok(f.c.kubectl('apply', '-f', writeManifest(f, 'client-node-port.yaml', example('client-node-port.yaml'))));
    const file = writeManifest(f, 'client-deployment.yaml', withImage(example('client-deployment.yaml'), f.image('latest')));
    expect(ok(f.c.kubectl('apply', '-f', file))).toContain('deployment.apps/client-deployment created');
    await f.c.waitFor('1 client pod Ready', () => readyCount(1), 90_000);
    const out = ok(f.c.kubectl('get', 'pods'));
    expect(out).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
    expect(out).toMatch(/^client-deployment-[a-z0-9]{6,10}-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s+\S+$/m);
    // the Deployment's status follows its ReplicaSet's a moment after the pod (as upstream): poll, as a user re-runs it
    const row = /^client-deployment\s+1\/1\s+1\s+1\s+\S+$/m;
    await f.c.waitFor('kubectl get deployments at 1/1', () => row.test(ok(f.c.kubectl('get', 'deployments'))), 30_000).catch(() => undefined);
    expect(ok(f.c.kubectl('get', 'deployments'))).toMatch(row);
  });

  it('rolls out `set image --record` while a request loop on 31515 sees no failure', async () => {
    await f.c.waitFor('31515 answers on every host', async () => {
      const r = await Promise.all(appUrls(f.c, NODE_PORT).map((u) => fetch(u).then((x) => x.ok, () => false)));
      return r.every(Boolean);
    }, 30_000);
    const loop = requestLoop(appUrls(f.c, NODE_PORT), 50);
    const set = ok(f.c.kubectl('set', 'image', 'deployment/client-deployment', `client=${f.image('v2')}`, '--record'));
    expect(set).toContain('deployment.apps/client-deployment image updated');
    const st = await kubectlAsync(f.c, ['rollout', 'status', 'deployment/client-deployment', '--timeout=120s']);
    expect(ok(st)).toContain('deployment "client-deployment" successfully rolled out');
    // the old pod drains and goes while the loop keeps asking
    await f.c.waitFor('only the new pod left', async () => (await podsOf(f.c, 'component=web')).length === 1, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const seen = await loop.stop();
    console.log(`e2e flow 2: request loop during the rollout: ${seen.ok} ok, ${seen.failed} failed ${JSON.stringify(seen.bodies)}`);
    expect(seen.errors).toEqual([]);
    expect(seen.failed).toBe(0);
    expect(seen.bodies['v2']).toBeGreaterThan(0);
  });

  it('shows the rollout history with the change-cause and undoes the rollout', async () => {
    const hist = ok(f.c.kubectl('rollout', 'history', 'deployment/client-deployment'));
    expect(hist).toContain('deployment.apps/client-deployment');
    expect(hist).toMatch(/^REVISION\s+CHANGE-CAUSE$/m);
    expect(hist).toMatch(/^1\s+<none>$/m);
    expect(hist).toMatch(new RegExp(`^2\\s+kubectl set image deployment/client-deployment client=${f.image('v2').replace(/\./g, '\\.')}( --\\S+)* --record=true$`, 'm'));
    const rev2 = ok(f.c.kubectl('rollout', 'history', 'deployment/client-deployment', '--revision=2'));
    expect(rev2).toContain(`Image:\t${f.image('v2')}`);

    expect(ok(f.c.kubectl('rollout', 'undo', 'deployment/client-deployment'))).toContain('deployment.apps/client-deployment rolled back');
    ok(await kubectlAsync(f.c, ['rollout', 'status', 'deployment/client-deployment', '--timeout=120s']));
    expect((await deployment()).spec!.template.spec!.containers[0]!.image).toBe(f.image('latest'));
    const after = ok(f.c.kubectl('rollout', 'history', 'deployment/client-deployment'));
    expect(after).not.toMatch(/^1\s/m);
    expect(after).toMatch(/^2\s+kubectl set image/m);
    expect(after).toMatch(/^3\s+<none>$/m);
  });

  it('scales 1 → 5 → 2', async () => {
    expect(ok(f.c.kubectl('scale', 'deployment', 'client-deployment', '--replicas=5'))).toContain('deployment.apps/client-deployment scaled');
    await f.c.waitFor('5 client pods Ready', () => readyCount(5), 120_000);
    expect(ok(f.c.kubectl('get', 'deployment', 'client-deployment'))).toMatch(/^client-deployment\s+5\/5\s+5\s+5\s/m);
    ok(f.c.kubectl('scale', 'deployment', 'client-deployment', '--replicas=2'));
    await f.c.waitFor('2 client pods', () => readyCount(2), 60_000);
    expect(ok(f.c.kubectl('get', 'deployment', 'client-deployment'))).toMatch(/^client-deployment\s+2\/2\s+2\s+2\s/m);
  });
});
