// api-kubectl: the real kubectl against a real `kubeling server` (SQLite on a temp dir) — every command users type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync, existsSync, readFileSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { webApp } from '../helpers/manifests.ts';
import { startServer, kubectl, kubectlSpawn, type RunningServer } from '../helpers/server.ts';

let srv: RunningServer;
let dir: string;
const k = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const deployYaml = (image: string, replicas = 2, extra = '') => webApp({ image, replicas, extra, nodePort: 31515 });

beforeAll(async () => {
  // the API alone: only the namespace controller runs, so stored workloads stay exactly as the test wrote them
  srv = await startServer({ args: ['--disable-agent', '--disable-scheduler', '--controllers', 'namespace,serviceaccount'] });
  dir = mkdtempSync(join(tmpdir(), 'kubeling-manifests-'));
});

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await srv?.cleanup();
});

describe('first start', () => {
  it('creates CA, serving certificate, tokens and the admin kubeconfig', () => {
    for (const f of ['tls/ca.crt', 'tls/serving.crt', 'token', 'kubeconfig.yaml']) expect(existsSync(join(srv.dataDir, f)), f).toBe(true);
    expect(readFileSync(join(srv.dataDir, 'token'), 'utf8')).toMatch(/^K10[0-9a-f]{64}::server:/);
    expect(statSync(join(srv.dataDir, 'kubeconfig.yaml')).mode & 0o077).toBe(0);
  });

  it('answers /readyz without a token and 401 with a Status otherwise', async () => {
    const { Agent, fetch } = await import('undici');
    const dispatcher = new Agent({ connect: { ca: srv.caPem } });
    const ready = await fetch(`${srv.url}/readyz`, { dispatcher });
    expect(ready.status).toBe(200);
    const none = await fetch(`${srv.url}/api/v1/pods`, { dispatcher });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const wrong = await fetch(`${srv.url}/api/v1/pods`, { dispatcher, headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const r = k(['get', 'pods', '--token', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('You must be logged in to the server');
  });

  it('reports version 1.32 and the built-in namespaces', () => {
    const v = k(['version', '-o', 'json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).serverVersion).toMatchObject({ major: '1', minor: '32' });
    const ns = k(['get', 'ns']);
    expect(ns.code, ns.stderr).toBe(0);
    for (const n of ['default', 'kube-system', 'kube-node-lease']) expect(ns.stdout).toMatch(new RegExp(`^${n}\\s+Active`, 'm'));
    expect(ns.stdout).toMatch(/^NAME\s+STATUS\s+AGE/);
  });

  it('serves discovery: api-resources, short names, categories', () => {
    const r = k(['api-resources']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pods\s+po\s+v1\s+true\s+Pod/m);
    expect(r.stdout).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/m);
    expect(r.stdout).toMatch(/^leases\s+coordination.k8s.io\/v1\s+true\s+Lease/m);
    expect(r.stdout).toMatch(/^cronjobs\s+cj\s+batch\/v1\s+true\s+CronJob/m);
    const empty = k(['get', 'deploy,svc,po']);
    expect(empty.code, empty.stderr).toBe(0);
  });
});

describe('apply, get, describe', () => {
  it('creates a deployment and a service from one file, then configures and leaves unchanged', () => {
    const f = file('app.yaml', deployYaml('kubeling/httpd:test'));
    let r = k(['apply', '-f', f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment.apps/web created');
    expect(r.stdout).toContain('service/web created');
    r = k(['apply', '-f', f]);
    expect(r.stdout).toContain('deployment.apps/web unchanged');
    expect(r.stdout).toContain('service/web unchanged');
    r = k(['apply', '-f', file('app2.yaml', deployYaml('kubeling/httpd:v2', 3))]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment.apps/web configured');
    const d = JSON.parse(k(['get', 'deploy', 'web', '-o', 'json']).stdout);
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0].image).toBe('kubeling/httpd:v2');
    expect(d.metadata.generation).toBe(2);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
    expect(d.spec.template.spec.containers[0].ports[0].protocol).toBe('TCP');
  });

  it('prints tables with upstream columns', () => {
    const d = k(['get', 'deploy']);
    expect(d.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
    expect(d.stdout).toMatch(/^web\s+0\/3\s+0\s+0\s+\d+s/m);
    const w = k(['get', 'deploy', '-o', 'wide']);
    expect(w.stdout).toMatch(/CONTAINERS\s+IMAGES\s+SELECTOR/);
    expect(w.stdout).toContain('app=web');
    const s = k(['get', 'svc', 'web']);
    expect(s.stdout).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/);
    expect(s.stdout).toMatch(/^web\s+NodePort\s+10\.43\.\d+\.\d+\s+<none>\s+80:31515\/TCP/m);
    const all = k(['get', 'all']);
    expect(all.stdout).toContain('deployment.apps/web');
    expect(all.stdout).toContain('service/web');
    const multi = k(['get', 'deploy,svc']);
    expect(multi.stdout).toContain('deployment.apps/web');
  });

  it('renders -o yaml, json, jsonpath, name', () => {
    expect(k(['get', 'svc', 'web', '-o', 'yaml']).stdout).toContain('nodePort: 31515');
    expect(k(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']).stdout).toBe('kubeling/httpd:v2');
    expect(k(['get', 'deploy,svc', '-o', 'name']).stdout.trim().split('\n').sort()).toEqual(['deployment.apps/web', 'service/kubernetes', 'service/web'].sort());
  });

  it('runs a pod with kubectl run, describes it with its events', () => {
    let r = k(['run', 'p1', '--image=kubeling/busybox:test', '--labels=app=p1,tier=x', '--', 'sleep', '3600']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pod/p1 created');
    r = k(['create', '-f', file('ev.yaml', `apiVersion: v1
kind: Event
metadata: {name: p1.1, namespace: default}
involvedObject: {kind: Pod, name: p1, namespace: default, apiVersion: v1}
reason: Testing
message: hello from the test
type: Normal
source: {component: test}
count: 1
`)]);
    expect(r.code, r.stderr).toBe(0);
    const pod = JSON.parse(k(['get', 'pod', 'p1', '-o', 'json']).stdout);
    // the event must point at the pod's uid for describe's field selector
    k(['patch', 'event', 'p1.1', '--type=merge', '-p', JSON.stringify({ involvedObject: { uid: pod.metadata.uid } })]);
    const d = k(['describe', 'pod', 'p1']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/Name:\s+p1/);
    expect(d.stdout).toMatch(/Status:\s+Pending/);
    expect(d.stdout).toContain('hello from the test');
    const p = k(['get', 'po']);
    expect(p.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
    expect(p.stdout).toMatch(/^p1\s+0\/1\s+Pending\s+0\s+/m);
    expect(k(['get', 'po', '-o', 'wide']).stdout).toMatch(/IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/);
    expect(k(['get', 'po', '-l', 'tier=x', '-o', 'name']).stdout.trim()).toBe('pod/p1');
    expect(k(['get', 'po', '--field-selector', 'status.phase=Pending', '-o', 'name']).stdout.trim()).toBe('pod/p1');
    expect(k(['get', 'po', '--field-selector', 'status.phase=Running', '-o', 'name']).stdout.trim()).toBe('');
    expect(k(['get', 'po', '--show-labels']).stdout).toContain('app=p1,tier=x');
  });
});

describe('writes', () => {
  it('creates with the typed (protobuf) create commands', () => {
    for (const [args, out] of [
      [['create', 'deployment', 'nginx', '--image=nginx:1.25', '--replicas=2'], 'deployment.apps/nginx created'],
      [['create', 'namespace', 'team-a'], 'namespace/team-a created'],
      [['create', 'configmap', 'cfg', '--from-literal=a=b'], 'configmap/cfg created'],
      [['create', 'secret', 'generic', 'sec', '--from-literal=k=v'], 'secret/sec created'],
      [['create', 'service', 'clusterip', 'svc1', '--tcp=80:8080'], 'service/svc1 created'],
      [['create', 'job', 'j1', '--image=busybox', '--', 'echo', 'hi'], 'job.batch/j1 created'],
      [['create', 'cronjob', 'cj1', '--image=busybox', '--schedule=*/5 * * * *', '--', 'date'], 'cronjob.batch/cj1 created'],
    ] as [string[], string][]) {
      const r = k(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(out);
    }
    const d = JSON.parse(k(['get', 'deploy', 'nginx', '-o', 'json']).stdout);
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.selector.matchLabels).toEqual({ app: 'nginx' });
    expect(JSON.parse(k(['get', 'secret', 'sec', '-o', 'json']).stdout).data.k).toBe(Buffer.from('v').toString('base64'));
    const job = JSON.parse(k(['get', 'job', 'j1', '-o', 'json']).stdout);
    expect(job.spec.backoffLimit).toBe(6);
    expect(job.spec.template.metadata.labels['batch.kubernetes.io/controller-uid']).toBe(job.metadata.uid);
  });

  it('scales, sets images, labels, annotates, patches and replaces', () => {
    let r = k(['scale', 'deployment/nginx', '--replicas=5']);
    expect(r.stdout).toContain('deployment.apps/nginx scaled');
    expect(JSON.parse(k(['get', 'deploy', 'nginx', '-o', 'json']).stdout).spec.replicas).toBe(5);
    r = k(['scale', 'deployment/nginx', '--current-replicas=5', '--replicas=4']);
    expect(r.code, r.stderr).toBe(0);
    r = k(['scale', 'deployment/nginx', '--current-replicas=9', '--replicas=1']);
    expect(r.code).toBe(1);
    r = k(['set', 'image', 'deployment/nginx', 'nginx=nginx:1.27']);
    expect(r.stdout).toContain('deployment.apps/nginx image updated');
    const d = JSON.parse(k(['get', 'deploy', 'nginx', '-o', 'json']).stdout);
    expect(d.spec.template.spec.containers[0].image).toBe('nginx:1.27');
    expect(d.spec.replicas).toBe(4);
    // create 1, two scales 2-3 (replicas are spec), set image 4
    expect(d.metadata.generation).toBe(4);
    expect(k(['label', 'deploy', 'nginx', 'tier=front']).stdout).toContain('deployment.apps/nginx labeled');
    expect(k(['annotate', 'deploy', 'nginx', 'note=hi']).stdout).toContain('deployment.apps/nginx annotated');
    expect(k(['label', 'deploy', 'nginx', 'tier-']).stdout).toContain('unlabeled');
    const after = JSON.parse(k(['get', 'deploy', 'nginx', '-o', 'json']).stdout);
    expect(after.metadata.labels.tier).toBeUndefined();
    expect(after.metadata.annotations.note).toBe('hi');
    expect(after.metadata.generation).toBe(4);
    r = k(['patch', 'deploy', 'nginx', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":1}]']);
    expect(r.code, r.stderr).toBe(0);
    r = k(['patch', 'deploy', 'nginx', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}']);
    expect(r.code, r.stderr).toBe(0);
    const patched = JSON.parse(k(['get', 'deploy', 'nginx', '-o', 'json']).stdout);
    expect(patched.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['side', 'nginx']);
    // replace -f with the live object
    const live = JSON.parse(k(['get', 'cm', 'cfg', '-o', 'json']).stdout);
    live.data = { a: 'replaced' };
    r = k(['replace', '-f', file('cm.json', JSON.stringify(live))]);
    expect(r.stdout).toContain('configmap/cfg replaced');
    expect(JSON.parse(k(['get', 'cm', 'cfg', '-o', 'json']).stdout).data).toEqual({ a: 'replaced' });
  });

  it('server-side applies and reports conflicts', () => {
    const f = file('ssa.yaml', `apiVersion: v1
kind: ConfigMap
metadata: {name: ssa}
data: {a: "1", b: "2"}
`);
    let r = k(['apply', '--server-side', '-f', f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('configmap/ssa serverside-applied');
    r = k(['apply', '--server-side', '-f', file('ssa2.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "1"}\n')]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(k(['get', 'cm', 'ssa', '-o', 'json']).stdout).data).toEqual({ a: '1' });
    r = k(['apply', '--server-side', '--field-manager=other', '-f', file('ssa3.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: "9"}\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/conflict/i);
    r = k(['apply', '--server-side', '--force-conflicts', '--field-manager=other', '-f', join(dir, 'ssa3.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(k(['get', 'cm', 'ssa', '-o', 'json']).stdout).data).toEqual({ a: '9' });
  });

  it('dry-run changes nothing', () => {
    const r = k(['create', 'configmap', 'dry', '--from-literal=x=y', '--dry-run=server']);
    expect(r.code, r.stderr).toBe(0);
    expect(k(['get', 'cm', 'dry']).code).toBe(1);
  });
});

describe('errors', () => {
  it('NotFound, AlreadyExists, Invalid, strict decoding, bad patch type', () => {
    let r = k(['get', 'pod', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Error from server (NotFound): pods "nope" not found');
    r = k(['get', 'deploy', 'nope']);
    expect(r.stderr.trim()).toBe('Error from server (NotFound): deployments.apps "nope" not found');
    r = k(['create', 'namespace', 'team-a']);
    expect(r.stderr.trim()).toBe('Error from server (AlreadyExists): namespaces "team-a" already exists');
    r = k(['apply', '-f', file('bad.yaml', `apiVersion: v1
kind: Pod
metadata: {name: Bad_Name}
spec:
  containers:
  - name: c
    ports: [{containerPort: 70000}]
`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('The Pod "Bad_Name" is invalid');
    expect(r.stderr).toContain('metadata.name: Invalid value: "Bad_Name"');
    expect(r.stderr).toContain('spec.containers[0].image: Required value');
    expect(r.stderr).toMatch(/spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: 70000/);
    r = k(['apply', '-f', file('unknown.yaml', `apiVersion: v1
kind: ConfigMap
metadata: {name: unk}
data: {a: b}
foo: bar
`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('strict decoding error: unknown field "foo"');
    expect(k(['get', 'cm', 'unk']).code).toBe(1);
    r = k(['apply', '-f', file('sel.yaml', deployYaml('x').split('---')[0].replace('matchLabels: {app: web}', 'matchLabels: {app: other}').replace('name: web', 'name: mismatch'))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('`selector` does not match template `labels`');
    r = k(['create', 'service', 'nodeport', 'np2', '--tcp=80:80', '--node-port=31515']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('provided port is already allocated');
  });
});

describe('rollout plumbing', () => {
  it('rollout history reads owned ReplicaSets and their revisions', () => {
    const d = JSON.parse(k(['get', 'deploy', 'web', '-o', 'json']).stdout);
    for (const rev of [1, 2]) {
      const rs = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `web-rev${rev}`,
          labels: { app: 'web', 'pod-template-hash': `h${rev}` },
          annotations: { 'deployment.kubernetes.io/revision': String(rev), ...(rev === 2 ? { 'kubernetes.io/change-cause': 'bump image' } : {}) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'web', 'pod-template-hash': `h${rev}` } },
          template: { metadata: { labels: { app: 'web', 'pod-template-hash': `h${rev}` } }, spec: { containers: [{ name: 'c', image: `kubeling/httpd:v${rev}` }] } },
        },
      };
      const r = k(['create', '-f', file(`rs${rev}.json`, JSON.stringify(rs))]);
      expect(r.code, r.stderr).toBe(0);
    }
    const h = k(['rollout', 'history', 'deployment/web']);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/REVISION\s+CHANGE-CAUSE/);
    expect(h.stdout).toMatch(/^1\s+<none>/m);
    expect(h.stdout).toMatch(/^2\s+bump image/m);
    const one = k(['rollout', 'history', 'deployment/web', '--revision=1']);
    expect(one.stdout).toContain('kubeling/httpd:v1');
    const undo = k(['rollout', 'undo', 'deployment/web', '--to-revision=1']);
    expect(undo.code, undo.stderr).toBe(0);
    expect(undo.stdout).toContain('deployment.apps/web rolled back');
    expect(JSON.parse(k(['get', 'deploy', 'web', '-o', 'json']).stdout).spec.template.spec.containers[0].image).toBe('kubeling/httpd:v1');
  });
});

describe('watch', () => {
  it('get -w prints rows as objects change', async () => {
    const w = kubectlSpawn(srv.kubeconfig, ['get', 'cm', '-w']);
    let out = '';
    w.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('cfg'));
    k(['create', 'configmap', 'watched', '--from-literal=a=b']);
    await waitFor(() => out.includes('watched'));
    w.kill();
    expect(out).toMatch(/^watched\s+1\s+/m);
  });
});

describe('deletion', () => {
  it('deletes by name, by label, from a file, and whole namespaces', async () => {
    let r = k(['delete', 'pod', 'p1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pod "p1" deleted');
    r = k(['delete', 'cm', '-l', 'nothing=here']);
    expect(r.stdout + r.stderr).toContain('No resources found');
    k(['label', 'cm', 'cfg', 'del=yes']);
    r = k(['delete', 'cm', '-l', 'del=yes']);
    expect(r.stdout).toContain('configmap "cfg" deleted');
    r = k(['delete', '-f', join(dir, 'app.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment.apps "web" deleted');
    expect(r.stdout).toContain('service "web" deleted');
    r = k(['delete', 'pod', 'nope']);
    expect(r.stderr.trim()).toBe('Error from server (NotFound): pods "nope" not found');
    // namespace with contents
    k(['create', 'configmap', 'x', '-n', 'team-a', '--from-literal=a=b']);
    k(['run', 'nspod', '-n', 'team-a', '--image=busybox']);
    r = k(['delete', 'namespace', 'team-a'], undefined);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('namespace "team-a" deleted');
    expect(k(['get', 'ns', 'team-a']).code).toBe(1);
    expect(k(['get', 'cm', '-n', 'team-a', '-o', 'name']).stdout.trim()).toBe('');
    r = k(['create', 'namespace', 'kube-system']);
    expect(r.code).toBe(1);
  });
});

async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
