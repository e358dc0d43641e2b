// server-single-node: `kubeling server` with its embedded agent is a whole one-node cluster; pulls from a real
// registry on loopback; `kubeling agent` with a bad token exits non-zero with a clear message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTestImages, TEST_IMAGES, HTTPD_BODY } from '../helpers/images.ts';
import { freePort, kubectl, ROOT, startServer, type RunningServer } from '../helpers/server.ts';

const NODE = `solo-${process.pid}`;
const REGISTRY = process.env.KUBELING_REGISTRY_BIN ?? '/usr/bin/docker-registry';
let srv: RunningServer;
let registry: ChildProcess | undefined;
let registryPort = 0;
let hostPort = 0;
const dirs: string[] = [];
const k = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  await ensureTestImages();
  srv = await startServer({ args: ['--node-ip', '127.0.0.1', '--node-name', NODE, '--kubelet-port', String(await freePort())] });
  hostPort = await freePort();
  if (existsSync(REGISTRY)) {
    registryPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'kubeling-registry-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }\nhttp: { addr: "127.0.0.1:${registryPort}" }\n`);
    registry = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    await until('the registry', () => fetch(`http://127.0.0.1:${registryPort}/v2/`).then((r) => r.ok || undefined, () => undefined));
    execFileSync('docker', ['tag', TEST_IMAGES.httpd, `127.0.0.1:${registryPort}/web:1`]);
    execFileSync('docker', ['push', `127.0.0.1:${registryPort}/web:1`], { stdio: 'ignore' });
    execFileSync('docker', ['rmi', `127.0.0.1:${registryPort}/web:1`], { stdio: 'ignore' });
  }
});

afterAll(async () => {
  await srv?.stop();
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=kubeling.node=${NODE}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  if (ids.length) spawnSync('docker', ['rm', '-f', ...ids]);
  if (registryPort) spawnSync('docker', ['rmi', `127.0.0.1:${registryPort}/web:1`]);
  if (registry?.pid) {
    registry.kill('SIGTERM');
    await new Promise((r) => registry!.once('exit', r));
  }
  await srv?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('kubeling server with its embedded agent', () => {
  it('registers its own node, Ready', async () => {
    // the embedded agent first gets its client certificate (CSR), then registers: the Node appears after a moment
    await until(`node ${NODE} registered`, () => (k(['get', 'node', NODE]).code === 0 ? true : undefined), 60_000);
    const r = k(['wait', '--for=condition=Ready', `node/${NODE}`, '--timeout=60s']);
    expect(r.code, r.stderr).toBe(0);
    const nodes = k(['get', 'nodes']);
    expect(nodes.stdout).toMatch(new RegExp(`^${NODE}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.32\\.0\\+kubeling`, 'm'));
  });

  it('runs on jemalloc where libjemalloc2 is installed (bin/kubeling preloads it for the server)', () => {
    const lib = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libjemalloc.so.2`;
    if (!existsSync(lib)) throw new Error(`${lib} is missing: apt-get install -y libjemalloc2 (scripts/test.sh installs it)`);
    expect(readFileSync(`/proc/${srv.proc.pid}/maps`, 'utf8')).toContain('libjemalloc.so.2');
  });

  it('pulls from a registry, runs the pod, serves it on its hostPort, logs and exec work', async (ctx) => {
    if (!registryPort) throw new Error(`${REGISTRY} is not installed (apt-get install -y docker-registry)`);
    const image = `127.0.0.1:${registryPort}/web:1`;
    const r = k(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: ${NODE}
  containers:
  - name: httpd
    image: ${image}
    imagePullPolicy: Always
    ports: [{containerPort: 80, hostPort: ${hostPort}}]
`);
    expect(r.code, r.stderr).toBe(0);
    const w = k(['wait', '--for=condition=Ready', 'pod/web', '--timeout=90s']);
    expect(w.code, w.stderr).toBe(0);
    const body = await until('the hostPort to answer', () => fetch(`http://127.0.0.1:${hostPort}/`).then((x) => x.text(), () => undefined));
    expect(body).toContain(HTTPD_BODY);
    const d = k(['describe', 'pod', 'web']);
    expect(d.stdout).toContain(`Pulling image "${image}"`);
    expect(d.stdout).toMatch(/Successfully pulled image/);
    expect(d.stdout).toMatch(/Started\s+\S+\s+kubelet\s+Started container httpd/);
    const pod = JSON.parse(k(['get', 'pod', 'web', '-o', 'json']).stdout);
    expect(pod.status.containerStatuses[0].imageID).toMatch(/sha256:/);
    expect(pod.status.hostIP).toBe('127.0.0.1');
    await until('an access log line', () => (k(['logs', 'web']).stdout.includes('GET') ? true : undefined), 10_000).catch(() => undefined);
    const ex = k(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    expect(ex.code).toBe(4);
    expect(ex.stdout.trim()).toBe('out');
    expect(ex.stderr).toContain('err');
  });

  it('shows a clear status for an image that does not exist', async () => {
    const bad = registryPort ? `127.0.0.1:${registryPort}/nope:1` : '127.0.0.1:1/nope:1';
    k(['run', 'missing', `--image=${bad}`, '--overrides', JSON.stringify({ spec: { nodeName: NODE } })]);
    const reason = await until('ErrImagePull / ImagePullBackOff', () => {
      const p = JSON.parse(k(['get', 'pod', 'missing', '-o', 'json']).stdout || '{}');
      const r = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return r === 'ErrImagePull' || r === 'ImagePullBackOff' ? r : undefined;
    });
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(reason);
    expect(k(['get', 'pod', 'missing']).stdout).toMatch(/missing\s+0\/1\s+(ErrImagePull|ImagePullBackOff)/);
    expect(k(['describe', 'pod', 'missing']).stdout).toContain(`Failed to pull image "${bad}"`);
  });

  it('deletes pods gracefully and removes their containers', async () => {
    const r = k(['delete', 'pod', 'web', 'missing', '--grace-period=1']);
    expect(r.code, r.stderr).toBe(0);
    await until('containers to go', () => {
      const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=kubeling.node=${NODE}`, '--filter', 'label=io.kubernetes.pod.name=web'], { encoding: 'utf8' }).stdout.trim();
      return left === '' ? true : undefined;
    }, 30_000);
    expect(k(['get', 'pods', '-o', 'name']).stdout.trim()).toBe('');
  });
});

describe('kubeling agent', () => {
  it('exits non-zero with a clear message when the token is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubeling-agent-'));
    dirs.push(dir);
    const r = spawnSync(join(ROOT, 'bin/kubeling'), ['agent', '--server', srv.url, '--token', 'K10' + '0'.repeat(64) + '::server:wrong', '--node-name', 'intruder', '--node-ip', '127.0.0.1', '--data-dir', dir], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/hash|CA|trust/i);
    const r2 = spawnSync(join(ROOT, 'bin/kubeling'), ['agent', '--server', srv.url, '--token', 'wrong-password', '--ca-file', join(srv.dataDir, 'tls/ca.crt'), '--node-name', 'intruder', '--node-ip', '127.0.0.1', '--data-dir', dir], { encoding: 'utf8', timeout: 30_000 });
    expect(r2.status).not.toBe(0);
    expect(r2.stdout + r2.stderr).toContain('Unauthorized');
    expect(k(['get', 'node', 'intruder']).code).toBe(1);
  });
});
