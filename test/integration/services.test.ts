// services: Service networking end to end on two real agents — NodePort on every node's address (also a node that
// runs none of the pods), spread over replicas, LoadBalancer ports, ClusterIP, DNS names and service env vars from
// inside a pod, headless answers, a scale-down under a request loop without failures, and a service whose pods all
// fail readiness refusing connections instead of hanging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { connect } from 'node:net';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { isReady, startTwoNodeCluster, type TwoNodeCluster } from '../helpers/cluster.ts';
import { TEST_IMAGES } from '../helpers/images.ts';

const SVC = lookupKind('v1', 'Service')!;
const NODE = lookupKind('v1', 'Node')!;

/** get fetches http://host:port/ with a bound on time; it resolves to the body or rejects with the socket error. */
function get(host: string, port: number, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** whoami is a Deployment of busybox httpd pods that answer with their own pod name. */
function whoami(name: string, replicas: number, extra: { nodeSelector?: Record<string, string>; ready?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          ...(extra.nodeSelector ? { nodeSelector: extra.nodeSelector } : {}),
          containers: [
            {
              name: 'web',
              image: TEST_IMAGES.busybox,
              imagePullPolicy: 'Never',
              command: ['sh', '-c', 'mkdir -p /www && echo "$HOSTNAME" > /www/index.html && exec httpd -f -p 8080 -h /www'],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: extra.ready === false ? { exec: { command: ['false'] }, periodSeconds: 1 } : { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

function service(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec } };
}

describe('Service networking', () => {
  let c: TwoNodeCluster;

  beforeAll(async () => {
    c = await startTwoNodeCluster();
  }, 120_000);

  afterAll(async () => {
    await c?.cleanup();
  }, 90_000);

  const apply = (obj: KubeObject) => {
    const r = c.kubectlInput(JSON.stringify(obj), 'apply', '-f', '-');
    expect(r.stderr).toBe('');
  };
  const readyPods = async (app: string, n: number) =>
    c.waitFor(`${n} ready ${app} pods`, async () => {
      const ps = (await c.pods('default', `app=${app}`)).filter(isReady);
      return ps.length === n ? ps : undefined;
    }, 90_000);
  const nodePortOf = async (name: string): Promise<number> => {
    const svc = await c.admin.get(SVC, 'default', name);
    return (svc.spec as { ports: { nodePort: number }[] }).ports[0]!.nodePort;
  };
  const execIn = (pod: string, ...cmd: string[]) => c.kubectl('exec', pod, '--', ...cmd);

  it('a NodePort answers on every node address, also where none of the pods runs, spread over the replicas', async () => {
    apply(whoami('spread', 3, { nodeSelector: { 'kubernetes.io/hostname': 'node-a' } }));
    apply(service('spread', { type: 'NodePort' }));
    const pods = await readyPods('spread', 3);
    const names = new Set(pods.map((p) => p.metadata.name));
    const port = await nodePortOf('spread');
    // node-b runs none of them: its proxy forwards across to node-a's pod subnet
    for (const ip of [c.nodeIps['node-a'], c.nodeIps['node-b']]) {
      await c.waitFor(`NodePort ${port} on ${ip}`, () => get(ip, port).then((b) => names.has(b.trim()), () => false), 20_000);
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add((await get(ip, port)).trim());
      expect([...seen].sort()).toEqual([...names].sort());
    }
    // pod IPs come from each node's pod subnet
    const node = await c.admin.get(NODE, undefined, 'node-a');
    const prefix = String(node.spec?.podCIDR).split('.').slice(0, 3).join('.') + '.';
    for (const p of pods) expect(p.status?.podIP.startsWith(prefix)).toBe(true);
  }, 120_000);

  it('a LoadBalancer service listens on its port at the node addresses and shows them as EXTERNAL-IP', async () => {
    apply(whoami('lb', 1));
    apply(service('lb', { type: 'LoadBalancer', ports: [{ name: 'http', port: 18080, targetPort: 'http' }] }));
    const [pod] = await readyPods('lb', 1);
    for (const ip of Object.values(c.nodeIps)) {
      const body = await c.waitFor(`LoadBalancer port on ${ip}`, () => get(ip, 18080).catch(() => undefined), 20_000);
      expect(body.trim()).toBe(pod!.metadata.name);
    }
    const row = await c.waitFor('EXTERNAL-IP', () => {
      const out = c.kubectl('get', 'svc', 'lb', '--no-headers').stdout;
      return Object.values(c.nodeIps).every((ip) => out.includes(ip)) ? out : undefined;
    }, 20_000);
    expect(row).toMatch(/LoadBalancer/);
  }, 120_000);

  it('from inside a pod: ClusterIP, DNS names (service, headless, unknown) and service env vars', async () => {
    apply(whoami('backend', 2));
    apply(service('backend', {}));
    apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend-headless' }, spec: { clusterIP: 'None', selector: { app: 'backend' }, ports: [{ name: 'http', port: 8080 }] } });
    const backends = await readyPods('backend', 2);
    const svc = await c.admin.get(SVC, 'default', 'backend');
    const clusterIP = String(svc.spec?.clusterIP);
    apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client' }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } });
    await c.waitFor('client Running', async () => (await c.pods()).find((p) => p.metadata.name === 'client' && p.status?.phase === 'Running'), 60_000);

    const env = execIn('client', 'env').stdout;
    expect(env).toContain(`BACKEND_SERVICE_HOST=${clusterIP}`);
    expect(env).toContain('BACKEND_SERVICE_PORT=80');
    expect(env).toContain(`BACKEND_PORT_80_TCP=tcp://${clusterIP}:80`);
    expect(env).toMatch(/KUBERNETES_SERVICE_HOST=\d+\.\d+\.\d+\.1\n/);

    const resolv = execIn('client', 'cat', '/etc/resolv.conf').stdout;
    expect(resolv).toContain(`nameserver ${c.server.slot.clusterDns}`);
    expect(resolv).toContain('search default.svc.cluster.local svc.cluster.local cluster.local');
    expect(resolv).toContain('options ndots:5');

    // static busybox wget cannot resolve names; fetch the ClusterIP by address, resolve with nslookup
    const body = await c.waitFor('ClusterIP from the pod', () => {
      const r = execIn('client', 'timeout', '5', 'wget', '-qO-', `http://${clusterIP}/`);
      return r.stdout.trim() ? r.stdout.trim() : undefined;
    }, 20_000);
    expect(backends.map((p) => p.metadata.name)).toContain(body);
    const full = execIn('client', 'nslookup', 'backend.default.svc.cluster.local').stdout;
    expect(full).toContain(clusterIP);
    const headless = execIn('client', 'nslookup', 'backend-headless.default.svc.cluster.local').stdout;
    for (const p of backends) expect(headless).toContain(p.status?.podIP);
    expect(execIn('client', 'nslookup', 'nothing-here.default.svc.cluster.local').stdout + execIn('client', 'nslookup', 'nothing-here.default.svc.cluster.local').stderr).toMatch(/NXDOMAIN|can't find/);
  }, 120_000);

  it('scaling down under a request loop through the NodePort loses no request', async () => {
    apply(whoami('steady', 3));
    apply(service('steady', { type: 'NodePort' }));
    await readyPods('steady', 3);
    const port = await nodePortOf('steady');
    const ip = c.nodeIps['node-b'];
    await c.waitFor('NodePort answers', () => get(ip, port).then(() => true, () => false), 20_000);
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stop) {
        try {
          await get(ip, port);
          ok++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    expect(c.kubectl('scale', 'deployment/steady', '--replicas=1').stderr).toBe('');
    await c.waitFor('one steady pod left', async () => ((await c.pods('default', 'app=steady')).length === 1 ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    stop = true;
    await loop;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
  }, 120_000);

  it('a service whose pods all fail readiness refuses connections at once instead of hanging', async () => {
    apply(whoami('unready', 2, { ready: false }));
    apply(service('unready', { type: 'NodePort' }));
    await c.waitFor('unready pods Running', async () => {
      const ps = await c.pods('default', 'app=unready');
      return ps.length === 2 && ps.every((p) => p.status?.phase === 'Running') ? ps : undefined;
    }, 60_000);
    const port = await nodePortOf('unready');
    for (const ip of Object.values(c.nodeIps)) {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const s = connect({ host: ip, port });
        s.setTimeout(5_000, () => {
          s.destroy();
          resolve('hung');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        s.on('connect', () => {
          s.on('close', () => resolve('closed'));
          s.on('data', () => resolve('data'));
        });
      });
      expect(['ECONNREFUSED', 'ECONNRESET', 'closed']).toContain(outcome);
      expect(Date.now() - started).toBeLessThan(3_000);
    }
  }, 120_000);
});
