// bench/proxy: `npm run bench:proxy` — TCP throughput, connection rate and request/response latency through a kubeling
// NodePort in both proxy modes (userspace and iptables), beside the same pod reached straight at its pod IP and
// through Docker's userland docker-proxy (hostPort).
//
// One run: a `kubeling server` child from source with its embedded agent (the agent's proxy serves the NodePort), in
// a test slot of its own (startServer: pod/service CIDRs, node IP 127.1.S.1, NodePorts at that IP only). One pod runs
// a tiny static C server the bench compiles (gcc -static) into an image of its own: port 5001 sends zeros until the
// peer goes (throughput source), 5002 echoes (request/response), 5003 sends one byte and closes (connections). The pod
// publishes the three as hostPorts on the node IP (Docker serves them with docker-proxy; checked in /proc and with
// `ss`), and a NodePort Service selects it. Paths, measured in turn by a client child process (its own event loop):
//   direct        pod IP:5001-5003 (the node's bridge; the ceiling)
//   docker-proxy  node IP:hostPorts (Docker's userland proxy)
//   NodePort      node IP:nodePorts (kubeling's proxy in the agent, --proxy-mode userspace)
//   iptables      second node IP (127.1.S.2):nodePorts — a second proxy of the same cluster in `--proxy-mode iptables`,
//                 run in this process with its own node name and chains, NodePorts at that address only (kernel DNAT)
// Metrics: one stream and 32 streams of download (MB/s, 10^6 bytes), connections/s (connect, the server's byte,
// close; N.rateConcurrency at once), round trip of 64 bytes on a kept connection (p50/p99, µs), one new connection
// alone; CPU seconds per GB of the 32-stream runs for the forwarder, the client child and the pod's server (each
// process's own time, its kernel work included). Each metric runs N.rounds times per path, interleaved; throughput
// and rate take the median round, latencies pool their samples. Prints a table with ratios against the issue's
// targets, then one JSON line. Removes its containers, processes, temp dirs and its cluster's pod network. `--quick`
// runs one short round (while tuning).
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type OnReadOpts, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import { lookupKind } from '../pkg/api/resources.ts';
import type { KubeObject } from '../pkg/api/types.ts';
import { Client, SharedInformerFactory } from '../pkg/client/index.ts';
import { clusterId } from '../pkg/kubelet/index.ts';
import { busyboxRootfs, DockerRuntime } from '../pkg/kubelet/runtime/index.ts';
import { startProxy, type ServiceProxy } from '../pkg/proxy/index.ts';
import { silentLogger } from '../pkg/util/log.ts';
import { ensureTestImages, hostBusybox } from '../test/helpers/images.ts';
import { freePort, startServer, type RunningServer } from '../test/helpers/server.ts';
import { cpuSeconds, finishBench, pidsWhere, quantile } from './measure.ts';

/** N: sizes and limits; a full run takes about 2 minutes, --quick under one. */
const N = {
  rounds: 3,
  /** each throughput / rate sample lasts this long, after warmMs not counted */
  streamMs: 3000,
  warmMs: 500,
  streams: 32,
  rateMs: 3000,
  rateConcurrency: 16,
  latencySamples: 5000,
  latencyWarmup: 500,
  connectSamples: 300,
  /** how long the NodePort may take to answer once the pod runs and the Service exists */
  nodePortWaitMs: 30_000,
  podTimeoutMs: 60_000,
};

/** TARGETS are the issue's: NodePort throughput ≥ 0.7× direct and ≥ 1.0× docker-proxy, added p50 ≤ 100 µs. */
const TARGETS = { vsDirect: 0.7, vsDockerProxy: 1.0, addedP50Us: 100 };

const NS = 'default';
const NAME = 'bench-proxy';
/** Ports are the pod's three ports, or where a path reaches them. */
type Ports = { source: number; echo: number; hello: number };
const PORTS: Ports = { source: 5001, echo: 5002, hello: 5003 };
const ECHO_BYTES = 64;
const pods = lookupKind('v1', 'Pod')!;
const services = lookupKind('v1', 'Service')!;
const nodes = lookupKind('v1', 'Node')!;

/**
 * SERVER_C is the pod's server: a thread per connection, blocking I/O, 256 KiB sends of zeros on the source port and
 * a 64 KiB echo loop (TCP_NODELAY) on the echo port; the hello port answers each connection with one byte and closes
 * it at once, on its accept thread, so the server closes first and its TIME_WAIT stays server-side (a client that
 * closed first would run out of ephemeral ports, and slow down finding them, within seconds of connections to one
 * address). It exits 0 on SIGTERM (it runs as PID 1).
 */
const SERVER_C = String.raw`
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
static char zeros[1 << 18];
static pthread_attr_t attr;
static void *source(void *arg) {
  int fd = (int)(long)arg;
  while (send(fd, zeros, sizeof zeros, MSG_NOSIGNAL) > 0) {}
  close(fd);
  return 0;
}
static void *echo(void *arg) {
  int fd = (int)(long)arg, one = 1;
  char buf[65536];
  ssize_t n;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  while ((n = read(fd, buf, sizeof buf)) > 0)
    if (send(fd, buf, n, MSG_NOSIGNAL) != n) break;
  close(fd);
  return 0;
}
static int listener(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4096)) exit(1);
  return fd;
}
static void serve(int lfd, void *(*fn)(void *)) {
  for (;;) {
    int fd = accept(lfd, 0, 0);
    pthread_t t;
    if (fd >= 0 && pthread_create(&t, &attr, fn, (void *)(long)fd)) close(fd);
  }
}
static void *serveSource(void *arg) { serve((int)(long)arg, source); return 0; }
static void *serveHello(void *arg) {
  for (;;) {
    int fd = accept((int)(long)arg, 0, 0);
    if (fd < 0) continue;
    send(fd, "h", 1, MSG_NOSIGNAL);
    close(fd);
  }
  return 0;
}
static void bye(int s) { (void)s; _exit(0); }
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  signal(SIGTERM, bye);
  signal(SIGINT, bye);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int s = listener(atoi(argv[1])), e = listener(atoi(argv[2])), h = listener(atoi(argv[3]));
  pthread_t t;
  pthread_create(&t, &attr, serveSource, (void *)(long)s);
  pthread_create(&t, &attr, serveHello, (void *)(long)h);
  serve(e, echo);
}
`;

// ---------------------------------------------------------------------------------------------------------------
// Client side: runs in a child process (`node bench/proxy.ts --client`), one job at a time over IPC.

/** Job is one measurement the client child runs against host:port. */
type Job =
  | { kind: 'stream'; host: string; port: number; streams: number; ms: number; warmMs: number }
  | { kind: 'rate'; host: string; port: number; concurrency: number; ms: number }
  | { kind: 'latency'; host: string; port: number; samples: number; warmup: number }
  | { kind: 'connect'; host: string; port: number; samples: number };

/** JobResult: bytes/conns counted in the measured window; samples in µs; error when the job could not run at all. */
interface JobResult {
  seconds: number;
  bytes?: number;
  totalBytes?: number;
  conns?: number;
  errors?: number;
  samplesUs?: number[];
  error?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function open(host: string, port: number, timeoutMs = 5000, onread?: OnReadOpts): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true, ...(onread ? { onread } : {}) });
    const t = setTimeout(() => s.destroy(new Error(`connect ${host}:${port} timed out`)), timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** stream opens `streams` downloads from the source port and counts what arrives during `ms` after `warmMs`. */
async function streamJob(j: Extract<Job, { kind: 'stream' }>): Promise<JobResult> {
  let bytes = 0;
  const socks: Socket[] = [];
  try {
    for (let i = 0; i < j.streams; i++) {
      // onread into one reused buffer: no allocation per chunk, so the client spends its core on the socket only
      const s = await open(j.host, j.port, 5000, {
        buffer: Buffer.allocUnsafe(256 * 1024),
        callback: (n) => {
          bytes += n;
          return true;
        },
      });
      s.on('error', () => undefined);
      socks.push(s);
    }
    await sleep(j.warmMs);
    const b0 = bytes;
    const t0 = performance.now();
    await sleep(j.ms);
    const counted = bytes - b0;
    const seconds = (performance.now() - t0) / 1000;
    const closed = socks.filter((s) => s.destroyed || s.readableEnded).length;
    return { seconds, bytes: counted, totalBytes: bytes, ...(closed ? { error: `${closed} of ${j.streams} streams closed early` } : {}) };
  } finally {
    for (const s of socks) s.destroy();
  }
}

/**
 * oneConnection: connect to the hello port, read its byte and its close, close too; resolves with µs or rejects.
 * The server closes first (see SERVER_C), as a client that closed first would leave TIME_WAIT on its own ports.
 */
function oneConnection(host: string, port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    let greeted = false;
    const t = setTimeout(() => s.destroy(new Error('timed out')), 5000);
    s.once('data', () => (greeted = true));
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.once('close', (hadError) => {
      clearTimeout(t);
      if (!hadError && greeted) resolve((performance.now() - t0) * 1000);
      else if (!hadError) reject(new Error('closed without the greeting byte'));
    });
  });
}

/** rate runs `concurrency` loops of oneConnection for `ms` and counts completed connections. */
async function rateJob(j: Extract<Job, { kind: 'rate' }>): Promise<JobResult> {
  let conns = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const until = t0 + j.ms;
  const loop = async () => {
    while (performance.now() < until) {
      try {
        await oneConnection(j.host, j.port);
        conns++;
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        if (errors > 100 && conns === 0) return;
      }
    }
  };
  await Promise.all(Array.from({ length: j.concurrency }, loop));
  return { seconds: (performance.now() - t0) / 1000, conns, errors, ...(firstError && conns === 0 ? { error: firstError } : {}) };
}

/** latency sends 64 bytes and waits for all 64 back on one kept connection, `samples` times after `warmup`. */
async function latencyJob(j: Extract<Job, { kind: 'latency' }>): Promise<JobResult> {
  const s = await open(j.host, j.port);
  const msg = Buffer.alloc(ECHO_BYTES, 0x61);
  let want = 0;
  let wake: (() => void) | undefined;
  s.on('data', (b: Buffer) => {
    want -= b.length;
    if (want <= 0) wake?.();
  });
  const closed = new Promise<never>((_, reject) => s.once('close', () => reject(new Error('echo connection closed'))));
  closed.catch(() => undefined);
  const samplesUs: number[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < j.warmup + j.samples; i++) {
      want = ECHO_BYTES;
      const got = new Promise<void>((r) => (wake = r));
      const t = performance.now();
      s.write(msg);
      await Promise.race([got, closed]);
      if (i >= j.warmup) samplesUs.push((performance.now() - t) * 1000);
    }
  } finally {
    s.destroy();
  }
  return { seconds: (performance.now() - t0) / 1000, samplesUs };
}

/** connect times `samples` new connections one after another (oneConnection). */
async function connectJob(j: Extract<Job, { kind: 'connect' }>): Promise<JobResult> {
  const samplesUs: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  for (let i = 0; i < j.samples; i++) {
    try {
      samplesUs.push(await oneConnection(j.host, j.port));
    } catch {
      errors++;
    }
  }
  return { seconds: (performance.now() - t0) / 1000, samplesUs, errors };
}

async function runJob(j: Job): Promise<JobResult> {
  try {
    switch (j.kind) {
      case 'stream':
        return await streamJob(j);
      case 'rate':
        return await rateJob(j);
      case 'latency':
        return await latencyJob(j);
      case 'connect':
        return await connectJob(j);
    }
  } catch (e) {
    return { seconds: 0, error: (e as Error).message };
  }
}

/** clientChild serves jobs from the parent until it disconnects. */
function clientChild(): void {
  process.on('message', (j: Job) => {
    void runJob(j).then((r) => process.send!(r));
  });
  process.on('disconnect', () => process.exit(0));
}

/** ClientProc is the parent's handle on the client child. */
class ClientProc {
  private readonly child: ChildProcess;
  private pending: ((r: JobResult) => void) | undefined;

  constructor() {
    this.child = fork(process.argv[1]!, ['--client'], { execArgv: ['--disable-warning=ExperimentalWarning'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (r: JobResult) => {
      const p = this.pending;
      this.pending = undefined;
      p?.(r);
    });
    this.child.on('exit', (code) => {
      const p = this.pending;
      this.pending = undefined;
      p?.({ seconds: 0, error: `client child exited (${code})` });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(j: Job): Promise<JobResult> {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.child.send(j);
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bench side.

function median(xs: number[]): number {
  return quantile(xs.slice().sort((a, b) => a - b), 0.5);
}

/**
 * podServerPid finds the pod's server process: the bench server's command in the cgroup of the pod's `srv` container
 * (a bench of another cluster may run the same image at the same time); undefined when not found.
 */
async function podServerPid(runtime: DockerRuntime, podUid: string): Promise<number | undefined> {
  const id = (await runtime.listContainers({ podUid })).find((c) => c.containerName === 'srv')?.id;
  if (!id) return undefined;
  return pidsWhere((p) => p.argv[0] === '/bin/kl-bench-srv' && readFileSync(`/proc/${p.pid}/cgroup`, 'utf8').includes(id))[0];
}

/** ssOwners lists the processes (`ss -p`) owning established TCP sockets whose local port is `port`. */
function ssOwners(port: number): string {
  const r = spawnSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return r.stdout ?? '';
}

/** benchImage compiles SERVER_C statically and imports busybox + the server as an image tagged by their digest. */
async function benchImage(runtime: DockerRuntime, tmp: string): Promise<string> {
  const busybox = hostBusybox();
  const ref = `kubeling/bench-proxy:${createHash('sha256').update(SERVER_C).update(busybox).digest('hex').slice(0, 12)}`;
  if (await runtime.imageExists(ref)) return ref;
  writeFileSync(join(tmp, 'srv.c'), SERVER_C);
  try {
    execFileSync('gcc', ['-O2', '-static', '-s', '-pthread', '-o', join(tmp, 'srv'), join(tmp, 'srv.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`bench:proxy compiles its pod's server with gcc -static (Debian gcc + libc6-dev): ${(e as Error).message}`);
  }
  const rootfs = busyboxRootfs(busybox, [{ type: 'file', path: 'bin/kl-bench-srv', data: readFileSync(join(tmp, 'srv')), mode: 0o755 }]);
  await runtime.importImage(rootfs, ref, [`CMD ["/bin/kl-bench-srv", "${PORTS.source}", "${PORTS.echo}", "${PORTS.hello}"]`, 'LABEL kubeling.image=bench-proxy']);
  return ref;
}

function podManifest(image: string, nodeName: string, nodeIp: string, hostPorts: Ports): Pod & KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${NAME}-srv`, labels: { app: NAME } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'srv',
          image,
          imagePullPolicy: 'IfNotPresent',
          ports: [
            { name: 'source', containerPort: PORTS.source, hostPort: hostPorts.source, hostIP: nodeIp },
            { name: 'echo', containerPort: PORTS.echo, hostPort: hostPorts.echo, hostIP: nodeIp },
            { name: 'hello', containerPort: PORTS.hello, hostPort: hostPorts.hello, hostIP: nodeIp },
          ],
        },
      ],
    },
  };
}

function serviceManifest(): Service & KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NAME },
    spec: {
      type: 'NodePort',
      selector: { app: NAME },
      ports: [
        { name: 'source', port: PORTS.source, targetPort: PORTS.source, protocol: 'TCP' },
        { name: 'echo', port: PORTS.echo, targetPort: PORTS.echo, protocol: 'TCP' },
        { name: 'hello', port: PORTS.hello, targetPort: PORTS.hello, protocol: 'TCP' },
      ],
    },
  };
}

/** Path is one way to the pod's two ports; cpuPids are the processes doing the forwarding (none for direct). */
interface Path {
  key: 'direct' | 'dockerProxy' | 'nodePort' | 'iptables';
  label: string;
  host: string;
  ports: Ports;
  cpuPids: () => number[];
}

/** PathResult is what one path measured; NaN where it could not measure. */
interface PathResult {
  stream1MBs: number;
  streamNMBs: number;
  connsPerSec: number;
  connErrors: number;
  rttP50Us: number;
  rttP99Us: number;
  connectP50Us: number;
  connectP99Us: number;
  /** CPU seconds of the forwarding process per GB moved, in the 32-stream runs */
  proxyCpuPerGB: number;
  /** CPU seconds per GB of the client child and of the pod's server in the same runs (their kernel work included) */
  clientCpuPerGB: number;
  podCpuPerGB: number;
  errors: string[];
}

/** probeHello: one connection to the hello port at host:port gets its byte. */
async function probeHello(host: string, port: number): Promise<boolean> {
  try {
    await oneConnection(host, port);
    return true;
  } catch {
    return false;
  }
}

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
/** cpuSum: the CPU a path costs per GB in the 32-stream runs — client, pod server, forwarder (when a process) and their sum */
const cpuSum = (r: PathResult) => {
  const fwd = Number.isFinite(r.proxyCpuPerGB) && r.proxyCpuPerGB > 0 ? r.proxyCpuPerGB : 0;
  return `${f2(r.clientCpuPerGB)} + ${f2(r.podCpuPerGB)}${fwd ? ` + ${f2(fwd)}` : ''} = ${f2(r.clientCpuPerGB + r.podCpuPerGB + fwd)}`;
};

async function main(): Promise<void> {
  if (process.argv.includes('--quick')) Object.assign(N, { rounds: 1, streamMs: 1500, rateMs: 1500, latencySamples: 2000, connectSamples: 150 });
  const t0 = performance.now();
  const load0 = loadavg()[0]!;
  const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'kubeling-bench-proxy-'));
  const runtime = new DockerRuntime();
  let server: RunningServer | undefined;
  let admin: Client | undefined;
  let client: ClientProc | undefined;
  let cleaned: Promise<number> | undefined;
  let kernelProxy: { proxy: ServiceProxy; informers: SharedInformerFactory } | undefined;
  const ROUTE_LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';
  const routeLocalnet0 = readFileSync(ROUTE_LOCALNET, 'utf8').trim();
  const cleanup = () =>
    (cleaned ??= (async () => {
      client?.stop();
      await kernelProxy?.proxy.stop();
      kernelProxy?.informers.stop();
      // (server.cleanup's teardownNode removes the iptables proxy's chains with the cluster's network)
      writeFileSync(ROUTE_LOCALNET, routeLocalnet0);
      await admin?.close().catch(() => undefined);
      await server?.stop();
      let removed = 0;
      if (server) {
        removed = (await new DockerRuntime({ cluster: clusterId(server.caPem) }).listContainers().catch(() => [])).length;
        await server.cleanup(); // its containers, pod network (bridge, iptables, routes, addresses), slot, data dir
      }
      rmSync(tmp, { recursive: true, force: true });
      return removed;
    })());
  process.once('SIGINT', () => {
    log('interrupted; cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  const result: Record<string, unknown> = { bench: 'proxy', node: process.version, cpus: cpus().length, load: load0 };
  try {
    const nodeName = `bench-proxy-${process.pid}`;
    const [image] = await Promise.all([benchImage(runtime, tmp), ensureTestImages(runtime)]);
    // startServer gives the cluster a test slot: its own pod/service CIDRs and node IP, NodePorts only at that IP
    server = await startServer({ args: ['--node-name', nodeName, '--kubelet-port', '0', '--log-level', 'warn'], env: { KUBELING_FROM_SOURCE: '1' } });
    const nodeIp = server.slot.nodeIp(1);
    admin = new Client({ server: server.url, token: server.token, caPem: server.caPem });
    log(`server pid ${server.proc.pid} at ${server.url}, node ${nodeName} at ${nodeIp}; image ${image}`);
    for (let i = 0; ; i++) {
      const node = await admin.getOrUndefined(nodes, undefined, nodeName);
      if (node?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')) break;
      if (server.proc.exitCode !== null || i > 600) throw new Error(`node ${nodeName} never became Ready:\n${server.logs().slice(-4000)}`);
      await sleep(100);
    }

    // The pod (with hostPorts on the node IP) and the NodePort Service.
    const hostPorts: Ports = { source: await freePort(nodeIp), echo: await freePort(nodeIp), hello: await freePort(nodeIp) };
    await admin.create(services, NS, serviceManifest());
    await admin.create(pods, NS, podManifest(image, nodeName, nodeIp, hostPorts));
    let pod: Pod;
    for (const until = performance.now() + N.podTimeoutMs; ; ) {
      pod = (await admin.get(pods, NS, `${NAME}-srv`)) as Pod;
      if (pod.status?.phase === 'Running' && pod.status.podIP) break;
      if (performance.now() > until) throw new Error(`pod ${NAME}-srv not Running with an IP after ${N.podTimeoutMs} ms: ${JSON.stringify(pod.status)}`);
      await sleep(200);
    }
    const podIp = pod.status!.podIP!;
    const podPid = await podServerPid(runtime, pod.metadata!.uid!);
    const svc = (await admin.get(services, NS, NAME)) as Service;
    const nodePort = (name: string) => svc.spec?.ports?.find((p) => p.name === name)?.nodePort ?? NaN;
    const nodePorts: Ports = { source: nodePort('source'), echo: nodePort('echo'), hello: nodePort('hello') };
    const serverPid = server.proc.pid!;
    // the iptables-mode proxy of the same cluster, NodePorts at a second address of the slot only
    const kernelIp = server.slot.nodeIp(2);
    const kinformers = new SharedInformerFactory(admin, silentLogger());
    kernelProxy = {
      informers: kinformers,
      proxy: startProxy({ informers: kinformers, clusterId: clusterId(server.caPem), nodeName: `${nodeName}-iptables`, nodeIp: kernelIp, nodePortAddresses: [`${kernelIp}/32`], mode: 'iptables', log: silentLogger() }),
    };
    kinformers.start();
    await kernelProxy.proxy.ready();
    const paths: Path[] = [
      { key: 'direct', label: 'direct (pod IP)', host: podIp, ports: PORTS, cpuPids: () => [] },
      { key: 'dockerProxy', label: 'docker-proxy (hostPort)', host: nodeIp, ports: hostPorts, cpuPids: () => dockerProxyPids(nodeIp, Object.values(hostPorts)) },
      { key: 'nodePort', label: 'NodePort (userspace)', host: nodeIp, ports: nodePorts, cpuPids: () => [serverPid] },
      // the kernel forwards: no process to charge (softirq time is not attributed)
      { key: 'iptables', label: 'NodePort (iptables)', host: kernelIp, ports: nodePorts, cpuPids: () => [] },
    ];
    log(`pod ${podIp}; hostPorts ${Object.values(hostPorts).join('/')}; nodePorts ${Object.values(nodePorts).join('/')}`);

    // Which paths answer: direct must; docker-proxy must be Docker's userland proxy; the NodePort is polled.
    const skipped: Record<string, string> = {};
    for (const until = performance.now() + 10_000; !(await probeHello(podIp, PORTS.hello)); await sleep(100)) {
      if (performance.now() > until) throw new Error(`the pod does not answer at ${podIp}:${PORTS.hello} within 10 s`);
    }
    const dpPids = paths[1]!.cpuPids();
    if (dpPids.length < 3) skipped.dockerProxy = `no docker-proxy process publishes ${nodeIp}:${Object.values(hostPorts).join('/')} (dockerd runs with --userland-proxy=false?)`;
    else {
      // one echo exchange first: a connection the kernel completed may still wait in docker-proxy's accept queue,
      // owned by no process yet
      const s = await open(nodeIp, hostPorts.echo).catch(() => undefined);
      let owners = '';
      if (s) {
        const echoed = new Promise<void>((r) => s.once('data', () => r()));
        s.write('x');
        await Promise.race([echoed, sleep(5000)]);
        for (let i = 0; i < 10 && !owners.includes('docker-proxy'); i++, await sleep(100)) owners = ssOwners(hostPorts.echo);
      }
      s?.destroy();
      if (!s) skipped.dockerProxy = `nothing answers at ${nodeIp}:${hostPorts.echo}`;
      else if (!owners.includes('docker-proxy')) skipped.dockerProxy = `the connection to ${nodeIp}:${hostPorts.echo} is not served by docker-proxy (ss: ${owners.trim() || 'no socket'})`;
      else log(`docker-proxy pids ${dpPids.join(',')} serve ${nodeIp}:${Object.values(hostPorts).join('/')}`);
    }
    for (const p of paths.slice(2)) {
      if (!Object.values(nodePorts).every(Number.isFinite)) skipped[p.key] = 'the Service has no nodePort';
      else {
        const until = performance.now() + N.nodePortWaitMs;
        while (!(await probeHello(p.host, nodePorts.hello))) {
          if (performance.now() > until) {
            skipped[p.key] = `nothing answered at the NodePort ${p.host}:${nodePorts.hello} within ${N.nodePortWaitMs / 1000} s (is the ${p.label} proxy, pkg/proxy, running in this build?)`;
            break;
          }
          await sleep(250);
        }
      }
    }
    for (const [k, why] of Object.entries(skipped)) log(`not measured: ${k}: ${why}`);
    const live = paths.filter((p) => !skipped[p.key]);

    // Measurements, interleaved per round; the starting path rotates so drift does not favour one.
    client = new ClientProc();
    const acc = new Map(live.map((p) => [p.key, { s1: [] as number[], sN: [] as number[], rate: [] as number[], errs: 0, rtt: [] as number[], conn: [] as number[], cpu: 0, clientCpu: 0, podCpu: 0, gb: 0, errors: [] as string[] }]));
    const each = async (what: string, fn: (p: Path, a: NonNullable<ReturnType<typeof acc.get>>) => Promise<void>) => {
      for (let r = 0; r < N.rounds; r++) {
        for (let i = 0; i < live.length; i++) {
          const p = live[(i + r) % live.length]!;
          await fn(p, acc.get(p.key)!);
        }
      }
      log(`${what} done`);
    };
    const note = (a: { errors: string[] }, p: Path, res: JobResult) => {
      if (res.error && !a.errors.includes(res.error)) a.errors.push(res.error);
      if (res.error) log(`${p.key}: ${res.error}`);
    };
    const mbs = (res: JobResult) => (res.bytes ?? NaN) / 1e6 / res.seconds;
    await each('1 stream', async (p, a) => {
      const res = await client!.run({ kind: 'stream', host: p.host, port: p.ports.source, streams: 1, ms: N.streamMs, warmMs: N.warmMs });
      note(a, p, res);
      a.s1.push(mbs(res));
    });
    await each(`${N.streams} streams`, async (p, a) => {
      const pids = p.cpuPids();
      const c0 = pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
      const [cl0, pod0] = [cpuSeconds(client!.pid), cpuSeconds(podPid)];
      const res = await client!.run({ kind: 'stream', host: p.host, port: p.ports.source, streams: N.streams, ms: N.streamMs, warmMs: N.warmMs });
      note(a, p, res);
      a.sN.push(mbs(res));
      a.cpu += pids.reduce((s, pid) => s + cpuSeconds(pid), 0) - c0;
      a.clientCpu += cpuSeconds(client!.pid) - cl0;
      a.podCpu += cpuSeconds(podPid) - pod0;
      a.gb += (res.totalBytes ?? 0) / 1e9;
    });
    await each('connection rate', async (p, a) => {
      const res = await client!.run({ kind: 'rate', host: p.host, port: p.ports.hello, concurrency: N.rateConcurrency, ms: N.rateMs });
      note(a, p, res);
      a.rate.push((res.conns ?? NaN) / res.seconds);
      a.errs += res.errors ?? 0;
      await sleep(200);
    });
    await each('request/response latency', async (p, a) => {
      const res = await client!.run({ kind: 'latency', host: p.host, port: p.ports.echo, samples: N.latencySamples, warmup: N.latencyWarmup });
      note(a, p, res);
      a.rtt.push(...(res.samplesUs ?? []));
      const c = await client!.run({ kind: 'connect', host: p.host, port: p.ports.hello, samples: N.connectSamples });
      note(a, p, c);
      a.conn.push(...(c.samplesUs ?? []));
    });

    // Results.
    const res: Partial<Record<Path['key'], PathResult>> = {};
    for (const p of live) {
      const a = acc.get(p.key)!;
      const rtt = a.rtt.sort((x, y) => x - y);
      const conn = a.conn.sort((x, y) => x - y);
      res[p.key] = {
        stream1MBs: median(a.s1),
        streamNMBs: median(a.sN),
        connsPerSec: median(a.rate),
        connErrors: a.errs,
        rttP50Us: quantile(rtt, 0.5),
        rttP99Us: quantile(rtt, 0.99),
        connectP50Us: quantile(conn, 0.5),
        connectP99Us: quantile(conn, 0.99),
        proxyCpuPerGB: p.key === 'direct' ? NaN : a.cpu / a.gb,
        clientCpuPerGB: a.clientCpu / a.gb,
        podCpuPerGB: a.podCpu / a.gb,
        errors: a.errors,
      };
    }
    const d = res.direct!;
    const dp = res.dockerProxy;
    const ratio = (x: number | undefined, y: number | undefined) => (x ?? NaN) / (y ?? NaN);
    const ratiosOf = (np: PathResult | undefined) => ({
      stream1: { vsDirect: ratio(np?.stream1MBs, d.stream1MBs), vsDockerProxy: ratio(np?.stream1MBs, dp?.stream1MBs) },
      streamN: { vsDirect: ratio(np?.streamNMBs, d.streamNMBs), vsDockerProxy: ratio(np?.streamNMBs, dp?.streamNMBs) },
      conns: { vsDirect: ratio(np?.connsPerSec, d.connsPerSec), vsDockerProxy: ratio(np?.connsPerSec, dp?.connsPerSec) },
    });
    const added = (r: PathResult | undefined) => ({ p50: (r?.rttP50Us ?? NaN) - d.rttP50Us, p99: (r?.rttP99Us ?? NaN) - d.rttP99Us, connectP50: (r?.connectP50Us ?? NaN) - d.connectP50Us });
    const addedDp = added(dp);
    /** throughputOk: the NodePort keeps ≥ 0.7× direct and ≥ 1.0× docker-proxy (when docker-proxy was measured). */
    const throughputOk = (r: { vsDirect: number; vsDockerProxy: number }) => r.vsDirect >= TARGETS.vsDirect && (!dp || r.vsDockerProxy >= TARGETS.vsDockerProxy);
    /** modes: the two NodePort paths (userspace, iptables), each with its ratios, added latency and targets */
    const modes = (['nodePort', 'iptables'] as const).map((key) => {
      const np = res[key];
      const ratios = ratiosOf(np);
      const addedNp = added(np);
      const targets = np ? { stream1: throughputOk(ratios.stream1), streamN: throughputOk(ratios.streamN), addedP50: addedNp.p50 <= TARGETS.addedP50Us } : undefined;
      return { key, np, ratios, addedNp, targets };
    });

    const col = (r: PathResult | undefined, f: (r: PathResult) => string) => (r ? f(r) : 'not measured');
    const tgt = (ok: boolean | undefined, text: string) => (ok === undefined ? '' : `${text} ${mark(ok)}`);
    const both = (f: (m: (typeof modes)[number]) => string) => modes.map(f).join(' | ');
    const throughputTarget = `≥ ${TARGETS.vsDirect}× direct, ≥ ${TARGETS.vsDockerProxy}× docker-proxy`;
    const [us, ipt] = modes as [(typeof modes)[number], (typeof modes)[number]];
    const rows: string[][] = [
      ['metric', paths[0]!.label, paths[1]!.label, paths[2]!.label, paths[3]!.label, 'NodePort/direct us | ipt', 'NodePort/docker-proxy us | ipt', 'target us | ipt'],
      ['1 stream, MB/s', f0(d.stream1MBs), col(dp, (r) => f0(r.stream1MBs)), col(us.np, (r) => f0(r.stream1MBs)), col(ipt.np, (r) => f0(r.stream1MBs)), both((m) => f2(m.ratios.stream1.vsDirect)), both((m) => f2(m.ratios.stream1.vsDockerProxy)),
        both((m) => tgt(m.targets?.stream1, m === us ? throughputTarget : ''))],
      [`${N.streams} streams, MB/s`, f0(d.streamNMBs), col(dp, (r) => f0(r.streamNMBs)), col(us.np, (r) => f0(r.streamNMBs)), col(ipt.np, (r) => f0(r.streamNMBs)), both((m) => f2(m.ratios.streamN.vsDirect)), both((m) => f2(m.ratios.streamN.vsDockerProxy)),
        both((m) => tgt(m.targets?.streamN, ''))],
      [`connections/s (${N.rateConcurrency} at once)`, f0(d.connsPerSec), col(dp, (r) => f0(r.connsPerSec)), col(us.np, (r) => f0(r.connsPerSec)), col(ipt.np, (r) => f0(r.connsPerSec)), both((m) => f2(m.ratios.conns.vsDirect)), both((m) => f2(m.ratios.conns.vsDockerProxy)), ''],
      [`request/response ${ECHO_BYTES} B p50 / p99, µs`, `${f0(d.rttP50Us)} / ${f0(d.rttP99Us)}`, col(dp, (r) => `${f0(r.rttP50Us)} / ${f0(r.rttP99Us)}`), col(us.np, (r) => `${f0(r.rttP50Us)} / ${f0(r.rttP99Us)}`), col(ipt.np, (r) => `${f0(r.rttP50Us)} / ${f0(r.rttP99Us)}`), '', '', ''],
      ['added p50 / p99 vs direct, µs', '', col(dp, () => `${f0(addedDp.p50)} / ${f0(addedDp.p99)}`), col(us.np, () => `${f0(us.addedNp.p50)} / ${f0(us.addedNp.p99)}`), col(ipt.np, () => `${f0(ipt.addedNp.p50)} / ${f0(ipt.addedNp.p99)}`), '', '', both((m) => tgt(m.targets?.addedP50, m === us ? `added p50 ≤ ${TARGETS.addedP50Us} µs` : ''))],
      ['new connection (connect, 1 B, close) p50 / p99, µs', `${f0(d.connectP50Us)} / ${f0(d.connectP99Us)}`, col(dp, (r) => `${f0(r.connectP50Us)} / ${f0(r.connectP99Us)}`), col(us.np, (r) => `${f0(r.connectP50Us)} / ${f0(r.connectP99Us)}`), col(ipt.np, (r) => `${f0(r.connectP50Us)} / ${f0(r.connectP99Us)}`), '', '', ''],
      [`forwarding CPU s per GB (${N.streams} streams)`, '', col(dp, (r) => f2(r.proxyCpuPerGB)), col(us.np, (r) => f2(r.proxyCpuPerGB)), col(ipt.np, () => 'kernel'), '', '', ''],
      [`CPU s per GB client + pod (+ forwarder) = sum`, cpuSum(d), col(dp, cpuSum), col(us.np, cpuSum), col(ipt.np, cpuSum), '', '', ''],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const load1 = loadavg()[0]!;
    console.log(`\nkubeling bench:proxy — TCP to one pod (static C server), client in its own process; ${N.rounds} round(s) × ${N.streamMs / 1000} s per path; ${cpus().length} CPUs, load ${f2(load0)} → ${f2(load1)}\n`);
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
    for (const [k, why] of Object.entries(skipped)) console.log(`\n${k} not measured: ${why}`);
    for (const p of live) if (res[p.key]!.errors.length) console.log(`${p.key} errors: ${res[p.key]!.errors.join('; ')}`);
    Object.assign(result, {
      loadEnd: load1, rounds: N.rounds, streamMs: N.streamMs, streams: N.streams, rateConcurrency: N.rateConcurrency, ...res,
      ratios: { nodePort: us.ratios, iptables: ipt.ratios },
      addedUs: { nodePort: us.addedNp, iptables: ipt.addedNp, dockerProxy: addedDp },
      targets: { nodePort: us.targets, iptables: ipt.targets },
      skipped,
    });
    for (const k of ['nodePort', 'iptables']) if (skipped[k]) result.error = `${k} not measured: ${skipped[k]}`;
  } catch (e) {
    result.error = (e as Error).message;
    log(`failed: ${(e as Error).stack}`);
    if (server) log(`server output:\n${server.logs().slice(-4000)}`);
  } finally {
    await finishBench(result, t0, cleanup, log);
  }
}

if (process.argv[2] === '--client') clientChild();
else await main();

/** dockerProxyPids finds the docker-proxy processes publishing `hostIp`:`hostPorts` (from their command lines). */
function dockerProxyPids(hostIp: string, hostPorts: number[]): number[] {
  return pidsWhere(({ argv }) => {
    const arg = (k: string) => argv[argv.indexOf(k) + 1];
    return !!argv[0]?.endsWith('docker-proxy') && arg('-host-ip') === hostIp && hostPorts.includes(Number(arg('-host-port')));
  });
}
