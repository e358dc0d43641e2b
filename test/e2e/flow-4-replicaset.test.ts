// flow-4: the ReplicaSet concept page's flow — a ReplicaSet of 3 adopts a pre-existing matching pod, deletes an extra
// hand-made matching one, and `kubectl scale --replicas=6 -f frontend.yaml` scales it.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { example, flowCluster, flowTimer, live, ok, podsOf, ready, withImage, writeManifest, type FlowCluster } from './flow/cluster.ts';

describe('flow 4: ReplicaSet adoption and scale (kubectl 1.32)', () => {
  let f: FlowCluster;
  let rsFile: string;
  let pod1: string;
  let pod2: string;
  const timer = flowTimer('flow 4 (replicaset)');

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
    rsFile = writeManifest(f, 'frontend.yaml', withImage(example('frontend-replicaset.yaml'), f.image('v1')));
    // pod-rs.yaml holds pod1 and pod2: one file each, so pod1 exists before the ReplicaSet and pod2 after
    const [d1, d2] = parseAllDocuments(withImage(example('pod-rs.yaml'), f.image('v2'))).map((d) => d.toString());
    pod1 = writeManifest(f, 'pod1.yaml', d1!);
    pod2 = writeManifest(f, 'pod2.yaml', d2!);
  });
  afterAll(async () => {
    f.c.kubectl('delete', '-f', rsFile, '--ignore-not-found', '--wait=false');
    f.c.kubectl('delete', 'pod', 'pod1', 'pod2', '--ignore-not-found', '--wait=false');
    await f.c.waitFor('frontend pods gone', async () => (await podsOf(f.c, 'tier=frontend')).length === 0, 60_000).catch(() => undefined);
    timer.done();
  });

  const frontend = () => podsOf(f.c, 'tier=frontend');

  it('adopts a pre-existing pod whose labels match, and creates only the missing replicas', async () => {
    expect(ok(f.c.kubectl('apply', '-f', pod1))).toContain('pod/pod1 created');
    await f.c.waitFor('pod1 Running', async () => (await frontend()).some((p) => p.metadata!.name === 'pod1' && ready(p)), 90_000);
    expect(ok(f.c.kubectl('apply', '-f', rsFile))).toContain('replicaset.apps/frontend created');
    const pods = await f.c.waitFor('3 frontend pods Ready', async () => {
      const ps = (await frontend()).filter(live);
      return ps.length === 3 && ps.every(ready) ? ps : undefined;
    }, 90_000);
    const adopted = pods.find((p) => p.metadata!.name === 'pod1') as Pod;
    expect(adopted.metadata!.ownerReferences).toEqual([expect.objectContaining({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'frontend', controller: true, blockOwnerDeletion: true })]);
    expect(pods.filter((p) => p.metadata!.name!.startsWith('frontend-'))).toHaveLength(2);
    expect(ok(f.c.kubectl('get', 'rs', 'frontend'))).toMatch(/^frontend\s+3\s+3\s+3\s+\S+$/m);
  });

  it('deletes an extra hand-made pod that matches', async () => {
    expect(ok(f.c.kubectl('apply', '-f', pod2))).toContain('pod/pod2 created');
    await f.c.waitFor('pod2 deleted by the ReplicaSet', async () => !(await frontend()).some((p) => p.metadata!.name === 'pod2'), 60_000);
    const ps = (await frontend()).filter(live);
    expect(ps).toHaveLength(3);
    expect(ps.map((p) => p.metadata!.name)).toContain('pod1');
  });

  it('scales with `kubectl scale --replicas=6 -f frontend.yaml`', async () => {
    expect(ok(f.c.kubectl('scale', '--replicas=6', '-f', rsFile))).toContain('replicaset.apps/frontend scaled');
    await f.c.waitFor('6 frontend pods Ready', async () => {
      const ps = (await frontend()).filter(live);
      return ps.length === 6 && ps.every(ready);
    }, 90_000);
    expect(ok(f.c.kubectl('get', 'rs', 'frontend'))).toMatch(/^frontend\s+6\s+6\s+6\s+\S+$/m);
  });
});
