// api-compat: the kubectl compatibility matrix — bundled kubectl 1.27/1.29/1.31/1.32/1.33 run directly and Debian's 1.20.
import { webApp } from '../helpers/manifests.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT, startServer, kubectl, versionedKubectl, type RunningServer } from '../helpers/server.ts';

let srv: RunningServer;
let dir: string;

// Debian's kubectl 1.20 is unpacked on first use; this runs at load time because the matrix below is built from it.
if (!versionedKubectl(20)) spawnSync(join(ROOT, 'scripts/kubectl-1.20.sh'), { stdio: 'ignore', timeout: 120_000 });

beforeAll(async () => {
  // the API alone: only the namespace controller runs, so stored workloads stay exactly as the test wrote them
  srv = await startServer({ args: ['--disable-agent', '--disable-scheduler', '--controllers', 'namespace,serviceaccount'] });
  dir = mkdtempSync(join(tmpdir(), 'kubeling-compat-'));
});

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await srv?.cleanup();
});

const app = (ns: string, image: string, replicas: number) => webApp({ namespace: ns, image, replicas });

async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const minor of [20, 27, 29, 31, 32, 33]) {
  const bin = versionedKubectl(minor);
  const ns = `v1-${minor}`;
  // a missing client fails (never skips): the message says how to get it
  if (!bin) {
    it(`kubectl 1.${minor}`, () => {
      throw new Error(`kubectl 1.${minor} is not available: ${minor === 20 ? 'run scripts/kubectl-1.20.sh (it unpacks Debian\'s kubernetes-client package)' : `install the kubectl package that bundles /usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`}`);
    });
    continue;
  }
  describe(`kubectl 1.${minor}`, () => {
    const home = () => join(dir, `home-${minor}`);
    const k = (args: string[]) => kubectl(srv.kubeconfig, args, { bin, env: { HOME: home() } });
    const kn = (args: string[]) => k([...args, '-n', ns]);
    const file = (name: string, text: string) => {
      const p = join(dir, `${minor}-${name}`);
      writeFileSync(p, text);
      return p;
    };

    it('reports versions and api-resources', () => {
      const v = k(['version']);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(new RegExp(`Client Version: .*v1\\.${minor}\\.`));
      expect(v.stdout).toMatch(/Server Version: .*v1\.32\.0\+kubeling/);
      const r = k(['api-resources']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/m);
      expect(r.stdout).toMatch(/^pods\s+po\s+v1\s+true\s+Pod/m);
      expect(r.stdout).toMatch(/^nodes\s+no\s+v1\s+false\s+Node/m);
      expect(r.stdout).toMatch(/^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease/m);
      expect(k(['create', 'namespace', ns]).code).toBe(0);
    });

    it('applies, re-applies, gets, describes', () => {
      const f = file('app.yaml', app(ns, 'nginx:1.25', 2));
      let r = k(['apply', '-f', f]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps/web created');
      expect(r.stdout).toContain('service/web created');
      r = k(['apply', '-f', f]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps/web unchanged');
      r = k(['apply', '-f', file('app2.yaml', app(ns, 'nginx:1.26', 3))]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps/web configured');
      expect(r.stdout).toContain('service/web unchanged');
      const d = JSON.parse(kn(['get', 'deploy', 'web', '-o', 'json']).stdout);
      expect(d.spec.replicas).toBe(3);
      expect(d.spec.template.spec.containers[0].image).toBe('nginx:1.26');
      expect(d.metadata.generation).toBe(2);

      r = kn(['get', 'deploy']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
      expect(r.stdout).toMatch(/^web\s+0\/3\s+0\s+0\s+\d+s/m);
      r = kn(['get', 'deploy', '-o', 'wide']);
      expect(r.stdout).toMatch(/CONTAINERS\s+IMAGES\s+SELECTOR/);
      expect(r.stdout).toMatch(/^web\s.*\bc\s+nginx:1\.26\s+app=web/m);
      r = kn(['get', 'svc', 'web']);
      expect(r.stdout).toMatch(/^web\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80\/TCP/m);
      r = kn(['get', 'svc', 'web', '-o', 'yaml']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/clusterIP: 10\.43\./);
      expect(r.stdout).toContain('kind: Service');

      r = kn(['describe', 'deployment', 'web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Name:\s+web/);
      expect(r.stdout).toMatch(/Replicas:\s+3 desired/);
      expect(r.stdout).toMatch(/Image:\s+nginx:1\.26/);
      r = kn(['describe', 'svc', 'web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/IP:\s+10\.43\./);
    });

    it('scales, sets images, labels, shows rollout history', () => {
      let r = kn(['scale', 'deployment/web', '--replicas=4']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps/web scaled');
      r = kn(['set', 'image', 'deployment/web', 'c=nginx:1.27']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps/web image updated');
      r = kn(['label', 'deployment', 'web', 'tier=front']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps/web labeled');
      const d = JSON.parse(kn(['get', 'deploy', 'web', '-o', 'json']).stdout);
      expect(d.spec.replicas).toBe(4);
      expect(d.spec.template.spec.containers[0].image).toBe('nginx:1.27');
      expect(d.metadata.labels.tier).toBe('front');
      expect(d.metadata.generation).toBe(4);

      const rs = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: 'web-abc',
          namespace: ns,
          labels: { app: 'web', 'pod-template-hash': 'abc' },
          annotations: { 'deployment.kubernetes.io/revision': '1', 'kubernetes.io/change-cause': 'first' },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'web', 'pod-template-hash': 'abc' } },
          template: { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } },
        },
      };
      r = k(['create', '-f', file('rs.json', JSON.stringify(rs))]);
      expect(r.code, r.stderr).toBe(0);
      r = kn(['rollout', 'history', 'deployment/web']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/REVISION\s+CHANGE-CAUSE/);
      expect(r.stdout).toMatch(/^1\s+first/m);
    });

    it('watches for a moment', async () => {
      // each version keeps its own HOME (discovery cache), so spawn directly rather than through kubectlSpawn
      const w = spawn(bin!, ['--kubeconfig', srv.kubeconfig, 'get', 'cm', '-w', '-n', ns], { env: { ...process.env, HOME: home() } });
      let out = '';
      w.stdout!.on('data', (b) => (out += b));
      w.stderr!.on('data', (b) => (out += b));
      try {
        await new Promise((r) => setTimeout(r, 300));
        expect(kn(['create', 'configmap', 'watched', '--from-literal=a=b']).code).toBe(0);
        await waitFor(() => /watched\s+1\s+/.test(out));
      } finally {
        w.kill();
      }
    });

    it('creates a deployment with the typed client and deletes from the file', () => {
      let r = kn(['create', 'deployment', 'typed', '--image=nginx:1.25', '--replicas=2', '-v=8']);
      expect(r.code, r.stderr).toBe(0);
      // 1.32 and later send the typed client's body as Kubernetes protobuf; older ones send JSON
      const sent = /Content-Type: ([^\s;]+)/.exec(r.stderr.slice(r.stderr.search(/POST[ "]/)))?.[1];
      expect(sent).toBe(minor >= 32 ? 'application/vnd.kubernetes.protobuf' : 'application/json');
      expect(r.stdout).toContain('deployment.apps/typed created');
      const d = JSON.parse(kn(['get', 'deploy', 'typed', '-o', 'json']).stdout);
      expect(d.spec.replicas).toBe(2);
      expect(d.spec.template.spec.containers[0].image).toBe('nginx:1.25');
      expect(d.spec.selector.matchLabels).toEqual({ app: 'typed' });
      r = k(['delete', '-f', join(dir, `${minor}-app.yaml`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('deployment.apps "web" deleted');
      expect(r.stdout).toContain('service "web" deleted');
      expect(kn(['get', 'deploy', 'web']).code).toBe(1);
    });

    it('prints upstream errors', () => {
      const r = kn(['get', 'pod', 'nope']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('Error from server (NotFound): pods "nope" not found');
      const d = kn(['get', 'deployment', 'nope']);
      expect(d.stderr.trim()).toBe('Error from server (NotFound): deployments.apps "nope" not found');
    });
  });
}
