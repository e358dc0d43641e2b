// fake: an in-memory ContainerRuntime — containers "run" at once, exits are scriptable — for syncPod unit tests and hollow nodes.
import { PassThrough } from 'node:stream';
import { dockerName } from './convert.ts';
import { LABELS, RuntimeError, SANDBOX_CONTAINER_NAME } from './types.ts';
import type {
  ContainerFilter,
  ContainerInfo,
  ContainerOptions,
  ContainerRuntime,
  EventSubscription,
  ExecResult,
  LogOptions,
  PullProgress,
  RegistryAuth,
  RuntimeEvent,
  RuntimeInfo,
  RuntimeVersion,
  Sandbox,
  SandboxOptions,
  StreamOptions,
  StreamSession,
} from './types.ts';

/** FAKE_PAUSE_IMAGE is the sandbox image the fake runtime reports. */
export const FAKE_PAUSE_IMAGE = 'kubeling/pause:fake';

/** Exit scripts what a started container does: exit with `exitCode` after `afterMs` (0 = at once); undefined = run until stopped. */
export interface Exit {
  exitCode: number;
  afterMs?: number;
  /** oomKilled marks the exit as an OOM kill (reason OOMKilled) */
  oomKilled?: boolean;
}

export interface FakeRuntimeOptions {
  /** info overrides what info() reports (cpus, memory…) */
  info?: Partial<RuntimeInfo>;
  /** onStart decides each container's fate when it starts; default: runs until stopped */
  onStart?: (c: ContainerOptions) => Exit | undefined;
  /** imagesPresent: every image exists without a pull (default true); false = only pulled ones */
  imagesPresent?: boolean;
  /** missingImages fail to pull with ImageNotFound */
  missingImages?: Set<string>;
  /** subnet prefix of sandbox IPs, e.g. '10.42.3' → 10.42.3.2, 10.42.3.3, … (default 10.88.0) */
  ipPrefix?: string;
}

interface Record_ {
  info: ContainerInfo;
  opts?: ContainerOptions;
  sandbox?: SandboxOptions;
  timer?: NodeJS.Timeout;
}

function rfc3339(ms = Date.now()): string {
  return new Date(ms).toISOString();
}

/**
 * FakeRuntime keeps containers in a map. Sandboxes get an IP and run at once; containers run when started and
 * exit as `onStart` scripts (or `exit(id, code)` says); stop gives exit code 137. Events (start, die, destroy)
 * are delivered asynchronously, as dockerd's are. Exec, logs and attach answer with empty output.
 */
export class FakeRuntime implements ContainerRuntime {
  private readonly o: FakeRuntimeOptions;
  private readonly containers = new Map<string, Record_>();
  private readonly images = new Set<string>();
  private readonly subs = new Set<{ fn: (e: RuntimeEvent) => void; node?: string }>();
  private seq = 0;
  private ipSeq = 1;
  /** calls counts runtime calls by method name (tests assert on them) */
  readonly calls = new Map<string, number>();
  /** down makes every call reject with Unavailable (dockerd stopped) */
  down = false;

  constructor(o: FakeRuntimeOptions = {}) {
    this.o = o;
  }

  private call(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    if (this.down) throw new RuntimeError('Unavailable', 'Cannot connect to the Docker daemon (fake runtime is down)');
  }

  async version(): Promise<RuntimeVersion> {
    this.call('version');
    return { name: 'docker', version: '27.0.0-fake', apiVersion: '1.47' };
  }

  async info(): Promise<RuntimeInfo> {
    this.call('info');
    return {
      cpus: 4,
      memoryBytes: 16 * 1024 ** 3,
      kernelVersion: '6.0.0-fake',
      osImage: 'Hollow Linux',
      operatingSystem: 'linux',
      architecture: 'x86_64',
      cgroupDriver: 'systemd',
      cgroupVersion: '2',
      hostname: 'hollow',
      ...this.o.info,
    };
  }

  async pullImage(ref: string, _auth?: RegistryAuth, onProgress?: (p: PullProgress) => void): Promise<void> {
    this.call('pullImage');
    if (this.o.missingImages?.has(ref)) throw new RuntimeError('ImageNotFound', `pull access denied for ${ref}, repository does not exist or may require 'docker login'`);
    onProgress?.({ status: 'Download complete' });
    this.images.add(ref);
  }

  async imageExists(ref: string): Promise<{ id: string } | undefined> {
    this.call('imageExists');
    if (this.o.missingImages?.has(ref)) return undefined;
    return this.o.imagesPresent === false && !this.images.has(ref) ? undefined : { id: `sha256:${hashHex(ref)}` };
  }

  async removeImage(ref: string): Promise<void> {
    this.call('removeImage');
    this.images.delete(ref);
  }

  async ensurePauseImage(ref?: string): Promise<string> {
    this.call('ensurePauseImage');
    return ref ?? FAKE_PAUSE_IMAGE;
  }

  async createSandbox(opts: SandboxOptions): Promise<Sandbox> {
    this.call('createSandbox');
    const id = this.newId();
    const ip = opts.hostNetwork ? '' : (opts.ip ?? `${this.o.ipPrefix ?? '10.88.0'}.${(this.ipSeq++ % 250) + 2}`);
    const labels = this.labels(opts.podUid, opts.namespace, opts.name, SANDBOX_CONTAINER_NAME, opts.nodeName, opts.attempt ?? 0, 'sandbox', opts.labels);
    const info: ContainerInfo = {
      id,
      name: dockerName(SANDBOX_CONTAINER_NAME, opts.name, opts.namespace, opts.podUid, opts.attempt ?? 0),
      labels,
      podUid: opts.podUid,
      namespace: opts.namespace,
      podName: opts.name,
      containerName: SANDBOX_CONTAINER_NAME,
      attempt: opts.attempt ?? 0,
      isSandbox: true,
      state: 'created',
      createdAt: rfc3339(),
      image: opts.image,
      imageID: `sha256:${hashHex(opts.image)}`,
      oomKilled: false,
      ip,
    };
    this.containers.set(id, { info, sandbox: opts });
    opts.onCreated?.(id);
    info.state = 'running';
    info.startedAt = rfc3339();
    info.pid = 1000 + this.seq;
    this.emit(info, 'start');
    return { id, ip };
  }

  async createContainer(opts: ContainerOptions): Promise<string> {
    this.call('createContainer');
    const sandbox = this.containers.get(opts.sandboxId);
    if (!sandbox) throw new RuntimeError('NotFound', `No such container: ${opts.sandboxId}`);
    const id = this.newId();
    const info: ContainerInfo = {
      id,
      name: dockerName(opts.containerName, opts.podName, opts.namespace, opts.podUid, opts.attempt),
      labels: this.labels(opts.podUid, opts.namespace, opts.podName, opts.containerName, opts.nodeName, opts.attempt, 'container', opts.labels),
      podUid: opts.podUid,
      namespace: opts.namespace,
      podName: opts.podName,
      containerName: opts.containerName,
      attempt: opts.attempt,
      isSandbox: false,
      state: 'created',
      createdAt: rfc3339(),
      image: opts.image,
      imageID: `sha256:${hashHex(opts.image)}`,
      oomKilled: false,
      tty: !!opts.tty,
    };
    this.containers.set(id, { info, opts });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.call('startContainer');
    const r = this.containers.get(id);
    if (!r) throw new RuntimeError('NotFound', `No such container: ${id}`);
    if (r.info.state === 'running') return;
    r.info.state = 'running';
    r.info.startedAt = rfc3339();
    r.info.pid = 1000 + this.seq;
    delete r.info.finishedAt;
    delete r.info.exitCode;
    this.emit(r.info, 'start');
    const fate = r.opts && this.o.onStart?.(r.opts);
    if (!fate) return;
    if (!fate.afterMs) {
      this.finish(r, fate.exitCode, fate.oomKilled);
      return;
    }
    r.timer = setTimeout(() => this.finish(r, fate.exitCode, fate.oomKilled), fate.afterMs);
    r.timer.unref();
  }

  /** exit makes a running container exit now with `exitCode` (a crash, or a job finishing). */
  exit(id: string, exitCode: number, oomKilled = false): void {
    const r = this.containers.get(id);
    if (r && r.info.state === 'running') this.finish(r, exitCode, oomKilled);
  }

  async stopContainer(id: string, _graceSeconds: number): Promise<void> {
    this.call('stopContainer');
    const r = this.containers.get(id);
    if (r && r.info.state === 'running') this.finish(r, 137, false, 'stop');
  }

  async removeContainer(id: string): Promise<void> {
    this.call('removeContainer');
    const r = this.containers.get(id);
    if (!r) return;
    clearTimeout(r.timer);
    this.containers.delete(id);
    this.emit(r.info, 'destroy');
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    this.call('listContainers');
    const out: ContainerInfo[] = [];
    for (const { info } of this.containers.values()) {
      if (filter.podUid && info.podUid !== filter.podUid) continue;
      if (filter.node && info.labels[LABELS.node] !== filter.node) continue;
      out.push({ ...info, labels: { ...info.labels } });
    }
    return out;
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    this.call('inspectContainer');
    const r = this.containers.get(id);
    return r ? { ...r.info, labels: { ...r.info.labels } } : undefined;
  }

  async exec(id: string, _cmd: string[], _opts?: StreamOptions): Promise<StreamSession> {
    this.call('exec');
    this.mustRun(id);
    return emptySession();
  }

  async execSimple(id: string, _cmd: string[], _timeoutMs: number): Promise<ExecResult> {
    this.call('execSimple');
    this.mustRun(id);
    return { exitCode: 0, stdout: '', stderr: '' };
  }

  async logs(id: string, _opts?: LogOptions): Promise<PassThrough> {
    this.call('logs');
    if (!this.containers.has(id)) throw new RuntimeError('NotFound', `No such container: ${id}`);
    const s = new PassThrough();
    s.end();
    return s;
  }

  async attach(id: string, _opts?: StreamOptions): Promise<StreamSession> {
    this.call('attach');
    this.mustRun(id);
    return emptySession();
  }

  async events(onEvent: (e: RuntimeEvent) => void, opts: { node?: string; since?: number; onClose?: (err?: Error) => void } = {}): Promise<EventSubscription> {
    this.call('events');
    const sub = { fn: onEvent, ...(opts.node ? { node: opts.node } : {}) };
    this.subs.add(sub);
    return { close: () => void this.subs.delete(sub) };
  }

  /** sandboxOptions returns what a sandbox was created with (its dns, network, ports…), or undefined. */
  sandboxOptions(id: string): SandboxOptions | undefined {
    return this.containers.get(id)?.sandbox;
  }

  /** size is how many containers (sandboxes included) exist. */
  get size(): number {
    return this.containers.size;
  }

  private mustRun(id: string): void {
    const r = this.containers.get(id);
    if (!r) throw new RuntimeError('NotFound', `No such container: ${id}`);
    if (r.info.state !== 'running') throw new RuntimeError('Conflict', `Container ${id} is not running`);
  }

  private finish(r: Record_, exitCode: number, oomKilled = false, action: 'die' | 'stop' = 'die'): void {
    clearTimeout(r.timer);
    r.info.state = 'exited';
    r.info.exitCode = exitCode;
    r.info.oomKilled = oomKilled;
    r.info.finishedAt = rfc3339();
    delete r.info.pid;
    if (oomKilled) this.emit(r.info, 'oom');
    if (action === 'stop') this.emit(r.info, 'kill');
    this.emit(r.info, 'die', exitCode);
  }

  private newId(): string {
    this.seq++;
    return hashHex(`${process.pid}-${this.seq}-${Math.random()}`) + hashHex(String(this.seq));
  }

  private labels(podUid: string, ns: string, pod: string, container: string, node: string, attempt: number, type: 'sandbox' | 'container', extra?: Record<string, string>): Record<string, string> {
    return {
      ...extra,
      [LABELS.podUid]: podUid,
      [LABELS.podNamespace]: ns,
      [LABELS.podName]: pod,
      [LABELS.containerName]: container,
      [LABELS.restartCount]: String(attempt),
      [LABELS.node]: node,
      [LABELS.managed]: 'true',
      [LABELS.type]: type,
    };
  }

  private emit(info: ContainerInfo, action: string, exitCode?: number): void {
    if (!this.subs.size) return;
    const e: RuntimeEvent = { id: info.id, action, labels: { ...info.labels }, timeNano: Date.now() * 1e6, ...(exitCode !== undefined ? { exitCode } : {}) };
    setImmediate(() => {
      for (const s of this.subs) if (!s.node || s.node === e.labels[LABELS.node]) s.fn(e);
    });
  }
}

function emptySession(): StreamSession {
  const stdout = new PassThrough();
  stdout.end();
  return { stdout, wait: async () => 0, close: () => undefined };
}

/** hashHex is a cheap 32-hex-digit digest (FNV-1a twice), enough for fake ids. */
function hashHex(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    a = Math.imul(a ^ s.charCodeAt(i), 0x01000193) >>> 0;
    b = Math.imul(b ^ s.charCodeAt(i), 0x811c9dc5) >>> 0;
  }
  return (a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0')).repeat(2);
}
