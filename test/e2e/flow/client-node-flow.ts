// client-node-flow: flows 1–2 as a small @kubernetes/client-node script (the official JS client, no kubectl):
//   node test/e2e/flow/client-node-flow.ts KUBECONFIG NAMESPACE REGISTRY_IMAGE NODE_IP NODE_PORT
// creates the namespace, the client pod and its NodePort, checks the page, updates the image, sees the port change
// rejected as Forbidden, replaces the pod by the Deployment, rolls a new image out, rolls back, scales through the
// scale subresource, and deletes the namespace. Prints one line per step; exits non-zero on the first failure.
import {
  ApiException, AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions,
  type V1Deployment, type V1Pod, type V1Service,
} from '@kubernetes/client-node';

const [kubeconfig, namespace, image, nodeIp, nodePortArg] = process.argv.slice(2);
if (!kubeconfig || !namespace || !image || !nodeIp || !nodePortArg) {
  console.error('usage: client-node-flow.ts KUBECONFIG NAMESPACE IMAGE(without tag) NODE_IP NODE_PORT');
  process.exit(2);
}
const nodePort = Number(nodePortArg);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const labels = { component: 'web' };
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

const step = (msg: string) => console.log(`client-node: ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
const podReady = (p: V1Pod) => !p.metadata?.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

const pod: V1Pod = {
  metadata: { name: 'client-pod', labels },
  spec: { containers: [{ name: 'client', image: `${image}:latest`, ports: [{ containerPort: 3000 }] }] },
};
const svc: V1Service = {
  metadata: { name: 'client-node-port' },
  spec: { type: 'NodePort', selector: labels, ports: [{ port: 3050, targetPort: 3000, nodePort }] },
};
const deployment: V1Deployment = {
  metadata: { name: 'client-deployment' },
  spec: {
    replicas: 1,
    selector: { matchLabels: labels },
    template: { metadata: { labels }, spec: { containers: [{ name: 'client', image: `${image}:latest`, ports: [{ containerPort: 3000 }] }] } },
  },
};

async function main(): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await until('the default ServiceAccount', () => core.readNamespacedServiceAccount({ name: 'default', namespace }));
  step(`namespace ${namespace} created`);

  // flow 1: the pod and its NodePort
  await core.createNamespacedPod({ namespace, body: pod });
  await core.createNamespacedService({ namespace, body: svc });
  await until('client-pod Ready', async () => podReady(await core.readNamespacedPod({ name: 'client-pod', namespace })));
  const page = await until(`the page on ${nodeIp}:${nodePort}`, async () => {
    const r = await fetch(`http://${nodeIp}:${nodePort}/version.txt`, { signal: AbortSignal.timeout(3000) });
    return r.ok ? (await r.text()).trim() : undefined;
  }, 30_000);
  if (page !== 'v1') throw new Error(`the page says ${page}, not v1`);
  step('pod Ready, page served on the NodePort');
  const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=client-pod' });
  if (!events.items.some((e) => e.reason === 'Scheduled')) throw new Error(`no Scheduled event: ${events.items.map((e) => e.reason).join(', ')}`);
  await core.patchNamespacedPod({ name: 'client-pod', namespace, body: { spec: { containers: [{ name: 'client', image: `${image}:v2` }] } } }, strategic);
  step('image updated by a strategic merge patch');
  try {
    await core.patchNamespacedPod({ name: 'client-pod', namespace, body: { spec: { containers: [{ name: 'client', ports: [{ containerPort: 9999 }] }] } } }, strategic);
    throw new Error('a port change was accepted');
  } catch (e) {
    if (!(e instanceof ApiException) || e.code !== 422) throw e;
    const status = JSON.parse(String(e.body)) as { message: string; reason: string };
    if (status.reason !== 'Invalid' || !status.message.includes('Forbidden: pod updates may not change fields other than')) throw new Error(`unexpected rejection: ${status.message}`);
  }
  step('port change rejected: 422 Invalid, Forbidden: pod updates may not change fields other than …');

  // flow 2: the Deployment
  await core.deleteNamespacedPod({ name: 'client-pod', namespace });
  await apps.createNamespacedDeployment({ namespace, body: deployment });
  const first = await until('the generated pod', async () => {
    const ps = await core.listNamespacedPod({ namespace, labelSelector: 'component=web' });
    return ps.items.find((p) => /^client-deployment-[a-z0-9]+-[a-z0-9]{5}$/.test(p.metadata!.name!) && podReady(p));
  });
  step(`deployment pod ${first.metadata!.name} Ready`);
  const rolledTo = async (tag: string) => {
    await until(`rollout to ${tag}`, async () => {
      const d = await apps.readNamespacedDeployment({ name: 'client-deployment', namespace });
      const s = d.status ?? {};
      return (s.observedGeneration ?? 0) >= (d.metadata!.generation ?? 0) && d.spec!.template.spec!.containers[0]!.image === `${image}:${tag}` &&
        s.updatedReplicas === d.spec!.replicas && s.availableReplicas === d.spec!.replicas && (s.replicas ?? 0) === d.spec!.replicas;
    }, 120_000);
  };
  await apps.patchNamespacedDeployment({
    name: 'client-deployment', namespace,
    body: { metadata: { annotations: { 'kubernetes.io/change-cause': 'client-node: image v2' } }, spec: { template: { spec: { containers: [{ name: 'client', image: `${image}:v2` }] } } } },
  }, strategic);
  await rolledTo('v2');
  const rss = await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'component=web' });
  const revs = rss.items.map((r) => r.metadata!.annotations?.['deployment.kubernetes.io/revision']).sort();
  if (revs.join(',') !== '1,2') throw new Error(`revisions ${revs.join(',')}, not 1,2`);
  step('rolled out v2 (ReplicaSet revisions 1, 2)');
  // rollback as kubectl does it: the old ReplicaSet's template back into the Deployment
  const old = rss.items.find((r) => r.metadata!.annotations?.['deployment.kubernetes.io/revision'] === '1')!;
  const template = structuredClone(old.spec!.template!);
  delete template.metadata!.labels!['pod-template-hash'];
  await apps.patchNamespacedDeployment({ name: 'client-deployment', namespace, body: [{ op: 'replace', path: '/spec/template', value: template }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  await rolledTo('latest');
  step('rolled back to revision 1');
  for (const replicas of [3, 1]) {
    await apps.patchNamespacedDeploymentScale({ name: 'client-deployment', namespace, body: { spec: { replicas } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await until(`${replicas} Ready replicas`, async () => {
      const ps = await core.listNamespacedPod({ namespace, labelSelector: 'component=web' });
      const live = ps.items.filter((p) => !p.metadata?.deletionTimestamp);
      return live.length === replicas && live.every(podReady);
    });
    step(`scaled to ${replicas}`);
  }
  await core.deleteNamespace({ name: namespace });
  step('namespace deleted');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`client-node: FAILED: ${e instanceof ApiException ? `${e.code} ${String(e.body)}` : (e as Error).stack}`);
    process.exit(1);
  },
);
