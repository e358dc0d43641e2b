// controllers-deployment: Deployments on two real agents driven by the real kubectl — rolling update bounds, history, undo, pause/resume, restart, scale, patch, Recreate.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { isReady, startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { kubectl, kubectlSpawn, versionedKubectl } from '../helpers/server.ts';

const rsInfo = lookupKind('apps/v1', 'ReplicaSet')!;
const deployInfo = lookupKind('apps/v1', 'Deployment')!;
/** V2 is a second local tag of the httpd test image, so `set image` changes the template without a registry */
const V2 = 'kubeling/httpd:h6-v2';

let c: TwoNodeCluster;

function manifest(name: string, replicas: number, image: string, strategy: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  annotations: {kubernetes.io/change-cause: "initial"}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  strategy: ${strategy}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: ${image}
        ports: [{containerPort: 80}]
        readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}
`;
}

/** rolloutStatus runs `kubectl rollout status` without blocking the event loop (samplers keep running). */
function rolloutStatus(name: string, timeout = '90s'): Promise<{ code: number; out: string }> {
  const p = kubectlSpawn(c.kubeconfig, ['rollout', 'status', `deployment/${name}`, `--timeout=${timeout}`]);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return new Promise((r) => p.once('exit', (code) => r({ code: code ?? -1, out })));
}

async function expectRolledOut(name: string): Promise<void> {
  const r = await rolloutStatus(name);
  expect(r.out).toContain(`deployment "${name}" successfully rolled out`);
  expect(r.code, r.out + c.logs().slice(-4000)).toBe(0);
}

/** sampler polls the pods of `app` every ~100 ms and keeps the extremes seen until stop(). */
function sampler(app: string, each: (pods: KubeObject[]) => void): { stop(): Promise<number> } {
  let running = true;
  let samples = 0;
  const loop = (async () => {
    while (running) {
      // a failed list (the cluster going away after a failed assertion) ends sampling instead of escaping
      const pods = await c.pods('default', `app=${app}`).catch(() => undefined);
      if (!pods) return;
      each(pods);
      samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function replicaSetsOf(name: string): Promise<KubeObject[]> {
  return (await c.admin.list(rsInfo, 'default', { labelSelector: `app=${name}` })).items.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name));
}

const rev = (rs: KubeObject) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'];
const imageOf = (rs: KubeObject) => rs.spec.template.spec.containers[0].image;

beforeAll(async () => {
  c = await startTwoNodeCluster();
  const tag = spawnSync('docker', ['tag', c.images.httpd, V2], { encoding: 'utf8' });
  if (tag.status !== 0) throw new Error(`docker tag: ${tag.stderr}`);
}, 120_000);

afterAll(async () => {
  await c?.cleanup();
  spawnSync('docker', ['rmi', V2]);
}, 60_000);

describe('Deployment controller with kubectl', () => {
  it('rolls out, updates within maxSurge/maxUnavailable, and keeps history', async () => {
    const ru = '{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}';
    expect(c.kubectlInput(manifest('web', 4, c.images.httpd, ru), 'apply', '-f', '-').code).toBe(0);
    await expectRolledOut('web');

    const [rs1] = await replicaSetsOf('web');
    const hash = rs1.metadata.labels!['pod-template-hash'];
    expect(rs1.metadata.name).toBe(`web-${hash}`);
    expect(rs1.spec.selector.matchLabels['pod-template-hash']).toBe(hash);
    expect(rev(rs1)).toBe('1');
    expect(rs1.metadata.annotations!['kubernetes.io/change-cause']).toBe('initial');
    const pods = await c.pods('default', 'app=web');
    expect(pods.filter(isReady)).toHaveLength(4);
    for (const p of pods) expect(p.metadata.name).toMatch(new RegExp(`^web-${hash}-[a-z0-9]{5}$`));
    expect(new Set(pods.map((p) => p.spec.nodeName)).size).toBe(2);
    const d1 = await c.admin.get(deployInfo, 'default', 'web');
    expect(d1.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('1');
    expect(d1.status).toMatchObject({ replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4, observedGeneration: d1.metadata.generation });
    const conds = Object.fromEntries(d1.status.conditions.map((x: { type: string; reason: string }) => [x.type, x.reason]));
    expect(conds).toEqual({ Available: 'MinimumReplicasAvailable', Progressing: 'NewReplicaSetAvailable' });

    // rolling update, sampled: Ready ≥ 4 − 1 and pods ≤ 4 + 1 throughout; the change-cause annotated right after
    // `set image` (as the docs do) is copied to the new ReplicaSet
    let minReady = Infinity;
    let maxPods = 0;
    const timeline: string[] = [];
    const s = sampler('web', (ps) => {
      const live = ps.filter((p) => !p.metadata.deletionTimestamp);
      const ready = ps.filter(isReady).length;
      minReady = Math.min(minReady, ready);
      maxPods = Math.max(maxPods, live.length);
      const line = `ready ${ready} live ${live.length}: ${ps.map((p) => `${p.metadata.name}/${p.status?.phase}/${isReady(p) ? 'R' : '-'}${p.metadata.deletionTimestamp ? 'D' : ''}`).join(' ')}`;
      if (timeline[timeline.length - 1] !== line) timeline.push(line);
    });
    expect(c.kubectl('set', 'image', 'deployment/web', `httpd=${V2}`).code).toBe(0);
    expect(c.kubectl('annotate', 'deployment/web', 'kubernetes.io/change-cause=update to v2', '--overwrite').code).toBe(0);
    await expectRolledOut('web');
    const samples = await s.stop();
    expect(samples).toBeGreaterThan(5);
    expect(minReady, timeline.join('\n')).toBeGreaterThanOrEqual(3);
    expect(maxPods, timeline.join('\n')).toBeLessThanOrEqual(5);
    const after = await c.pods('default', 'app=web');
    expect(after.filter((p) => !p.metadata.deletionTimestamp && p.spec.containers[0].image === V2 && isReady(p))).toHaveLength(4);

    const sets = await replicaSetsOf('web');
    expect(sets).toHaveLength(2);
    const rs2 = sets.find((x) => imageOf(x) === V2)!;
    expect(rev(rs2)).toBe('2');
    expect(rs2.metadata.annotations!['kubernetes.io/change-cause']).toBe('update to v2');
    expect(sets.find((x) => x.metadata.name === rs1.metadata.name)!.spec.replicas).toBe(0);

    const hist = c.kubectl('rollout', 'history', 'deployment/web');
    expect(hist.code, hist.stderr).toBe(0);
    expect(hist.stdout).toMatch(/1\s+initial/);
    expect(hist.stdout).toMatch(/2\s+update to v2/);
    const h1 = c.kubectl('rollout', 'history', 'deployment/web', '--revision=1');
    expect(h1.code, h1.stderr).toBe(0);
    expect(h1.stdout).toContain(c.images.httpd);
    expect(h1.stdout).toContain(`pod-template-hash=${hash}`);

    const events = (await c.eventsFor('web')).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    expect(events).toContain(`Scaled up replica set ${rs1.metadata.name} from 0 to 4`);
    expect(events).toContain(`Scaled up replica set ${rs2.metadata.name} from 0 to 1`);
    expect(events.some((m: string) => m.startsWith(`Scaled down replica set ${rs1.metadata.name} from 4 to `))).toBe(true);
  }, 150_000);

  it('undo re-uses the old ReplicaSet with a new revision; --to-revision too', async () => {
    const before = await replicaSetsOf('web');
    const old = before.find((x) => rev(x) === '1')!;
    expect(c.kubectl('rollout', 'undo', 'deployment/web').code).toBe(0);
    await expectRolledOut('web');
    let sets = await replicaSetsOf('web');
    expect(sets).toHaveLength(2);
    const reused = sets.find((x) => x.metadata.name === old.metadata.name)!;
    expect(rev(reused)).toBe('3');
    expect(reused.metadata.annotations!['deployment.kubernetes.io/revision-history']).toBe('1');
    expect(reused.spec.replicas).toBe(4);

    expect(c.kubectl('rollout', 'undo', 'deployment/web', '--to-revision=2').code).toBe(0);
    await expectRolledOut('web');
    sets = await replicaSetsOf('web');
    const v2 = sets.find((x) => imageOf(x) === V2)!;
    expect(rev(v2)).toBe('4');
    expect(v2.metadata.annotations!['deployment.kubernetes.io/revision-history']).toBe('2');
    const hist = c.kubectl('rollout', 'history', 'deployment/web').stdout;
    expect(hist, JSON.stringify(sets.map((x) => x.metadata.annotations))).toMatch(/3\s+initial/);
    expect(hist).toMatch(/4\s+update to v2/);
  }, 120_000);

  it('pause holds the rollout but scaling works; resume rolls out', async () => {
    expect(c.kubectl('rollout', 'pause', 'deployment/web').code).toBe(0);
    expect(c.kubectl('set', 'image', 'deployment/web', `httpd=${c.images.httpd}`).code).toBe(0);
    expect(c.kubectl('scale', 'deployment/web', '--replicas=5').code).toBe(0);
    const d = await c.waitFor('paused scale observed', async () => {
      const x = await c.admin.get(deployInfo, 'default', 'web');
      return x.status?.observedGeneration === x.metadata.generation && x.status?.readyReplicas === 5 ? x : undefined;
    }, 60_000);
    expect(d.status.conditions.find((x: { type: string }) => x.type === 'Progressing').reason).toBe('DeploymentPaused');
    let sets = await replicaSetsOf('web');
    expect(sets.find((x) => imageOf(x) === V2)!.spec.replicas).toBe(5);
    expect(sets.find((x) => imageOf(x) === c.images.httpd)!.spec.replicas).toBe(0);

    expect(c.kubectl('rollout', 'resume', 'deployment/web').code).toBe(0);
    await expectRolledOut('web');
    sets = await replicaSetsOf('web');
    expect(sets).toHaveLength(2);
    const cur = sets.find((x) => imageOf(x) === c.images.httpd)!;
    expect(cur.spec.replicas).toBe(5);
    expect(rev(cur)).toBe('5');
  }, 120_000);

  it('restart, edit-like patch and scale 1 → 5 → 2', async () => {
    expect(c.kubectl('rollout', 'restart', 'deployment/web').code).toBe(0);
    await expectRolledOut('web');
    let sets = await replicaSetsOf('web');
    expect(sets).toHaveLength(3);
    const restarted = sets.find((x) => x.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'])!;
    expect(restarted.spec.replicas).toBe(5);

    const patch = c.kubectl('patch', 'deployment/web', '-p', JSON.stringify({ spec: { minReadySeconds: 1, template: { metadata: { labels: { tier: 'edited' } } } } }));
    expect(patch.code, patch.stderr).toBe(0);
    await expectRolledOut('web');
    sets = await replicaSetsOf('web');
    const edited = sets.find((x) => x.spec.template.metadata.labels.tier === 'edited')!;
    expect(edited.spec.minReadySeconds).toBe(1);
    expect(edited.spec.replicas).toBe(5);

    for (const n of [1, 5, 2]) {
      expect(c.kubectl('scale', 'deployment/web', `--replicas=${n}`).code).toBe(0);
      await expectRolledOut('web');
      await c.waitFor(`${n} pods`, async () => {
        const ps = (await c.pods('default', 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
        return ps.length === n && ps.filter(isReady).length === n;
      }, 60_000);
    }
    const events = (await c.eventsFor('web')).map((e) => e.message);
    expect(events).toContain(`Scaled down replica set ${edited.metadata.name} from 5 to 1`);
    expect(events).toContain(`Scaled up replica set ${edited.metadata.name} from 1 to 5`);
  }, 150_000);

  it('Recreate never runs old and new pods at once', async () => {
    expect(c.kubectlInput(manifest('rec', 2, c.images.httpd, '{type: Recreate}'), 'apply', '-f', '-').code).toBe(0);
    await expectRolledOut('rec');
    let overlap = 0;
    const s = sampler('rec', (ps) => {
      const hashes = new Set(ps.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata.labels?.['pod-template-hash']));
      if (hashes.size > 1) overlap++;
    });
    // --record (deprecated, still accepted) stores the command as the change-cause
    let set = c.kubectl('set', 'image', 'deployment/rec', `httpd=${V2}`, '--record');
    if (set.code !== 0 && /unknown flag/.test(set.stderr) && versionedKubectl(20)) {
      set = kubectl(c.kubeconfig, ['set', 'image', 'deployment/rec', `httpd=${V2}`, '--record'], { bin: versionedKubectl(20) });
    }
    expect(set.code, set.stderr).toBe(0);
    await expectRolledOut('rec');
    await s.stop();
    expect(c.kubectl('rollout', 'history', 'deployment/rec').stdout).toMatch(/2\s+kubectl set image deployment\/rec httpd=kubeling\/httpd:h6-v2 .*--record=true/);
    expect(overlap).toBe(0);
    const ps = (await c.pods('default', 'app=rec')).filter((p) => !p.metadata.deletionTimestamp);
    expect(ps.filter((p) => p.spec.containers[0].image === V2 && isReady(p))).toHaveLength(2);
    const events = (await c.eventsFor('rec')).map((e) => e.message);
    expect(events.some((m: string) => / replica set rec-\w+ from 2 to 0$/.test(m))).toBe(true);
  }, 120_000);
});
