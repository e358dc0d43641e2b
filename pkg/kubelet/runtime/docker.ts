// docker: the ContainerRuntime over the Docker Engine API (through engine.ts; dockerode only for its types).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
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
  toContainerInfo,
} from './convert.ts';
import type { InspectShape } from './convert.ts';
import { Engine } from './engine.ts';
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
  readonly #docker: Engine;
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
    this.#docker = new Engine(conn);
    this.#log = opts.logger ?? NOOP_LOGGER;
    this.#scope = opts.cluster ? [`${LABELS.managed}=true`, `${LABELS.cluster}=${opts.cluster}`] : [`${LABELS.managed}=true`];
    this.#cluster = opts.cluster;
  }

  async version(): Promise<RuntimeVersion> {
    const v = await this.#call('version', () => this.#docker.json<{ Version: string; ApiVersion: string }>('GET', '/version'));
    return { name: 'docker', version: v.Version, apiVersion: v.ApiVersion };
  }

  async info(): Promise<RuntimeInfo> {
    const i = await this.#call('info', () => this.#docker.json<any>('GET', '/info'));
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
      stream = await this.#docker.stream('POST', '/images/create', { query: { fromImage: image }, ...(auth ? { headers: { 'X-Registry-Auth': registryAuth(auth) } } : {}) });
    } catch (err) {
      const e = this.#error('pull', err);
      if (e.code === 'Unavailable') throw e;
      throw fail(e.message, err);
    }
    let failure: string | undefined;
    await consumeJsonLines(stream as Readable, (msg) => {
      if (typeof msg.error === 'string' || msg.errorDetail) {
        failure ??= String(msg.error ?? (msg.errorDetail as { message?: string }).message);
        return;
      }
      if (onProgress && typeof msg.status === 'string') {
        const detail = (msg.progressDetail ?? {}) as { current?: number; total?: number };
        const p: PullProgress = { status: msg.status };
        if (typeof msg.id === 'string') p.id = msg.id;
        if (typeof detail.current === 'number') p.current = detail.current;
        if (typeof detail.total === 'number') p.total = detail.total;
        onProgress(p);
      }
    }).catch((err: unknown) => {
      failure ??= `connection to dockerd lost: ${(err as Error).message}`;
    });
    if (failure !== undefined) throw fail(failure);
    this.#log.info({ image }, 'pulled image');
  }

  async imageExists(ref: string): Promise<{ id: string } | undefined> {
    try {
      const i = await this.#docker.json<{ Id: string }>('GET', `/images/${normalizeImageRef(ref)}/json`);
      return { id: i.Id };
    } catch (err) {
      const e = this.#error('inspect image', err);
      if (e.code === 'NotFound') return undefined;
      throw e;
    }
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.#docker.json('DELETE', `/images/${normalizeImageRef(ref)}`);
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
    const stream = await this.#call('import image', () =>
      this.#docker.stream('POST', '/images/create', { query: { fromSrc: '-', repo: full.slice(0, at), tag: full.slice(at + 1), changes }, body: rootfs, contentType: 'application/x-tar' }),
    );
    let id = '';
    let failure: string | undefined;
    await consumeJsonLines(stream as Readable, (msg) => {
      if (typeof msg.error === 'string') failure = msg.error;
      else if (typeof msg.status === 'string' && msg.status.startsWith('sha256:')) id = msg.status;
    });
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
        ...(opts.dnsServers?.length ? { Dns: opts.dnsServers } : {}),
        ...(opts.dnsSearch?.length ? { DnsSearch: opts.dnsSearch } : {}),
        ...(opts.dnsOptions?.length ? { DnsOptions: opts.dnsOptions } : {}),
      },
    };
    if (opts.ip && !opts.hostNetwork) {
      create.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: opts.ip } } } };
    }
    const id = await this.#create(create);
    opts.onCreated?.(id);
    await this.#startOrRemove(id);
    const info = await this.#call('inspect sandbox', () => this.#docker.json<InspectShape>('GET', `/containers/${id}/json`));
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
      await this.#docker.json('POST', `/containers/${id}/start`);
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
      await this.#docker.json('POST', `/containers/${id}/stop`, { query: { t: Math.max(0, Math.ceil(graceSeconds)) } });
    } catch (err) {
      const status = (err as DockerError).statusCode;
      if (status === 304 || status === 404) return;
      throw this.#error('stop container', err);
    }
  }

  async removeContainer(id: string): Promise<void> {
    this.#inspected.delete(id);
    try {
      await this.#docker.json('DELETE', `/containers/${id}`, { query: { force: true, v: true } });
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
    const summaries = await this.#call('list containers', () => this.#docker.json<{ Id: string; State: string }[]>('GET', '/containers/json', { query: { all: true, filters: { label } } }));
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
      return this.#remember(await this.#docker.json<InspectShape>('GET', `/containers/${id}/json`));
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
    const body = {
      Cmd: cmd,
      AttachStdin: opts.stdin ?? false,
      AttachStdout: opts.stdout ?? true,
      AttachStderr: opts.stderr ?? true,
      Tty: tty,
      ...(opts.env?.length ? { Env: opts.env.map((e) => `${e.name}=${e.value}`) } : {}),
    };
    const { Id: execId } = await this.#call('exec', () => this.#docker.json<{ Id: string }>('POST', `/containers/${id}/exec`, { body }));
    const socket = await this.#call('exec start', () => this.#docker.hijack('POST', `/exec/${execId}/start`, { body: { Detach: false, Tty: tty } }));
    const wait = async (): Promise<number> => {
      await ended(socket);
      // The stream closes as the process exits; its exit code may take a moment to be recorded. A process that
      // closed its output but lives on (or one whose stream we dropped) is not waited for beyond ~10s.
      for (let i = 0; i < 60; i++) {
        const st = await this.#call('exec inspect', () => this.#docker.json<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${execId}/json`));
        if (!st.Running && st.ExitCode !== null) return st.ExitCode;
        await sleep(Math.min(5 * 2 ** i, 200));
      }
      throw new RuntimeError('Timeout', `exec ${JSON.stringify(cmd)} in ${id} still running after its streams closed`);
    };
    return this.#session(socket, tty, opts.stdin ?? false, wait, (w, h) => this.#docker.json('POST', `/exec/${execId}/resize`, { query: { h, w } }));
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
    const info = await this.#call('inspect container', () => this.#docker.json<InspectShape>('GET', `/containers/${id}/json`));
    const query = {
      stdout: true,
      stderr: true,
      timestamps: opts.timestamps ?? false,
      tail: opts.tail === undefined || opts.tail < 0 ? 'all' : opts.tail,
      ...(opts.since ? { since: opts.since } : {}),
    };
    const tty = !!info.Config?.Tty;
    if (!opts.follow) {
      const data = await this.#call('logs', () => this.#docker.buffer('GET', `/containers/${id}/logs`, { query: { ...query, follow: false } }));
      return Readable.from(tty ? [data] : demuxBuffer(data).map((f) => f.data));
    }
    const stream = await this.#call('logs', () => this.#docker.stream('GET', `/containers/${id}/logs`, { query: { ...query, follow: true } }));
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
    const info = await this.#call('inspect container', () => this.#docker.json<InspectShape>('GET', `/containers/${id}/json`));
    const stdin = opts.stdin ?? false;
    const socket = await this.#call('attach', () =>
      this.#docker.hijack('POST', `/containers/${id}/attach`, { query: { stream: true, stdin, stdout: opts.stdout ?? true, stderr: opts.stderr ?? true } }),
    );
    const wait = async (): Promise<number> => {
      const r = await this.#call('wait', () => this.#docker.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`));
      return r.StatusCode;
    };
    return this.#session(socket, !!info.Config?.Tty, stdin, wait, (w, h) => this.#docker.json('POST', `/containers/${id}/resize`, { query: { h, w } }));
  }

  async events(
    onEvent: (e: RuntimeEvent) => void,
    opts: { node?: string; since?: number; onClose?: (err?: Error) => void } = {},
  ): Promise<EventSubscription> {
    const label = [...this.#scope];
    if (opts.node) label.push(`${LABELS.node}=${opts.node}`);
    const stream = await this.#call('events', () => this.#docker.stream('GET', '/events', { query: { filters: { type: ['container'], label }, ...(opts.since ? { since: opts.since } : {}) } }));
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
    const { name, ...body } = create;
    return (await this.#docker.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body })).Id;
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

/** registryAuth encodes credentials for the X-Registry-Auth header: URL-safe base64 of the JSON, padded, as dockerd decodes it. */
export function registryAuth(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** consumeJsonLines reads a JSON-lines stream to its end, handing each parsed object to `onMessage`. */
function consumeJsonLines(stream: Readable, onMessage: (msg: Record<string, unknown>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = new LineSplitter();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of lines.push(chunk)) {
        try {
          onMessage(JSON.parse(line));
        } catch {
          // not JSON: ignore
        }
      }
    });
    stream.on('end', resolve);
    stream.on('error', reject);
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
