// latency-worker: bench/control's API latency sampler, on a thread of its own — GET, LIST and PATCH timed one after
// another, each on its own kept-alive connection, from request to the answer's last byte (never parsed): what the
// client waits for, untouched by the driver's own event loop (its pod watch, its parsing).
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

/** LatencyWorkerData is what the driver gives the thread. */
export interface LatencyWorkerData {
  url: string;
  token: string;
  caPem: string;
  namespace: string;
}

type Kind = 'get' | 'list' | 'patch';
const d = workerData as LatencyWorkerData;
const samples: Record<Kind, number[]> = { get: [], list: [], patch: [] };
let stopped = false;
/** the name of a live pod to GET, updated by the driver */
let podName: string | undefined;

/** call sends one request on its own agent and resolves with the status once the whole answer is read. */
function call(agent: Agent, method: string, path: string, body?: string, contentType?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, d.url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, headers: { authorization: `Bearer ${d.token}`, accept: 'application/json', ...(body ? { 'content-type': contentType!, 'content-length': Buffer.byteLength(body) } : {}) } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function loop(kind: Kind, next: () => { method: string; path: string; body?: string; contentType?: string } | undefined): Promise<void> {
  const agent = new Agent({ ca: d.caPem, keepAlive: true, maxSockets: 1 });
  while (!stopped) {
    const r = next();
    if (r) {
      const t = performance.now();
      try {
        const code = await call(agent, r.method, r.path, r.body, r.contentType);
        // a GET of a pod deleted meanwhile is not a sample
        if (code < 300) samples[kind].push(performance.now() - t);
      } catch {
        /* not a sample */
      }
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  agent.destroy();
}

const ns = encodeURIComponent(d.namespace);
let n = 0;
const loops = Promise.all([
  loop('get', () => (podName ? { method: 'GET', path: `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(podName)}` } : undefined)),
  loop('list', () => ({ method: 'GET', path: `/api/v1/namespaces/${ns}/pods?limit=500` })),
  loop('patch', () => ({ method: 'PATCH', path: `/api/v1/namespaces/${ns}/configmaps/bench-probe`, body: JSON.stringify({ data: { n: String(n++) } }), contentType: 'application/merge-patch+json' })),
]);

parentPort!.on('message', (m: { pod?: string; stop?: true }) => {
  if (m.pod) podName = m.pod;
  if (m.stop) {
    stopped = true;
    void loops.then(() => parentPort!.postMessage({ samples }));
  }
});
