// api-client-node: @kubernetes/client-node (the official JS client) against a real `kubeling server`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { startServer, type RunningServer } from '../helpers/server.ts';

let srv: RunningServer;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
const namespace = 'default';

beforeAll(async () => {
  // the API alone: only the namespace controller runs, so stored workloads stay exactly as the test wrote them
  srv = await startServer({ args: ['--disable-agent', '--disable-scheduler', '--controllers', 'namespace,serviceaccount'] });
  kc = new KubeConfig();
  kc.loadFromFile(srv.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});

afterAll(async () => {
  await srv?.cleanup();
});

/** caught runs fn and returns the ApiException it throws. */
async function caught(fn: () => Promise<unknown>): Promise<ApiException<string>> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiException) return e as ApiException<string>;
    throw e;
  }
  throw new Error('expected an ApiException');
}

describe('CoreV1Api', () => {
  it('creates, reads, lists, patches and deletes a ConfigMap', async () => {
    const created = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'cfg', labels: { app: 'x' } }, data: { a: '1' } } });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    const read = await core.readNamespacedConfigMap({ name: 'cfg', namespace });
    expect(read.data).toEqual({ a: '1' });
    const list = await core.listNamespacedConfigMap({ namespace, labelSelector: 'app=x' });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['cfg']);
    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
    const merged = await core.patchNamespacedConfigMap({ name: 'cfg', namespace, body: { data: { b: '2' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(merged.data).toEqual({ a: '1', b: '2' });
    const jsonPatched = await core.patchNamespacedConfigMap({ name: 'cfg', namespace, body: [{ op: 'remove', path: '/data/a' }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
    expect(jsonPatched.data).toEqual({ b: '2' });
    const replaced = await core.replaceNamespacedConfigMap({ name: 'cfg', namespace, body: { ...jsonPatched, data: { c: '3' } } });
    expect(replaced.data).toEqual({ c: '3' });
    await core.deleteNamespacedConfigMap({ name: 'cfg', namespace });
    const e = await caught(() => core.readNamespacedConfigMap({ name: 'cfg', namespace }));
    expect(e.code).toBe(404);
    expect(JSON.parse(e.body)).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'configmaps "cfg" not found' });
  });

  it('creates, reads, strategic-patches, lists by field and deletes a Pod', async () => {
    const pod = await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'p1', labels: { run: 'p1' } }, spec: { containers: [{ name: 'c', image: 'busybox', env: [{ name: 'A', value: '1' }] }] } },
    });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.restartPolicy).toBe('Always');
    expect(pod.spec?.containers[0].terminationMessagePath).toBe('/dev/termination-log');
    const patched = await core.patchNamespacedPod(
      { name: 'p1', namespace, body: { metadata: { annotations: { note: 'hi' } }, spec: { containers: [{ name: 'c', env: [{ name: 'B', value: '2' }] }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    ).catch((e) => e);
    // containers[].env may not change on a pod: upstream answers 422 Invalid for the spec part
    expect(patched).toBeInstanceOf(ApiException);
    expect((patched as ApiException<string>).code).toBe(422);
    const annotated = await core.patchNamespacedPod({ name: 'p1', namespace, body: { metadata: { annotations: { note: 'hi' } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    expect(annotated.metadata?.annotations).toEqual({ note: 'hi' });
    const byField = await core.listNamespacedPod({ namespace, fieldSelector: 'metadata.name=p1' });
    expect(byField.items).toHaveLength(1);
    const byPhase = await core.listPodForAllNamespaces({ fieldSelector: 'status.phase=Running' });
    expect(byPhase.items).toHaveLength(0);
    const gone = await core.deleteNamespacedPod({ name: 'p1', namespace });
    expect(gone.metadata?.name).toBe('p1');
    expect((await caught(() => core.readNamespacedPod({ name: 'p1', namespace }))).code).toBe(404);
  });
});

describe('AppsV1Api', () => {
  it('creates a deployment and reads and replaces its scale', async () => {
    const d = await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
      },
    });
    expect(d.metadata?.generation).toBe(1);
    expect(d.spec?.strategy?.type).toBe('RollingUpdate');
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace });
    expect(scale.kind).toBe('Scale');
    expect(scale.apiVersion).toBe('autoscaling/v1');
    expect(scale.spec?.replicas).toBe(2);
    expect(scale.status?.selector).toBe('app=web');
    const replaced = await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace, body: { ...scale, spec: { replicas: 5 } } });
    expect(replaced.spec?.replicas).toBe(5);
    const after = await apps.readNamespacedDeployment({ name: 'web', namespace });
    expect(after.spec?.replicas).toBe(5);
    expect(after.metadata?.generation).toBe(2);
    // a stale Scale resourceVersion is a conflict
    const stale = await caught(() => apps.replaceNamespacedDeploymentScale({ name: 'web', namespace, body: { ...scale, spec: { replicas: 1 } } }));
    expect(stale.code).toBe(409);
  });

  it('works through the generic KubernetesObjectApi', async () => {
    const client = KubernetesObjectApi.makeApiClient(kc);
    const got = await client.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace } });
    expect(got.kind).toBe('Deployment');
    const list = await client.list('v1', 'Namespace');
    expect(list.items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default', 'kube-system', 'kube-node-lease']));
  });
});

describe('Watch', () => {
  it('streams ADDED, MODIFIED and DELETED pod events', async () => {
    const events: [string, string, string][] = [];
    const w = new Watch(kc);
    let doneErr: unknown = 'not done';
    const ctl = await w.watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: 'w=1' }, (type, obj) => events.push([type, obj.metadata.name, obj.metadata.resourceVersion]), (err) => (doneErr = err));
    await core.createNamespacedPod({ namespace, body: { metadata: { name: 'w1', labels: { w: '1' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
    await core.createNamespacedPod({ namespace, body: { metadata: { name: 'other' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
    await core.patchNamespacedPod({ name: 'w1', namespace, body: { metadata: { labels: { extra: 'y' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await core.deleteNamespacedPod({ name: 'w1', namespace });
    const end = Date.now() + 10_000;
    while (events.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    ctl.abort();
    expect(events.map(([t, n]) => `${t} ${n}`)).toEqual(['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    const rvs = events.map(([, , rv]) => Number(rv));
    expect(rvs[0]).toBeLessThan(rvs[1]);
    expect(rvs[1]).toBeLessThan(rvs[2]);
    void doneErr;
  });
});

describe('errors', () => {
  it('surface as ApiException with the Status code: 404, 409, 422', async () => {
    const nf = await caught(() => apps.readNamespacedDeployment({ name: 'missing', namespace }));
    expect(nf.code).toBe(404);
    expect(JSON.parse(nf.body)).toMatchObject({ reason: 'NotFound', details: { name: 'missing', group: 'apps', kind: 'deployments' } });

    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'dup' } } });
    const exists = await caught(() => core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'dup' } } }));
    expect(exists.code).toBe(409);
    expect(JSON.parse(exists.body)).toMatchObject({ reason: 'AlreadyExists', message: 'configmaps "dup" already exists' });

    const cm = await core.readNamespacedConfigMap({ name: 'dup', namespace });
    await core.replaceNamespacedConfigMap({ name: 'dup', namespace, body: { ...cm, data: { v: '1' } } });
    const conflict = await caught(() => core.replaceNamespacedConfigMap({ name: 'dup', namespace, body: { ...cm, data: { v: '2' } } }));
    expect(conflict.code).toBe(409);
    expect(JSON.parse(conflict.body)).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on configmaps "dup": the object has been modified; please apply your changes to the latest version and try again',
    });

    const invalid = await caught(() => core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'Not_Valid' } } }));
    expect(invalid.code).toBe(422);
    const status = JSON.parse(invalid.body);
    expect(status).toMatchObject({ reason: 'Invalid', details: { name: 'Not_Valid', kind: 'ConfigMap' } });
    expect(status.details.causes[0]).toMatchObject({ reason: 'FieldValueInvalid', field: 'metadata.name' });
  });
});
