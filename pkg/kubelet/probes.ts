// probes: runs liveness, readiness and startup probes (httpGet, tcpSocket, exec) per running container.
import { http, https } from '../util/nodehttp.ts';
import net from 'node:net';
import type { Logger } from 'pino';
import type { KubeObject } from '../api/types.ts';
import type { ContainerRuntime } from './runtime/index.ts';
import { httpProbeOk, initialProbeState, probeDefaults, probeLabel, recordProbe } from './proberesults.ts';
import type { ProbeResult, ProbeSpec, ProbeState, ProbeType } from './proberesults.ts';

/** RunningContainer is a running container a probe targets. */
export interface RunningContainer {
  id: string;
  /** startedAt is the container's start time in ms since the epoch. */
  startedAt: number;
}

export interface ProbeDeps {
  runtime: ContainerRuntime;
  log: Logger;
  /** onChange is called when a published result changes (the pod must sync). */
  onChange(uid: string): void;
  /** event records an Unhealthy event for the container. */
  event(pod: KubeObject, container: string, type: 'Warning', reason: string, message: string): void;
}

interface Worker {
  key: string;
  uid: string;
  container: string;
  type: ProbeType;
  containerId: string;
  spec: ProbeSpec;
  probe: any;
  state: ProbeState;
  timer?: NodeJS.Timeout;
  stopped: boolean;
  pod: KubeObject;
  podIP: string;
  startedAt: number;
}

/** ProbeOutcome is one probe's raw result with the text upstream puts in events. */
export interface ProbeOutcome {
  ok: boolean;
  output: string;
}

const TYPES: ProbeType[] = ['startup', 'liveness', 'readiness'];
const FIELD: Record<ProbeType, string> = { liveness: 'livenessProbe', readiness: 'readinessProbe', startup: 'startupProbe' };

/** ProbeManager keeps one worker per container and probe type, reset whenever the container ID changes. */
export class ProbeManager {
  private readonly workers = new Map<string, Worker>();
  private readonly deps: ProbeDeps;

  constructor(deps: ProbeDeps) {
    this.deps = deps;
  }

  /** sync starts workers for running containers with probes and stops those whose container is gone or replaced. */
  sync(pod: KubeObject, podIP: string, running: Map<string, RunningContainer>): void {
    const uid = pod.metadata.uid!;
    const want = new Set<string>();
    for (const c of pod.spec?.containers ?? []) {
      const rc = running.get(c.name);
      if (!rc) continue;
      for (const type of TYPES) {
        const probe = c[FIELD[type]];
        if (!probe) continue;
        const key = `${uid}/${c.name}/${type}`;
        want.add(key);
        const w = this.workers.get(key);
        if (w && w.containerId === rc.id) {
          w.pod = pod;
          w.podIP = podIP;
          continue;
        }
        if (w) this.stop(w);
        this.start({ key, uid, container: c.name, type, containerId: rc.id, spec: probeDefaults(probe), probe, state: initialProbeState(type), stopped: false, pod, podIP, startedAt: rc.startedAt });
      }
    }
    for (const [key, w] of this.workers) if (w.uid === uid && !want.has(key)) this.stop(w);
  }

  removePod(uid: string): void {
    for (const w of this.workers.values()) if (w.uid === uid) this.stop(w);
  }

  stopAll(): void {
    for (const w of this.workers.values()) this.stop(w);
  }

  /** result is the published result of a probe for this container ID, or undefined when the container has no such probe. */
  result(uid: string, container: string, containerId: string, type: ProbeType): ProbeResult | undefined {
    const w = this.workers.get(`${uid}/${container}/${type}`);
    if (!w || w.containerId !== containerId) return undefined;
    return w.state.result;
  }

  /** status answers ready/started/livenessFailed for one running container (probe-less containers are ready and started). */
  status(pod: KubeObject, container: string, containerId: string): { ready: boolean; started: boolean; failed?: 'liveness' | 'startup' } {
    const uid = pod.metadata.uid!;
    const spec = (pod.spec?.containers ?? []).find((c: any) => c.name === container) ?? {};
    const get = (t: ProbeType): ProbeResult | undefined => (spec[FIELD[t]] ? (this.result(uid, container, containerId, t) ?? (t === 'readiness' ? 'failure' : t === 'startup' ? 'unknown' : 'success')) : undefined);
    const startup = get('startup');
    const started = startup === undefined || startup === 'success';
    const readiness = get('readiness');
    const ready = started && (readiness === undefined || readiness === 'success');
    const failed = get('liveness') === 'failure' ? 'liveness' : startup === 'failure' ? 'startup' : undefined;
    return failed ? { ready, started, failed } : { ready, started };
  }

  private start(w: Worker): void {
    this.workers.set(w.key, w);
    const first = Math.max(0, w.startedAt + w.spec.initialDelaySeconds * 1000 - Date.now());
    this.schedule(w, first);
  }

  private stop(w: Worker): void {
    w.stopped = true;
    if (w.timer) clearTimeout(w.timer);
    if (this.workers.get(w.key) === w) this.workers.delete(w.key);
  }

  private schedule(w: Worker, ms: number): void {
    if (w.stopped) return;
    w.timer = setTimeout(() => void this.tick(w), ms);
    w.timer.unref();
  }

  private async tick(w: Worker): Promise<void> {
    if (w.stopped) return;
    const next = (): void => this.schedule(w, w.spec.periodSeconds * 1000);
    if (w.state.onHold) return; // waits for a new container ID
    if (w.type !== 'startup') {
      // liveness and readiness wait until the startup probe (if any) succeeded
      const startupResult = this.result(w.uid, w.container, w.containerId, 'startup');
      const hasStartup = !!(w.pod.spec?.containers ?? []).find((c: any) => c.name === w.container)?.startupProbe;
      if (hasStartup && startupResult !== 'success') return next();
    } else if (w.state.result === 'success') {
      return; // startup probes stop once they succeeded
    }
    let out: ProbeOutcome;
    try {
      out = await runProbe(w.probe, { runtime: this.deps.runtime, containerId: w.containerId, podIP: w.podIP, timeoutMs: w.spec.timeoutSeconds * 1000, pod: w.pod, container: w.container });
    } catch (err) {
      out = { ok: false, output: (err as Error).message };
    }
    if (w.stopped) return;
    if (!out.ok) this.deps.event(w.pod, w.container, 'Warning', 'Unhealthy', `${probeLabel(w.type)} probe failed: ${out.output}`);
    const { state, changed } = recordProbe(w.state, w.type, out.ok, w.spec);
    w.state = state;
    if (changed) {
      this.deps.log.info({ pod: `${w.pod.metadata.namespace}/${w.pod.metadata.name}`, container: w.container, probe: w.type, result: state.result }, 'probe result changed');
      this.deps.onChange(w.uid);
    }
    next();
  }
}

/** resolvePort turns a probe port (number or named container port) into a number. */
export function resolvePort(port: number | string, pod: KubeObject, container: string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const c = (pod.spec?.containers ?? []).find((x: any) => x.name === container);
  const p = (c?.ports ?? []).find((x: any) => x.name === port);
  if (!p) throw new Error(`unable to find port ${JSON.stringify(port)} in container ${container}`);
  return p.containerPort;
}

/** runProbe performs one probe or lifecycle handler (httpGet, tcpSocket, exec) against a container. */
export async function runProbe(
  probe: any,
  ctx: { runtime: ContainerRuntime; containerId: string; podIP: string; timeoutMs: number; pod: KubeObject; container: string },
): Promise<ProbeOutcome> {
  if (probe.exec) {
    try {
      const r = await ctx.runtime.execSimple(ctx.containerId, probe.exec.command ?? [], ctx.timeoutMs);
      return { ok: r.exitCode === 0, output: (r.stdout + r.stderr).trim() || `command ${JSON.stringify(probe.exec.command)} exited with ${r.exitCode}` };
    } catch (err) {
      const e = err as { code?: string; message: string };
      return { ok: false, output: e.code === 'Timeout' ? `command timed out after ${ctx.timeoutMs / 1000}s` : e.message };
    }
  }
  if (probe.tcpSocket) {
    const host = probe.tcpSocket.host || ctx.podIP;
    const port = resolvePort(probe.tcpSocket.port, ctx.pod, ctx.container);
    return tcpProbe(host, port, ctx.timeoutMs);
  }
  if (probe.httpGet) {
    const g = probe.httpGet;
    const host = g.host || ctx.podIP;
    const port = resolvePort(g.port, ctx.pod, ctx.container);
    const scheme = (g.scheme ?? 'HTTP').toLowerCase();
    const path = g.path ? (g.path.startsWith('/') ? g.path : `/${g.path}`) : '/';
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.32', accept: '*/*' };
    for (const h of g.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    return httpProbe(scheme as 'http' | 'https', host, port, path, headers, ctx.timeoutMs);
  }
  if (probe.grpc) return { ok: false, output: 'grpc probes are not supported by kubeling' };
  return { ok: false, output: 'probe has no handler' };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (o: ProbeOutcome): void => {
      s.destroy();
      resolve(o);
    };
    s.setTimeout(timeoutMs, () => done({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` }));
    s.once('connect', () => done({ ok: true, output: '' }));
    s.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, output: `dial tcp ${host}:${port}: connect: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}` }));
  });
}

function httpProbe(scheme: 'http' | 'https', host: string, port: number, path: string, headers: Record<string, string>, timeoutMs: number): Promise<ProbeOutcome> {
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  return new Promise((resolve) => {
    const mod = scheme === 'https' ? https : http;
    const req = mod.request(url, { method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 10240) body += c;
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        if (httpProbeOk(code)) resolve({ ok: true, output: body });
        else resolve({ ok: false, output: `HTTP probe failed with statuscode: ${code}` });
      });
      res.on('error', (e) => resolve({ ok: false, output: e.message }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, output: `Get "${url}": dial tcp ${host}:${port}: connect: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}` }));
    req.end();
  });
}
