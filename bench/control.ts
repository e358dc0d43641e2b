// bench/control: `npm run bench:control` — control-plane scale with hollow nodes (bench/hollow.ts) against a real
// `kubeling server --disable-agent` (temp data dir, scheduler and controllers in the server process).
//
// Phases, in one run (each with a generous time limit; a phase that runs out reports what it had):
//   1. scheduler throughput at 100 nodes: every node cordoned, 5,000 pods created (they stay Pending), then every
//      node uncordoned; pods bound/s from the first bind to the last (and from the uncordon);
//   2. the same at 500 nodes;
//   3. a 1,000-replica Deployment: create → all Running (pods, seen through a watch) and rollout complete;
//   4. a rolling update of it (template change) → rollout complete as `kubectl rollout status` sees it;
//   5. churn: the Deployment scaled to 15,000 → all Running, while GET, LIST and PATCH are timed against the API;
//      master RSS (VmRSS, peak VmHWM) once the 15,000 run;
//   6. if memory allows: 1,500 more hollow nodes (2,000 in all), master RSS, and scheduler throughput again.
// Prints a table, then one JSON line. Stops every process it started and removes the temp dirs.
// `--quick` runs a small version (20/50 nodes, 500 pods) while tuning; `--no-2000` skips phase 6; `--churn-only` skips
// phases 1, 2 and 4 (500 nodes at once, then the Deployment and the churn: memory and latency figures sooner);
// `--sched-only` runs phases 1 and 2 only (scheduler throughput); `--churn N` changes the churn phase's pod count;
// `--server-node-options "FLAGS"` gives the server process extra Node/V8 flags (e.g. `--max-semi-space-size=2`).
// The server loads a small probe (`--import`) that writes its V8 heap figures every second, printed beside the RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freemem, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { LatencyWorkerData } from './latency-worker.ts';
import Database from 'better-sqlite3';
import { lookupKind } from '../pkg/api/resources.ts';
import type { KubeObject, WatchEvent } from '../pkg/api/types.ts';
import { Client } from '../pkg/client/index.ts';
import { startServer, ROOT, type RunningServer } from '../test/helpers/server.ts';
import { cpuSeconds, mainThreadCpuSeconds, quantile, rssMb } from './measure.ts';

const quick = process.argv.includes('--quick');
const skipHuge = process.argv.includes('--no-2000');
/** argValue reads `--flag VALUE`. */
const argValue = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
/** `--cpu-prof DIR`: the server runs under `node --cpu-prof` (profile written to DIR when it stops); phase marks are printed */
const profDir = argValue('--cpu-prof');
/** `--heap-snapshot`: the server writes a heap snapshot (in its working directory) at the steady RSS figure, 60 s after the churn */
const heapSnapshot = process.argv.includes('--heap-snapshot');
const churnOnly = process.argv.includes('--churn-only');
/** `--server-node-options "FLAGS"`: Node/V8 flags for the server only (NODE_OPTIONS), e.g. to compare heap settings */
const serverNodeOptions = argValue('--server-node-options');
const schedOnly = process.argv.includes('--sched-only');
/** `--hollow-nice N`: the hollow-node processes run at niceness N (default 10: they stand in for other machines, the master is measured without them taking its CPU; 0 to share it evenly) */
const hollowNice = Number(argValue('--hollow-nice') ?? 10);

/**
 * PROBE is loaded into the server (`--import`): every second the main thread writes process.memoryUsage() to the file
 * in KUBELING_BENCH_PROBE (`--import` runs in worker threads too: their heaps are their own, so they stay silent).
 * For tuning, V8 flags that NODE_OPTIONS refuses (e.g. --heap-growing-percent) can be given in
 * KUBELING_BENCH_V8_FLAGS; they are set before the server's code loads.
 */
const PROBE = `import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';
if (process.env.KUBELING_BENCH_V8_FLAGS) setFlagsFromString(process.env.KUBELING_BENCH_V8_FLAGS);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const f = process.env.KUBELING_BENCH_PROBE;
const eld = isMainThread ? monitorEventLoopDelay({ resolution: 5 }) : undefined;
eld?.enable();
let gcs = [];
if (isMainThread) new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push(e.duration); }).observe({ entryTypes: ['gc'] });
if (f) setInterval(() => {
  try {
    if (eld && existsSync(f + '.eldreset')) { rmSync(f + '.eldreset'); eld.reset(); gcs = []; }
    if (eld) {
      const g = gcs.slice().sort((a, b) => a - b);
      writeFileSync(f + '.eld', JSON.stringify({ p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6, n: eld.count, gc: { n: g.length, totalMs: g.reduce((a, b) => a + b, 0), p99: g[Math.floor(g.length * 0.99)] ?? 0, max: g[g.length - 1] ?? 0, over50: g.filter((x) => x > 50).length } }));
    }
    if (isMainThread && existsSync(f + '.gc')) { rmSync(f + '.gc'); gc(); gc(); writeFileSync(f + '.aftergc', JSON.stringify(process.memoryUsage())); }
    if (isMainThread && existsSync(f + '.lrgc')) {
      rmSync(f + '.lrgc');
      const t = performance.now();
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      writeFileSync(f + '.afterlr', JSON.stringify({ ...process.memoryUsage(), ms: performance.now() - t }));
    }
    const m = process.memoryUsage();
    writeFileSync(isMainThread ? f : f + '.t' + threadId, JSON.stringify({ heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, malloced: getHeapStatistics().malloced_memory, spaces: Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, [x.space_size, x.space_used_size]])) }));
  } catch {}
}, 1000).unref();
`;

/** mb rounds bytes to MiB. */
const mb = (n: number) => Math.round(n / 2 ** 20);

/** heapMb reads the probe's last figures: V8 heap used / committed and memory outside the heap, in MB; each worker thread's heap; the main heap live after a full GC when asked for (gcFirst). */
async function heapMb(file: string, gcFirst = false): Promise<string> {
  const parts: string[] = [];
  try {
    if (gcFirst) {
      rmSync(file + '.aftergc', { force: true });
      writeFileSync(file + '.gc', '');
      for (let i = 0; i < 40 && !existsSync(file + '.aftergc'); i++) await sleep(250);
    }
    let m: NodeJS.MemoryUsage | undefined;
    for (let i = 0; i < 5 && !m; i++) {
      try {
        m = JSON.parse(readFileSync(file, 'utf8')) as NodeJS.MemoryUsage;
      } catch {
        await sleep(100); // being written
      }
    }
    if (!m) throw new Error('unreadable');
    parts.push(`heap ${mb(m.heapUsed)} used / ${mb(m.heapTotal)} committed, external ${mb(m.external)} (buffers ${mb(m.arrayBuffers)}), V8's malloc ${mb((m as { malloced?: number }).malloced ?? 0)}`);
    // the heap's spaces, committed (used) in MB, where above 1 MB: new_space is the young generation's semi-spaces
    const spaces = (m as { spaces?: Record<string, [number, number]> }).spaces;
    if (spaces) parts.push(`spaces ${Object.entries(spaces).filter(([, [size]]) => size >= 2 ** 20).map(([n, [size, used]]) => `${n.replace(/_space$/, '')} ${mb(size)} (${mb(used)})`).join(', ')}`);
    if (gcFirst && existsSync(file + '.aftergc')) {
      const g = JSON.parse(readFileSync(file + '.aftergc', 'utf8')) as NodeJS.MemoryUsage;
      parts.push(`after full GC ${mb(g.heapUsed)} live / ${mb(g.heapTotal)} committed`);
    }
    const dir = dirname(file);
    const workers = readdirSync(dir).filter((n) => n.startsWith(basename(file) + '.t'));
    if (workers.length) {
      const w = workers.flatMap((n) => {
        try {
          return [JSON.parse(readFileSync(join(dir, n), 'utf8')) as NodeJS.MemoryUsage];
        } catch {
          return []; // being written
        }
      });
      parts.push(`${w.length} worker heaps ${w.map((x) => `${mb(x.heapUsed)}/${mb(x.heapTotal)}`).join(', ')}`);
    }
  } catch {
    parts.push('heap figures unavailable');
  }
  return parts.join('; ');
}

/** compactedMb asks the probe for V8's last-resort GC (full, compacting every page) and reports the heap and RSS after it and how long it held the loop. */
async function compactedMb(file: string, pid: number): Promise<string> {
  rmSync(file + '.afterlr', { force: true });
  writeFileSync(file + '.lrgc', '');
  for (let i = 0; i < 80 && !existsSync(file + '.afterlr'); i++) await sleep(250);
  try {
    const m = JSON.parse(readFileSync(file + '.afterlr', 'utf8')) as NodeJS.MemoryUsage & { ms: number };
    return `heap ${mb(m.heapUsed)} live / ${mb(m.heapTotal)} committed, RSS ${fmt(rssMb(pid).rss)} MB (${smapsMb(pid)}); the GC took ${fmt(m.ms)} ms`;
  } catch {
    return 'unavailable';
  }
}

/** smapsMb sums a process's resident memory by kind of mapping: malloc's heap, other anonymous memory (V8 heaps, thread stacks), the node binary, other files. */
function smapsMb(pid: number): string {
  const sums = { malloc: 0, anon: 0, binary: 0, files: 0 };
  let kind: keyof typeof sums = 'anon';
  /** anonymous mappings by size: V8 pages are 256 KB, glibc's thread arenas 64 MB reservations, thread stacks 8 MB */
  const bySize = new Map<string, { n: number; rss: number }>();
  let sizeKb = 0;
  try {
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const path = head[3]!;
        kind = path === '[heap]' ? 'malloc' : path === '' || path.startsWith('[') ? 'anon' : /\/node$/.test(path) ? 'binary' : 'files';
        sizeKb = (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024;
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) {
        sums[kind] += Number(rss[1]) / 1024;
        if (kind === 'anon' && Number(rss[1]) > 0) {
          const k = sizeKb <= 256 ? '≤256K' : sizeKb <= 1024 ? '≤1M' : sizeKb <= 8200 ? '≤8M' : sizeKb <= 65536 ? '≤64M' : '>64M';
          const b = bySize.get(k) ?? { n: 0, rss: 0 };
          b.n++;
          b.rss += Number(rss[1]) / 1024;
          bySize.set(k, b);
        }
      }
    }
  } catch {
    return 'smaps unavailable';
  }
  const sizes = [...bySize].map(([k, b]) => `${k} ×${b.n} ${Math.round(b.rss)}`).join(', ');
  return `malloc ${Math.round(sums.malloc)}, other anonymous ${Math.round(sums.anon)} (mappings ${sizes}), node binary ${Math.round(sums.binary)}, other files ${Math.round(sums.files)} MB`;
}

/** N: sizes of the run (upstream-like figures; --quick shrinks them). */
const N = quick
  ? { small: 20, large: 50, huge: 100, pending: 500, deploy: 200, churn: 1000, hugePending: 500 }
  : { small: 100, large: 500, huge: 2000, pending: 5000, deploy: 1000, churn: 15000, hugePending: 5000 };
/** `--churn N` sets the churn phase's pod count (e.g. a smaller run whose heap snapshot shows the per-pod holders) */
if (argValue('--churn')) N.churn = Number(argValue('--churn'));
const PHASE_TIMEOUT_MS = quick ? 120_000 : 420_000;
/** TARGETS are the issue's goals. */
const TARGETS = { boundPerSec: 1000, rssMb: 400, p99Ms: 100 };
const IMAGE = 'kubeling/pause:fake';

const pods = lookupKind('v1', 'Pod')!;
const nodes = lookupKind('v1', 'Node')!;
const namespaces = lookupKind('v1', 'Namespace')!;
const deployments = lookupKind('apps/v1', 'Deployment')!;
const configmaps = lookupKind('v1', 'ConfigMap')!;
const events = lookupKind('v1', 'Event')!;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** schedFigures is a scheduler phase's row: throughput, CPU per bound pod, store writes per pod (`when` says over what) */
function schedFigures(s: SchedResult, when = ''): string {
  const cpu = `server ${fmt(s.serverCpuMsPerPod, 2)} ms (main thread ${fmt(s.serverMainCpuMsPerPod, 2)}), hollow ${fmt(s.hollowCpuMsPerPod, 2)} ms`;
  return `${fmt(s.boundPerSec)} pods/s (all bound ${secs(s.allBoundMs)} s; CPU per pod: ${cpu}; writes per pod: ${s.writesPerPod}${when}${s.error ? `; ${s.error}` : ''})`;
}

/** mark prints a phase boundary (with --cpu-prof: seconds since the server was spawned, to slice the profile) */
let mark: (what: string) => void = () => {};
/** cpuNow reads the CPU seconds burnt so far by the server and by the hollow-node processes (set once they run) */
let cpuNow: () => { server: number; serverMain: number; hollow: number } = () => ({ server: NaN, serverMain: NaN, hollow: NaN });
const secs = (ms: number) => (ms / 1000).toFixed(1);

/** serverPid finds the node process of the server (bin/kubeling is a bash wrapper that may or may not exec). */
function serverPid(proc: ChildProcess): number {
  const pid = proc.pid!;
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm.startsWith('node')) return pid;
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    return kids.find((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim().startsWith('node')) ?? pid;
  } catch {
    return pid;
  }
}

/** pool runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = PHASE_TIMEOUT_MS, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${secs(timeoutMs)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * writesBetween counts the store's log rows (one per committed write) per resource in (from, to], read from the
 * server's SQLite file (a second reader beside the server: WAL allows it), e.g. `pods 3.0, events 2.0` per bound pod.
 */
function writesBetween(dataDir: string, from: number, to: number, per: number): string {
  try {
    const db = new Database(join(dataDir, 'db', 'state.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT resource, count(*) AS n FROM log WHERE id > ? AND id <= ? GROUP BY resource ORDER BY n DESC').all(from, to) as { resource: string; n: number }[];
      return rows.map((r) => `${r.resource} ${(r.n / per).toFixed(2)}`).join(', ');
    } finally {
      db.close();
    }
  } catch (e) {
    return `unavailable: ${(e as Error).message}`;
  }
}

interface Hollow {
  proc: ChildProcess;
  count: number;
  pid: number;
  /** the process's data directory (bench/hollow.ts names it by pid and first node), removed here if it was killed */
  dataRoot: string;
}

/** startHollow spawns one hollow-node process and waits for its `ready` line. */
async function startHollow(s: RunningServer, caFile: string, count: number, first: number): Promise<Hollow> {
  // hollow nodes speak with the admin's token: the join token only bootstraps a real agent's certificate (CSR), and
  // 500 node certificates would measure the signer, not the control plane; note that this bypasses the Node authorizer
  const tokenFile = join(s.dataDir, 'bench-hollow-token');
  writeFileSync(tokenFile, s.token, { mode: 0o600 });
  const argv = [process.execPath, join(ROOT, 'bench/hollow.ts'), '--server', s.url, '--token-file', tokenFile, '--ca-file', caFile, '--count', String(count), '--first', String(first)];
  // `nice` before exec: every thread of the hollow process runs at that niceness (setpriority on a pid reaches one thread)
  const proc = spawn(hollowNice ? 'nice' : argv[0]!, hollowNice ? ['-n', String(hollowNice), ...argv] : argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      if (/^ready /m.test(out)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`hollow nodes exited (${code}):\n${err}`)));
  });
  return { proc, count, pid: proc.pid!, dataRoot: join(tmpdir(), `kubeling-hollow-${proc.pid}-${first}`) };
}

async function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

function readyNodes(list: KubeObject[]): number {
  return list.filter((n) => (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')).length;
}

async function waitNodesReady(c: Client, want: number): Promise<number> {
  const t0 = performance.now();
  await waitFor(`${want} Ready nodes`, async () => (readyNodes((await c.list(nodes)).items) >= want ? true : undefined), 120_000, 500);
  return performance.now() - t0;
}

function podManifest(name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'pause', image: IMAGE, imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
  };
}

/** PodTracker follows one namespace's pods through a watch: when each got bound and when it first ran. */
class PodTracker {
  readonly bound = new Map<string, number>();
  readonly running = new Map<string, number>();
  readonly live = new Set<string>();
  private handle: { stop(): void } | undefined;
  private readonly c: Client;
  private readonly ns: string;

  constructor(c: Client, ns: string) {
    this.c = c;
    this.ns = ns;
  }

  async start(): Promise<void> {
    const l = await this.c.list(pods, this.ns, { limit: 1 });
    const h = this.c.watch(pods, this.ns, { resourceVersion: l.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 3600 }, (ev: WatchEvent) => this.on(ev));
    this.handle = h;
    h.done.catch(() => undefined);
  }

  private on(ev: WatchEvent): void {
    const p = ev.object;
    const name = p.metadata?.name;
    if (!name || ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
    const now = performance.now();
    if (ev.type === 'DELETED') {
      this.live.delete(name);
      return;
    }
    if (p.metadata.deletionTimestamp) this.live.delete(name);
    else this.live.add(name);
    if (p.spec?.nodeName && !this.bound.has(name)) this.bound.set(name, now);
    if (p.status?.phase === 'Running' && !this.running.has(name)) this.running.set(name, now);
  }

  /** runningLive counts pods that exist, are not terminating and have run (optionally with a label prefix filter). */
  runningLive(filter?: (name: string) => boolean): number {
    let n = 0;
    for (const name of this.live) if (this.running.has(name) && (!filter || filter(name))) n++;
    return n;
  }

  stop(): void {
    this.handle?.stop();
  }
}

interface SchedResult {
  nodes: number;
  pods: number;
  createPerSec: number;
  boundPerSec: number;
  firstBindMs: number;
  allBoundMs: number;
  /** CPU the server (and the hollow nodes) burnt per bound pod from the uncordon to the last bind: robust to a loaded machine */
  serverCpuMsPerPod: number;
  /** of it, the server's main thread (its event loop) */
  serverMainCpuMsPerPod: number;
  hollowCpuMsPerPod: number;
  /** store writes per bound pod by resource in that window */
  writesPerPod?: string;
  error?: string;
}

/** schedulerThroughput: cordon all nodes, create `count` pods, uncordon, time the binds. */
async function schedulerThroughput(c: Client, dataDir: string, nodeCount: number, count: number): Promise<SchedResult> {
  const ns = `bench-sched-${nodeCount}`;
  await c.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const names = (await c.list(nodes)).items.map((n) => n.metadata.name!);
  const cordon = (v: boolean) => pool(names, 32, (n) => c.patch(nodes, undefined, n, { spec: { unschedulable: v || null } }, 'merge'));
  await cordon(true);
  await sleep(1000); // the scheduler's cache sees the cordon before the pods arrive
  const tracker = new PodTracker(c, ns);
  await tracker.start();
  const t0 = performance.now();
  await pool(
    Array.from({ length: count }, (_, i) => `p-${i}`),
    64,
    (name) => c.create(pods, ns, podManifest(name, { bench: 'sched' })),
  );
  const createMs = performance.now() - t0;
  await sleep(2000); // let the scheduler try them all once (and park them as unschedulable)
  const boundBefore = tracker.bound.size;
  const tu = performance.now();
  mark(`uncordon ${nodeCount} nodes`);
  const cpu0 = cpuNow();
  const rev0 = Number((await c.list(configmaps, 'default', { limit: 1 })).metadata.resourceVersion);
  await cordon(false);
  const res: SchedResult = { nodes: nodeCount, pods: count, createPerSec: count / (createMs / 1000), boundPerSec: NaN, firstBindMs: NaN, allBoundMs: NaN, serverCpuMsPerPod: NaN, serverMainCpuMsPerPod: NaN, hollowCpuMsPerPod: NaN };
  try {
    await waitFor(`${count} pods bound`, () => (tracker.bound.size >= count ? true : undefined), PHASE_TIMEOUT_MS, 100);
  } catch (e) {
    res.error = `${(e as Error).message} (${tracker.bound.size} bound)`;
  }
  mark(`${tracker.bound.size} pods bound`);
  const cpu1 = cpuNow();
  const rev1 = Number((await c.list(configmaps, 'default', { limit: 1 })).metadata.resourceVersion);
  res.writesPerPod = writesBetween(dataDir, rev0, rev1, Math.max(1, tracker.bound.size - boundBefore));
  res.serverCpuMsPerPod = ((cpu1.server - cpu0.server) * 1000) / Math.max(1, tracker.bound.size - boundBefore);
  res.serverMainCpuMsPerPod = ((cpu1.serverMain - cpu0.serverMain) * 1000) / Math.max(1, tracker.bound.size - boundBefore);
  res.hollowCpuMsPerPod = ((cpu1.hollow - cpu0.hollow) * 1000) / Math.max(1, tracker.bound.size - boundBefore);
  const times = [...tracker.bound.values()].filter((t) => t >= tu).sort((a, b) => a - b);
  if (times.length > 1) {
    res.firstBindMs = times[0]! - tu;
    res.allBoundMs = times[times.length - 1]! - tu;
    res.boundPerSec = (times.length - 1) / ((times[times.length - 1]! - times[0]!) / 1000);
  }
  if (boundBefore) res.error = `${res.error ?? ''} ${boundBefore} pods were bound while every node was cordoned`.trim();
  tracker.stop();
  // clean up: pods gone at once (grace 0), then the namespace
  await c.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }).catch(() => undefined);
  await c.delete(namespaces, undefined, ns).catch(() => undefined);
  // the next phase starts on a quiet server: the namespace (and every pod in it) gone
  await waitFor(`namespace ${ns} gone`, async () => ((await c.getOrUndefined(namespaces, undefined, ns)) ? undefined : true), PHASE_TIMEOUT_MS, 500).catch(() => undefined);
  return res;
}

/** rolloutComplete is `kubectl rollout status`'s test. */
function rolloutComplete(d: KubeObject | undefined, replicas: number): boolean {
  if (!d) return false;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) &&
    (s.updatedReplicas ?? 0) === replicas &&
    (s.replicas ?? 0) === replicas &&
    (s.availableReplicas ?? 0) === replicas
  );
}

/**
 * LatencySampler times GET, LIST and PATCH calls one after another until stopped, on a thread of its own
 * (bench/latency-worker.ts): the driver's event loop (its pod watch, its parsing) never delays a sample.
 */
class LatencySampler {
  samples: Record<'get' | 'list' | 'patch', number[]> = { get: [], list: [], patch: [] };
  private worker: Worker | undefined;
  private feed: NodeJS.Timeout | undefined;

  start(s: RunningServer, ns: string, getName: () => string | undefined): void {
    const data: LatencyWorkerData = { url: s.url, token: s.token, caPem: s.caPem, namespace: ns };
    this.worker = new Worker(new URL('./latency-worker.ts', import.meta.url), { workerData: data });
    const w = this.worker;
    const tell = () => {
      const pod = getName();
      if (pod) w.postMessage({ pod });
    };
    tell();
    this.feed = setInterval(tell, 500);
  }

  async stop(): Promise<void> {
    clearInterval(this.feed);
    const w = this.worker;
    if (!w) return;
    const got = new Promise<{ samples: LatencySampler['samples'] }>((r) => w.once('message', r));
    w.postMessage({ stop: true });
    this.samples = (await got).samples;
    await w.terminate();
  }

  stats(kind: 'get' | 'list' | 'patch'): { n: number; p50: number; p99: number } {
    const s = this.samples[kind].slice().sort((a, b) => a - b);
    return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99) };
  }
}

function fmt(v: number, digits = 0): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '—';
}

async function main(): Promise<void> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const rows: [string, string, string][] = [];
  const json: Record<string, unknown> = { quick };
  let cpuMark: (() => string) | undefined;
  const row = (what: string, value: string, target = '') => {
    mark(`end: ${what}`);
    const cpu = cpuMark?.();
    if (cpu) value = `${value} [cpu ${cpu}]`;
    rows.push([what, value, target]);
    process.stderr.write(`  ${what}: ${value}${target ? `  (target ${target})` : ''}\n`);
  };
  try {
    const caDir = mkdtempSync(join(tmpdir(), 'kubeling-bench-'));
    cleanups.push(() => rmSync(caDir, { recursive: true, force: true }));
    const probeFile = join(caDir, 'probe.mjs');
    const probeOut = join(caDir, 'probe.json');
    writeFileSync(probeFile, PROBE);
    const nodeOptions = [process.env.NODE_OPTIONS ?? '', serverNodeOptions ?? '', `--import=${probeFile}`, profDir ? `--cpu-prof --cpu-prof-dir=${profDir}` : '', heapSnapshot ? '--heapsnapshot-signal=SIGUSR2' : ''].filter(Boolean).join(' ');
    const benchT0 = performance.now();
    // upstream's node grace (40 s) and eviction tolerations (300 s): a hollow-node process starved by a loaded machine
    // renews its leases late, and evicting its pods would measure the eviction storm instead of the control plane
    const s = await startServer({ args: ['--disable-agent', '--node-monitor-grace-period', '40s', '--default-not-ready-toleration-seconds', '300', '--default-unreachable-toleration-seconds', '300'], env: { KUBELING_LOG_LEVEL: 'warn', KUBELING_BENCH_PROBE: probeOut, NODE_OPTIONS: nodeOptions } });
    cleanups.push(() => s.cleanup());
    const spid = serverPid(s.proc);
    const caFile = join(caDir, 'ca.pem');
    writeFileSync(caFile, s.caPem);
    const c = new Client({ server: s.url, token: s.token, caPem: s.caPem, userAgent: 'kubeling-bench', maxSockets: 96 });
    cleanups.push(() => c.close());
    const hollows: Hollow[] = [];
    // each row also says how much CPU the server and the hollow nodes burnt since the previous row (2 cores in all)
    cpuNow = () => ({ server: cpuSeconds(spid), serverMain: mainThreadCpuSeconds(spid), hollow: hollows.reduce((a, h) => a + cpuSeconds(h.pid), 0) });
    let last = { server: cpuSeconds(spid), hollow: 0, driver: process.cpuUsage(), at: performance.now() };
    cpuMark = () => {
      const now = { server: cpuSeconds(spid), hollow: hollows.reduce((a, h) => a + cpuSeconds(h.pid), 0), driver: process.cpuUsage(), at: performance.now() };
      const wall = (now.at - last.at) / 1000;
      if (wall < 1) return '';
      const d = (now.driver.user + now.driver.system - last.driver.user - last.driver.system) / 1e6;
      const pct = (x: number) => `${Math.round((x / wall) * 100)}%`;
      const out = `server ${pct(now.server - last.server)}, hollow ${pct(now.hollow - last.hollow)}, driver ${pct(d)} of ${wall.toFixed(0)} s`;
      last = now;
      return out;
    };
    cleanups.push(async () => {
      for (const h of hollows.reverse()) {
        // with 15,000 pods a hollow process may not finish closing before the SIGKILL: its directory stays behind
        await stopProc(h.proc);
        rmSync(h.dataRoot, { recursive: true, force: true });
      }
    });
    const addNodes = async (count: number, total: number) => {
      const t0 = performance.now();
      hollows.push(await startHollow(s, caFile, count, total - count));
      await waitNodesReady(c, total);
      row(`${total} hollow nodes registered and Ready`, `${secs(performance.now() - t0)} s`);
    };
    process.stderr.write(`bench:control — server pid ${spid}${quick ? ' (quick)' : ''}\n`);
    // with --cpu-prof, each phase's end is printed as seconds since the server was spawned (to slice the profile)
    if (profDir) mark = (what) => process.stderr.write(`  [mark ${((performance.now() - benchT0) / 1000).toFixed(1)} s] ${what}\n`);

    // 1–2. scheduler throughput
    if (churnOnly) await addNodes(N.large, N.large);
    else {
      await addNodes(N.small, N.small);
      const s1 = await schedulerThroughput(c, s.dataDir, N.small, N.pending);
      row(`scheduler: ${N.pending} pending pods → ${N.small} nodes`, schedFigures(s1, ' after uncordon'));
      json.sched100 = s1;
      await addNodes(N.large - N.small, N.large);
      const s2 = await schedulerThroughput(c, s.dataDir, N.large, N.pending);
      row(`scheduler: ${N.pending} pending pods → ${N.large} nodes`, schedFigures(s2, ' after uncordon'), `≥ ${TARGETS.boundPerSec} pods/s`);
      json.sched500 = s2;
      row('pod creation rate (64 in flight, seen by the driver)', `${fmt(s2.createPerSec)} pods/s`);
    }
    if (schedOnly) return;

    // 3. a 1,000-replica Deployment
    const ns = 'bench-deploy';
    await c.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await c.create(configmaps, ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bench-probe' }, data: { n: '0' } });
    const tracker = new PodTracker(c, ns);
    await tracker.start();
    const template = (rev: string) => ({
      metadata: { labels: { app: 'web' }, annotations: { 'bench/rev': rev } },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'pause', image: IMAGE, imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
    });
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: N.deploy, selector: { matchLabels: { app: 'web' } }, template: template('1') },
    };
    const getDeploy = () => c.getOrUndefined(deployments, ns, 'web');
    let t0 = performance.now();
    await c.create(deployments, ns, deploy);
    try {
      await waitFor(`${N.deploy} pods Running`, () => (tracker.runningLive() >= N.deploy ? true : undefined), PHASE_TIMEOUT_MS, 100);
      const running = performance.now() - t0;
      await waitFor('rollout complete', async () => (rolloutComplete(await getDeploy(), N.deploy) ? true : undefined));
      const complete = performance.now() - t0;
      row(`Deployment of ${N.deploy}: create → all Running`, `${secs(running)} s (rollout status complete ${secs(complete)} s)`);
      json.deployRunningMs = running;
      json.deployCompleteMs = complete;
    } catch (e) {
      row(`Deployment of ${N.deploy}: create → all Running`, `failed: ${(e as Error).message} (${tracker.runningLive()} running; status ${JSON.stringify((await getDeploy())?.status ?? {})})`);
    }

    // 4. rolling update
    if (!churnOnly) {
      t0 = performance.now();
      await c.patch(deployments, ns, 'web', { spec: { template: template('2') } }, 'merge');
      try {
        const gen = (await getDeploy())!.metadata.generation ?? 2;
        await waitFor('rolling update complete', async () => {
          const d = await getDeploy();
          return d && (d.status?.observedGeneration ?? 0) >= gen && rolloutComplete(d, N.deploy) ? true : undefined;
        });
        const ms = performance.now() - t0;
        row(`rolling update of ${N.deploy} (25 % surge / 25 % unavailable)`, `${secs(ms)} s`);
        json.rollingUpdateMs = ms;
      } catch (e) {
        row(`rolling update of ${N.deploy}`, `failed: ${(e as Error).message}`);
      }
    }

    // 5. churn to 15,000 pods with API latency sampled throughout
    const sampler = new LatencySampler();
    sampler.start(s, ns, () => tracker.live.values().next().value);
    writeFileSync(probeOut + '.eldreset', '');
    const churnRev0 = Number((await c.list(configmaps, 'default', { limit: 1 })).metadata.resourceVersion);
    t0 = performance.now();
    await c.patch(deployments, ns, 'web', { spec: { replicas: N.churn } }, 'merge');
    try {
      await waitFor(`${N.churn} pods Running`, () => (tracker.runningLive() >= N.churn ? true : undefined), PHASE_TIMEOUT_MS * 2, 250);
      const ms = performance.now() - t0;
      row(`scale ${N.deploy} → ${N.churn}: all Running`, `${secs(ms)} s (${fmt((N.churn - N.deploy) / (ms / 1000))} pods/s end to end)`);
      json.scaleUpMs = ms;
    } catch (e) {
      row(`scale ${N.deploy} → ${N.churn}`, `failed: ${(e as Error).message} (${tracker.runningLive()} running)`);
    }
    const eldChurn = readFileSync(probeOut + '.eld', 'utf8');
    const churnRev1 = Number((await c.list(configmaps, 'default', { limit: 1 })).metadata.resourceVersion);
    const flapped = (await c.list(events, 'default', { fieldSelector: 'reason=NodeNotReady' })).items.length;
    row(`store writes per new pod during the churn`, `${writesBetween(s.dataDir, churnRev0, churnRev1, N.churn - N.deploy)}; ${flapped} node(s) turned NotReady`);
    writeFileSync(probeOut + '.eldreset', ''); // from here: the settled cluster (the heap reducer's pause shows as its longest GC)
    await sleep(5000);
    await sampler.stop();
    const mem = rssMb(spid);
    const smaps = smapsMb(spid);
    const heap = await heapMb(probeOut);
    row(`master RSS at ${N.large} nodes / ${N.churn} pods, 5 s after the churn`, `${fmt(mem.rss)} MB (peak ${fmt(mem.hwm)} MB; ${heap})`);
    row(`  where it is (RSS by mapping)`, smaps);
    // the steady figure is the target's: by then the server's heap reducer (pkg/util/heapreducer.ts) has had its turn
    await sleep(25_000);
    // the steady figure is the median of a reading a second over the next 30 s: one reading lands anywhere on the
    // sawtooth of V8's heap growing and being collected
    const readings: number[] = [];
    for (let i = 0; i < 30; i++) {
      readings.push(rssMb(spid).rss);
      await sleep(1000);
    }
    readings.sort((a, b) => a - b);
    const settled = { ...rssMb(spid), rss: readings[Math.floor(readings.length / 2)]!, min: readings[0]!, max: readings[readings.length - 1]! };
    let settledGc = '';
    try {
      const e = JSON.parse(readFileSync(probeOut + '.eld', 'utf8')) as { max: number; gc: { n: number; max: number } };
      settledGc = `; since churn ended: ${e.gc.n} GC pauses, longest ${fmt(e.gc.max)} ms, event-loop delay max ${fmt(e.max)} ms`;
    } catch {
      /* no figures */
    }
    row(`master RSS at ${N.large} nodes / ${N.churn} pods, steady (median of 30–60 s after the churn)`, `${fmt(settled.rss)} MB (${fmt(settled.min)}–${fmt(settled.max)}); ${await heapMb(probeOut, true)}${settledGc}`, `≤ ${TARGETS.rssMb} MB`);
    row(`  where it is (RSS by mapping)`, smapsMb(spid));
    json.rss500settled = settled;
    if (heapSnapshot) {
      // at the steady figure's moment (the target's), before the diagnostic compacting GC below changes the heap
      process.kill(spid, 'SIGUSR2');
      process.stderr.write('  heap snapshot asked for (SIGUSR2); waiting 90 s for it to be written\n');
      await sleep(90_000);
    }
    row(`  after a compacting GC (diagnostic: what fragmentation holds)`, await compactedMb(probeOut, spid));
    try {
      const e = JSON.parse(eldChurn) as { p50: number; p99: number; max: number; gc: { n: number; totalMs: number; p99: number; max: number; over50: number } };
      row(`server event-loop delay during churn: p50 / p99 / max`, `${fmt(e.p50, 1)} / ${fmt(e.p99, 1)} / ${fmt(e.max, 1)} ms`);
      row(`server GC pauses during churn`, `${e.gc.n} pauses, ${fmt(e.gc.totalMs)} ms in all; p99 ${fmt(e.gc.p99, 1)} ms, max ${fmt(e.gc.max, 1)} ms, ${e.gc.over50} over 50 ms`);
    } catch {
      row(`server event-loop delay during churn`, 'unavailable');
    }
    json.rss500 = mem;
    for (const k of ['get', 'list', 'patch'] as const) {
      const st = sampler.stats(k);
      const what = { get: 'GET pod', list: 'LIST pods (limit 500)', patch: 'PATCH configmap' }[k];
      row(`API ${what} during churn: p50 / p99 (n=${st.n})`, `${fmt(st.p50, 1)} / ${fmt(st.p99, 1)} ms`, `p99 ≤ ${TARGETS.p99Ms} ms`);
      json[`api_${k}`] = st;
    }
    row(`hollow-node process RSS (${N.large} nodes, ${N.churn} pods)`, `${fmt(hollows.reduce((a, h) => a + rssMb(h.pid).rss, 0))} MB`);

    // 6. 2,000 nodes when memory allows
    const freeGb = freemem() / 1024 ** 3;
    if (skipHuge) row(`${N.huge} nodes`, 'skipped (--no-2000)');
    else if (freeGb < 4) row(`${N.huge} nodes`, `skipped: ${freeGb.toFixed(1)} GB free`);
    else {
      try {
        await addNodes(N.huge - N.large, N.huge);
        await sleep(15_000); // a full lease cycle of every node
        const m = rssMb(spid);
        row(`master RSS at ${N.huge} nodes / ${N.churn} pods`, `${fmt(m.rss)} MB (peak ${fmt(m.hwm)} MB)`);
        json.rss2000 = m;
        const s3 = await schedulerThroughput(c, s.dataDir, N.huge, N.hugePending);
        row(`scheduler: ${N.hugePending} pending pods → ${N.huge} nodes (${N.churn} pods running)`, schedFigures(s3));
        json.sched2000 = s3;
        const m2 = rssMb(spid);
        row(`master RSS after that`, `${fmt(m2.rss)} MB (peak ${fmt(m2.hwm)} MB)`);
      } catch (e) {
        row(`${N.huge} nodes`, `failed: ${(e as Error).message}`);
      }
    }
    tracker.stop();
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((e) => process.stderr.write(`cleanup: ${(e as Error).message}\n`));
    // printed here so that an early return (--sched-only) prints too
    const w = Math.max(...rows.map((r) => r[0].length));
    const v = Math.max(...rows.map((r) => r[1].length));
    console.log(`\nbench:control${quick ? ' (quick)' : ''}\n`);
    for (const [a, b, t] of rows) console.log(`${a.padEnd(w)}  ${b.padEnd(v)}  ${t}`);
    console.log(JSON.stringify(json));
  }
}

await main();
