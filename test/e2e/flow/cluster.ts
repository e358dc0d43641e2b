// cluster: the one three-host cluster the tutorial flows share (flow-*.test.ts run in sequence in one worker), its
// local registry holding the multi-client stand-in images, and the small tools the flows use (async kubectl, the
// tutorial's manifests with the image swapped, a request loop, per-flow timing).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { inject } from 'vitest';
import { lookupKind } from '../../../pkg/api/resources.ts';
import { busyboxRootfs } from '../../../pkg/kubelet/runtime/index.ts';
import { hostBusybox } from '../../helpers/images.ts';
import { ROOT, type KubectlResult } from '../../helpers/server.ts';
import { startHosts, type E2eCluster } from '../hosts.ts';
import { must } from '../sys.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** a file the flows' shared cluster appends its run id to, so global teardown removes it */
    e2eFlowRuns: string;
  }
}

const podInfo = lookupKind('v1', 'Pod')!;

/** NODE_MONITOR_GRACE and NOT_READY_TOLERATION bound how fast a dead host's pods move (flow 3's "configured time"). */
export const NODE_MONITOR_GRACE_S = 15;
export const UNREACHABLE_TOLERATION_S = 5;

/** APP_VERSIONS are the stand-in's tags; each page names its version (latest = v1, as the tutorial's untagged image). */
export const APP_VERSIONS = ['latest', 'v1', 'v2', 'v3'] as const;
export type AppVersion = (typeof APP_VERSIONS)[number];
/** APP_TITLE is the heading the stand-in's script renders into the page (absent from the served HTML). */
export const APP_TITLE = 'Fib Calculator';

/** FlowCluster is the shared cluster plus what the flows need around it. */
export interface FlowCluster {
  c: E2eCluster;
  /** image is the registry reference of the multi-client stand-in at a tag */
  image(tag: AppVersion): string;
  /** dir holds the flows' rendered manifests */
  dir: string;
  /** artifacts is where screenshots go; it outlives the run's state directory */
  artifacts: string;
}

let shared: Promise<FlowCluster> | undefined;

/** flowCluster starts the shared cluster on first use (3 hosts, local registry, stand-in images pushed). */
export function flowCluster(): Promise<FlowCluster> {
  shared ??= start();
  return shared;
}

async function start(): Promise<FlowCluster> {
  const t0 = Date.now();
  const c = await startHosts({
    hosts: 3,
    registry: true,
    serverArgs: ['--node-monitor-grace-period', `${NODE_MONITOR_GRACE_S}s`,
      '--default-unreachable-toleration-seconds', String(UNREACHABLE_TOLERATION_S),
      '--default-not-ready-toleration-seconds', String(UNREACHABLE_TOLERATION_S)],
  });
  try {
    const runs = inject('e2eFlowRuns');
    if (runs) appendFileSync(runs, `${c.runId}\n`);
  } catch {
    /* not under the e2e config's global setup: the test files' own teardown still runs */
  }
  // as upstream's e2e framework: pods are admitted once the namespace's default ServiceAccount exists
  await c.waitFor('serviceaccount default/default', () => c.kubectl('get', 'serviceaccount', 'default', '-o', 'name').code === 0, 60_000)
    .catch((e: Error) => {
      throw new Error(`${e.message}\n${c.logs(40)}`);
    });
  const image = (tag: AppVersion) => `${c.registry}/multi-client:${tag}`;
  await buildAndPush(c, image);
  const dir = join(c.dir, 'flows');
  mkdirSync(dir, { recursive: true });
  const artifacts = join(process.env.KUBELING_E2E_ARTIFACTS ?? '/tmp/kle2e-artifacts', c.runId);
  mkdirSync(artifacts, { recursive: true });
  console.log(`e2e flows: cluster of ${c.hosts.length} hosts up with registry ${c.registry} in ${((Date.now() - t0) / 1000).toFixed(1)} s (run ${c.runId})`);
  return { c, image, dir, artifacts };
}

/** appFiles is the stand-in's root filesystem additions: a page whose script renders the app, and a start script. */
function appFiles(version: string) {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>multi-client</title></head>
<body><div id="root">loading</div><script src="app.js"></script></body></html>
`;
  const script = `document.getElementById('root').innerHTML =
  '<h1 id="title">${APP_TITLE}</h1><p id="version">${version}</p>' +
  '<form><label>Enter your index:</label><input id="index"><button>Submit</button></form>';
document.title = '${APP_TITLE} ${version}';
`;
  // sh as PID 1 with a TERM trap: it logs, keeps serving 2 s (drain, like a real server's grace), then exits
  const start = `#!/bin/sh
echo "multi-client ${version} starting in $(hostname)"
hostname > /www/host.txt
trap 'echo "multi-client ${version} stopping"; sleep 2; exit 0' TERM
httpd -f -p 3000 -h /www &
wait
`;
  return [
    { type: 'dir' as const, path: 'www' },
    { type: 'file' as const, path: 'www/index.html', data: Buffer.from(page) },
    { type: 'file' as const, path: 'www/app.js', data: Buffer.from(script) },
    { type: 'file' as const, path: 'www/version.txt', data: Buffer.from(`${version}\n`) },
    { type: 'file' as const, path: 'start.sh', data: Buffer.from(start), mode: 0o755 },
    { type: 'symlink' as const, path: 'bin/tar', target: 'busybox' },
  ];
}

/** buildAndPush builds the stand-in per tag in host-1's dockerd, pushes it to the registry and removes it there. */
async function buildAndPush(c: E2eCluster, image: (tag: AppVersion) => string): Promise<void> {
  const busybox = hostBusybox();
  const h = c.hosts[0]!;
  for (const tag of APP_VERSIONS) {
    const version = tag === 'latest' ? 'v1' : tag;
    await h.docker.importImage(busyboxRootfs(busybox, appFiles(version)), image(tag), [
      'CMD ["/start.sh"]', 'EXPOSE 3000', `LABEL kubeling.image=multi-client-${version}`,
    ]);
    c.pushImage(h.name, image(tag));
  }
  // every host, this one too, now pulls from the registry
  for (const tag of APP_VERSIONS) await h.docker.removeImage(image(tag)).catch(() => undefined);
}

/** example reads a tutorial manifest: deploy/examples/simplek8s/NAME, else deploy/examples/NAME, else the fixture. */
export function example(name: string): string {
  for (const p of [join(ROOT, 'deploy/examples/simplek8s', name), join(ROOT, 'deploy/examples', name), join(import.meta.dirname, 'fixtures', name)]) {
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  throw new Error(`no tutorial manifest ${name} in deploy/examples/simplek8s, deploy/examples or test/e2e/flow/fixtures`);
}

/** withImage swaps every `image:` of a manifest for `ref` (the tutorial's Docker Hub image → the local registry). */
export function withImage(yaml: string, ref: string): string {
  return yaml.replace(/^(\s*(?:-\s*)?image:\s*).*$/gm, `$1${ref}`);
}

/** writeManifest writes a rendered manifest into the flows' directory and returns its path (for `apply -f FILE`). */
export function writeManifest(f: FlowCluster, name: string, yaml: string): string {
  const p = join(f.dir, name);
  writeFileSync(p, yaml);
  return p;
}

/** kubectlAsync runs kubectl without blocking the event loop (rollout status, long waits); never throws on exit codes. */
export function kubectlAsync(c: E2eCluster, args: string[], opts: { bin?: string; timeoutMs?: number; input?: string } = {}): Promise<KubectlResult> {
  return new Promise((res) => {
    const p = spawn(opts.bin ?? '/usr/bin/kubectl', ['--kubeconfig', c.kubeconfig, ...args], {
      env: { ...process.env, HOME: join(c.kubeconfig, '..', 'home') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    p.once('error', (e) => {
      clearTimeout(t);
      res({ code: -1, stdout, stderr: stderr + e.message });
    });
    p.once('close', (code) => {
      clearTimeout(t);
      res({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** ok asserts a kubectl result succeeded and returns its stdout. */
export function ok(r: KubectlResult, what = 'kubectl'): string {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** LoopResult is what a request loop saw. */
export interface LoopResult {
  ok: number;
  failed: number;
  /** the first few failures, `url: reason` */
  errors: string[];
  /** bodies seen, with counts */
  bodies: Record<string, number>;
}

/**
 * requestLoop GETs the URLs round robin every `intervalMs` from a worker thread (kubectl's spawnSync in the test
 * never stalls it) until stopped; each request has `timeoutMs`.
 */
export function requestLoop(urls: string[], intervalMs = 100, timeoutMs = 3000): { stop(): Promise<LoopResult> } {
  const code = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { urls, intervalMs, timeoutMs } = workerData;
const res = { ok: 0, failed: 0, errors: [], bodies: {} };
let stopped = false, i = 0;
parentPort.on('message', () => { stopped = true; });
const get = (url) => new Promise((done) => {
  const req = http.get(url, { timeout: timeoutMs, agent: false }, (r) => {
    let body = '';
    r.setEncoding('utf8');
    r.on('data', (d) => (body += d));
    r.on('end', () => done(r.statusCode === 200 ? { body } : { err: 'status ' + r.statusCode }));
    r.on('error', (e) => done({ err: e.message }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => done({ err: e.message }));
});
(async () => {
  while (!stopped) {
    const url = urls[i++ % urls.length];
    const t = Date.now();
    const r = await get(url);
    if (r.err) { res.failed++; if (res.errors.length < 10) res.errors.push(new Date().toISOString() + ' ' + url + ': ' + r.err); }
    else { res.ok++; const b = r.body.trim().slice(0, 40); res.bodies[b] = (res.bodies[b] || 0) + 1; }
    await new Promise((d) => setTimeout(d, Math.max(0, intervalMs - (Date.now() - t))));
  }
  parentPort.postMessage(res);
})();
`;
  const w = new Worker(code, { eval: true, workerData: { urls, intervalMs, timeoutMs } });
  return {
    stop: () =>
      new Promise<LoopResult>((res, rej) => {
        w.once('message', (m: LoopResult) => {
          void w.terminate();
          res(m);
        });
        w.once('error', rej);
        w.postMessage('stop');
      }),
  };
}

/** flowTimer prints a flow's wall time when it ends, counted from start() (the shared cluster's start excluded). */
export function flowTimer(name: string): { start(): void; done(): void } {
  let t0 = Date.now();
  return {
    start: () => void (t0 = Date.now()),
    done: () => console.log(`e2e ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s wall time`),
  };
}

/** podsOf lists the pods matching a label selector (terminating ones included, flagged by deletionTimestamp). */
export async function podsOf(c: E2eCluster, selector: string, namespace = 'default'): Promise<Pod[]> {
  const list = await c.admin.list(podInfo, namespace, { labelSelector: selector });
  return list.items as Pod[];
}

/** live is a pod not being deleted. */
export const live = (p: Pod) => !p.metadata?.deletionTimestamp;

/** ready tells whether a pod is Ready and not terminating. */
export const ready = (p: Pod) => live(p) && !!p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');

/** appUrls is http://HOST:PORT/FILE for every host of the cluster. */
export function appUrls(c: E2eCluster, port: number, file = 'version.txt'): string[] {
  return c.hosts.map((h) => `http://${h.ip}:${port}/${file}`);
}

/** dockerCli runs the docker CLI against a host's dockerd. */
export function dockerCli(c: E2eCluster, host: string, args: string[]): string {
  return must('docker', ['-H', c.host(host).dockerHost, ...args]);
}

/**
 * clientDeployment makes sure the tutorial's client-deployment and client-node-port exist (a flow may run alone) and
 * that `replicas` client pods are Ready; returns those pods.
 */
export async function clientDeployment(f: FlowCluster, replicas: number): Promise<Pod[]> {
  ok(f.c.kubectl('delete', 'pod', 'client-pod', '--ignore-not-found', '--wait=true'));
  ok(f.c.kubectl('apply', '-f', writeManifest(f, 'client-node-port.yaml', example('client-node-port.yaml'))));
  if (f.c.kubectl('get', 'deployment', 'client-deployment').code !== 0) {
    ok(f.c.kubectl('apply', '-f', writeManifest(f, 'client-deployment.yaml', withImage(example('client-deployment.yaml'), f.image('latest')))));
  }
  ok(f.c.kubectl('scale', 'deployment', 'client-deployment', `--replicas=${replicas}`));
  return f.c.waitFor(`${replicas} client pods Ready`, async () => {
    const pods = await podsOf(f.c, 'component=web');
    return pods.length === replicas && pods.every(ready) ? pods : undefined;
  }, 120_000);
}
