// sync: the kubelet's pod sync loop — watches this node's pods and makes each one real through the container runtime.
import type { Logger } from 'pino';
import { ApiError } from '../api/errors.ts';
import { parseQuantity } from '../api/quantity.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { Informer } from '../client/index.ts';
import type { ApiClient } from '../client/index.ts';
import { Backoff, formatDuration } from './backoff.ts';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import { podDnsConfig, type DnsSettings } from './dnsconfig.ts';
import { envSources, expandCommand, needsPodIP, resolveEnv } from './env.ts';
import type { EnvContext } from './env.ts';
import { podTarget } from './events.ts';
import type { EventRecorder } from './events.ts';
import { ImageManager } from './images.ts';
import { NodeKeyring } from './keyring.ts';
import { groupByName, needsSync, planPod } from './plan.ts';
import type { ContainerHistory, RestartPolicy } from './plan.ts';
import { PodWorkers } from './podworkers.ts';
import type { SyncResult, WorkerPhase } from './podworkers.ts';
import { ProbeManager, runProbe } from './probes.ts';
import type { RunningContainer } from './probes.ts';
import { LABELS } from './runtime/index.ts';
import type { ContainerInfo, ContainerRuntime, EventSubscription, RuntimeEvent } from './runtime/index.ts';
import { computePodStatus, deepEqual } from './status.ts';
import type { ContainerView, Waiting } from './status.ts';
import { serviceEnv } from './serviceenv.ts';
import { mountsFor, setUpVolumes, tearDownPod } from './volumes.ts';
import type { Fetch } from './volumes.ts';
import { TokenManager, tokenRequester } from './satoken.ts';

const podInfo = lookupKind('v1', 'Pod')!;
const cmInfo = lookupKind('v1', 'ConfigMap')!;
const secretInfo = lookupKind('v1', 'Secret')!;

/** RESYNC_MS is the periodic resync of every pod (upstream: 1 min; shorter here so missed events heal fast). */
export const RESYNC_MS = 10_000;
/** ORPHAN_SCAN_MS is how often containers of pods unknown to the API are looked for. */
export const ORPHAN_SCAN_MS = 30_000;
/** OBJECT_TTL_MS is how long a fetched ConfigMap/Secret is reused (volumes refresh within this, plus a resync). */
const OBJECT_TTL_MS = 5_000;
/** MIN_GRACE_SECONDS is upstream's minimumGracePeriodInSeconds for kills without a usable grace period. */
const MIN_GRACE_SECONDS = 2;

type Update = 'pod' | 'event' | 'resync' | 'orphan' | 'deleted';

export interface KubeletOptions {
  client: ApiClient;
  runtime: ContainerRuntime;
  events: EventRecorder;
  nodeName: string;
  nodeIp: string;
  dataDir: string;
  log: Logger;
  allocatable: () => { cpu: number; memory: number };
  /** sandboxImage overrides the pause image. */
  sandboxImage?: string;
  /** podNetwork is this node's pod network; sandboxes join its bridge (Docker's default bridge when absent). */
  podNetwork?: { ready(): Promise<{ networkName: string }> };
  /** dns is the cluster DNS and the host's resolver settings pods' /etc/resolv.conf is formed from. */
  dns?: DnsSettings;
  /** registryAuthFile is a Docker config.json of node-wide registry credentials (used when pull secrets have none) */
  registryAuthFile?: string;
  /** services lists the services whose links go into a pod's environment (its namespace's and default/kubernetes). */
  services?: (namespace: string) => KubeObject[];
}

/** NETWORK_WAIT_MS bounds how long one sync waits for the pod network before it reports and retries. */
const NETWORK_WAIT_MS = 5_000;

/** podDesc is upstream's `name_namespace(uid)` used in back-off messages. */
function podDesc(pod: KubeObject): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

function ms(t: string | undefined): number {
  const v = t ? Date.parse(t) : NaN;
  return Number.isNaN(v) ? 0 : v;
}

/** Kubelet syncs this node's pods: one worker per pod uid, fed by the pod informer, runtime events and a resync. */
export class Kubelet {
  private readonly o: KubeletOptions;
  private readonly log: Logger;
  private readonly informer: Informer;
  /** pods are the live pods bound here, by uid. */
  private readonly pods = new Map<string, KubeObject>();
  /** gone are pods that left the API while their containers may still run, by uid. */
  private readonly gone = new Map<string, KubeObject>();
  private readonly workers: PodWorkers<Update>;
  readonly probes: ProbeManager;
  private readonly images: ImageManager;
  private readonly restartBackoff = new Backoff();
  /** lastStatus is the status we last wrote per uid (the informer may lag behind it). */
  private readonly lastStatus = new Map<string, Record<string, any>>();
  private readonly objects = new Map<string, { at: number; obj: Promise<KubeObject | undefined> }>();
  private synced = false;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private sub: EventSubscription | undefined;
  private eventsBackoffMs = 500;
  private pauseImage: string | undefined;
  /** ownStarts are containers this kubelet is starting: their `start` events need no sync. */
  private readonly ownStarts = new Set<string>();
  /** tokens are the pods' projected service-account tokens (TokenRequests bound to the pod, renewed at 80 %) */
  private readonly tokens: TokenManager;

  constructor(o: KubeletOptions) {
    this.o = o;
    this.log = o.log;
    this.tokens = new TokenManager(tokenRequester(o.client));
    this.informer = new Informer(o.client, podInfo, { fieldSelector: `spec.nodeName=${o.nodeName}` }, o.log.child({ component: 'pod-informer' }));
    this.workers = new PodWorkers<Update>((uid, update, phase) => this.work(uid, update, phase), {
      onError: (uid, err) => this.log.warn({ err, uid }, 'pod sync failed; retrying'),
    });
    const event = (pod: KubeObject, container: string, type: 'Normal' | 'Warning', reason: string, message: string): void =>
      o.events.event(podTarget(pod, container), type, reason, message);
    this.probes = new ProbeManager({ runtime: o.runtime, log: o.log, onChange: (uid) => this.enqueue(uid, 'event'), event });
    this.images = new ImageManager(o.runtime, event, o.log, o.registryAuthFile ? new NodeKeyring(o.registryAuthFile, o.log) : undefined);
  }

  /** start watches pods, adopts what runs, follows runtime events and resyncs periodically. */
  async start(): Promise<void> {
    this.informer.on({
      add: (p) => this.onPod(p),
      update: (o, p) => this.onPod(p, o),
      delete: (p) => {
        const uid = p.metadata.uid!;
        this.pods.delete(uid);
        this.tokens.forget(uid);
        this.gone.set(uid, p);
        this.workers.updatePod(uid, 'deleted', true);
      },
    });
    this.informer.start();
    await this.informer.synced;
    this.synced = true;
    await this.openEvents();
    await this.scanOrphans().catch((err) => this.log.warn({ err }, 'orphan scan failed'));
    this.every(RESYNC_MS, () => {
      for (const uid of this.pods.keys()) this.enqueue(uid, 'resync');
      this.restartBackoff.gc(Date.now());
      this.images.backoff.gc(Date.now());
    });
    this.every(ORPHAN_SCAN_MS, () => void this.scanOrphans().catch((err) => this.log.debug({ err }, 'orphan scan failed')));
  }

  /** stop ends watches, workers and probes; running pods keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.informer.stop();
    this.sub?.close();
    this.workers.close();
    this.probes.stopAll();
    // let in-flight syncs finish, but do not wait on a long image pull
    await Promise.race([this.workers.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  /** podByName finds a live pod bound here (for the logs/exec server). */
  podByName(namespace: string, name: string): KubeObject | undefined {
    return this.informer.get(namespace, name);
  }

  /** containerFor finds the runtime container of a pod's container: the newest attempt, or the one before (`previous`). */
  async containerFor(pod: KubeObject, container: string, previous: boolean): Promise<ContainerInfo | undefined> {
    const all = await this.o.runtime.listContainers({ podUid: pod.metadata.uid! });
    const h = groupByName(all).get(container);
    return previous ? h?.previous : h?.current;
  }

  /** podIP is the pod's address as last seen (status written, or the pod's own). */
  podIP(pod: KubeObject): string {
    if (pod.spec?.hostNetwork) return this.o.nodeIp;
    return this.lastStatus.get(pod.metadata.uid!)?.podIP ?? pod.status?.podIP ?? '';
  }

  /** idle resolves when no pod worker is busy (tests). */
  idle(): Promise<void> {
    return this.workers.idle();
  }

  private every(msInterval: number, fn: () => void): void {
    const t = setInterval(fn, msInterval);
    t.unref();
    this.timers.push(t);
  }

  private onPod(p: KubeObject, old?: KubeObject): void {
    const uid = p.metadata.uid!;
    this.pods.set(uid, p);
    if (needsSync(old, p)) this.workers.updatePod(uid, 'pod', !!p.metadata.deletionTimestamp);
  }

  private enqueue(uid: string, u: Update): void {
    const pod = this.pods.get(uid);
    if (pod) this.workers.updatePod(uid, u, !!pod.metadata.deletionTimestamp);
  }

  /** openEvents follows runtime events; when the stream breaks (dockerd restart) it reopens with back-off and resyncs. */
  private async openEvents(): Promise<void> {
    if (this.stopped) return;
    try {
      this.sub = await this.o.runtime.events((e) => this.onRuntimeEvent(e), {
        node: this.o.nodeName,
        onClose: (err) => {
          if (this.stopped) return;
          this.log.warn({ err: err?.message }, 'runtime event stream closed; reconnecting');
          this.retryEvents();
        },
      });
      if (this.eventsBackoffMs > 500) {
        this.log.info('runtime event stream reopened; resyncing all pods');
        for (const uid of this.pods.keys()) this.enqueue(uid, 'resync');
        void this.scanOrphans().catch(() => undefined);
      }
      this.eventsBackoffMs = 500;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot open runtime event stream; retrying');
      this.retryEvents();
    }
  }

  private retryEvents(): void {
    this.eventsBackoffMs = Math.min(this.eventsBackoffMs * 2, 30_000);
    const t = setTimeout(() => void this.openEvents(), this.eventsBackoffMs);
    t.unref();
  }

  private onRuntimeEvent(e: RuntimeEvent): void {
    const uid = e.labels[LABELS.podUid];
    if (!uid) return;
    if (!['die', 'start', 'oom', 'destroy', 'kill', 'stop'].includes(e.action)) return;
    if (e.action === 'start' && this.ownStarts.delete(e.id)) return;
    if (this.pods.has(uid)) this.enqueue(uid, 'event');
    else if (this.synced && !this.gone.has(uid) && e.action !== 'destroy' && !this.workers.phase(uid)) this.workers.updatePod(uid, 'orphan', true);
  }

  /** scanOrphans removes containers of pods the API no longer has (force-deleted, or deleted while we were down). */
  private async scanOrphans(): Promise<void> {
    if (!this.synced) return;
    const all = await this.o.runtime.listContainers({ node: this.o.nodeName });
    const uids = new Set(all.map((c) => c.podUid).filter(Boolean));
    for (const uid of uids) {
      if (this.pods.has(uid)) continue;
      if (this.workers.phase(uid) === 'terminated') continue;
      this.workers.updatePod(uid, 'orphan', true);
    }
  }

  /** work is the pod worker's sync function. */
  private async work(uid: string, _update: Update, phase: WorkerPhase): Promise<SyncResult> {
    if (this.stopped) return {};
    const pod = this.pods.get(uid);
    if (phase === 'sync' && pod && !pod.metadata.deletionTimestamp) return this.syncPod(pod);
    if (phase === 'terminated') return {};
    await this.terminatePod(uid);
    return { phase: 'terminated' };
  }

  private fetch: Fetch = (kind, namespace, name) => {
    const key = `${kind}/${namespace}/${name}`;
    const hit = this.objects.get(key);
    const now = Date.now();
    if (hit && now - hit.at < OBJECT_TTL_MS) return hit.obj;
    const obj = this.o.client.getOrUndefined(kind === 'configmaps' ? cmInfo : secretInfo, namespace, name);
    this.objects.set(key, { at: now, obj });
    obj.catch(() => this.objects.delete(key));
    if (this.objects.size > 5000) this.objects.clear();
    return obj;
  };

  /** syncPod makes one pass toward the pod's desired state and writes its status when it changed. */
  private async syncPod(pod: KubeObject): Promise<SyncResult> {
    const uid = pod.metadata.uid!;
    const rt = this.o.runtime;
    const now = Date.now();
    let requeue: number | undefined;
    const want = (msDelay: number): void => {
      requeue = requeue === undefined ? msDelay : Math.min(requeue, msDelay);
    };
    const waiting = new Map<string, Waiting>();
    const spec = pod.spec ?? {};
    const policy = (spec.restartPolicy ?? 'Always') as RestartPolicy;
    const initSpecs: any[] = spec.initContainers ?? [];
    const appSpecs: any[] = spec.containers ?? [];
    const oldStatus = this.lastStatus.get(uid) ?? pod.status ?? {};
    const terminal = oldStatus.phase === 'Succeeded' || oldStatus.phase === 'Failed';
    const hostNetwork = !!spec.hostNetwork;

    let all = normalize(await rt.listContainers({ podUid: uid }));
    let sandbox = newestSandbox(all);
    let hist = groupByName(all);
    const current = new Map<string, ContainerInfo | undefined>();
    for (const c of [...initSpecs, ...appSpecs]) current.set(c.name, hist.get(c.name)?.current);

    const liveness = new Set<string>();
    const failedBy = new Map<string, string>();
    const specChanged = new Set<string>();
    for (const c of appSpecs) {
      const cur = current.get(c.name);
      if (cur?.state !== 'running') continue;
      // the only container field a pod update may change is its image (upstream hashes the whole definition)
      if (cur.image && c.image && cur.image !== c.image) specChanged.add(c.name);
      const st = this.probes.status(pod, c.name, cur.id);
      if (st.failed) {
        liveness.add(c.name);
        failedBy.set(c.name, st.failed);
      }
    }
    const plan = planPod({
      restartPolicy: policy,
      initContainers: initSpecs.map((c) => c.name),
      containers: appSpecs.map((c) => c.name),
      sandboxReady: sandbox?.state === 'running',
      sandboxAttempts: all.filter((c) => c.isSandbox).length,
      current,
      livenessFailed: liveness,
      specChanged,
      terminal,
    });
    const grace = Math.max(MIN_GRACE_SECONDS, spec.terminationGracePeriodSeconds ?? 30);
    let changed = false;

    if (plan.killPod) {
      const running = all.filter((c) => !c.isSandbox && c.state === 'running');
      if (running.length || sandbox?.state === 'running') {
        changed = true;
        if (plan.createSandbox) this.o.events.event(podTarget(pod), 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
        await this.stopContainers(pod, running, grace);
        for (const s of all.filter((c) => c.isSandbox && c.state === 'running')) await rt.stopContainer(s.id, 0);
        this.probes.removePod(uid);
      }
    }

    let podIP = hostNetwork ? this.o.nodeIp : (sandbox?.state === 'running' ? (sandbox.ip ?? '') : '');
    let volumes: Awaited<ReturnType<typeof setUpVolumes>> | undefined;
    const needStart = plan.createSandbox || plan.startInit !== undefined || plan.start.length > 0;
    const envCtx = (): EnvContext => ({ configMaps: new Map(), secrets: new Map(), podIP, hostIP: this.o.nodeIp, nodeAllocatable: this.o.allocatable() });

    if (!terminal && (needStart || (pod.spec?.volumes ?? []).length)) {
      volumes = await setUpVolumes(pod, this.o.dataDir, this.fetch, envCtx(), (p, src) => this.tokens.token(p, src));
      for (const f of volumes.failures) this.o.events.event(podTarget(pod), 'Warning', 'FailedMount', f.message);
      if (volumes.failures.length) want(5_000);
    }
    const volumesOk = volumes !== undefined && volumes.failures.length === 0;

    const specOf = (name: string): any => [...initSpecs, ...appSpecs].find((x) => x.name === name)!;
    const toStart = plan.startInit !== undefined ? [plan.startInit] : plan.start;
    const pullSecrets = volumesOk && needStart ? await this.pullSecrets(pod) : [];
    /** early: containers created while their new sandbox starts (first runs whose environment needs no pod IP). */
    const early = new Map<string, Promise<Created | { error: unknown }>>();
    if (plan.createSandbox && volumesOk) {
      changed = true;
      const image = (this.pauseImage ??= await rt.ensurePauseImage(this.o.sandboxImage));
      const attempt = Math.max(-1, ...all.filter((c) => c.isSandbox).map((c) => c.attempt)) + 1;
      const earlyNames = toStart.filter((n) => !current.get(n) && !needsPodIP(specOf(n)));
      const onCreated = (id: string): void => {
        this.ownStarts.add(id);
        for (const n of earlyNames) {
          const made = this.createContainer(pod, specOf(n), undefined, hist.get(n), id, '', volumes!.paths, pullSecrets);
          early.set(n, made.catch((error: unknown) => ({ error })));
        }
      };
      try {
        const networkName = hostNetwork ? undefined : await this.networkName();
        const dns = this.podDns(pod);
        for (const w of dns?.warnings ?? []) this.o.events.event(podTarget(pod), 'Warning', w.reason, w.message);
        const sb = await rt.createSandbox({
          ...(networkName ? { networkName } : {}),
          ...(dns ? { dns: { nameservers: dns.nameservers, searches: dns.searches, options: dns.options } } : {}),
          onCreated,
          podUid: uid,
          namespace: pod.metadata.namespace!,
          name: pod.metadata.name!,
          nodeName: this.o.nodeName,
          attempt,
          image,
          hostname: (spec.hostname ?? pod.metadata.name!).slice(0, 63),
          hostNetwork,
          portBindings: appSpecs.flatMap((c) => (c.ports ?? []).filter((p: any) => p.hostPort).map((p: any) => ({ containerPort: p.containerPort, hostPort: p.hostPort, protocol: p.protocol, hostIP: p.hostIP }))),
        });
        for (const old of all.filter((c) => c.isSandbox)) await rt.removeContainer(old.id);
        podIP = hostNetwork ? this.o.nodeIp : sb.ip;
        const fresh: ContainerInfo = { id: sb.id, name: '', labels: {}, podUid: uid, namespace: pod.metadata.namespace!, podName: pod.metadata.name!, containerName: 'POD', attempt, isSandbox: true, state: 'running', createdAt: new Date().toISOString(), image, imageID: '', oomKilled: false, ip: sb.ip };
        all = [...all.filter((c) => !c.isSandbox), fresh];
        sandbox = fresh;
      } catch (err) {
        this.pauseImage = undefined;
        this.log.warn({ err, pod: podDesc(pod) }, 'cannot create pod sandbox');
        this.o.events.event(podTarget(pod), 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(err as Error).message}`);
        want(5_000);
        await this.discard(early);
      }
    }

    for (const name of plan.kill) {
      const cur = current.get(name)!;
      const why = specChanged.has(name) ? `Container ${name} definition changed` : `Container ${name} failed ${failedBy.get(name) === 'startup' ? 'startup' : 'liveness'} probe`;
      this.o.events.event(podTarget(pod, name), 'Normal', 'Killing', `${why}, will be restarted`);
      await this.runPreStop(pod, name, cur.id, grace);
      await rt.stopContainer(cur.id, grace);
      changed = true;
    }

    const sandboxReady = sandbox?.state === 'running';
    if (sandboxReady && volumesOk && volumes) {
      try {
        for (const name of toStart) {
          const c = specOf(name);
          const cur = current.get(name);
          const key = `${uid}/${name}`;
          if (cur && cur.state === 'exited' && !plan.kill.includes(name)) {
            const fin = ms(cur.finishedAt) || ms(cur.createdAt);
            if (this.restartBackoff.inBackOffSince(key, fin, Date.now())) {
              const delay = this.restartBackoff.current(key);
              waiting.set(name, { reason: 'CrashLoopBackOff', message: `back-off ${formatDuration(delay)} restarting failed container=${name} pod=${podDesc(pod)}` });
              this.o.events.event(podTarget(pod, name), 'Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${podDesc(pod)}`);
              want(this.restartBackoff.remaining(key, fin, Date.now()) + 50);
              continue;
            }
            this.restartBackoff.next(key, fin, Date.now());
          }
          const pre = early.get(name);
          early.delete(name);
          const made = pre ? await pre : await this.createContainer(pod, c, cur, hist.get(name), sandbox!.id, podIP, volumes.paths, pullSecrets);
          if ('error' in made) throw made.error;
          const w = 'id' in made ? await this.runContainer(pod, c, made.id, podIP) : made;
          changed = true;
          if (w) {
            waiting.set(name, w);
            if (w.retryMs !== undefined) want(w.retryMs);
          }
          if (plan.startInit !== undefined) break;
        }
      } finally {
        await this.discard(early);
      }
      if (changed) {
        all = normalize(await rt.listContainers({ podUid: uid }));
        hist = groupByName(all);
      }
    } else if (needStart && !volumesOk) {
      for (const name of toStart) if (!current.get(name)) waiting.set(name, { reason: 'ContainerCreating' });
    } else if (changed) {
      all = normalize(await rt.listContainers({ podUid: uid }));
      hist = groupByName(all);
    }
    sandbox = newestSandbox(all);

    // Probes follow the containers that run now.
    const running = new Map<string, RunningContainer>();
    for (const c of appSpecs) {
      const cur = hist.get(c.name)?.current;
      if (cur?.state === 'running') running.set(c.name, { id: cur.id, startedAt: ms(cur.startedAt) || now });
    }
    if (!terminal) this.probes.sync(pod, podIP, running);

    const view = (specs: any[]): Map<string, ContainerView> => {
      const m = new Map<string, ContainerView>();
      for (const c of specs) {
        const h: ContainerHistory = hist.get(c.name) ?? { older: [] };
        const st = h.current?.state === 'running' ? this.probes.status(pod, c.name, h.current.id) : { ready: false, started: false };
        const cv: ContainerView = { history: h, ready: st.ready, started: st.started };
        const w = waiting.get(c.name);
        if (w) cv.waiting = { reason: w.reason, ...(w.message ? { message: w.message } : {}) };
        m.set(c.name, cv);
      }
      return m;
    };
    const status = computePodStatus({
      pod: { ...pod, status: oldStatus },
      now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      hostIP: this.o.nodeIp,
      podIP: sandbox?.state === 'running' ? (hostNetwork ? this.o.nodeIp : (sandbox.ip ?? podIP)) : '',
      sandboxReady: sandbox?.state === 'running',
      containers: view(appSpecs),
      initContainers: view(initSpecs),
    });
    if (plan.initFailed) status.phase = 'Failed';
    await this.writeStatus(pod, status);
    if (!terminal && (status.phase === 'Succeeded' || status.phase === 'Failed')) want(0);
    return requeue === undefined ? {} : { requeueAfterMs: requeue };
  }

  /** discard removes containers created early for a sandbox that did not come up (or that were not started). */
  private async discard(early: Map<string, Promise<Created | { error: unknown }>>): Promise<void> {
    for (const p of early.values()) {
      const made = await p;
      if ('id' in made) await this.o.runtime.removeContainer(made.id).catch((err) => this.log.warn({ err }, 'cannot remove an unused container'));
    }
    early.clear();
  }

  /** createContainer pulls the image, resolves env and mounts and creates one container; returns its id or a waiting reason. */
  private async createContainer(
    pod: KubeObject,
    c: any,
    cur: ContainerInfo | undefined,
    history: ContainerHistory | undefined,
    sandboxId: string,
    podIP: string,
    paths: Map<string, { path: string; readOnly: boolean }>,
    pullSecrets: KubeObject[],
  ): Promise<Created> {
    const rt = this.o.runtime;
    const target = podTarget(pod, c.name);
    const pulled = await this.images.ensureImage(pod, c, pullSecrets);
    if (pulled) return pulled;
    const ctx: EnvContext = { configMaps: new Map(), secrets: new Map(), podIP, hostIP: this.o.nodeIp, nodeAllocatable: this.o.allocatable(), serviceEnv: this.serviceEnv(pod) };
    const src = envSources(c);
    const ns = pod.metadata.namespace!;
    for (const n of src.configMaps) ctx.configMaps.set(n, await this.fetch('configmaps', ns, n));
    for (const n of src.secrets) ctx.secrets.set(n, await this.fetch('secrets', ns, n));
    const env = resolveEnv(pod, c, ctx);
    if ('error' in env) {
      this.o.events.event(target, 'Warning', 'Failed', `Error: ${env.error}`);
      return { reason: 'CreateContainerConfigError', message: env.error, retryMs: 5_000 };
    }
    const mounts = await mountsFor(c, paths, env.env);
    if ('error' in mounts) {
      this.o.events.event(target, 'Warning', 'Failed', `Error: ${mounts.error}`);
      return { reason: 'CreateContainerConfigError', message: mounts.error, retryMs: 5_000 };
    }
    const { command, args } = expandCommand(c, env.env);
    const limits = c.resources?.limits ?? {};
    const requests = c.resources?.requests ?? {};
    const attempt = cur ? cur.attempt + 1 : 0;
    const sc = c.securityContext ?? {};
    const psc = pod.spec?.securityContext ?? {};
    const runAsUser = sc.runAsUser ?? psc.runAsUser;
    const runAsGroup = sc.runAsGroup ?? psc.runAsGroup;
    let id: string;
    try {
      id = await rt.createContainer({
        sandboxId,
        podUid: pod.metadata.uid!,
        namespace: ns,
        podName: pod.metadata.name!,
        containerName: c.name,
        nodeName: this.o.nodeName,
        attempt,
        image: c.image,
        ...(command ? { command } : {}),
        ...(args ? { args } : {}),
        env: env.env,
        ...(c.workingDir ? { workingDir: c.workingDir } : {}),
        mounts: mounts.mounts,
        ...(limits.memory ? { memoryLimitBytes: Math.round(quantity(limits.memory)) } : {}),
        ...(limits.cpu ? { cpuLimitMillicores: Math.round(quantity(limits.cpu) * 1000) } : {}),
        ...(requests.cpu ? { cpuRequestMillicores: Math.round(quantity(requests.cpu) * 1000) } : {}),
        tty: !!c.tty,
        stdin: !!c.stdin,
        stdinOnce: !!c.stdinOnce,
        ...(runAsUser !== undefined ? { user: runAsGroup !== undefined ? `${runAsUser}:${runAsGroup}` : String(runAsUser) } : {}),
        ...(sc.privileged ? { privileged: true } : {}),
        ...(sc.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
        ...(sc.capabilities?.add ? { capAdd: sc.capabilities.add } : {}),
        ...(sc.capabilities?.drop ? { capDrop: sc.capabilities.drop } : {}),
        ...(pod.spec?.shareProcessNamespace ? { shareProcessNamespace: true } : {}),
      });
    } catch (err) {
      const msg = (err as Error).message;
      this.o.events.event(target, 'Warning', 'Failed', `Error: ${msg}`);
      return { reason: 'CreateContainerError', message: msg, retryMs: 5_000 };
    }
    this.o.events.event(target, 'Normal', 'Created', `Created container ${c.name}`);
    // Keep the newest dead container for `logs --previous`; remove older ones.
    for (const x of [history?.previous, ...(history?.older ?? [])]) if (x && x.id !== id && x.id !== cur?.id) await rt.removeContainer(x.id);
    return { id };
  }

  /** networkName waits (a bounded while) for the pod network's bridge; it throws when the network is not ready yet. */
  private async networkName(): Promise<string | undefined> {
    if (!this.o.podNetwork) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('network is not ready: the node has no pod subnet (spec.podCIDR) or its bridge is not up yet')), NETWORK_WAIT_MS);
    });
    try {
      return (await Promise.race([this.o.podNetwork.ready(), late])).networkName;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * podDns is the resolver configuration of a pod's sandbox (its containers share the sandbox's resolv.conf), or
   * undefined where Docker's own is right (dnsPolicy Default).
   */
  private podDns(pod: KubeObject): ReturnType<typeof podDnsConfig> {
    return this.o.dns ? podDnsConfig(pod as Pod, this.o.dns) : undefined;
  }

  /** serviceEnv is the service links of a pod (none when the kubelet is given no services). */
  private serviceEnv(pod: KubeObject): Record<string, string> | undefined {
    if (!this.o.services) return undefined;
    const ns = pod.metadata.namespace ?? 'default';
    return serviceEnv(this.o.services(ns) as Service[], ns, { enableServiceLinks: pod.spec?.enableServiceLinks ?? true });
  }

  /** runContainer starts a created container and runs its postStart hook; returns a waiting reason on failure. */
  private async runContainer(pod: KubeObject, c: any, id: string, podIP: string): Promise<(Waiting & { retryMs?: number }) | undefined> {
    const rt = this.o.runtime;
    const target = podTarget(pod, c.name);
    if (this.ownStarts.size > 10_000) this.ownStarts.clear();
    this.ownStarts.add(id);
    try {
      await rt.startContainer(id);
    } catch (err) {
      const msg = (err as Error).message;
      this.o.events.event(target, 'Warning', 'Failed', `Error: failed to start container "${c.name}": ${msg}`);
      return { reason: 'RunContainerError', message: msg, retryMs: 1_000 };
    }
    this.o.events.event(target, 'Normal', 'Started', `Started container ${c.name}`);
    const postStart = c.lifecycle?.postStart;
    if (postStart) {
      const r = await runProbe(postStart, { runtime: rt, containerId: id, podIP, timeoutMs: 30_000, pod, container: c.name }).catch((e: Error) => ({ ok: false, output: e.message }));
      if (!r.ok) {
        this.o.events.event(target, 'Warning', 'FailedPostStartHook', `PostStartHook failed: ${r.output}`);
        await rt.stopContainer(id, MIN_GRACE_SECONDS);
      }
    }
    return undefined;
  }

  private async pullSecrets(pod: KubeObject): Promise<KubeObject[]> {
    const out: KubeObject[] = [];
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      const s = await this.fetch('secrets', pod.metadata.namespace!, ref.name);
      if (s) out.push(s);
    }
    return out;
  }

  /** runPreStop runs a container's preStop hook (exec, httpGet or sleep) within the grace period; returns seconds used. */
  private async runPreStop(pod: KubeObject, name: string, id: string, grace: number): Promise<number> {
    const spec = (pod.spec?.containers ?? []).find((c: any) => c.name === name);
    const hook = spec?.lifecycle?.preStop;
    if (!hook) return 0;
    const t0 = Date.now();
    if (hook.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(hook.sleep.seconds ?? 0, grace) * 1000));
    } else {
      const podIP = this.lastStatus.get(pod.metadata.uid!)?.podIP ?? pod.status?.podIP ?? '';
      const r = await runProbe(hook, { runtime: this.o.runtime, containerId: id, podIP, timeoutMs: grace * 1000, pod, container: name }).catch((e: Error) => ({ ok: false, output: e.message }));
      if (!r.ok) this.o.events.event(podTarget(pod, name), 'Warning', 'FailedPreStopHook', `PreStopHook failed: ${r.output}`);
    }
    return (Date.now() - t0) / 1000;
  }

  /** stopContainers runs preStop hooks and stops containers in parallel (SIGTERM, SIGKILL after the grace). */
  private async stopContainers(pod: KubeObject | undefined, containers: ContainerInfo[], grace: number): Promise<void> {
    await Promise.all(
      containers.map(async (c) => {
        if (pod) this.o.events.event(podTarget(pod, c.containerName), 'Normal', 'Killing', `Stopping container ${c.containerName}`);
        const used = pod ? await this.runPreStop(pod, c.containerName, c.id, grace) : 0;
        await this.o.runtime.stopContainer(c.id, Math.max(MIN_GRACE_SECONDS, grace - used));
      }),
    );
  }

  /** terminatePod stops and removes everything of a pod being deleted (or gone), then finalizes its deletion. */
  private async terminatePod(uid: string): Promise<void> {
    const pod = this.pods.get(uid) ?? this.gone.get(uid);
    const rt = this.o.runtime;
    this.probes.removePod(uid);
    const all = await rt.listContainers({ podUid: uid });
    const graceSrc = pod?.metadata.deletionGracePeriodSeconds ?? pod?.spec?.terminationGracePeriodSeconds ?? MIN_GRACE_SECONDS;
    const grace = Math.max(pod && this.pods.has(uid) ? 1 : MIN_GRACE_SECONDS, graceSrc);
    const running = all.filter((c) => !c.isSandbox && c.state === 'running');
    await this.stopContainers(pod, running, grace);
    for (const c of all.filter((x) => !x.isSandbox)) await rt.removeContainer(c.id);
    for (const c of all.filter((x) => x.isSandbox)) await rt.removeContainer(c.id);
    await tearDownPod(this.o.dataDir, uid);
    this.restartBackoff.gc(Date.now(), (k) => !k.startsWith(`${uid}/`));
    this.lastStatus.delete(uid);
    if (pod && this.pods.has(uid)) {
      try {
        await this.o.client.delete(podInfo, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid } });
      } catch (err) {
        if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
      }
    }
    this.log.info({ uid, pod: pod ? `${pod.metadata.namespace}/${pod.metadata.name}` : undefined, removed: all.length }, 'pod terminated and cleaned up');
    this.gone.delete(uid);
    const t = setTimeout(() => this.workers.forget(uid), 300_000);
    t.unref();
  }

  /** writeStatus updates the pod's status subresource when it changed. */
  private async writeStatus(pod: KubeObject, status: Record<string, any>): Promise<void> {
    const uid = pod.metadata.uid!;
    const prev = this.lastStatus.get(uid) ?? pod.status;
    if (deepEqual(prev, status)) return;
    let base = pod;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const updated = await this.o.client.updateStatus(podInfo, { ...base, status });
        this.lastStatus.set(uid, updated.status ?? status);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) return;
        if (!(err instanceof ApiError && err.code === 409)) throw err;
        const fresh = await this.o.client.getOrUndefined(podInfo, pod.metadata.namespace, pod.metadata.name!);
        if (!fresh || fresh.metadata.uid !== uid) return;
        base = fresh;
      }
    }
  }
}

/** Created is a created container's id, or why it could not be created. */
type Created = { id: string } | (Waiting & { retryMs?: number });

/** normalize treats a container Docker could not start (created, with an error) as exited, as the CRI reports it. */
function normalize(list: ContainerInfo[]): ContainerInfo[] {
  return list.map((c) => (c.state === 'created' && c.error ? { ...c, state: 'exited' as const, exitCode: c.exitCode ?? 128, finishedAt: c.finishedAt ?? c.createdAt } : c));
}

function newestSandbox(all: ContainerInfo[]): ContainerInfo | undefined {
  return all.filter((c) => c.isSandbox).sort((a, b) => b.attempt - a.attempt || b.createdAt.localeCompare(a.createdAt))[0];
}

function quantity(q: string | number): number {
  return parseQuantity(q);
}
