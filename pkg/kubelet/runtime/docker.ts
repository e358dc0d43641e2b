// docker: the ContainerRuntime over the Docker Engine API, through dockerode (docker-modem underneath).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { http } from '../../util/nodehttp.ts';
import {
  classifyPullError,
  cpuQuota,
  cpuShares,
  CPU_PERIOD_US,
  dockerName,
  entrypointAndCmd,
  DEFAULT_SOCKET,
  normalizeImageRef,
  parseDockerHost,
  portBindingsFor,
  resolvConf,
  toContainerInfo,
} from './convert.ts';
import type { InspectShape } from './convert.ts';
import { demux, demuxBuffer, LineSplitter } from './frames.ts';
import { busyboxRootfs, pauseRootfs } from './rootfs.ts';
import { LABELS, RuntimeError, SANDBOX_CONTAINER_NAME } from './types.ts';
import type {
  ContainerFilter,
  ContainerInfo,
  ContainerOptions,
  ContainerRuntime,
  EnvVar,
  EventSubscription,
  ExecResult,
  LogOptions,
  PullProgress,
  RegistryAuth,
  RuntimeEvent,
  RuntimeInfo,
  RuntimeLogger,
  RuntimeVersion,
  Sandbox,
  SandboxOptions,
  StreamOptions,
  StreamSession,
} from './types.ts';

/** DEFAULT_PAUSE_IMAGE is built locally (no registry) by ensurePauseImage when missing. */
export const DEFAULT_PAUSE_IMAGE = 'kubeling/pause:1';

/** LOG_CONFIG caps container logs like the kubelet's containerLogMaxSize/Files (10Mi × 5), readable by logs(). */
const LOG_CONFIG = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '5' } };

/** EXEC_OUTPUT_LIMIT caps what execSimple keeps of each stream. */
const EXEC_OUTPUT_LIMIT = 1 << 20;

/** DockerRuntimeOptions: `host` is a Docker host URL (`unix:///run/docker.sock`, `tcp://127.0.0.1:2375`). */
export interface DockerRuntimeOptions {
  socketPath?: string;
  host?: string;
  logger?: RuntimeLogger;
  /** the cluster's identity: stamped on every container and required of every container listed or watched */
  cluster?: string;
}

/**
 * DockerdAgent keeps connections to dockerd alive. docker-modem renders every request's options with util.inspect
 * (depth unlimited, for its debug log, whether or not that log is on), agent included: inspecting a busy agent walks
 * its sockets and parsers and costs milliseconds and megabytes per call. The agent therefore renders as its name.
 */
class DockerdAgent extends http.Agent {
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'DockerdAgent';
  }
}

/** DockerError is the shape of docker-modem's errors: an HTTP status with dockerd's JSON body, or a socket error code. */
interface DockerError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

const NOOP_LOGGER: RuntimeLogger = { debug() {}, info() {}, warn() {} };

/** DockerRuntime implements ContainerRuntime against one dockerd, over a few kept-alive connections. */
export class DockerRuntime implements ContainerRuntime {
  readonly endpoint: string;
  /** docker is the dockerode client the runtime calls through; the agent's other parts (pod network) share it. */
  readonly docker: Docker;
  readonly #agent = new DockerdAgent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 8 });
  readonly #log: RuntimeLogger;
  /** label filters every list and event watch carries: kubeling-managed, of this cluster when one is set */
  readonly #scope: string[];
  readonly #cluster: string | undefined;
  /**
   * #inspected caches container inspections with the Docker state they were made in. A container's inspection only
   * changes with its state (kubeling never restarts a container; a new attempt is a new container), so listContainers
   * reuses one while the list still shows that state; events about the container drop it.
   */
  readonly #inspected = new Map<string, { status: string; info: ContainerInfo }>();
  readonly #building = new Map<string, Promise<string>>();

  constructor(opts: DockerRuntimeOptions = {}) {
    const conn = opts.host ? parseDockerHost(opts.host) : { socketPath: opts.socketPath ?? DEFAULT_SOCKET };
    this.endpoint = 'socketPath' in conn ? `unix://${conn.socketPath}` : `tcp://${conn.host}:${conn.port}`;
    // host/port/protocol are set either way: docker-modem would otherwise fill them from DOCKER_HOST
    const where = 'socketPath' in conn ? { socketPath: conn.socketPath, host: undefined, port: undefined, protocol: undefined } : conn;
    const options: Docker.DockerOptions & { agent: DockerdAgent } = { ...where, agent: this.#agent };
    this.docker = new Docker(options);
    this.#log = opts.logger ?? NOOP_LOGGER;
    this.#scope = opts.cluster ? [`${LABELS.managed}=true`, `${LABELS.cluster}=${opts.cluster}`] : [`${LABELS.managed}=true`];
    this.#cluster = opts.cluster;
  }

  async version(): Promise<RuntimeVersion> {
    const v = await this.#call('version', () => this.docker.version());
    return { name: 'docker', version: v.Version, apiVersion: v.ApiVersion };
  }

  async info(): Promise<RuntimeInfo> {
    const i: DockerInfo = await this.#call('info', () => this.docker.info());
    return {
      cpus: i.NCPU,
      memoryBytes: i.MemTotal,
      kernelVersion: i.KernelVersion,
      osImage: i.OperatingSystem,
      operatingSystem: i.OSType,
      architecture: i.Architecture,
      cgroupDriver: i.CgroupDriver,
      cgroupVersion: i.CgroupVersion ?? '',
      hostname: i.Name,
    };
  }

  async pullImage(ref: string, auth?: RegistryAuth, onProgress?: (p: PullProgress) => void): Promise<void> {
    const image = normalizeImageRef(ref);
    const fail = (message: string, cause?: unknown): RuntimeError =>
      new RuntimeError(classifyPullError(message), `failed to pull image "${ref}": ${message}`, { cause });
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.createImage(auth, { fromImage: image });
    } catch (err) {
      const e = this.#error('pull', err);
      if (e.code === 'Unavailable') throw e;
      throw fail(e.message, err);
    }
    let failure: string | undefined;
    const lost = await this.#follow(stream, (msg) => {
      if (typeof msg.error === 'string' || msg.errorDetail) {
        failure ??= String(msg.error ?? msg.errorDetail?.message);
        return;
      }
      if (onProgress && typeof msg.status === 'string') onProgress(pullProgress(msg.status, msg));
    });
    if (lost) failure ??= `connection to dockerd lost: ${lost.message}`;
    if (failure !== undefined) throw fail(failure);
    this.#log.info({ image }, 'pulled image');
  }

  async imageExists(ref: string): Promise<{ id: string } | undefined> {
    try {
      const i = await this.docker.getImage(normalizeImageRef(ref)).inspect();
      return { id: i.Id };
    } catch (err) {
      const e = this.#error('inspect image', err);
      if (e.code === 'NotFound') return undefined;
      throw e;
    }
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.docker.getImage(normalizeImageRef(ref)).remove();
    } catch (err) {
      const e = this.#error('remove image', err);
      if (e.code !== 'NotFound') throw e;
    }
  }

  /**
   * importImage creates image `ref` from a root filesystem tar (like `docker import`); `changes` are Dockerfile
   * instructions such as `CMD ["sh"]`. Returns the image id.
   */
  async importImage(rootfs: Buffer, ref: string, changes: string[] = []): Promise<string> {
    const full = normalizeImageRef(ref);
    const at = full.lastIndexOf(':');
    const stream = await this.#call('import image', () => this.docker.importImage(Readable.from([rootfs]), { repo: full.slice(0, at), tag: full.slice(at + 1), changes }));
    let id = '';
    let failure: string | undefined;
    const lost = await this.#follow(stream, (msg) => {
      if (typeof msg.error === 'string') failure ??= msg.error;
      else if (typeof msg.status === 'string' && msg.status.startsWith('sha256:')) id = msg.status;
    });
    if (lost) failure ??= `connection to dockerd lost: ${lost.message}`;
    if (failure !== undefined) throw new RuntimeError('Unknown', `import of image ${ref} failed: ${failure}`);
    return id;
  }

  /**
   * ensurePauseImage makes sure a sandbox image exists and returns its reference. DEFAULT_PAUSE_IMAGE (and any
   * `kubeling/pause:*`) is built offline: on x86-64 from an embedded 216-byte static binary, elsewhere from the
   * host's static busybox (Debian package busybox-static). Any other reference is pulled; if that fails, the
   * locally built DEFAULT_PAUSE_IMAGE is used instead.
   */
  ensurePauseImage(ref: string = DEFAULT_PAUSE_IMAGE): Promise<string> {
    let p = this.#building.get(ref);
    if (!p) {
      p = this.#ensurePause(ref).finally(() => this.#building.delete(ref));
      this.#building.set(ref, p);
    }
    return p;
  }

  async #ensurePause(ref: string): Promise<string> {
    if (await this.imageExists(ref)) return ref;
    if (!ref.startsWith('kubeling/pause:')) {
      try {
        await this.pullImage(ref);
        return ref;
      } catch (err) {
        this.#log.warn({ image: ref, err: (err as Error).message }, 'cannot pull pause image; building one locally');
        return this.ensurePauseImage(DEFAULT_PAUSE_IMAGE);
      }
    }
    const labels = `LABEL kubeling.image=pause`;
    if (arch() === 'x64') {
      await this.importImage(pauseRootfs(), ref, ['CMD ["/pause"]', labels]);
    } else {
      const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
      if (!busybox) {
        throw new RuntimeError('NotFound', `cannot build ${ref}: no embedded pause binary for ${arch()} and no /bin/busybox (install busybox-static) — or pass a pullable pause image`);
      }
      await this.importImage(busyboxRootfs(readFileSync(busybox)), ref, [
        `CMD ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"]`,
        labels,
      ]);
    }
    this.#log.info({ image: ref }, 'built pause image');
    return ref;
  }

  async createSandbox(opts: SandboxOptions): Promise<Sandbox> {
    const network = opts.hostNetwork ? 'host' : (opts.networkName ?? 'bridge');
    const labels = {
      ...opts.labels,
      ...this.#podLabels(opts.podUid, opts.namespace, opts.name, opts.nodeName, SANDBOX_CONTAINER_NAME, opts.attempt ?? 0),
      [LABELS.type]: 'sandbox',
    };
    const ports = !opts.hostNetwork && opts.portBindings?.length ? portBindingsFor(opts.portBindings) : undefined;
    const create: Docker.ContainerCreateOptions = {
      name: dockerName(SANDBOX_CONTAINER_NAME, opts.name, opts.namespace, opts.podUid, opts.attempt ?? 0),
      Image: opts.image,
      Labels: labels,
      ...(opts.hostNetwork ? {} : { Hostname: opts.hostname }),
      ...(ports ? { ExposedPorts: ports.ExposedPorts } : {}),
      HostConfig: {
        NetworkMode: network,
        IpcMode: 'shareable',
        LogConfig: LOG_CONFIG,
        ...(ports ? { PortBindings: ports.PortBindings } : {}),
        ...(opts.dns && !opts.hostNetwork ? { Dns: opts.dns.nameservers, DnsSearch: opts.dns.searches, DnsOptions: opts.dns.options } : {}),
      },
    };
    if (opts.ip && !opts.hostNetwork) {
      create.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: opts.ip } } } };
    }
    const id = await this.#create(create);
    opts.onCreated?.(id);
    await this.#startOrRemove(id);
    const info: SandboxInspect = await this.#call('inspect sandbox', () => this.docker.getContainer(id).inspect());
    if (opts.dns && !opts.hostNetwork) this.#writeResolvConf(info.ResolvConfPath, opts.dns);
    const ip = opts.hostNetwork ? '' : (info.NetworkSettings?.Networks?.[network]?.IPAddress || this.#remember(info).ip || '');
    this.#log.info({ id, pod: `${opts.namespace}/${opts.name}`, ip }, 'started sandbox');
    return { id, ip };
  }

  async createContainer(opts: ContainerOptions): Promise<string> {
    const join = `container:${opts.sandboxId}`;
    const labels = {
      ...opts.labels,
      ...this.#podLabels(opts.podUid, opts.namespace, opts.podName, opts.nodeName, opts.containerName, opts.attempt),
      [LABELS.type]: 'container',
    };
    const host: Docker.HostConfig = {
      NetworkMode: join,
      IpcMode: join,
      LogConfig: LOG_CONFIG,
      Binds: (opts.mounts ?? []).map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`),
      CpuShares: cpuShares(opts.cpuRequestMillicores),
    };
    if (opts.shareProcessNamespace) host.PidMode = join;
    if (opts.memoryLimitBytes) {
      host.Memory = opts.memoryLimitBytes;
      host.MemorySwap = opts.memoryLimitBytes; // no swap beyond the limit
    }
    if (opts.cpuLimitMillicores) {
      host.CpuPeriod = CPU_PERIOD_US;
      host.CpuQuota = cpuQuota(opts.cpuLimitMillicores);
    }
    if (opts.privileged) host.Privileged = true;
    if (opts.readOnlyRootFilesystem) host.ReadonlyRootfs = true;
    if (opts.capAdd?.length) host.CapAdd = opts.capAdd;
    if (opts.capDrop?.length) host.CapDrop = opts.capDrop;
    const create: Docker.ContainerCreateOptions = {
      name: dockerName(opts.containerName, opts.podName, opts.namespace, opts.podUid, opts.attempt),
      Image: opts.image,
      ...entrypointAndCmd(opts.command, opts.args),
      Env: (opts.env ?? []).map((e) => `${e.name}=${e.value}`),
      Labels: labels,
      Tty: opts.tty ?? false,
      OpenStdin: opts.stdin ?? false,
      StdinOnce: opts.stdinOnce ?? false,
      HostConfig: host,
    };
    if (opts.workingDir) create.WorkingDir = opts.workingDir;
    if (opts.user) create.User = opts.user;
    return this.#create(create);
  }

  async startContainer(id: string): Promise<void> {
    this.#inspected.delete(id);
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      const e = this.#error('start container', err);
      if ((err as DockerError).statusCode === 304) return; // already running
      if (e.code === 'Unavailable' || e.code === 'NotFound') throw e;
      throw new RuntimeError('StartFailed', e.message, { cause: err });
    }
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    this.#inspected.delete(id);
    try {
      await this.docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(graceSeconds)) });
    } catch (err) {
      const status = (err as DockerError).statusCode;
      if (status === 304 || status === 404) return;
      throw this.#error('stop container', err);
    }
  }

  async removeContainer(id: string): Promise<void> {
    this.#inspected.delete(id);
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const e = this.#error('remove container', err);
      if (e.code === 'NotFound' || /already in progress/.test(e.message)) return;
      throw e;
    }
  }

  async listContainers(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    const label = [...this.#scope];
    if (filter.podUid) label.push(`${LABELS.podUid}=${filter.podUid}`);
    if (filter.node) label.push(`${LABELS.node}=${filter.node}`);
    const summaries = await this.#call('list containers', () => this.docker.listContainers({ all: true, filters: { label } }));
    const out: ContainerInfo[] = [];
    const pending: string[] = [];
    for (const s of summaries) {
      const cached = this.#inspected.get(s.Id);
      if (cached && cached.status === s.State && s.State !== 'created') out.push(cached.info);
      else pending.push(s.Id);
    }
    // Inspect a few at a time: one request each, over the same socket dockerd serves everyone on.
    for (let i = 0; i < pending.length; i += 8) {
      const batch = await Promise.all(pending.slice(i, i + 8).map((id) => this.inspectContainer(id)));
      for (const info of batch) if (info) out.push(info);
    }
    if (this.#inspected.size > 10_000) this.#inspected.clear();
    return out.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id.localeCompare(b.id));
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    try {
      return this.#remember(await this.docker.getContainer(id).inspect());
    } catch (err) {
      const e = this.#error('inspect container', err);
      if (e.code === 'NotFound') {
        this.#inspected.delete(id);
        return undefined;
      }
      throw e;
    }
  }

  async exec(id: string, cmd: string[], opts: StreamOptions & { env?: EnvVar[] } = {}): Promise<StreamSession> {
    const tty = opts.tty ?? false;
    const create: Docker.ExecCreateOptions = {
      Cmd: cmd,
      AttachStdin: opts.stdin ?? false,
      AttachStdout: opts.stdout ?? true,
      AttachStderr: opts.stderr ?? true,
      Tty: tty,
      ...(opts.env?.length ? { Env: opts.env.map((e) => `${e.name}=${e.value}`) } : {}),
    };
    const exec = await this.#call('exec', () => this.docker.getContainer(id).exec(create));
    const socket = await this.#call('exec start', () => exec.start({ hijack: true, stdin: opts.stdin ?? false, Detach: false, Tty: tty }));
    const wait = async (): Promise<number> => {
      await ended(socket);
      // The stream closes as the process exits; its exit code may take a moment to be recorded. A process that
      // closed its output but lives on (or one whose stream we dropped) is not waited for beyond ~10s.
      for (let i = 0; i < 60; i++) {
        const st = await this.#call('exec inspect', () => exec.inspect());
        if (!st.Running && st.ExitCode !== null) return st.ExitCode;
        await sleep(Math.min(5 * 2 ** i, 200));
      }
      throw new RuntimeError('Timeout', `exec ${JSON.stringify(cmd)} in ${id} still running after its streams closed`);
    };
    return this.#session(socket, tty, opts.stdin ?? false, wait, (w, h) => exec.resize({ h, w }));
  }

  async execSimple(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    const s = await this.exec(id, cmd, {});
    const stdout = collect(s.stdout);
    const stderr = collect(s.stderr!);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        s.close();
        reject(new RuntimeError('Timeout', `command ${JSON.stringify(cmd)} timed out after ${timeoutMs}ms`));
      }, timeoutMs);
    });
    try {
      const exitCode = await Promise.race([s.wait(), timeout]);
      return { exitCode, stdout: await stdout, stderr: await stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  async logs(id: string, opts: LogOptions = {}): Promise<Readable> {
    const container = this.docker.getContainer(id);
    const info = await this.#call('inspect container', () => container.inspect());
    const query = {
      stdout: true,
      stderr: true,
      timestamps: opts.timestamps ?? false,
      ...(opts.tail !== undefined && opts.tail >= 0 ? { tail: opts.tail } : {}), // absent: all
      ...(opts.since ? { since: opts.since } : {}),
    };
    const tty = !!info.Config?.Tty;
    if (!opts.follow) {
      // through the modem as a stream: dockerode's buffered answer is JSON-parsed when it parses (a TTY log of `42`)
      const data = await this.#call('logs', async () => readAll(await this.#stream(`/containers/${id}/logs?`, { ...query, follow: false })));
      return Readable.from(tty ? [data] : demuxBuffer(data).map((f) => f.data));
    }
    const stream = (await this.#call('logs', () => container.logs({ ...query, follow: true }))) as Readable;
    const out = new PassThrough();
    if (tty) {
      stream.pipe(out);
      out.on('close', () => stream.destroy());
    } else {
      demux(stream, out, out);
    }
    return out;
  }

  async attach(id: string, opts: StreamOptions = {}): Promise<StreamSession> {
    const container = this.docker.getContainer(id);
    const info = await this.#call('inspect container', () => container.inspect());
    const stdin = opts.stdin ?? false;
    const socket = (await this.#call('attach', () =>
      container.attach({ hijack: true, stream: true, stdin, stdout: opts.stdout ?? true, stderr: opts.stderr ?? true }),
    )) as Duplex;
    const wait = async (): Promise<number> => {
      const r: { StatusCode: number } = await this.#call('wait', () => container.wait());
      return r.StatusCode;
    };
    return this.#session(socket, !!info.Config?.Tty, stdin, wait, (w, h) => container.resize({ h, w }));
  }

  async events(
    onEvent: (e: RuntimeEvent) => void,
    opts: { node?: string; since?: number; onClose?: (err?: Error) => void } = {},
  ): Promise<EventSubscription> {
    const label = [...this.#scope];
    if (opts.node) label.push(`${LABELS.node}=${opts.node}`);
    const stream = (await this.#call('events', () => this.docker.getEvents({ filters: { type: ['container'], label }, ...(opts.since ? { since: opts.since } : {}) }))) as Readable;
    let closedByUs = false;
    let reported = false;
    const report = (err?: Error): void => {
      if (closedByUs || reported) return;
      reported = true;
      opts.onClose?.(err);
    };
    const lines = new LineSplitter();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of lines.push(chunk)) {
        let e: { id?: string; Action?: string; status?: string; timeNano?: number; Actor?: { ID?: string; Attributes?: Record<string, string> } };
        try {
          e = JSON.parse(line);
        } catch {
          continue;
        }
        const attrs = e.Actor?.Attributes ?? {};
        const ev: RuntimeEvent = {
          id: e.Actor?.ID ?? e.id ?? '',
          action: e.Action ?? e.status ?? '',
          labels: attrs,
          timeNano: e.timeNano ?? 0,
        };
        if (attrs.exitCode !== undefined) ev.exitCode = Number(attrs.exitCode);
        this.#inspected.delete(ev.id);
        onEvent(ev);
      }
    });
    stream.on('error', (err) => report(this.#error('events', err)));
    stream.on('end', () => report(new RuntimeError('Unavailable', `event stream from ${this.endpoint} ended`)));
    stream.on('close', () => report(new RuntimeError('Unavailable', `event stream from ${this.endpoint} closed`)));
    return {
      close: () => {
        closedByUs = true;
        stream.destroy();
      },
    };
  }

  /** close drops the kept-alive connections to dockerd (open streams stay until closed). */
  close(): void {
    this.#agent.destroy();
  }

  /**
   * #writeResolvConf makes the sandbox's /etc/resolv.conf say exactly what the pod's DNS policy asks, as dockershim
   * did: on a user-defined network Docker writes its embedded resolver (127.0.0.11) there instead of `Dns`. The file
   * is rewritten in place, so the pod's containers (which bind-mount the sandbox's file) see it too. Skipped, with a
   * warning, when dockerd's files are not on this host (a remote --docker-host).
   */
  #writeResolvConf(path: string | undefined, dns: NonNullable<SandboxOptions['dns']>): void {
    const want = resolvConf(dns);
    try {
      if (!path || !existsSync(path)) {
        this.#log.warn({ path }, 'cannot rewrite the sandbox resolv.conf: not on this host');
        return;
      }
      if (readFileSync(path, 'utf8') !== want) writeFileSync(path, want);
    } catch (err) {
      this.#log.warn({ path, err: (err as Error).message }, 'cannot rewrite the sandbox resolv.conf');
    }
  }

  /** #follow reads a JSON-lines progress stream (pull, import) to its end with dockerode; resolves with the stream's error, if any. */
  #follow(stream: NodeJS.ReadableStream, onMessage: (msg: PullMessage) => void): Promise<Error | undefined> {
    return new Promise((resolve) => this.docker.modem.followProgress(stream, (err: Error | null) => resolve(err ?? undefined), onMessage));
  }

  /** #stream sends a GET through dockerode's modem and answers with the response stream (errors as dockerode's). */
  #stream(path: string, options: Record<string, unknown>): Promise<Readable> {
    return new Promise((resolve, reject) => {
      const statusCodes = { 200: true, 404: 'no such container', 500: 'server error' };
      this.docker.modem.dial({ path, method: 'GET', options, isStream: true, statusCodes }, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as Readable)));
    });
  }

  /** #remember converts an inspection and caches it with the Docker state it was made in. */
  #remember(raw: InspectShape): ContainerInfo {
    const info = toContainerInfo(raw);
    if (raw.State?.Status) this.#inspected.set(info.id, { status: raw.State.Status, info });
    return info;
  }

  #podLabels(uid: string, ns: string, pod: string, node: string, container: string, attempt: number): Record<string, string> {
    return {
      [LABELS.podUid]: uid,
      [LABELS.podNamespace]: ns,
      [LABELS.podName]: pod,
      [LABELS.containerName]: container,
      [LABELS.restartCount]: String(attempt),
      [LABELS.node]: node,
      ...(this.#cluster ? { [LABELS.cluster]: this.#cluster } : {}),
      [LABELS.managed]: 'true',
    };
  }

  /** #create creates a container; if its name is taken (a leftover), it retries once under a suffixed name. */
  async #create(create: Docker.ContainerCreateOptions): Promise<string> {
    try {
      return await this.#createOnce(create);
    } catch (err) {
      const e = this.#error('create container', err);
      if (e.code !== 'Conflict') throw e;
      this.#log.warn({ name: create.name }, 'container name in use; creating under a suffixed name');
      const retry = { ...create, name: `${create.name}_${randomBytes(4).toString('hex')}` };
      return this.#call('create container', () => this.#createOnce(retry));
    }
  }

  async #createOnce(create: Docker.ContainerCreateOptions): Promise<string> {
    return (await this.docker.createContainer(create)).id;
  }

  async #startOrRemove(id: string): Promise<void> {
    try {
      await this.startContainer(id);
    } catch (err) {
      await this.removeContainer(id).catch(() => undefined);
      throw err;
    }
  }

  #session(
    socket: Duplex,
    tty: boolean,
    stdin: boolean,
    wait: () => Promise<number>,
    resize: (w: number, h: number) => Promise<void>,
  ): StreamSession {
    const stdout = new PassThrough();
    const session: StreamSession = { stdout, wait, close: () => socket.destroy() };
    if (tty) {
      socket.pipe(stdout);
      session.resize = (w, h) => this.#call('resize', () => resize(w, h));
    } else {
      const stderr = new PassThrough();
      demux(socket, stdout, stderr);
      session.stderr = stderr;
    }
    if (stdin) session.stdin = socket;
    return session;
  }

  /** #call runs a Docker request and turns its failure into a RuntimeError. */
  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#error(what, err);
    }
  }

  #error(what: string, err: unknown): RuntimeError {
    if (err instanceof RuntimeError) return err;
    const e = err as DockerError;
    if (e.code && ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT'].includes(e.code)) {
      return new RuntimeError('Unavailable', `cannot reach dockerd at ${this.endpoint} (${what}): ${e.code}`, { cause: err });
    }
    const message = (e.json?.message ?? e.message ?? String(err)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
    const code = e.statusCode === 404 ? 'NotFound' : e.statusCode === 409 ? 'Conflict' : 'Unknown';
    return new RuntimeError(code, `${what}: ${message}`, { cause: err });
  }
}

/** DockerInfo is the part of dockerd's /info answer info() reads. */
interface DockerInfo {
  NCPU: number;
  MemTotal: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSType: string;
  Architecture: string;
  CgroupDriver: string;
  CgroupVersion?: string;
  Name: string;
}

/** SandboxInspect is the part of an inspection createSandbox reads. */
type SandboxInspect = InspectShape & { ResolvConfPath?: string };

/** PullMessage is one line of a pull's JSON progress stream. */
interface PullMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** pullProgress converts a pull progress line (with a status) to a PullProgress. */
function pullProgress(status: string, msg: PullMessage): PullProgress {
  const p: PullProgress = { status };
  const detail = msg.progressDetail ?? {};
  if (typeof msg.id === 'string') p.id = msg.id;
  if (typeof detail.current === 'number') p.current = detail.current;
  if (typeof detail.total === 'number') p.total = detail.total;
  return p;
}

/** readAll collects a stream into one buffer. */
function readAll(s: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** ended resolves when a stream's readable side is done (end, close or error). */
function ended(s: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (s.readableEnded || s.destroyed) return resolve();
    s.once('end', resolve);
    s.once('close', resolve);
    s.once('error', () => resolve());
  });
}

/** collect reads a stream into a string, keeping at most EXEC_OUTPUT_LIMIT bytes. */
function collect(s: Readable): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    s.on('data', (c: Buffer) => {
      if (size < EXEC_OUTPUT_LIMIT) chunks.push(c.subarray(0, EXEC_OUTPUT_LIMIT - size));
      size += c.length;
    });
    const done = (): void => resolve(Buffer.concat(chunks).toString('utf8'));
    s.on('end', done);
    s.on('close', done);
    s.on('error', done);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
