// streaming-kubectl: the real kubectl (1.32 WebSocket, 1.32 forced SPDY, 1.29, 1.27) runs exec and port-forward against our streaming handlers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlePortForwardUpgrade, handleRemoteCommandUpgrade, type ExecStreams, type RemoteCommandOptions } from '../../pkg/kubelet/streaming/index.ts';

const kubectlPath = (() => {
  try {
    return execFileSync('which', ['kubectl'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();
const sdkBin = kubectlPath ? dirname(realpathSync(kubectlPath)) : '';

/** CLIENTS are the kubectl flavours under test: the binary and the environment that picks its transport. */
interface Client { name: string; bin: string; env: Record<string, string>; ws: boolean }
const ALL_CLIENTS: Client[] = [
  { name: 'kubectl 1.32 (WebSocket)', bin: kubectlPath, env: {}, ws: true },
  { name: 'kubectl 1.32 (SPDY forced)', bin: kubectlPath, env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }, ws: false },
  { name: 'kubectl 1.29 (SPDY)', bin: join(sdkBin, 'kubectl.1.29'), env: {}, ws: false },
  { name: 'kubectl 1.27 (SPDY)', bin: join(sdkBin, 'kubectl.1.27'), env: {}, ws: false },
];
const CLIENTS = ALL_CLIENTS.filter((c) => c.bin && existsSync(c.bin));

const BIG = Buffer.alloc(2 * 1024 * 1024 + 123);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7 + (i >> 11)) & 0xff;
const BIG_SHA = createHash('sha256').update(BIG).digest('hex');

let dir = '';
let api: https.Server;
let backend: http.Server;
let backendPort = 0;
let kubeconfig = '';
const children = new Set<ChildProcess>();
const upgrades: string[] = [];

/** startChild runs the command as a child process (a stand-in for the container runtime's exec). */
async function startChild(o: RemoteCommandOptions): Promise<ExecStreams> {
  const [cmd, ...args] = o.tty ? ['script', '-qfec', o.command.map(shellQuote).join(' '), '/dev/null'] : o.command;
  const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 128 + 15 : 1));
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  if (!o.stdin) child.stdin.end();
  return {
    stdin: o.stdin ? child.stdin : undefined,
    stdout: child.stdout,
    stderr: o.tty ? undefined : child.stderr,
    resize: (w, h) => { lastResize = `${w}x${h}`; },
    wait: () => exited,
    cancel: () => child.kill(),
  };
}
let lastResize = '';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** dialBackend connects to the local HTTP server, or fails for port 9 (nothing listens there by design). */
function dialBackend(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port === 80 ? backendPort : 1, '127.0.0.1');
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

const POD = {
  kind: 'Pod', apiVersion: 'v1',
  metadata: { name: 'p', namespace: 'default', uid: '8d0c5e0e-0000-4000-8000-000000000001', resourceVersion: '1', creationTimestamp: '2025-01-01T00:00:00Z' },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: '2025-01-01T00:00:00Z' } } }] },
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubeling-streaming-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));

  backend = http.createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
      return res.end(BIG);
    }
    res.end(`hello ${req.url}\n`);
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendPort = (backend.address() as net.AddressInfo).port;

  api = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== 'Bearer test-token') return json(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
    if (path === '/version') return json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0', gitCommit: 'kubeling', gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' });
    if (path === '/api/v1/namespaces/default/pods/p') return json(200, POD);
    // exec and port-forward resolve "pod/p" through (legacy) discovery.
    if (path === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (path === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (path === '/api/v1') {
      return json(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1', resources: [
        { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
        { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
        { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      ] });
    }
    json(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', message: `${path} not found`, code: 404 });
  });
  api.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    upgrades.push(`${req.method} ${path} ${req.headers.upgrade} ${req.headers['sec-websocket-protocol'] ?? req.headers['x-stream-protocol-version'] ?? ''}`);
    if (req.headers.authorization !== 'Bearer test-token') return socket.destroy();
    if (path === '/api/v1/namespaces/default/pods/p/exec' || path === '/api/v1/namespaces/default/pods/p/attach') {
      return handleRemoteCommandUpgrade(req, socket, head, startChild);
    }
    if (path === '/api/v1/namespaces/default/pods/p/portforward') {
      return handlePortForwardUpgrade(req, socket, head, dialBackend, { pod: 'p', uid: POD.metadata.uid });
    }
    socket.destroy();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const apiPort = (api.address() as net.AddressInfo).port;
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 't',
    clusters: [{ name: 't', cluster: { server: `https://127.0.0.1:${apiPort}`, 'certificate-authority-data': cert.toString('base64') } }],
    contexts: [{ name: 't', context: { cluster: 't', user: 'u', namespace: 'default' } }],
    users: [{ name: 'u', user: { token: 'test-token' } }],
  }));
});

afterAll(async () => {
  if (process.env.STREAMING_DEBUG) console.log(upgrades.join("\n"));
  for (const c of children) c.kill('SIGKILL');
  api?.closeAllConnections();
  backend?.closeAllConnections();
  await Promise.all([api, backend].map((s) => s && new Promise((r) => s.close(r))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number | null; stdout: string; stderr: string }

/** kubectl runs one kubectl command to completion (killed after 30 s). */
function kubectl(client: Client, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(client.bin, ['--kubeconfig', kubeconfig, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...client.env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** portForward starts `kubectl port-forward pod/p :80` and resolves with the local port and the process. */
function portForward(client: Client, remote = 80): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(client.bin, ['--kubeconfig', kubeconfig, 'port-forward', '--address', '127.0.0.1', 'pod/p', `:${remote}`], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...client.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`port-forward did not start: ${out}`)); }, 20_000);
    const onData = (d: Buffer): void => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+) -> /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => { children.delete(child); clearTimeout(timer); reject(new Error(`port-forward exited: ${out}`)); });
  });
}

/** get fetches a path through the forwarded port on a fresh connection; resolves status and body. */
function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** expectTransport checks the one upgrade since the last check went over the client's transport. */
function expectTransport(client: Client, sub: 'exec' | 'portforward'): void {
  const seen = upgrades.splice(0);
  const ws = sub === 'exec' ? `GET /api/v1/namespaces/default/pods/p/exec websocket v5.channel.k8s.io` : `GET /api/v1/namespaces/default/pods/p/portforward websocket SPDY/3.1+portforward.k8s.io`;
  if (client.ws) expect(seen).toEqual([ws]);
  else expect(seen).toEqual([expect.stringMatching(new RegExp(`^POST /api/v1/namespaces/default/pods/p/${sub} SPDY/3.1 `))]);
}

describe('streaming with the real kubectl', () => {
  if (CLIENTS.length === 0) it('has kubectl clients to test', () => { throw new Error('no kubectl found: install the kubectl package (/usr/bin/kubectl and its bundled versions)'); });
  describe.each(CLIENTS)('$name', (client) => {
    it('exec prints stdout and exits 0', async () => {
      const r = await kubectl(client, ['exec', 'p', '--', 'echo', 'hi']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('hi\n');
      expect(r.code).toBe(0);
      expectTransport(client, 'exec');
    });

    it('exec passes stderr and the exit code', async () => {
      const r = await kubectl(client, ['exec', 'p', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      expect(r.stdout).toBe('out\n');
      expect(r.stderr).toContain('err\n');
      expect(r.stderr).toContain('command terminated with exit code 3');
      expect(r.code).toBe(3);
      expectTransport(client, 'exec');
    });

    it('exec -i streams 2 MB of stdin until EOF and back', async () => {
      const input = Array.from({ length: 200_000 }, (_, i) => `line ${i}\n`).join('');
      const r = await kubectl(client, ['exec', '-i', 'p', '--', 'cat'], input);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(input);
      expectTransport(client, 'exec');
    });

    it('port-forward carries several HTTP requests and a 2 MB body', async () => {
      const pf = await portForward(client);
      try {
        for (let i = 0; i < 5; i++) {
          const r = await get(pf.port, `/req${i}`);
          expect(r.status).toBe(200);
          expect(r.body.toString()).toBe(`hello /req${i}\n`);
        }
        const parallel = await Promise.all([get(pf.port, '/a'), get(pf.port, '/b'), get(pf.port, '/c')]);
        expect(parallel.map((r) => r.body.toString())).toEqual(['hello /a\n', 'hello /b\n', 'hello /c\n']);
        const big = await get(pf.port, '/big');
        expect(big.body.length).toBe(BIG.length);
        expect(createHash('sha256').update(big.body).digest('hex')).toBe(BIG_SHA);
        expect(pf.child.exitCode).toBeNull();
        expectTransport(client, 'portforward');
      } finally {
        pf.child.kill('SIGTERM');
      }
    });

    it('port-forward reports a port nobody listens on', async () => {
      const pf = await portForward(client, 9);
      try {
        await expect(get(pf.port, '/')).rejects.toThrow();
        await new Promise((r) => setTimeout(r, 300));
        expect(pf.output()).toContain('error forwarding port 9 to pod p, uid 8d0c5e0e-0000-4000-8000-000000000001: connect ECONNREFUSED');
      } finally {
        pf.child.kill('SIGTERM');
        upgrades.splice(0);
      }
    });
  });

  const hasScript = (() => { try { execFileSync('script', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
  if (!hasScript) it('has script(1) for a terminal', () => { throw new Error('script is not installed: apt-get install -y bsdutils'); });
  describe.skipIf(!hasScript).each(CLIENTS.filter((c) => c.name.includes('1.32 (WebSocket)') || c.name.includes('1.29')))('$name with a terminal', (client) => {
    it('exec -it runs with a tty, passes the size and the exit code', async () => {
      lastResize = '';
      const cmd = [client.bin, '--kubeconfig', kubeconfig, 'exec', '-it', 'p', '--', 'sh', '-c', 'test -t 1 && echo is-a-tty; exit 4'].map(shellQuote).join(' ');
      const r = await new Promise<Run>((resolve) => {
        const child = spawn('script', ['-qfec', `stty cols 91 rows 27; ${cmd}`, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: dir, TERM: 'xterm', ...client.env }, stdio: ['pipe', 'pipe', 'pipe'] });
        children.add(child);
        let stdout = '';
        child.stdout.on('data', (d) => (stdout += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('close', (code) => { clearTimeout(timer); children.delete(child); resolve({ code, stdout, stderr: '' }); });
      });
      expect(r.stdout).toContain('is-a-tty');
      expect(r.code).toBe(4);
      expect(lastResize).toBe('91x27');
      upgrades.splice(0);
    });
  });
});
