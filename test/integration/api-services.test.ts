// api-services: the API server's side of Services with the real kubectl — the published cluster config and
// kube-dns, Endpoints mirrored into EndpointSlices, the services/pods proxy subresources (through `kubectl proxy`),
// `kubectl port-forward svc/`, NodePort clashes and ServiceLB's EXTERNAL-IP.
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImages, HTTPD_BODY, TEST_IMAGES } from '../helpers/images.ts';
import { claimSlot, type Slot } from '../helpers/slots.ts';
import { freePort, kubectl, kubectlSpawn, startServer, type RunningServer } from '../helpers/server.ts';
import { teardownTestCluster } from '../helpers/teardown.ts';

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** background runs a long-lived kubectl (proxy, port-forward) and waits for the line that names its local port. */
async function background(kubeconfig: string, args: string[], line: RegExp, procs: ChildProcess[]): Promise<number> {
  const p = kubectlSpawn(kubeconfig, args);
  procs.push(p);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return until(`kubectl ${args.join(' ')} (${out})`, () => {
    const m = line.exec(out);
    return m ? Number(m[1]) : undefined;
  }, 20_000);
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  for (const p of procs.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
}

describe('without nodes', () => {
  let slot: Slot;
  let srv: RunningServer;
  let echo: Server;
  let echoPort = 0;
  const procs: ChildProcess[] = [];
  const k = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });

  beforeAll(async () => {
    slot = claimSlot();
    srv = await startServer({ args: ['--disable-agent', '--service-cidr', slot.serviceCidr, '--cluster-cidr', slot.clusterCidr, '--cluster-domain', 'example.test', '--service-node-port-range', '31000-31999'] });
    // a backend on loopback, reached through a selector-less service and a hand-written Endpoints
    echo = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-echo': 'yes' });
        res.end(`${req.method} ${req.url} ${body} auth=${req.headers.authorization ?? 'none'}`);
      });
    });
    // upgrades: answer 101 with the path seen, then echo bytes back
    echo.on('upgrade', (req, socket: Duplex) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\nx-path: ${req.url}\r\nx-auth: ${req.headers.authorization ?? 'none'}\r\n\r\n`);
      socket.pipe(socket);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as { port: number }).port;
  });

  afterAll(async () => {
    await stopAll(procs);
    echo?.close();
    await srv?.cleanup();
    slot?.release();
  });

  it('publishes kubeling-config and the kube-dns service from the flags', () => {
    const cm = JSON.parse(k(['get', 'configmap', '-n', 'kube-system', 'kubeling-config', '-o', 'json']).stdout);
    expect(cm.data).toEqual({ clusterCIDR: slot.clusterCidr, serviceCIDR: slot.serviceCidr, clusterDNS: slot.clusterDns, clusterDomain: 'example.test', serviceNodePortRange: '31000-31999' });
    const dns = JSON.parse(k(['get', 'service', '-n', 'kube-system', 'kube-dns', '-o', 'json']).stdout);
    expect(dns.spec.clusterIP).toBe(slot.clusterDns);
    expect(dns.spec.selector).toBeUndefined();
    expect(dns.spec.ports).toEqual([
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
    ]);
    expect(dns.metadata.labels).toMatchObject({ 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' });
    const svc = JSON.parse(k(['get', 'service', 'kubernetes', '-o', 'json']).stdout);
    expect(svc.spec.clusterIP).toBe(slot.serviceCidr.replace(/0\/16$/, '1'));
  });

  it('writes the kubernetes EndpointSlice as upstream', () => {
    const s = JSON.parse(k(['get', 'endpointslice', 'kubernetes', '-o', 'json']).stdout);
    expect(s.metadata.labels).toEqual({ 'kubernetes.io/service-name': 'kubernetes' });
    expect(s.endpoints).toEqual([{ addresses: ['127.0.0.1'], conditions: { ready: true } }]);
    expect(s.ports).toEqual([{ name: 'https', port: srv.port, protocol: 'TCP' }]);
  });

  it('mirrors a hand-written Endpoints of a selector-less service into an EndpointSlice', async () => {
    const r = k(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {ports: [{port: 80, targetPort: ${echoPort}}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext, labels: {team: blue}}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{port: ${echoPort}}]}]
`);
    expect(r.code, r.stderr).toBe(0);
    const slice = await until('the mirrored slice', () => {
      const l = JSON.parse(k(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=ext', '-o', 'json']).stdout);
      return l.items[0]?.endpoints?.length ? l.items[0] : undefined;
    });
    expect(slice.metadata.labels).toEqual({ team: 'blue', 'kubernetes.io/service-name': 'ext', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' });
    expect(slice.metadata.ownerReferences[0]).toMatchObject({ kind: 'Endpoints', name: 'ext', controller: true });
    expect(slice.endpoints).toEqual([{ addresses: ['127.0.0.1'], conditions: { ready: true } }]);
    expect(slice.ports).toEqual([{ name: '', port: echoPort, protocol: 'TCP' }]);
    // a second address shows up in the same slice
    k(['patch', 'endpoints', 'ext', '--type=merge', '-p', JSON.stringify({ subsets: [{ addresses: [{ ip: '127.0.0.1' }, { ip: '127.0.0.2' }], ports: [{ port: echoPort }] }] })]);
    await until('the second address', () => k(['get', 'endpointslice', slice.metadata.name, '-o', 'jsonpath={.endpoints[*].addresses[0]}']).stdout === '127.0.0.1 127.0.0.2');
    k(['patch', 'endpoints', 'ext', '--type=merge', '-p', JSON.stringify({ subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: echoPort }] }] })]);
    await until('back to one address', () => k(['get', 'endpointslice', slice.metadata.name, '-o', 'jsonpath={.endpoints[*].addresses[0]}']).stdout === '127.0.0.1');
  });

  it('proxies to the service through kubectl proxy, query and body kept, the bearer token not passed on', async () => {
    const port = await background(srv.kubeconfig, ['proxy', '--port=0'], /Starting to serve on 127\.0\.0\.1:(\d+)/, procs);
    const base = `http://127.0.0.1:${port}/api/v1/namespaces/default/services`;
    const get = await fetch(`${base}/ext/proxy/some/path?x=1&y=2`);
    expect(get.status).toBe(200);
    expect(get.headers.get('x-echo')).toBe('yes');
    expect(await get.text()).toBe('GET /some/path?x=1&y=2  auth=none');
    const post = await fetch(`${base}/ext:80/proxy/submit`, { method: 'POST', body: 'hello' });
    expect(await post.text()).toBe('POST /submit hello auth=none');
    // `…/proxy` without a slash is redirected to `…/proxy/` (fetch follows it)
    const root = await fetch(`${base}/ext/proxy`);
    expect(await root.text()).toBe('GET /  auth=none');
  });

  it('passes an upgrade through to the service', async () => {
    const { headers, reply } = await new Promise<{ headers: Record<string, unknown>; reply: string }>((resolve, reject) => {
      const req = httpsRequest(`${srv.url}/api/v1/namespaces/default/services/ext/proxy/ws?q=1`, {
        headers: { connection: 'Upgrade', upgrade: 'echo', authorization: `Bearer ${srv.token}` },
        rejectUnauthorized: false,
      });
      req.on('upgrade', (res, socket) => {
        socket.once('data', (d) => {
          socket.destroy();
          resolve({ headers: res.headers, reply: String(d) });
        });
        socket.write('ping');
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(headers['x-path']).toBe('/ws?q=1');
    expect(headers['x-auth']).toBe('none');
    expect(reply).toBe('ping');
  });

  it('answers 503 for a service without endpoints or a port it does not have, 404 for none', () => {
    k(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: empty}\nspec: {selector: {app: nothing}, ports: [{port: 80}]}\n');
    const none = k(['get', '--raw', '/api/v1/namespaces/default/services/empty/proxy/']);
    expect(none.stderr).toContain('Error from server (ServiceUnavailable): no endpoints available for service "empty"');
    const port = k(['get', '--raw', '/api/v1/namespaces/default/services/ext:81/proxy/']);
    expect(port.stderr).toContain('no service port 81 found for service "ext"');
    const missing = k(['get', '--raw', '/api/v1/namespaces/default/services/nope/proxy/']);
    expect(missing.stderr).toContain('Error from server (NotFound): services "nope" not found');
  });

  it('answers a Status naming the dial error when the endpoint refuses', async () => {
    const dead = await freePort();
    k(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: dead}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: dead}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{port: ${dead}}]}]
`);
    const msg = await until('the refused connection', () => {
      const r = k(['get', '--raw', '/api/v1/namespaces/default/services/dead/proxy/']);
      return r.stderr.includes('error trying to reach') ? r.stderr : undefined;
    }, 20_000);
    expect(msg).toContain(`Error from server (ServiceUnavailable): error trying to reach service: dial tcp 127.0.0.1:${dead}: connect: connection refused`);
  });

  it('honours nodePort: 31515 and rejects a clash with upstream\'s message', () => {
    const a = k(['create', 'service', 'nodeport', 'np-a', '--tcp=80', '--node-port=31515']);
    expect(a.code, a.stderr).toBe(0);
    expect(k(['get', 'service', 'np-a', '-o', 'jsonpath={.spec.ports[0].nodePort}']).stdout).toBe('31515');
    const b = k(['create', 'service', 'nodeport', 'np-b', '--tcp=80', '--node-port=31515']);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain('spec.ports[0].nodePort: Invalid value: 31515: provided port is already allocated');
    const out = k(['create', 'service', 'nodeport', 'np-c', '--tcp=80', '--node-port=30080']);
    expect(out.stderr).toContain('provided port is not in the valid range. The range of valid ports is 31000-31999');
  });
});

describe('with the embedded agent', () => {
  const NODE = `svc-${process.pid}`;
  let slot: Slot;
  let srv: RunningServer;
  const procs: ChildProcess[] = [];
  const k = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });

  beforeAll(async () => {
    await ensureTestImages();
    slot = claimSlot();
    srv = await startServer({
      args: ['--node-ip', slot.nodeIp(1), '--node-name', NODE, '--kubelet-port', String(await freePort()), '--cluster-cidr', slot.clusterCidr, '--service-cidr', slot.serviceCidr],
    });
    const r = k(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: httpd
    image: ${TEST_IMAGES.httpd}
    imagePullPolicy: Never
    ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8080, targetPort: http}]
`);
    expect(r.code, r.stderr).toBe(0);
    const w = k(['wait', '--for=condition=Ready', 'pod/web', '--timeout=90s']);
    expect(w.code, w.stderr + srv.logs()).toBe(0);
  }, 150_000);

  afterAll(async () => {
    await stopAll(procs);
    await srv?.stop();
    if (srv) await teardownTestCluster(srv.caPem).catch(() => undefined);
    const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=kubeling.node=${NODE}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    if (ids.length) spawnSync('docker', ['rm', '-f', ...ids]);
    await srv?.cleanup();
    slot?.release();
  }, 60_000);

  it('proxies to the pod (default port: its first container port) and by port name', () => {
    const r = k(['get', '--raw', '/api/v1/namespaces/default/pods/web/proxy/']);
    expect(r.stdout, r.stderr).toBe(HTTPD_BODY);
    expect(k(['get', '--raw', '/api/v1/namespaces/default/pods/web:80/proxy/index.html']).stdout).toBe(HTTPD_BODY);
    expect(k(['get', '--raw', '/api/v1/namespaces/default/pods/http:web:http/proxy/']).stdout).toBe(HTTPD_BODY);
  });

  it('proxies to the service through its endpoint slice', async () => {
    const body = await until('the service proxy', () => {
      const r = k(['get', '--raw', '/api/v1/namespaces/default/services/web:8080/proxy/']);
      return r.code === 0 ? r.stdout : undefined;
    }, 30_000);
    expect(body).toBe(HTTPD_BODY);
  });

  it('port-forwards svc/web', async () => {
    const port = await background(srv.kubeconfig, ['port-forward', 'svc/web', ':8080'], /Forwarding from 127\.0\.0\.1:(\d+) -> 80/, procs);
    const r = await fetch(`http://127.0.0.1:${port}/`);
    expect(await r.text()).toBe(HTTPD_BODY);
  });

  it('shows the node address as EXTERNAL-IP of the LoadBalancer service, and drops it when the type changes', async () => {
    const line = await until('EXTERNAL-IP', () => {
      const out = k(['get', 'svc', 'web', '--no-headers']).stdout;
      return out.includes(slot.nodeIp(1)) ? out : undefined;
    }, 30_000);
    expect(line).toMatch(new RegExp(`^web\\s+LoadBalancer\\s+\\S+\\s+${slot.nodeIp(1).replace(/\./g, '\\.')}\\s+8080:\\d+/TCP`));
    k(['patch', 'svc', 'web', '--type=merge', '-p', '{"spec":{"type":"ClusterIP"}}']);
    await until('EXTERNAL-IP cleared', () => k(['get', 'svc', 'web', '-o', 'jsonpath={.status.loadBalancer}']).stdout.replace(/\s/g, '') === '{}' || undefined, 30_000);
  });
});
