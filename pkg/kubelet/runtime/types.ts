// types: the ContainerRuntime interface the kubelet runs pods through, its data types and the labels it stamps.
import type { Readable, Writable } from 'node:stream';

/** LABELS are stamped on every container kubeling creates; listContainers and events select on `managed`. */
export const LABELS = {
  podUid: 'io.kubernetes.pod.uid',
  podNamespace: 'io.kubernetes.pod.namespace',
  podName: 'io.kubernetes.pod.name',
  containerName: 'io.kubernetes.container.name',
  restartCount: 'io.kubernetes.container.restartCount',
  node: 'kubeling.node',
  /** cluster tells apart the containers of two clusters whose agents share one Docker engine (same node names) */
  cluster: 'kubeling.cluster',
  managed: 'kubeling.managed',
  /** type is `sandbox` for the pod's network-namespace holder, `container` for spec containers. */
  type: 'kubeling.type',
} as const;

/** SANDBOX_CONTAINER_NAME is the container name label of a pod sandbox, as upstream dockershim wrote it. */
export const SANDBOX_CONTAINER_NAME = 'POD';

/** RuntimeLogger is the part of a pino logger the runtime uses. */
export interface RuntimeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** RuntimeErrorCode classifies failures so callers can pick a Kubernetes reason (ErrImagePull, RunContainerError…). */
export type RuntimeErrorCode =
  | 'Unavailable' // dockerd does not answer
  | 'NotFound' // container or image missing
  | 'Conflict' // name in use, container in the wrong state
  | 'ImageNotFound' // pull: repository or tag does not exist
  | 'Unauthorized' // pull: registry refused the credentials
  | 'Unreachable' // pull: registry cannot be reached
  | 'PullFailed' // pull: any other failure
  | 'StartFailed' // the container could not start (bad command, bad mount…)
  | 'Timeout'
  | 'Unknown';

/** RuntimeError is the one error type the runtime throws; `message` is fit to show a user. */
export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** RuntimeVersion feeds Node.status.nodeInfo.containerRuntimeVersion as `docker://<version>`. */
export interface RuntimeVersion {
  name: 'docker';
  version: string;
  apiVersion: string;
}

/** RuntimeInfo feeds Node capacity and nodeInfo. */
export interface RuntimeInfo {
  cpus: number;
  memoryBytes: number;
  kernelVersion: string;
  osImage: string;
  operatingSystem: string;
  architecture: string;
  cgroupDriver: string;
  cgroupVersion: string;
  hostname: string;
}

/** RegistryAuth is one registry credential, as taken from an imagePullSecret. */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** PullProgress is one progress message of an image pull. */
export interface PullProgress {
  status: string;
  id?: string;
  current?: number;
  total?: number;
}

/** PortBinding publishes a pod port on the host (hostPort). */
export interface PortBinding {
  containerPort: number;
  hostPort: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  hostIP?: string;
}

/** SandboxOptions describe the container that owns a pod's network namespace. */
export interface SandboxOptions {
  podUid: string;
  namespace: string;
  name: string;
  nodeName: string;
  /** attempt counts sandboxes of this pod (0 for the first); it goes into the Docker name. */
  attempt?: number;
  image: string;
  /**
   * networkName is the Docker network to join (the node's pod bridge network, whose IPAM hands out the pod IP);
   * `bridge` when absent. Ignored with hostNetwork.
   */
  networkName?: string;
  /** ip asks for a fixed address; only user-defined Docker networks accept it. */
  ip?: string;
  hostname: string;
  /**
   * dns is the pod's resolv.conf (from its dnsPolicy and dnsConfig): it becomes HostConfig Dns, DnsSearch and
   * DnsOptions, and the sandbox's /etc/resolv.conf says exactly this (also on user-defined networks, where Docker
   * would write its embedded resolver). The pod's containers share the sandbox's file. Absent: Docker's default
   * (the host's resolvers). Ignored with hostNetwork.
   */
  dns?: PodDns;
  labels?: Record<string, string>;
  portBindings?: PortBinding[];
  hostNetwork?: boolean;
  /**
   * onCreated is told the sandbox's id once it exists, before it starts: the caller may create the pod's containers
   * (joined to it by id) while it starts. When the start fails, the sandbox is removed and createSandbox rejects.
   */
  onCreated?: (id: string) => void;
}

/** PodDns is a resolv.conf: nameserver lines, one search line, one options line (`ndots:5`, `edns0`…). */
export interface PodDns {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** Sandbox is a started sandbox; `ip` is '' for hostNetwork pods (their IP is the node's). */
export interface Sandbox {
  id: string;
  ip: string;
}

/** EnvVar is one resolved environment variable. */
export interface EnvVar {
  name: string;
  value: string;
}

/** Mount binds a host path (a volume directory the kubelet prepared) into the container. */
export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly?: boolean;
}

/**
 * ContainerOptions describe one spec container of a pod. `command` replaces the image ENTRYPOINT and `args` its
 * CMD, as in Kubernetes: args alone run the image entrypoint with those args; command alone drops the image CMD.
 */
export interface ContainerOptions {
  sandboxId: string;
  podUid: string;
  namespace: string;
  podName: string;
  containerName: string;
  nodeName: string;
  /** attempt is the restart count of this container (0 for the first run). */
  attempt: number;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  mounts?: Mount[];
  memoryLimitBytes?: number;
  cpuLimitMillicores?: number;
  /** cpuRequestMillicores sets CPU shares; absent means best effort (2 shares), as the kubelet does. */
  cpuRequestMillicores?: number;
  tty?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  /** user is `uid` or `uid:gid` (securityContext.runAsUser / runAsGroup). */
  user?: string;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  /** shareProcessNamespace joins the sandbox's PID namespace (pod.spec.shareProcessNamespace). */
  shareProcessNamespace?: boolean;
  labels?: Record<string, string>;
}

/** ContainerState follows the CRI states: docker's paused/restarting count as running, dead as exited. */
export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

/** ContainerInfo is what the runtime knows of one of our containers (sandboxes included). */
export interface ContainerInfo {
  id: string;
  /** name is the Docker name without the leading slash. */
  name: string;
  labels: Record<string, string>;
  podUid: string;
  namespace: string;
  podName: string;
  /** containerName is the spec container's name, or `POD` for a sandbox. */
  containerName: string;
  attempt: number;
  isSandbox: boolean;
  state: ContainerState;
  exitCode?: number;
  /** startedAt, finishedAt and createdAt are RFC 3339 times; absent when the container never got there. */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** image is the reference the container was created from; imageID the `sha256:` id it resolved to. */
  image: string;
  imageID: string;
  oomKilled: boolean;
  /** error is Docker's start error, when the container failed to start. */
  error?: string;
  /** ip is the address in the container's own network namespace (sandboxes only). */
  ip?: string;
  pid?: number;
  tty?: boolean;
}

/** ContainerFilter narrows listContainers; both fields select by label. */
export interface ContainerFilter {
  podUid?: string;
  node?: string;
}

/** StreamOptions choose the streams of an exec or attach. */
export interface StreamOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
}

/**
 * StreamSession is a live exec or attach. Without a tty, stdout and stderr are separate streams; with a tty
 * everything arrives on stdout. End `stdin` to send EOF. `wait()` resolves with the exit code once the process
 * is gone; `close()` drops the connection without stopping the process.
 */
export interface StreamSession {
  stdin?: Writable;
  stdout: Readable;
  stderr?: Readable;
  wait(): Promise<number>;
  resize?(width: number, height: number): Promise<void>;
  close(): void;
}

/** ExecResult is the outcome of a finished short command. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** LogOptions mirror kubectl logs: `since` is a Unix time in seconds (fractions allowed). */
export interface LogOptions {
  follow?: boolean;
  tail?: number;
  since?: number;
  timestamps?: boolean;
}

/** RuntimeEvent is one Docker event about one of our containers (start, die, oom, kill, destroy…). */
export interface RuntimeEvent {
  id: string;
  action: string;
  labels: Record<string, string>;
  /** time is the event time in Unix nanoseconds. */
  timeNano: number;
  exitCode?: number;
}

/** EventSubscription is an open event stream; `onClose` of events() fires once if it ends by itself. */
export interface EventSubscription {
  close(): void;
}

/** ContainerRuntime is all the kubelet needs of a container engine. */
export interface ContainerRuntime {
  version(): Promise<RuntimeVersion>;
  info(): Promise<RuntimeInfo>;
  /** pullImage pulls `ref` (`:latest` when untagged), reporting progress; rejects with ImageNotFound,
   * Unauthorized, Unreachable or PullFailed. */
  pullImage(ref: string, auth?: RegistryAuth, onProgress?: (p: PullProgress) => void): Promise<void>;
  imageExists(ref: string): Promise<{ id: string } | undefined>;
  /** removeImage untags and deletes an image (image garbage collection); a missing image is no error. */
  removeImage(ref: string): Promise<void>;
  /** ensurePauseImage returns a sandbox image reference that exists locally, building or pulling it if needed. */
  ensurePauseImage(ref?: string): Promise<string>;
  /** createSandbox creates and starts a pod sandbox and returns its id and pod IP. */
  createSandbox(opts: SandboxOptions): Promise<Sandbox>;
  createContainer(opts: ContainerOptions): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** stopContainer sends SIGTERM and SIGKILL after graceSeconds; a missing or stopped container is no error. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  /** removeContainer removes a container even if running; a missing container is no error. */
  removeContainer(id: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<ContainerInfo[]>;
  inspectContainer(id: string): Promise<ContainerInfo | undefined>;
  exec(id: string, cmd: string[], opts?: StreamOptions & { env?: EnvVar[] }): Promise<StreamSession>;
  /** execSimple runs a short command (probes, hooks) and collects its output; rejects with Timeout. */
  execSimple(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult>;
  /** logs returns the container's output, stdout and stderr merged in order. */
  logs(id: string, opts?: LogOptions): Promise<Readable>;
  attach(id: string, opts?: StreamOptions): Promise<StreamSession>;
  /**
   * events streams Docker events of our containers (of one node with `node`), replaying from `since` (Unix
   * seconds) if given. `onClose` fires once if the stream ends by itself (dockerd restarted): re-open with
   * `since` and relist, as events in between are otherwise lost.
   */
  events(
    onEvent: (e: RuntimeEvent) => void,
    opts?: { node?: string; since?: number; onClose?: (err?: Error) => void },
  ): Promise<EventSubscription>;
}
