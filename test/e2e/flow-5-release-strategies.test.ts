// flow-5: release strategies — blue/green by switching a Service's selector, a canary beside the stable track behind
// one Service, and a Recreate Deployment (old and new pods never together) against a RollingUpdate one (they overlap).
import type { Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from './hosts.ts';
import { flowCluster, flowTimer, kubectlAsync, live, ok, podsOf, ready, requestLoop, writeManifest, type AppVersion, type FlowCluster } from './flow/cluster.ts';

const BG_PORT = 31516;
const CANARY_PORT = 31517;

/** deployment renders a Deployment of the stand-in with the given labels, replicas and strategy. */
function deployment(name: string, image: string, replicas: number, labels: Record<string, string>, strategy = 'RollingUpdate'): string {
  const l = (indent: string) => Object.entries(labels).map(([k, v]) => `${indent}${k}: "${v}"`).join('\n');
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  strategy:
    type: ${strategy}
  selector:
    matchLabels:
${l('      ')}
  template:
    metadata:
      labels:
${l('        ')}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 3000
`;
}

/** service renders a NodePort Service on port 3050 → 3000 with a selector. */
function service(name: string, nodePort: number, selector: Record<string, string>): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  type: NodePort
  selector:
${Object.entries(selector).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}
  ports:
  - port: 3050
    targetPort: 3000
    nodePort: ${nodePort}
`;
}

describe('flow 5: blue/green, canary, Recreate versus RollingUpdate (kubectl 1.32)', () => {
  let f: FlowCluster;
  const timer = flowTimer('flow 5 (release strategies)');
  const created: string[] = [];

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
  });
  afterAll(async () => {
    for (const file of created) f.c.kubectl('delete', '-f', file, '--ignore-not-found', '--wait=false');
    await f.c.waitFor('flow 5 pods gone', async () => (await podsOf(f.c, 'flow=5')).length === 0, 60_000).catch(() => undefined);
    timer.done();
  });

  const apply = (name: string, yaml: string) => {
    const file = writeManifest(f, name, yaml);
    created.push(file);
    return ok(f.c.kubectl('apply', '-f', file));
  };
  const readyPods = (selector: string, n: number) =>
    f.c.waitFor(`${n} Ready pods ${selector}`, async () => {
      const ps = (await podsOf(f.c, selector)).filter(live);
      return ps.length === n && ps.every(ready);
    }, 90_000);
  /** versions GETs the NodePort `count` times across the hosts and counts the versions served */
  const versions = async (port: number, count: number) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const h = f.c.hosts[i % f.c.hosts.length]!;
      const r = await httpGet(`http://${h.ip}:${port}/version.txt`, 3000);
      expect(r.status).toBe(200);
      seen[r.body.trim()] = (seen[r.body.trim()] ?? 0) + 1;
    }
    return seen;
  };

  it('blue/green: the Service\'s selector switches all traffic from blue to green at once', async () => {
    apply('blue.yaml', deployment('web-blue', f.image('v1'), 2, { flow: '5', app: 'bg', version: 'blue' }));
    apply('green.yaml', deployment('web-green', f.image('v2'), 2, { flow: '5', app: 'bg', version: 'green' }));
    apply('bg-service.yaml', service('bg', BG_PORT, { app: 'bg', version: 'blue' }));
    await readyPods('app=bg', 4);
    await f.c.waitFor('blue on every host', async () => JSON.stringify(await versions(BG_PORT, 3).catch(() => ({}))) === '{"v1":3}', 30_000);
    expect(await versions(BG_PORT, 12)).toEqual({ v1: 12 });
    const loop = requestLoop(f.c.hosts.map((h) => `http://${h.ip}:${BG_PORT}/version.txt`), 50);
    await new Promise((r) => setTimeout(r, 1000));
    ok(f.c.kubectl('patch', 'service', 'bg', '-p', '{"spec":{"selector":{"app":"bg","version":"green"}}}'));
    await f.c.waitFor('green on every host', async () => JSON.stringify(await versions(BG_PORT, 3).catch(() => ({}))) === '{"v2":3}', 30_000);
    const seen = await loop.stop();
    console.log(`e2e flow 5: blue/green switch under a request loop: ${seen.ok} ok, ${seen.failed} failed ${JSON.stringify(seen.bodies)}`);
    expect(seen.failed).toBe(0);
    expect(await versions(BG_PORT, 12)).toEqual({ v2: 12 });
    // rollback is the same switch back
    ok(f.c.kubectl('patch', 'service', 'bg', '-p', '{"spec":{"selector":{"app":"bg","version":"blue"}}}'));
    await f.c.waitFor('blue again on every host', async () => JSON.stringify(await versions(BG_PORT, 3).catch(() => ({}))) === '{"v1":3}', 30_000);
  });

  it('canary: one canary pod beside three stable ones behind one Service gets a share of the traffic', async () => {
    apply('stable.yaml', deployment('web-stable', f.image('v1'), 3, { flow: '5', app: 'canary-demo', track: 'stable' }));
    apply('canary.yaml', deployment('web-canary', f.image('v3'), 1, { flow: '5', app: 'canary-demo', track: 'canary' }));
    apply('canary-service.yaml', service('canary-demo', CANARY_PORT, { app: 'canary-demo' }));
    await readyPods('app=canary-demo', 4);
    const seen = await f.c.waitFor('both tracks answering', async () => {
      const s = await versions(CANARY_PORT, 40).catch(() => undefined);
      return s && s['v1'] && s['v3'] ? s : undefined;
    }, 30_000);
    console.log(`e2e flow 5: canary share over 40 requests: ${JSON.stringify(seen)}`);
    expect(seen['v1']! + seen['v3']!).toBe(40);
    expect(seen['v1']).toBeGreaterThan(seen['v3']!);
    // promote: the canary's image on the stable track, the canary removed
    ok(f.c.kubectl('set', 'image', 'deployment/web-stable', `web=${f.image('v3')}`));
    ok(await kubectlAsync(f.c, ['rollout', 'status', 'deployment/web-stable', '--timeout=120s']));
    ok(f.c.kubectl('scale', 'deployment', 'web-canary', '--replicas=0'));
    await f.c.waitFor('only v3 answers', async () => JSON.stringify(await versions(CANARY_PORT, 9).catch(() => ({}))) === '{"v3":9}', 30_000);
  });

  /** rollout sets the image and samples the pods every 100 ms until the rollout completes: did versions overlap? */
  const rollout = async (name: string, selector: string, to: AppVersion) => {
    const image = (p: Pod) => p.spec!.containers[0]!.image!;
    let overlap = false;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const ps = await podsOf(f.c, selector);
        // a pod counts while it exists at all (terminating too): Recreate waits for the old ones to be gone
        if (new Set(ps.map(image)).size > 1) overlap = true;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    ok(await kubectlAsync(f.c, ['set', 'image', `deployment/${name}`, `web=${f.image(to)}`]));
    ok(await kubectlAsync(f.c, ['rollout', 'status', `deployment/${name}`, '--timeout=120s']));
    done = true;
    await sampler;
    const ps = (await podsOf(f.c, selector)).filter(live);
    expect(ps.every((p) => image(p) === f.image(to))).toBe(true);
    return overlap;
  };

  it('Recreate stops every old pod before the first new one; RollingUpdate overlaps them', async () => {
    apply('recreate.yaml', deployment('web-recreate', f.image('v1'), 2, { flow: '5', app: 'recreate' }, 'Recreate'));
    apply('rolling.yaml', deployment('web-rolling', f.image('v1'), 2, { flow: '5', app: 'rolling' }, 'RollingUpdate'));
    await readyPods('app=recreate', 2);
    await readyPods('app=rolling', 2);
    expect(await rollout('web-recreate', 'app=recreate', 'v2')).toBe(false);
    expect(await rollout('web-rolling', 'app=rolling', 'v2')).toBe(true);
    const d = JSON.parse(ok(f.c.kubectl('get', 'deployment', 'web-recreate', '-o', 'json'))) as { spec: { strategy: Record<string, unknown> } };
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
  });
});
