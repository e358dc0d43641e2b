// bench/abuse: `npm run bench:abuse` — re-runs the resource attacks of issue 8 against a real `kubeling server` on loopback and prints the event-loop stall (max latency of a concurrent GET) under a large YAML body and a large strategic merge, the server's RSS with 100 stalled watchers, and whether an admin request is served beside 5,000 idle unauthenticated connections. Prints a table, then one JSON line.
//
// Flags: `--only yaml,merge` runs only the named phases (watch, idle, yaml, merge); `--cpu-prof DIR` has the server
// write a V8 CPU profile (.cpuprofile, for Chrome DevTools or `node --cpu-prof` readers) into DIR when it stops;
// `--gc-pauses` has the server report its main thread's GC pauses (perf_hooks 'gc' entries; V8's --trace-gc is block-
// buffered on a pipe and lost at exit) and prints those of GC_MIN_MS (default 5) or more, against the phases' times.
//
// Bounded: every phase has a time limit, all traffic goes to 127.0.0.1, the server and every socket are closed at the
// end (also on failure). Targets (issue 8): stall <= 100 ms, RSS <= 300 MB, admin served.
import { readFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startServer, type RunningServer } from '../test/helpers/server.ts';
import { rssMb } from './measure.ts';

const N = {
  yamlKeys: 50_000,
  mergeEntries: 20_000,
  watchers: 100,
  /** each write is this big, and there are this many: every stalled watcher is sent 21 MB (2.1 GB for all) */
  watchBlobBytes: 256 * 1024,
  watchWrites: 80,
  idleConnections: 5_000,
  phaseTimeoutMs: 60_000,
};

const TARGETS = { stallMs: 100, rssMb: 300 };

/** flag reads `--name value` or `--name=value` from the command line. */
function flag(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
}

const PHASES = ['watch', 'idle', 'yaml', 'merge'] as const;
const only = new Set((flag('only') ?? PHASES.join(',')).split(',').map((p) => p.trim()));
for (const p of only) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${p} (phases: ${PHASES.join(', ')})`);
const cpuProfDir = flag('cpu-prof');
const gcPausesWanted = process.argv.includes('--gc-pauses');

/**
 * GC_OBSERVER reports each GC pause of the server's main thread on its stderr at once, with the heap in use after it
 * (only in the server process: the helper processes it starts answer on their output).
 */
const GC_OBSERVER =
  `--import="data:text/javascript,import { PerformanceObserver } from 'node:perf_hooks'; import { writeSync } from 'node:fs'; import v8 from 'node:v8'; ` +
  `const K = { 1: 'Scavenge', 2: 'Minor Mark-Sweep', 4: 'Mark-Compact', 8: 'Incremental marking', 16: 'Weak callbacks' }; ` +
  `if (process.argv[2] === 'server') new PerformanceObserver((l) => { for (const e of l.getEntries()) writeSync(2, 'gc-pause ' + Math.round(e.startTime) + ' ' + (K[e.detail.kind] ?? e.detail.kind) + ' ' + e.duration.toFixed(1) + ' ms, heap used ' + (v8.getHeapStatistics().used_heap_size / 1e6).toFixed(0) + ' MB' + String.fromCharCode(10)) }).observe({ entryTypes: ['gc'] })"`;

/** gcPauses are the server's GC pause reports (GC_OBSERVER) of `minMs` or more: "<ms since its start> <kind> <pause> ms, heap used <MB> MB". */
function gcPauses(minMs = Number(process.env.GC_MIN_MS ?? 5)): string[] {
  const out: string[] = [];
  for (const l of srv.logs().split('\n')) {
    const m = /^gc-pause (\d+) (.*?) ([\d.]+) ms, (.*)$/.exec(l);
    if (m && Number(m[3]) >= minMs) out.push(`${m[1]} ms: ${m[2]} ${m[3]} ms, ${m[4]}`);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = performance.now();
const say = (msg: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

let srv: RunningServer;

function tls(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: srv.port, ca: srv.caPem, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** request sends one HTTP/1.1 request on a kept-alive TLS connection and reads the whole response. */
function request(s: TLSSocket, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      const buf = Buffer.concat(chunks, size);
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const headers = buf.subarray(0, head).toString('latin1');
      const len = /content-length: (\d+)/i.exec(headers);
      const rest = buf.subarray(head + 4);
      if (len ? rest.length < Number(len[1]) : !rest.subarray(-5).equals(Buffer.from('0\r\n\r\n'))) return;
      s.off('data', onData);
      s.off('error', reject);
      resolve({ status: Number(headers.split(' ')[1]), body: rest.toString('utf8') });
    };
    s.on('data', onData);
    s.once('error', reject);
    const b = body === undefined ? '' : body;
    const extra = body === undefined ? '' : `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(b)}\r\n`;
    s.write(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${srv.token}\r\n${extra}\r\n${b}`);
  });
}

/** serverRssMb is the server's VmRSS, in MB. */
const serverRssMb = (): number => rssMb(srv.proc.pid!).rss;

/**
 * mainThread is the server's main thread's time from /proc (schedstat, ns): on a CPU, and runnable but waiting for
 * one — what a loaded machine adds to every stall, whatever the server does.
 */
function mainThread(): { cpuMs: number; waitMs: number } {
  try {
    const pid = srv.proc.pid!;
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpuMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return { cpuMs: NaN, waitMs: NaN };
  }
}

/**
 * stallDuring runs `work` while one client GETs a small object every 5 ms on its own connection; the result is the
 * longest GET (what every other client waited), the work's answer, and the server main thread's CPU time and
 * run-queue wait over the work (with the GETs' own).
 */
async function stallDuring<T>(work: () => Promise<T>): Promise<{ maxMs: number; gets: number; result: T; cpuMs: number; waitMs: number }> {
  const g = await tls();
  try {
    await request(g, 'GET', '/api/v1/namespaces/default');
    const t0 = mainThread();
    let stop = false;
    let maxMs = 0;
    let gets = 0;
    const poll = (async () => {
      while (!stop) {
        const t = performance.now();
        await request(g, 'GET', '/api/v1/namespaces/default');
        maxMs = Math.max(maxMs, performance.now() - t);
        gets++;
        await sleep(5);
      }
    })();
    const result = await work();
    await sleep(50);
    stop = true;
    await poll;
    const t1 = mainThread();
    return { maxMs, gets, result, cpuMs: t1.cpuMs - t0.cpuMs, waitMs: t1.waitMs - t0.waitMs };
  } finally {
    g.destroy();
  }
}

async function yamlPhase() {
  let yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\ndata:\n';
  for (let i = 0; i < N.yamlKeys; i++) yaml += `  k${i}: v${i}\n`;
  const a = await tls();
  try {
    // a duplicate key at the end: the server parses the whole body and answers 400 — the parse alone
    const parse = await stallDuring(() => request(a, 'POST', '/api/v1/namespaces/default/configmaps', yaml.replace('NAME', 'dup') + '  k7: again\n', 'application/yaml'));
    if (parse.result.status !== 400) throw new Error(`duplicate-key YAML: ${parse.result.status}`);
    // the same body stored: parse, typed decoding, validation, managedFields, the write, the watch cache
    const create = await stallDuring(() => request(a, 'POST', '/api/v1/namespaces/default/configmaps', yaml.replace('NAME', 'huge'), 'application/yaml'));
    if (create.result.status !== 201) throw new Error(`YAML create: ${create.result.status} ${create.result.body.slice(0, 300)}`);
    return {
      bytes: yaml.length,
      parseStallMs: parse.maxMs,
      createStallMs: create.maxMs,
      parseMainCpuMs: parse.cpuMs,
      parseMainWaitMs: parse.waitMs,
      createMainCpuMs: create.cpuMs,
      createMainWaitMs: create.waitMs,
    };
  } finally {
    a.destroy();
  }
}

async function mergePhase() {
  const env = (v: string) => Array.from({ length: N.mergeEntries }, (_, i) => ({ name: `E${i}`, value: `${v}${i}` }));
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'merge' },
    spec: { replicas: 0, selector: { matchLabels: { app: 'merge' } }, template: { metadata: { labels: { app: 'merge' } }, spec: { containers: [{ name: 'c', image: 'busybox', env: env('a') }] } } },
  };
  const a = await tls();
  try {
    const c = await request(a, 'POST', '/apis/apps/v1/namespaces/default/deployments', JSON.stringify(deployment));
    if (c.status !== 201) throw new Error(`deployment create: ${c.status} ${c.body.slice(0, 300)}`);
    const patch = JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'c', env: env('b') }] } } } });
    const m = await stallDuring(() => request(a, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/merge', patch, 'application/strategic-merge-patch+json'));
    if (m.result.status !== 200) throw new Error(`strategic merge: ${m.result.status} ${m.result.body.slice(0, 300)}`);
    return { bytes: patch.length, stallMs: m.maxMs, mainCpuMs: m.cpuMs, mainWaitMs: m.waitMs };
  } finally {
    a.destroy();
  }
}

async function watchPhase() {
  const rssBefore = serverRssMb();
  const watchers: TLSSocket[] = [];
  const closed = new Set<TLSSocket>();
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, serverRssMb())), 100);
  try {
    for (let i = 0; i < N.watchers; i++) {
      const s = await tls();
      s.on('error', () => {});
      s.once('close', () => closed.add(s));
      s.write(`GET /api/v1/namespaces/default/configmaps?watch=true&labelSelector=blob%3D1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${srv.token}\r\n\r\n`);
      s.pause(); // a stalled client: never reads
      watchers.push(s);
    }
    await sleep(500);
    const a = await tls();
    const blob = 'x'.repeat(N.watchBlobBytes);
    for (let i = 0; i < N.watchWrites; i++) {
      const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'blob', labels: { blob: '1' } }, data: { blob: blob.slice(i) } });
      const r = i === 0 ? await request(a, 'POST', '/api/v1/namespaces/default/configmaps', body) : await request(a, 'PUT', '/api/v1/namespaces/default/configmaps/blob', body);
      if (r.status >= 300) throw new Error(`watch phase write ${i}: ${r.status}`);
    }
    a.destroy();
    await sleep(2000);
    const during = serverRssMb();
    // read each stalled stream now: the ones the server closed end at once
    for (const s of watchers) s.resume();
    const deadline = Date.now() + 10_000;
    while (closed.size < watchers.length && Date.now() < deadline) await sleep(100);
    const closedByServer = closed.size;
    for (const s of watchers) s.destroy();
    await sleep(3000);
    return { rssBeforeMb: rssBefore, rssPeakMb: peak, rssStalledMb: during, rssAfterMb: serverRssMb(), closedByServer, sentPerWatcherMb: (N.watchBlobBytes * N.watchWrites) / 1e6 };
  } finally {
    clearInterval(sampler);
    for (const s of watchers) s.destroy();
  }
}

async function idlePhase() {
  const idle: Socket[] = [];
  let failedToOpen = 0;
  try {
    // half bare TCP connections, half finished TLS handshakes that never send a request
    for (let i = 0; i < N.idleConnections; i++) {
      try {
        if (i % 2 === 0) {
          idle.push(
            await new Promise<Socket>((resolve, reject) => {
              const s = netConnect({ host: '127.0.0.1', port: srv.port }, () => resolve(s));
              s.once('error', reject);
            }),
          );
        } else idle.push(await tls());
        idle[idle.length - 1].on('error', () => {});
      } catch {
        failedToOpen++;
      }
    }
    const t = performance.now();
    let status = 0;
    try {
      const a = await tls();
      status = (await request(a, 'GET', '/api/v1/namespaces/default')).status;
      a.destroy();
    } catch {
      status = 0;
    }
    const adminMs = performance.now() - t;
    await sleep(200);
    const stillOpen = idle.filter((s) => !s.destroyed && !s.readableEnded).length;
    return { opened: idle.length, failedToOpen, adminStatus: status, adminServed: status === 200, adminMs, rssMb: serverRssMb(), stillOpen };
  } finally {
    for (const s of idle) s.destroy();
  }
}

/** phase runs one phase within the time limit. */
async function phase<T>(name: string, f: () => Promise<T>): Promise<T> {
  say(`${name}…`);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([f(), new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${name}: over ${N.phaseTimeoutMs} ms`)), N.phaseTimeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  const load = loadavg()[0];
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', cpuProfDir ? `--cpu-prof --cpu-prof-dir=${cpuProfDir}` : '', gcPausesWanted ? GC_OBSERVER : ''].filter(Boolean).join(' ');
  const env: Record<string, string> = nodeOptions ? { NODE_OPTIONS: nodeOptions } : {};
  const serverT0 = performance.now();
  srv = await startServer({ args: ['--disable-agent', '--disable-scheduler', '--disable-controller-manager'], env });
  say(`server pid ${srv.proc.pid} at ${srv.url}`);
  try {
    // the memory phases first, while the server's heap holds only what they add
    const watch = only.has('watch') ? await phase('stalled watchers', watchPhase) : undefined;
    if (watch) say(`${N.watchers} stalled watchers: RSS peak ${watch.rssPeakMb.toFixed(0)} MB, closed ${watch.closedByServer}`);
    const idle = only.has('idle') ? await phase('idle connections', idlePhase) : undefined;
    if (idle) say(`${N.idleConnections} idle connections: admin ${idle.adminStatus} in ${idle.adminMs.toFixed(0)} ms`);
    // the phases in the server's clock (its GC pause reports carry that)
    const marks: [string, number][] = [];
    const mark = (what: string) => marks.push([what, performance.now() - serverT0]);
    mark('large YAML body');
    const yaml = only.has('yaml') ? await phase('large YAML body', yamlPhase) : undefined;
    if (yaml) say(`YAML ${N.yamlKeys} keys: parse stall ${yaml.parseStallMs.toFixed(0)} ms, create stall ${yaml.createStallMs.toFixed(0)} ms`);
    mark('large strategic merge');
    const merge = only.has('merge') ? await phase('large strategic merge', mergePhase) : undefined;
    if (merge) say(`strategic merge ${N.mergeEntries} entries: stall ${merge.stallMs.toFixed(0)} ms`);
    mark('end');
    if (gcPausesWanted) {
      say(`GC pauses of the server's main thread (clock: ms since its start, ±50) — phases: ${marks.map(([w, t]) => `${w} @${t.toFixed(0)}`).join(', ')}`);
      for (const l of gcPauses()) say(`  ${l}`);
    }

    const rows: [string, string, string, string][] = [];
    const pass = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    if (yaml) {
      rows.push([`stall: GET during a ${N.yamlKeys}-key YAML body, parse only (duplicate key → 400) (ms)`, yaml.parseStallMs.toFixed(0), `<= ${TARGETS.stallMs}`, pass(yaml.parseStallMs <= TARGETS.stallMs)]);
      rows.push([`stall: GET during the same body stored (201) (ms)`, yaml.createStallMs.toFixed(0), `<= ${TARGETS.stallMs}`, pass(yaml.createStallMs <= TARGETS.stallMs)]);
    }
    if (merge) rows.push([`stall: GET during a ${N.mergeEntries}-entry strategic merge (ms)`, merge.stallMs.toFixed(0), `<= ${TARGETS.stallMs}`, pass(merge.stallMs <= TARGETS.stallMs)]);
    const thread = (cpu: number, wait: number) => `${cpu.toFixed(0)} / ${wait.toFixed(0)}`;
    if (yaml) {
      rows.push([`  server main thread CPU / run-queue wait during the YAML parse (ms)`, thread(yaml.parseMainCpuMs, yaml.parseMainWaitMs), '', '']);
      rows.push([`  … during the YAML create (ms)`, thread(yaml.createMainCpuMs, yaml.createMainWaitMs), '', '']);
    }
    if (merge) rows.push([`  … during the strategic merge (ms)`, thread(merge.mainCpuMs, merge.mainWaitMs), '', '']);
    if (watch) {
      rows.push([`server RSS before / peak with ${N.watchers} stalled watchers (MB)`, `${watch.rssBeforeMb.toFixed(0)} / ${watch.rssPeakMb.toFixed(0)}`, `<= ${TARGETS.rssMb}`, pass(watch.rssPeakMb <= TARGETS.rssMb)]);
      rows.push([`server RSS after they were closed (MB)`, watch.rssAfterMb.toFixed(0), '', '']);
      rows.push([`stalled watchers closed by the server (of ${N.watchers}, ${watch.sentPerWatcherMb.toFixed(0)} MB sent to each)`, String(watch.closedByServer), '', '']);
    }
    if (idle) {
      rows.push([`admin GET beside ${N.idleConnections} idle unauthenticated connections (status, ms)`, `${idle.adminStatus}, ${idle.adminMs.toFixed(0)}`, 'served', pass(idle.adminServed)]);
      rows.push([`idle connections still open afterwards (the rest were evicted, oldest first)`, String(idle.stillOpen), '', '']);
    }
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(`\nkubeling abuse bench — Node ${process.version}, ${cpus().length} CPUs, load average at start ${load.toFixed(2)}\n`);
    console.log(`${'figure'.padEnd(w)}  ${'value'.padStart(10)}  ${'target'.padStart(8)}  result`);
    for (const r of rows) console.log(`${r[0].padEnd(w)}  ${r[1].padStart(10)}  ${r[2].padStart(8)}  ${r[3]}`);
    console.log(
      JSON.stringify({
        node: process.version,
        cpus: cpus().length,
        loadAverageAtStart: load,
        yaml: yaml && { keys: N.yamlKeys, ...yaml },
        merge: merge && { entries: N.mergeEntries, ...merge },
        watch: watch && { watchers: N.watchers, ...watch },
        idle: idle && { connections: N.idleConnections, ...idle },
        targets: {
          parseStall: yaml && yaml.parseStallMs <= TARGETS.stallMs,
          createStall: yaml && yaml.createStallMs <= TARGETS.stallMs,
          mergeStall: merge && merge.stallMs <= TARGETS.stallMs,
          rss: watch && watch.rssPeakMb <= TARGETS.rssMb,
          adminServed: idle?.adminServed,
        },
        seconds: (performance.now() - t0) / 1000,
      }),
    );
  } finally {
    await srv.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
