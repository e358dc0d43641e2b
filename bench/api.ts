// bench/api: `npm run bench:api` — API server figures over HTTPS against a real `kubeling server` child process.
//
// Measures, in one run: pod creates/s and p50/p99 create latency (1 client, 16 concurrent), p99 GET and LIST at
// 10,000 pods, p99 watch delivery delay, server RSS at 10,000 pods, and the ratio of API create throughput to a bare
// better-sqlite3 insert loop (WAL, synchronous=FULL, one row per transaction). Prints a table, then one JSON line.
// `node bench/api.ts --cpu-prof` runs the server under `node --cpu-prof` and prints its hottest functions.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Client, Pool } from 'undici';
import { parse as parseYaml } from 'yaml';
import { freePort, ROOT } from '../test/helpers/server.ts';
import { cpuSeconds, quantile, rssMb } from './measure.ts';

/** Bench sizes and limits; everything is bounded so the whole run ends well inside 3 minutes. */
const N = {
  warmup: 500,
  single: 1000,
  /** the 16-client phase creates every remaining pod up to `total` */
  total: 10_000,
  clients: 16,
  gets: 1000,
  lists: 15,
  watchSequential: 300,
  watchConcurrent: 640,
  sqliteSeconds: 3,
  /** default time limit of one phase; the 16-client phase gets 60 s */
  phaseTimeoutMs: 20_000,
};

/** TARGETS are the issue's goals. */
const TARGETS = { createsPerSec: 2000, createP99Ms: 20, listP99Ms: 300, watchP99Ms: 10, rssMb: 200 };

const NS = 'bench';

/** podManifest is a realistic small pod: one container, a port, requests, labels. */
function podManifest(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench', tier: 'web' } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'nginx:1.27',
          ports: [{ containerPort: 80, name: 'http' }],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          env: [{ name: 'MODE', value: 'bench' }],
        },
      ],
    },
  });
}

interface LatencyStats {
  n: number;
  perSec: number;
  p50: number;
  p99: number;
  max: number;
}

/** stats summarises latencies (ms) gathered over `elapsedMs`. */
function stats(samples: number[], elapsedMs: number): LatencyStats {
  const s = samples.slice().sort((a, b) => a - b);
  return { n: s.length, perSec: (s.length * 1000) / elapsedMs, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
}

interface Server {
  url: string;
  proc: ChildProcess;
  dataDir: string;
  token: string;
  caPem: string;
  logs(): string;
  stop(): Promise<void>;
}

/** startServer spawns `kubeling server` (or `node --cpu-prof cmd/main.ts server` when profDir is set) and waits for /readyz. */
async function startServer(dataDir: string, profDir?: string): Promise<Server> {
  const port = await freePort();
  const serverArgs = ['server', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--https-listen-port', String(port), '--disable-agent', '--disable-scheduler', '--controllers', 'serviceaccount', '--log-level', 'warn'];
  const node = join(ROOT, '.tools/node/bin/node');
  const [cmd, args] = profDir
    ? [node, ['--disable-warning=ExperimentalWarning', '--cpu-prof', '--cpu-prof-dir', profDir, join(ROOT, 'cmd/main.ts'), ...serverArgs]]
    : [join(ROOT, 'bin/kubeling'), serverArgs];
  const proc = spawn(cmd, args, { env: { ...process.env, KUBELING_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `https://127.0.0.1:${port}`;
  const kubeconfig = join(dataDir, 'kubeconfig.yaml');
  const deadline = Date.now() + 30_000;
  let kc: any;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`kubeling server exited (${proc.exitCode}):\n${out}`);
    if (existsSync(kubeconfig)) {
      kc = parseYaml(readFileSync(kubeconfig, 'utf8'));
      break;
    }
    if (Date.now() > deadline) throw new Error(`kubeling server did not write its kubeconfig:\n${out}`);
    await sleep(100);
  }
  return {
    url,
    proc,
    dataDir,
    token: kc.users[0].user.token as string,
    caPem: Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString('utf8'),
    logs: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** cpuMeter measures server and bench-client CPU seconds spent between its creation and end(). */
function cpuMeter(pid: number): () => { server: number; client: number } {
  const s0 = cpuSeconds(pid);
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return { server: cpuSeconds(pid) - s0, client: (c.user + c.system) / 1e6 };
  };
}

/** Api is a thin keep-alive HTTPS client for the bench's few calls. */
class Api {
  readonly pool: Pool;
  readonly #headers: Record<string, string>;
  readonly #url: string;
  readonly #ca: string;

  constructor(url: string, token: string, caPem: string) {
    this.#url = url;
    this.#ca = caPem;
    this.pool = new Pool(url, { connections: N.clients + 2, pipelining: 1, keepAliveTimeout: 60_000, connect: { ca: caPem } });
    this.#headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  }

  /** call sends one request and returns status and body text (empty unless `read`). */
  async call(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: string, contentType = 'application/json', read = false): Promise<{ status: number; text: string }> {
    const headers = body === undefined ? this.#headers : { ...this.#headers, 'content-type': contentType };
    const r = await this.pool.request({ method, path, headers, body });
    if (read || r.statusCode >= 300) return { status: r.statusCode, text: await r.body.text() };
    await r.body.dump({ limit: Infinity });
    return { status: r.statusCode, text: '' };
  }

  async ok(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: string, contentType?: string, read = false): Promise<string> {
    const r = await this.call(method, path, body, contentType, read);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 500)}`);
    return r.text;
  }

  /** watch opens a watch stream on its own connection and calls onLine(lineText, receivedAt) per event. */
  async watch(path: string, onLine: (line: string, at: number) => void): Promise<{ close(): Promise<void> }> {
    const client = new Client(this.#url, { connect: { ca: this.#ca }, bodyTimeout: 0, headersTimeout: 10_000 });
    const ac = new AbortController();
    const r = await client.request({ method: 'GET', path, headers: this.#headers, signal: ac.signal });
    if (r.statusCode !== 200) throw new Error(`watch ${path}: ${r.statusCode} ${await r.body.text()}`);
    let buf = '';
    r.body.setEncoding('utf8');
    r.body.on('data', (chunk: string) => {
      const at = performance.now();
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line) onLine(line, at);
      }
    });
    r.body.on('error', () => {});
    return {
      close: async () => {
        ac.abort();
        await client.destroy().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * runWorkers runs `count` operations over `workers` concurrent loops, timing each; it stops early at `timeoutMs`.
 * Returns latencies (ms) and the elapsed wall time.
 */
async function runWorkers(count: number, workers: number, op: (i: number) => Promise<void>, timeoutMs = N.phaseTimeoutMs): Promise<{ lat: number[]; elapsed: number }> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  const deadline = start + timeoutMs;
  const loop = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await op(i);
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  return { lat, elapsed: performance.now() - start };
}

/** sqliteBaseline times a bare better-sqlite3 loop inserting `value` (WAL, synchronous=FULL) in `dir`. */
function sqliteBaseline(dir: string, value: string, seconds: number): { perTxn: number; batched: number; batchSize: number } {
  const db = new Database(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, value TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO kv (name, value) VALUES (?, ?)');
  let n = 0;
  const one = db.transaction((i: number) => ins.run(`pod-${i}`, value));
  // warm-up
  for (let i = 0; i < 50; i++) one(n++);
  let start = performance.now();
  let count = 0;
  while (performance.now() - start < seconds * 1000) {
    one(n++);
    count++;
  }
  const perTxn = (count * 1000) / (performance.now() - start);
  const batchSize = 100;
  const many = db.transaction((from: number) => {
    for (let i = 0; i < batchSize; i++) ins.run(`pod-${from + i}`, value);
  });
  start = performance.now();
  count = 0;
  while (performance.now() - start < seconds * 1000) {
    many(n);
    n += batchSize;
    count += batchSize;
  }
  const batched = (count * 1000) / (performance.now() - start);
  db.close();
  return { perTxn, batched, batchSize };
}

/** CpuProfile is the part of V8's .cpuprofile format the summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Window is a bench phase in CLOCK_MONOTONIC microseconds, the clock V8 stamps profile samples with. */
interface Window {
  name: string;
  from: number;
  to: number;
}

const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * summarizeProfile lists the functions with the most self (or inclusive) time in a V8 .cpuprofile, counting only
 * samples inside `window` when one is given. Shares are of all samples in the window, idle included.
 */
function summarizeProfile(profile: CpuProfile, window?: Window, sortBy: 'self' | 'total' = 'self', top = 25): { fn: string; selfPct: number; totalPct: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (!window || (t >= window.from && t <= window.to)) self.set(id, (self.get(id) ?? 0) + dt);
  });
  const label = (id: number) => {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
    return `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
  };
  let all = 0;
  const selfBy = new Map<string, number>();
  const totalBy = new Map<string, number>();
  for (const [id, t] of self) {
    all += t;
    selfBy.set(label(id), (selfBy.get(label(id)) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(cur);
      if (seen.has(l)) continue;
      seen.add(l);
      totalBy.set(l, (totalBy.get(l) ?? 0) + t);
    }
  }
  const by = sortBy === 'self' ? selfBy : totalBy;
  return [...by.entries()]
    .filter(([fn]) => sortBy === 'self' || !/^\((root|program|idle)\)|^(runMicrotasks|processTicksAndRejections|processImmediate|listOnTimeout|emit|parserOnIncoming|parserOnHeadersComplete|parserOnBody|parserOnMessageComplete|onStreamRead|(anonymous)) |^(runMicrotasks|processTicksAndRejections)$/.test(fn))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn]) => ({ fn, selfPct: (100 * (selfBy.get(fn) ?? 0)) / all, totalPct: (100 * (totalBy.get(fn) ?? 0)) / all }));
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : '-');
const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');

async function main(): Promise<void> {
  const profile = process.argv.includes('--cpu-prof');
  const loadStart = loadavg()[0];
  const benchStart = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), 'kubeling-bench-'));
  const dataDir = join(tmp, 'data');
  const profDir = profile ? join(tmp, 'prof') : undefined;
  const log = (s: string) => process.stderr.write(`[${((performance.now() - benchStart) / 1000).toFixed(1)}s] ${s}\n`);
  let server: Server | undefined;
  let api: Api | undefined;
  const result: Record<string, unknown> = {};
  process.once('SIGINT', () => {
    server?.proc.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
  try {
    server = await startServer(dataDir, profDir);
    api = new Api(server.url, server.token, server.caPem);
    // readiness through the authenticated client: this also proves the CA and token work
    for (let i = 0; ; i++) {
      try {
        if ((await api.call('GET', '/readyz')).status === 200) break;
      } catch {
        /* not yet */
      }
      if (i > 300) throw new Error(`server never became ready:\n${server.logs()}`);
      await sleep(100);
    }
    const pid = server.proc.pid!;
    log(`server pid ${pid} at ${server.url}`);
    await api.ok('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }));
    const podsPath = `/api/v1/namespaces/${NS}/pods`;
    let created = 0;
    const create = async () => {
      const name = `bench-${String(created++).padStart(5, '0')}`;
      await api!.ok('POST', podsPath, podManifest(name));
    };

    // Warm-up: JIT, connections, SQLite page cache.
    await runWorkers(N.warmup, N.clients, create);
    for (let i = 0; i < 200; i++) await api.ok('GET', `${podsPath}/bench-${String(i).padStart(5, '0')}`);
    log(`warm-up done (${created} pods)`);

    // 1 client.
    const single = await runWorkers(N.single, 1, create, 20_000);
    const s1 = stats(single.lat, single.elapsed);
    log(`1 client: ${f0(s1.perSec)} creates/s`);

    // 16 concurrent clients, up to 10,000 pods.
    const rss0 = rssMb(pid);
    const cpu16 = cpuMeter(pid);
    const w16: Window = { name: `${N.clients}-client creates`, from: monoUs(), to: 0 };
    const conc = await runWorkers(N.total - created, N.clients, create, 60_000);
    const cpu = cpu16();
    w16.to = monoUs();
    const s16 = stats(conc.lat, conc.elapsed);
    const list0 = await api.ok('GET', `${podsPath}?limit=1`, undefined, undefined, true);
    const rv = JSON.parse(list0).metadata.resourceVersion as string;
    log(`${N.clients} clients: ${f0(s16.perSec)} creates/s; ${created} pods, revision ${rv}; CPU s: server ${cpu.server.toFixed(1)} client ${cpu.client.toFixed(1)} over ${(conc.elapsed / 1000).toFixed(1)} s wall`);
    await sleep(500);
    const rssFilled = rssMb(pid);

    // GET single objects.
    const gets = await runWorkers(N.gets, 1, async (i) => {
      await api!.ok('GET', `${podsPath}/bench-${String((i * 7919) % N.total).padStart(5, '0')}`);
    });
    const sGet = stats(gets.lat, gets.elapsed);

    // LIST all pods (JSON, no limit): check the count once, then time whole-body receipt.
    const full = JSON.parse(await api.ok('GET', podsPath, undefined, undefined, true));
    const listedCount = full.items.length as number;
    const listBytes = JSON.stringify(full).length;
    await api.ok('GET', podsPath);
    const wList: Window = { name: 'LISTs', from: monoUs(), to: 0 };
    const lists = await runWorkers(N.lists, 1, async () => {
      await api!.ok('GET', podsPath);
    });
    const sList = stats(lists.lat, lists.elapsed);
    wList.to = monoUs();
    log(`GET p99 ${f1(sGet.p99)} ms, LIST(${listedCount}) p50 ${f1(sList.p50)} p99 ${f1(sList.p99)} ms`);
    const rssAfterReads = rssMb(pid);

    // Watch delivery: one watcher on the namespace's pods from the current revision; label updates on existing pods.
    const sent = new Map<string, number>();
    const acked = new Map<string, number>();
    const received = new Map<string, number>();
    let events = 0;
    const rvNow = JSON.parse(await api.ok('GET', `${podsPath}?limit=1`, undefined, undefined, true)).metadata.resourceVersion as string;
    const watcher = await api.watch(`/api/v1/namespaces/${NS}/pods?watch=true&resourceVersion=${rvNow}`, (line, at) => {
      events++;
      const ev = JSON.parse(line);
      const key = `${ev.object?.metadata?.name}#${ev.object?.metadata?.labels?.['bench-seq']}`;
      if (!received.has(key)) received.set(key, at);
    });
    const update = async (i: number, tag: string) => {
      const name = `bench-${String((i * 104729) % N.total).padStart(5, '0')}`;
      const key = `${name}#${tag}${i}`;
      sent.set(key, performance.now());
      await api!.ok('PATCH', `${podsPath}/${name}`, JSON.stringify({ metadata: { labels: { 'bench-seq': `${tag}${i}` } } }), 'application/merge-patch+json');
      acked.set(key, performance.now());
    };
    await runWorkers(50, 1, (i) => update(i, 'w')); // warm the patch path
    const watchSeq = await runWorkers(N.watchSequential, 1, (i) => update(i, 's'));
    const wWatch: Window = { name: `${N.clients}-client PATCHes with a watcher`, from: monoUs(), to: 0 };
    const watchConc = await runWorkers(N.watchConcurrent, N.clients, (i) => update(i, 'c'));
    wWatch.to = monoUs();
    await sleep(300);
    await watcher.close();
    const delays = (tag: string) => {
      const ackToEvent: number[] = [];
      const sendToEvent: number[] = [];
      const lead: number[] = [];
      let missing = 0;
      for (const [key, t] of sent) {
        if (!key.includes(`#${tag}`)) continue;
        const r = received.get(key);
        if (r === undefined) {
          missing++;
          continue;
        }
        ackToEvent.push(Math.max(0, r - acked.get(key)!));
        lead.push(acked.get(key)! - r);
        sendToEvent.push(r - t);
      }
      const a = stats(ackToEvent, 1);
      const s = stats(sendToEvent, 1);
      const l = stats(lead, 1);
      const before = lead.filter((x) => x >= 0).length;
      return { n: a.n, missing, ackP50: a.p50, ackP99: a.p99, sendP50: s.p50, sendP99: s.p99, eventBeforeAck: before, eventLeadP50: l.p50 };
    };
    const wSeq = delays('s');
    const wConc = delays('c');
    log(`watch: ${events} events; sequential ack→event p99 ${f1(wSeq.ackP99)} ms; ${N.clients}-concurrent p99 ${f1(wConc.ackP99)} ms`);
    void watchSeq;
    void watchConc;

    // Bare SQLite on the same disk, same run (server idle meanwhile).
    const sample = await api.ok('GET', `${podsPath}/bench-00042`, undefined, undefined, true);
    const sq = sqliteBaseline(tmp, sample, N.sqliteSeconds);
    log(`sqlite: ${f0(sq.perTxn)} inserts/s (1 row/txn), ${f0(sq.batched)} rows/s (${sq.batchSize}/txn)`);

    await api.close();
    api = undefined;
    await server.stop();
    if (process.env.BENCH_SERVER_LOGS) process.stderr.write(server.logs());

    const ratio = s16.perSec / sq.perTxn;
    const rssAt10k = Math.max(rssFilled.rss, rssAfterReads.rss);
    Object.assign(result, {
      node: process.version,
      cpus: cpus().length,
      loadAverageAtStart: loadStart,
      pods: listedCount,
      create1: { perSec: s1.perSec, p50Ms: s1.p50, p99Ms: s1.p99, n: s1.n },
      create16: { perSec: s16.perSec, p50Ms: s16.p50, p99Ms: s16.p99, n: s16.n, serverCpuMsPerCreate: (1000 * cpu.server) / s16.n, clientCpuMsPerCreate: (1000 * cpu.client) / s16.n },
      getP50Ms: sGet.p50,
      getP99Ms: sGet.p99,
      listP50Ms: sList.p50,
      listP99Ms: sList.p99,
      listBytes,
      watch: { sequential: wSeq, concurrent: wConc, events },
      rssMb: { beforeConcurrent: rss0.rss, filled: rssFilled.rss, afterReads: rssAfterReads.rss, peak: rssAfterReads.hwm },
      sqlite: { insertsPerSecOneRowPerTxn: sq.perTxn, rowsPerSecBatched: sq.batched, batchSize: sq.batchSize },
      ratio,
      targets: {
        creates16: s16.perSec >= TARGETS.createsPerSec,
        createP99: s16.p99 <= TARGETS.createP99Ms,
        list: sList.p99 <= TARGETS.listP99Ms,
        watch: Math.max(wSeq.ackP99, wConc.ackP99) <= TARGETS.watchP99Ms,
        rss: rssAt10k <= TARGETS.rssMb,
      },
      seconds: (performance.now() - benchStart) / 1000,
    });

    const rows: [string, string, string, string][] = [
      ['creates/s, 1 client', f0(s1.perSec), '', ''],
      ['create p50 / p99, 1 client (ms)', `${f1(s1.p50)} / ${f1(s1.p99)}`, '', ''],
      [`creates/s, ${N.clients} concurrent`, f0(s16.perSec), `>= ${TARGETS.createsPerSec}`, mark(s16.perSec >= TARGETS.createsPerSec)],
      [`create p50 / p99, ${N.clients} concurrent (ms)`, `${f1(s16.p50)} / ${f1(s16.p99)}`, `p99 <= ${TARGETS.createP99Ms}`, mark(s16.p99 <= TARGETS.createP99Ms)],
      [`CPU ms per create, server / bench client (${N.clients} concurrent)`, `${((1000 * cpu.server) / s16.n).toFixed(2)} / ${((1000 * cpu.client) / s16.n).toFixed(2)}`, '', ''],
      [`GET p50 / p99 at ${listedCount} pods (ms)`, `${f1(sGet.p50)} / ${f1(sGet.p99)}`, '', ''],
      [`LIST ${listedCount} pods p50 / p99 (ms, ${f1(listBytes / 1048576)} MB)`, `${f1(sList.p50)} / ${f1(sList.p99)}`, `<= ${TARGETS.listP99Ms}`, mark(sList.p99 <= TARGETS.listP99Ms)],
      [`watch ack→event p50 / p99, sequential (ms, n=${wSeq.n})`, `${f1(wSeq.ackP50)} / ${f1(wSeq.ackP99)}`, `p99 <= ${TARGETS.watchP99Ms}`, mark(wSeq.ackP99 <= TARGETS.watchP99Ms)],
      [`watch ack→event p50 / p99, ${N.clients} concurrent (ms, n=${wConc.n})`, `${f1(wConc.ackP50)} / ${f1(wConc.ackP99)}`, `p99 <= ${TARGETS.watchP99Ms}`, mark(wConc.ackP99 <= TARGETS.watchP99Ms)],
      ['watch send→event p50 / p99, sequential (ms)', `${f1(wSeq.sendP50)} / ${f1(wSeq.sendP99)}`, '', ''],
      [`watch send→event p50 / p99, ${N.clients} concurrent (ms)`, `${f1(wConc.sendP50)} / ${f1(wConc.sendP99)}`, '', ''],
      [`events that arrived before the write's ack, sequential / concurrent`, `${wSeq.eventBeforeAck}/${wSeq.n} / ${wConc.eventBeforeAck}/${wConc.n}`, '', ''],
      [`server RSS at ${listedCount} pods, before reads (MB)`, f0(rssFilled.rss), '', ''],
      [`server RSS at ${listedCount} pods, after GET+LIST (MB, peak ${f0(rssAfterReads.hwm)})`, f0(rssAt10k), `<= ${TARGETS.rssMb}`, mark(rssAt10k <= TARGETS.rssMb)],
      ['sqlite inserts/s (WAL, sync=FULL, 1 row/txn)', f0(sq.perTxn), '', ''],
      [`sqlite rows/s (${sq.batchSize} rows/txn)`, f0(sq.batched), '', ''],
      [`ratio API creates/s (${N.clients}) / sqlite 1-row-txn inserts/s`, ratio.toFixed(2), '', ''],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    const w2 = Math.max(...rows.map((r) => r[2].length));
    console.log(`\nkubeling API bench — Node ${process.version}, ${result.cpus} CPUs, ${listedCount} pods, ${f0(result.seconds as number)} s, load average at start ${loadStart.toFixed(2)}\n`);
    console.log(`${'figure'.padEnd(w0)}  ${'value'.padStart(w1)}  ${'target'.padEnd(w2)}  result`);
    for (const r of rows) console.log(`${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2].padEnd(w2)}  ${r[3]}`);
    if (wSeq.missing || wConc.missing) console.log(`\nwarning: ${wSeq.missing + wConc.missing} updates never showed up on the watch`);

    if (profDir) {
      const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
      for (const f of files) {
        const prof = JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile;
        for (const w of [w16, wList, wWatch]) {
          console.log(`\nserver CPU profile during ${w.name}, top functions by self time (self% / inclusive%):`);
          for (const t of summarizeProfile(prof, w)) console.log(`${t.selfPct.toFixed(1).padStart(5)}% ${t.totalPct.toFixed(1).padStart(5)}%  ${t.fn}`);
          console.log(`\nserver CPU profile during ${w.name}, top functions by inclusive time (self% / inclusive%):`);
          for (const t of summarizeProfile(prof, w, 'total')) console.log(`${t.selfPct.toFixed(1).padStart(5)}% ${t.totalPct.toFixed(1).padStart(5)}%  ${t.fn}`);
        }
      }
      if (process.env.BENCH_KEEP_PROFILE) {
        console.log(`\nprofiles kept in ${profDir}`);
      }
    }
    console.log(JSON.stringify(result));
  } finally {
    await api?.close().catch(() => {});
    await server?.stop().catch(() => {});
    if (!(profDir && process.env.BENCH_KEEP_PROFILE)) rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
