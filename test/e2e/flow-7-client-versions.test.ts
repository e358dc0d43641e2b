// flow-7: flows 1–2 with every kubectl — Debian's 1.20, the bundled 1.27 … 1.33 by versioned name, 1.34 and 1.35 from
// npm — each in its own namespace with its own NodePort (three at a time), and with a small @kubernetes/client-node
// script. A missing kubectl fails the flow saying what to install.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server.ts';
import { httpGet } from './hosts.ts';
import { example, flowCluster, flowTimer, kubectlAsync, live, podsOf, ready, withImage, writeManifest, type FlowCluster } from './flow/cluster.ts';
import { allKubectls, type KubectlBin } from './flow/kubectls.ts';

const FIRST_PORT = 31520;
const PARALLEL = 3;

/** compatFlow runs the condensed flows 1–2 with one kubectl in namespace compat-1-NN; returns its log. */
async function compatFlow(f: FlowCluster, k: KubectlBin, nodePort: number, hostIp: string): Promise<string> {
  const ns = `compat-1-${k.minor}`;
  const log: string[] = [];
  const kc = async (...args: string[]) => {
    const r = await kubectlAsync(f.c, args, { bin: k.path, timeoutMs: 150_000 });
    log.push(`$ kubectl ${args.join(' ')} → ${r.code}`);
    return r;
  };
  const must = async (...args: string[]) => {
    const r = await kc(...args);
    if (r.code !== 0) throw new Error(`kubectl 1.${k.minor} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}\n${log.join('\n')}`);
    return r.stdout;
  };
  const check = (cond: boolean, what: string, out: string) => {
    if (!cond) throw new Error(`kubectl 1.${k.minor}: ${what}; got:\n${out}\n${log.join('\n')}`);
  };
  const waitPods = (n: number, pred = ready) => f.c.waitFor(`${n} Ready web pods in ${ns}`, async () => {
    const ps = (await podsOf(f.c, 'component=web', ns)).filter(live);
    return ps.length === n && ps.every(pred) ? ps : undefined;
  }, 120_000);

  const podFile = (tag: 'latest' | 'v2', port = 3000) =>
    writeManifest(f, `${ns}-pod-${tag}-${port}.yaml`, withImage(example('client-pod.yaml'), f.image(tag)).replace(/containerPort:\s*3000/, `containerPort: ${port}`));
  const svcFile = writeManifest(f, `${ns}-svc.yaml`, example('client-node-port.yaml').replace(/nodePort:\s*31515/, `nodePort: ${nodePort}`));
  const deployFile = writeManifest(f, `${ns}-deployment.yaml`, withImage(example('client-deployment.yaml'), f.image('latest')));

  await must('create', 'namespace', ns);
  await f.c.waitFor(`serviceaccount ${ns}/default`, async () => (await kc('get', 'serviceaccount', 'default', '-n', ns)).code === 0, 30_000);
  // flow 1
  let out = await must('apply', '-n', ns, '-f', podFile('latest'));
  check(out.includes('pod/client-pod created'), 'apply creates the pod', out);
  out = await must('apply', '-n', ns, '-f', svcFile);
  check(out.includes('service/client-node-port created'), 'apply creates the service', out);
  await waitPods(1);
  out = await must('get', 'pods', '-n', ns);
  check(/^client-pod\s+1\/1\s+Running\s+0\s/m.test(out), 'get pods shows client-pod Running', out);
  const page = await f.c.waitFor(`${hostIp}:${nodePort}`, async () => {
    const r = await httpGet(`http://${hostIp}:${nodePort}/version.txt`, 3000).catch(() => undefined);
    return r?.status === 200 ? r.body.trim() : undefined;
  }, 30_000);
  check(page === 'v1', 'the page on the NodePort', page);
  out = await must('describe', 'pod', 'client-pod', '-n', ns);
  check(/^Events:/m.test(out) && /Scheduled/.test(out), 'describe pod shows events', out);
  out = await must('apply', '-n', ns, '-f', podFile('v2'));
  check(out.includes('pod/client-pod configured'), 'apply updates the image', out);
  out = await must('get', 'pod', 'client-pod', '-n', ns, '-o', 'jsonpath={.spec.containers[0].image}');
  check(out === f.image('v2'), 'the pod has the new image', out);
  const bad = await kc('apply', '-n', ns, '-f', podFile('v2', 9999));
  check(bad.code !== 0 && bad.stderr.includes('Forbidden: pod updates may not change fields other than'), 'a port change is Forbidden', bad.stderr);
  // flow 2
  await must('delete', 'pod', 'client-pod', '-n', ns, '--wait=true');
  out = await must('apply', '-n', ns, '-f', deployFile);
  check(out.includes('deployment.apps/client-deployment created'), 'apply creates the deployment', out);
  await waitPods(1);
  out = await must('get', 'pods', '-n', ns);
  check(/^client-deployment-[a-z0-9]{6,10}-[a-z0-9]{5}\s+1\/1\s+Running/m.test(out), 'generated pod names', out);
  out = await must('set', 'image', 'deployment/client-deployment', `client=${f.image('v2')}`, '-n', ns, '--record');
  check(out.includes('image updated'), 'set image', out);
  out = await must('rollout', 'status', 'deployment/client-deployment', '-n', ns, '--timeout=120s');
  check(out.includes('successfully rolled out'), 'rollout status completes', out);
  out = await must('rollout', 'history', 'deployment/client-deployment', '-n', ns);
  check(/^1\s+<none>/m.test(out) && /^2\s+kubectl.* set image deployment\/client-deployment/m.test(out), 'rollout history with the change-cause', out);
  out = await must('rollout', 'undo', 'deployment/client-deployment', '-n', ns);
  check(out.includes('rolled back'), 'rollout undo', out);
  await must('rollout', 'status', 'deployment/client-deployment', '-n', ns, '--timeout=120s');
  out = await must('get', 'deployment', 'client-deployment', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}');
  check(out === f.image('latest'), 'undo restores the image', out);
  await must('scale', 'deployment', 'client-deployment', '--replicas=3', '-n', ns);
  await waitPods(3);
  await must('scale', 'deployment', 'client-deployment', '--replicas=1', '-n', ns);
  await waitPods(1);
  // the Deployment's status follows its ReplicaSet's a moment after the pods (as upstream): poll, as a user re-runs it
  out = await f.c.waitFor('the Deployment status at 1/1', async () => {
    const o = await must('get', 'deployment', 'client-deployment', '-n', ns);
    return /^client-deployment\s+1\/1\s+1\s+1\s/m.test(o) ? o : undefined;
  }, 30_000).catch(async () => must('get', 'deployment', 'client-deployment', '-n', ns));
  check(/^client-deployment\s+1\/1\s+1\s+1\s/m.test(out), 'get deployment after scaling', out);
  await must('delete', 'namespace', ns, '--wait=false');
  return log.join('\n');
}

/** clientNodeScript runs flow/client-node-flow.ts and resolves with its output (rejects on a non-zero exit). */
function clientNodeScript(f: FlowCluster, nodePort: number, hostIp: string): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [join(ROOT, 'test/e2e/flow/client-node-flow.ts'), f.c.kubeconfig, 'compat-client-node', `${f.c.registry}/multi-client`, hostIp, String(nodePort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 240_000);
    p.once('close', (code) => {
      clearTimeout(t);
      if (code === 0) res(out);
      else rej(new Error(`the @kubernetes/client-node script failed (${code}):\n${out}`));
    });
  });
}

describe('flow 7: flows 1–2 with every kubectl and with @kubernetes/client-node', () => {
  let f: FlowCluster;
  let bins: KubectlBin[];
  const timer = flowTimer('flow 7 (client versions)');

  beforeAll(async () => {
    bins = allKubectls();
    f = await flowCluster();
    timer.start();
  });
  afterAll(() => timer.done());

  it('passes with kubectl 1.20, 1.27 … 1.35 (three at a time) and the client-node script', async () => {
    const jobs: (() => Promise<string>)[] = bins.map((k, i) => async () => {
      const t0 = Date.now();
      await compatFlow(f, k, FIRST_PORT + i, f.c.hosts[i % f.c.hosts.length]!.ip);
      return `kubectl 1.${k.minor} (${k.path}): ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    });
    jobs.push(async () => {
      const t0 = Date.now();
      const out = await clientNodeScript(f, FIRST_PORT + bins.length, f.c.hosts[0]!.ip);
      expect(out).toContain('client-node: namespace deleted');
      return `@kubernetes/client-node script: ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    });
    const results: PromiseSettledResult<string>[] = new Array(jobs.length);
    let next = 0;
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]!().then((value) => ({ status: 'fulfilled' as const, value }), (reason: unknown) => ({ status: 'rejected' as const, reason }));
      }
    }));
    for (const r of results) if (r.status === 'fulfilled') console.log(`e2e flow 7: ${r.value}`);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
    expect(failed, failed.join('\n\n')).toEqual([]);
  }, 600_000);
});
