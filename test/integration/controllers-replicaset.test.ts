// controllers-replicaset: ReplicaSet and ReplicationController against a real two-node cluster and the real
// kubectl, as the tutorials use them — replicas kept, adoption of orphans, surplus deleted, release on relabel, scale.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { isReady, startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { TEST_IMAGES } from '../helpers/images.ts';

const RS = lookupKind('apps/v1', 'ReplicaSet')!;
const RC = lookupKind('v1', 'ReplicationController')!;

/**
 * podSpec: busybox that turns Ready (exec probe) `readyAfter` seconds after start, so freshly made pods stay
 * not-ready long enough to be the first picked for deletion.
 */
function podSpec(readyAfter = 0): Record<string, unknown> {
  return {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'main',
        image: TEST_IMAGES.busybox,
        imagePullPolicy: 'Never',
        command: ['sh', '-c', `sleep ${readyAfter}; touch /tmp/ready; exec sleep 3600`],
        readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 },
      },
    ],
  };
}

function replicaSet(name: string, app: string, replicas: number, readyAfter = 0): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, labels: { app } },
    spec: { replicas, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: podSpec(readyAfter) } },
  };
}

function bare(name: string, app: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app } }, spec: podSpec() };
}

const active = (pods: KubeObject[]) => pods.filter((p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase));
const ownedBy = (uid: string) => (p: KubeObject) => p.metadata.ownerReferences?.some((r: { uid: string; controller?: boolean }) => r.uid === uid && r.controller) ?? false;

describe('ReplicaSet and ReplicationController controllers', () => {
  let c: TwoNodeCluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubeling-rs-test-'));
    c = await startTwoNodeCluster();
  }, 120_000);

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await c?.cleanup();
  }, 120_000);

  const apply = (obj: KubeObject) => {
    const r = c.kubectlInput(JSON.stringify(obj), 'apply', '-f', '-');
    expect(r.stderr).toBe('');
    return r;
  };

  /** readyPods waits until exactly `n` active pods with label app=`app` exist and all are Ready. */
  const readyPods = (app: string, n: number, timeoutMs = 45_000) =>
    c
      .waitFor(`${n} ready pods app=${app}`, async () => {
        const pods = active(await c.pods('default', `app=${app}`));
        return pods.length === n && pods.every(isReady) ? pods : undefined;
      }, timeoutMs)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${c.kubectl('get', 'pods,rs,rc', '-o', 'wide', '--show-labels').stdout}`);
      });

  const messages = async (name: string, reason: string) => (await c.eventsFor(name)).filter((e) => e.reason === reason).map((e) => e.message as string);
  /** waitMessages waits until exactly `n` events of `reason` about `name` were recorded (recording is asynchronous). */
  const waitMessages = (name: string, reason: string, n: number) =>
    c.waitFor(`${n} ${reason} events of ${name}`, async () => {
      const m = await messages(name, reason);
      return m.length === n ? m : undefined;
    });

  describe('ReplicaSet', () => {
    let uid = '';
    let file = '';

    it('keeps 3 pods running and reports them ready; a deleted pod is replaced', async () => {
      const rs = replicaSet('frontend', 'frontend', 3);
      file = join(dir, 'frontend.json');
      writeFileSync(file, JSON.stringify(rs));
      expect(c.kubectl('apply', '-f', file).stderr).toBe('');
      const pods = await readyPods('frontend', 3);
      uid = (await c.admin.get(RS, 'default', 'frontend')).metadata.uid!;
      for (const p of pods) {
        expect(p.metadata.name).toMatch(/^frontend-[a-z0-9]{5}$/);
        expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'frontend', uid, controller: true, blockOwnerDeletion: true }]);
      }
      const rsObj = await c.waitFor('status readyReplicas 3', async () => {
        const o = await c.admin.get(RS, 'default', 'frontend');
        return o.status?.readyReplicas === 3 && o.status?.availableReplicas === 3 ? o : undefined;
      });
      expect(rsObj.status).toMatchObject({ replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 });
      const table = c.kubectl('get', 'rs', 'frontend');
      expect(table.stdout).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\n/);
      expect(table.stdout).toMatch(/\nfrontend\s+3\s+3\s+3\s+\S+\n/);
      const created = await waitMessages('frontend', 'SuccessfulCreate', 3);
      expect(created.sort()).toEqual(pods.map((p) => `Created pod: ${p.metadata.name}`).sort());

      const victim = pods[0].metadata.name!;
      expect(c.kubectl('delete', 'pod', victim, '--wait=false').stdout).toContain(`pod "${victim}" deleted`);
      const after = await readyPods('frontend', 3);
      expect(after.map((p) => p.metadata.name)).not.toContain(victim);
      expect(after.filter((p) => !pods.some((q) => q.metadata.name === p.metadata.name))).toHaveLength(1);
    }, 90_000);

    it('releases a pod whose labels stop matching and replaces it', async () => {
      const pods = await readyPods('frontend', 3);
      const name = pods[0].metadata.name!;
      expect(c.kubectl('label', 'pod', name, 'app=debug', '--overwrite').stderr).toBe('');
      const released = await c.waitFor('ownerReference removed', async () => {
        const p = await c.admin.get(lookupKind('v1', 'Pod')!, 'default', name);
        return (p.metadata.ownerReferences ?? []).length === 0 ? p : undefined;
      });
      expect(released.metadata.labels).toEqual({ app: 'debug' });
      const now = await readyPods('frontend', 3);
      expect(now.map((p) => p.metadata.name)).not.toContain(name);
      expect(c.kubectl('delete', 'pod', name, '--wait=false').stderr).toBe('');
    }, 90_000);

    it('scales up with kubectl scale -f and down again, deleting the not-ready new pods first', async () => {
      const before = (await readyPods('frontend', 3)).map((p) => p.metadata.name!);
      // new pods take 5 s to turn ready, so they are the surplus when scaling down right after
      const slow = replicaSet('frontend', 'frontend', 3, 5);
      writeFileSync(file, JSON.stringify(slow));
      expect(c.kubectl('apply', '-f', file).stderr).toBe('');
      expect(c.kubectl('scale', '--replicas=6', '-f', file).stdout).toContain('replicaset.apps/frontend scaled');
      await c.waitFor('6 pods', async () => active(await c.pods('default', 'app=frontend')).length === 6);
      expect(c.kubectl('scale', '--replicas=2', '-f', file).stdout).toContain('replicaset.apps/frontend scaled');
      const left = await readyPods('frontend', 2);
      for (const p of left) expect(before).toContain(p.metadata.name);
      const deleted = await waitMessages('frontend', 'SuccessfulDelete', 4);
      expect(deleted.every((m) => /^Deleted pod: frontend-[a-z0-9]{5}$/.test(m))).toBe(true);
      await c.waitFor('status replicas 2', async () => {
        const o = await c.admin.get(RS, 'default', 'frontend');
        return o.status?.replicas === 2 && o.status?.readyReplicas === 2 && o.status?.observedGeneration === o.metadata.generation;
      });
    }, 90_000);

    it('adopts a matching hand-made pod and creates only the rest; deletes an extra one', async () => {
      apply(bare('pod1', 'adopt'));
      await readyPods('adopt', 1);
      apply(replicaSet('adopter', 'adopt', 3));
      const uid = (await c.admin.get(RS, 'default', 'adopter')).metadata.uid!;
      const pods = await readyPods('adopt', 3);
      expect(pods.every(ownedBy(uid))).toBe(true);
      expect(pods.map((p) => p.metadata.name)).toContain('pod1');
      await waitMessages('adopter', 'SuccessfulCreate', 2);

      apply(bare('pod2', 'adopt'));
      const deleted = await waitMessages('adopter', 'SuccessfulDelete', 1);
      expect(deleted).toEqual(['Deleted pod: pod2']);
      const final = await readyPods('adopt', 3);
      expect(final.map((p) => p.metadata.name)).not.toContain('pod2');
      expect(await messages('adopter', 'SuccessfulCreate')).toHaveLength(2);
    }, 90_000);

    it('shows its events in kubectl describe, kubectl get events and kubectl events', async () => {
      const d = c.kubectl('describe', 'rs', 'adopter');
      expect(d.stdout).toMatch(/Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/);
      expect(d.stdout).toMatch(/Normal\s+SuccessfulDelete\s+\S+\s+replicaset-controller\s+Deleted pod: pod2/);
      const g = c.kubectl('get', 'events', '--field-selector', 'involvedObject.name=adopter');
      expect(g.stdout).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
      expect(g.stdout).toMatch(/Normal\s+SuccessfulDelete\s+replicaset\/adopter\s+Deleted pod: pod2/);
      const e = c.kubectl('events', '--for', 'replicaset/adopter');
      expect(e.code, e.stderr).toBe(0);
      expect(e.stdout).toMatch(/Normal\s+SuccessfulDelete\s+ReplicaSet\/adopter\s+Deleted pod: pod2/);
    });
  });

  describe('ReplicationController', () => {
    it('keeps, scales, releases and adopts like a ReplicaSet', async () => {
      const rc: KubeObject = {
        apiVersion: 'v1',
        kind: 'ReplicationController',
        metadata: { name: 'web' },
        spec: { replicas: 2, selector: { app: 'web' }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec() } },
      };
      apply(rc);
      const pods = await readyPods('web', 2);
      const uid = (await c.admin.get(RC, 'default', 'web')).metadata.uid!;
      for (const p of pods) expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ReplicationController', name: 'web', uid, controller: true, blockOwnerDeletion: true }]);
      await c.waitFor('rc status ready 2', async () => (await c.admin.get(RC, 'default', 'web')).status?.readyReplicas === 2);
      const table = c.kubectl('get', 'rc');
      expect(table.stdout).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\n/);
      expect(table.stdout).toMatch(/\nweb\s+2\s+2\s+2\s+\S+\n/);

      expect(c.kubectl('scale', 'rc', 'web', '--replicas=3').stdout).toContain('replicationcontroller/web scaled');
      await readyPods('web', 3);
      await c.waitFor('rc status 3', async () => {
        const o = await c.admin.get(RC, 'default', 'web');
        return o.status?.replicas === 3 && o.status?.readyReplicas === 3 && o.status?.availableReplicas === 3 && o.status?.observedGeneration === o.metadata.generation;
      });
      await c.waitFor('kubectl get rc web shows 3 3 3', () => /\nweb\s+3\s+3\s+3\s+/.test(c.kubectl('get', 'rc', 'web').stdout));

      const name = (await readyPods('web', 3))[0].metadata.name!;
      expect(c.kubectl('label', 'pod', name, 'app=other', '--overwrite').stderr).toBe('');
      await c.waitFor('rc pod released', async () => ((await c.admin.get(lookupKind('v1', 'Pod')!, 'default', name)).metadata.ownerReferences ?? []).length === 0);
      await readyPods('web', 3);

      // the released pod matches again: adopted, and one pod too many is deleted
      expect(c.kubectl('label', 'pod', name, 'app=web', '--overwrite').stderr).toBe('');
      await c.waitFor('back to 3 after re-adoption', async () => {
        const m = await messages('web', 'SuccessfulDelete');
        const pods = active(await c.pods('default', 'app=web'));
        return m.length === 1 && pods.length === 3 && pods.every(ownedBy(uid));
      });

      expect(c.kubectl('scale', 'rc', 'web', '--replicas=1').stdout).toContain('replicationcontroller/web scaled');
      await readyPods('web', 1);
      // created: 2, +1 on scale, +1 replacing the released pod; deleted: 1 after re-adoption, 2 on scale-down
      // events are recorded asynchronously: wait for them
      await waitMessages('web', 'SuccessfulCreate', 4);
      await waitMessages('web', 'SuccessfulDelete', 3);
    }, 120_000);
  });
});
