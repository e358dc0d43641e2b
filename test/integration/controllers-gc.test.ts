// controllers-gc: the garbage collector against a real cluster and the real kubectl — background, foreground and
// orphan cascades of ReplicaSets and Deployments, generic owners (ConfigMaps), and dependents of missing owners.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject, OwnerReference } from '../../pkg/api/types.ts';
import { CONTROLLERS } from '../../pkg/controllers/index.ts';
import { startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { TEST_IMAGES } from '../helpers/images.ts';

const POD = lookupKind('v1', 'Pod')!;
const CM = lookupKind('v1', 'ConfigMap')!;
const RS = lookupKind('apps/v1', 'ReplicaSet')!;
const DEPLOY = lookupKind('apps/v1', 'Deployment')!;

const has = (name: string) => CONTROLLERS.some(([n]) => n === name);
/** Until the scheduler is in the controller table, pods name a node themselves. */
const NODE_NAME = has('scheduler') ? undefined : 'node-a';

/**
 * podSpec: busybox whose PID 1 ignores SIGTERM, so a deleted pod takes its whole grace period (`grace` seconds) to
 * go — long enough to see an owner wait for it in the foreground.
 */
function podSpec(grace = 1): Record<string, unknown> {
  return {
    ...(NODE_NAME ? { nodeName: NODE_NAME } : {}),
    terminationGracePeriodSeconds: grace,
    containers: [{ name: 'main', image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }],
  };
}

function replicaSet(name: string, replicas: number, grace = 1, owner?: OwnerReference): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, labels: { app: name }, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: podSpec(grace) } },
  };
}

const ref = (o: KubeObject, extra: Partial<OwnerReference> = {}): OwnerReference => ({ apiVersion: o.apiVersion!, kind: o.kind!, name: o.metadata.name!, uid: o.metadata.uid!, ...extra });
const active = (pods: KubeObject[]) => pods.filter((p) => !p.metadata.deletionTimestamp);

describe('garbage collector', () => {
  let c: TwoNodeCluster;

  beforeAll(async () => {
    c = await startTwoNodeCluster({ nodes: ['node-a'] });
  }, 120_000);

  afterAll(async () => {
    await c?.cleanup();
  }, 60_000);

  const apply = (obj: KubeObject) => {
    const r = c.kubectlInput(JSON.stringify(obj), 'apply', '-f', '-');
    expect(r.stderr).toBe('');
  };
  const gone = (info: typeof POD, name: string, ns = 'default') => async () => (await c.admin.getOrUndefined(info, ns, name)) === undefined;
  const podsOf = async (app: string) => c.pods('default', `app=${app}`);
  const runningPods = (app: string, n: number) =>
    c.waitFor(`${n} running pods app=${app}`, async () => {
      const pods = active(await podsOf(app));
      return pods.length === n && pods.every((p) => p.status?.phase === 'Running') ? pods : undefined;
    }, 45_000);

  it('collects ConfigMaps whose owner is deleted, and only strips the reference when another owner lives', async () => {
    const owner = await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' }, data: { a: '1' } });
    const other = await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-owner' } });
    const o = { ...owner, apiVersion: 'v1', kind: 'ConfigMap' };
    const p = { ...other, apiVersion: 'v1', kind: 'ConfigMap' };
    await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'child', ownerReferences: [ref(o)] } });
    await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shared', ownerReferences: [ref(o), ref(p)] } });
    // a live owner keeps its dependents
    await new Promise((r) => setTimeout(r, 1000));
    expect(await c.admin.getOrUndefined(CM, 'default', 'child')).toBeDefined();

    expect(c.kubectl('delete', 'configmap', 'owner').stdout).toContain('configmap "owner" deleted');
    await c.waitFor('child collected', gone(CM, 'child'), 20_000);
    const shared = await c.waitFor('dead reference stripped', async () => {
      const s = await c.admin.get(CM, 'default', 'shared');
      return s.metadata.ownerReferences?.length === 1 ? s : undefined;
    }, 20_000);
    expect(shared.metadata.ownerReferences).toEqual([ref(p)]);
    expect(c.kubectl('delete', 'configmap', 'other-owner').stderr).toBe('');
    await c.waitFor('shared collected', gone(CM, 'shared'), 20_000);
  }, 60_000);

  it('deletes a dependent whose owner never existed, or was recreated under the same name', async () => {
    await c.admin.create(POD, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stray', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'nope', uid: '4f2a4a52-0000-4000-8000-000000000000', controller: true }] },
      spec: podSpec(),
    });
    const first = await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'reborn' } });
    await c.admin.delete(CM, 'default', 'reborn');
    await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'reborn' } });
    await c.admin.create(CM, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'of-old-reborn', ownerReferences: [ref({ ...first, apiVersion: 'v1', kind: 'ConfigMap' })] } });
    await c.waitFor('stray pod deleted', gone(POD, 'stray'), 30_000);
    await c.waitFor('dependent of the old uid deleted', gone(CM, 'of-old-reborn'), 20_000);
    expect(await c.admin.getOrUndefined(CM, 'default', 'reborn')).toBeDefined();
    await c.admin.delete(CM, 'default', 'reborn');
  }, 60_000);

  it('kubectl delete rs: the set goes at once, its pods follow (background)', async () => {
    apply(replicaSet('bg', 2));
    await runningPods('bg', 2);
    const r = c.kubectl('delete', 'rs', 'bg', '--wait=false');
    expect(r.stdout).toContain('replicaset.apps "bg" deleted');
    expect(await c.admin.getOrUndefined(RS, 'default', 'bg')).toBeUndefined();
    await c.waitFor('pods of bg gone', async () => (await podsOf('bg')).length === 0, 45_000);
  }, 90_000);

  it('kubectl delete rs --cascade=foreground: the set stays, being deleted, until its pods are gone', async () => {
    apply(replicaSet('fg', 2, 4));
    await runningPods('fg', 2);
    const r = c.kubectl('delete', 'rs', 'fg', '--cascade=foreground', '--wait=false');
    expect(r.stdout).toContain('replicaset.apps "fg" deleted');
    const rs = await c.admin.get(RS, 'default', 'fg');
    expect(rs.metadata.deletionTimestamp).toBeTruthy();
    expect(rs.metadata.finalizers).toContain('foregroundDeletion');
    // the pods are deleted (they take their 4 s grace period) while the set waits
    await c.waitFor('pods of fg terminating', async () => (await podsOf('fg')).every((p) => p.metadata.deletionTimestamp), 20_000);
    expect(await c.admin.getOrUndefined(RS, 'default', 'fg')).toBeDefined();
    await c.waitFor('rs fg gone', gone(RS, 'fg'), 45_000);
    expect(await podsOf('fg')).toEqual([]);
  }, 90_000);

  it('kubectl delete rs --cascade=orphan: the pods stay, without ownerReferences', async () => {
    apply(replicaSet('orph', 2));
    const before = await runningPods('orph', 2);
    const r = c.kubectl('delete', 'rs', 'orph', '--cascade=orphan');
    expect(r.stdout).toContain('replicaset.apps "orph" deleted');
    await c.waitFor('rs orph gone', gone(RS, 'orph'), 20_000);
    await new Promise((res) => setTimeout(res, 1500));
    const after = active(await podsOf('orph'));
    expect(after.map((p) => p.metadata.name).sort()).toEqual(before.map((p) => p.metadata.name).sort());
    for (const p of after) expect(p.metadata.ownerReferences ?? []).toEqual([]);
    expect(c.kubectl('delete', 'pod', '-l', 'app=orph', '--wait=false').stderr).toBe('');
  }, 90_000);

  it('kubectl delete deployment removes its ReplicaSets and their pods', async () => {
    const name = 'dep';
    const deployment: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: podSpec() } },
    };
    apply(deployment);
    const d = await c.admin.get(DEPLOY, 'default', name);
    if (!has('deployment')) {
      // no Deployment controller yet: make its ReplicaSet by hand, owned as the controller would own it
      await c.admin.create(RS, 'default', replicaSet(`${name}-hand`, 2, 1, ref({ ...d, apiVersion: 'apps/v1', kind: 'Deployment' }, { controller: true, blockOwnerDeletion: true })));
    }
    const sets = await c.waitFor('a ReplicaSet owned by the Deployment', async () => {
      const items = (await c.admin.list(RS, 'default')).items.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
      return items.length ? items : undefined;
    });
    const app = sets[0].spec.selector.matchLabels.app as string;
    await runningPods(app, 2);
    const r = c.kubectl('delete', 'deployment', name);
    expect(r.stdout).toContain(`deployment.apps "${name}" deleted`);
    for (const rs of sets) await c.waitFor(`rs ${rs.metadata.name} gone`, gone(RS, rs.metadata.name!), 30_000);
    await c.waitFor('pods gone', async () => (await podsOf(app)).length === 0, 45_000);
  }, 120_000);
});
