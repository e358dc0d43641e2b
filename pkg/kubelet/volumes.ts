// volumes: prepares a pod's volumes as host directories (emptyDir, hostPath, configMap, secret, downwardAPI, projected) and its mounts.
import { chmod, lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import type { KubeObject } from '../api/types.ts';
import { configMapData, fieldRefValue, formatMap, resourceFieldValue, secretData } from './env.ts';
import type { EnvContext } from './env.ts';
import type { EnvVar, Mount } from './runtime/index.ts';
import { expand } from './env.ts';

/** Fetch reads a ConfigMap or Secret of the pod's namespace; undefined when it does not exist. */
export type Fetch = (kind: 'configmaps' | 'secrets', namespace: string, name: string) => Promise<KubeObject | undefined>;

/** TokenSource returns the pod's service-account token for a projection (the kubelet's TokenManager). */
export type TokenSource = (pod: KubeObject, src: { audience?: string; expirationSeconds?: number; path: string }) => Promise<string>;

/** VolumePath is a prepared volume: the host directory (or file) and whether it is always mounted read-only. */
export interface VolumePath {
  path: string;
  readOnly: boolean;
}

/** VolumeFailure is one volume that could not be set up, with upstream's FailedMount message. */
export interface VolumeFailure {
  volume: string;
  message: string;
}

/** podDir is the pod's directory under the agent's data dir. */
export function podDir(dataDir: string, uid: string): string {
  return join(dataDir, 'pods', uid);
}

/** volumeDir is `<dataDir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`, as the kubelet lays it out. */
export function volumeDir(dataDir: string, uid: string, plugin: string, name: string): string {
  return join(podDir(dataDir, uid), 'volumes', `kubernetes.io~${plugin}`, name);
}

/** FileSpec is one file a configMap/secret/downwardAPI volume holds. */
export interface FileSpec {
  path: string;
  data: string;
  mode: number;
}

/** keyFiles maps data keys to files: every key when `items` is absent, else only the listed keys (missing → error). */
export function keyFiles(data: Record<string, string>, items: any[] | undefined, defaultMode: number, what: string, optional: boolean): FileSpec[] | string {
  if (!items?.length) return Object.keys(data).sort().map((k) => ({ path: k, data: data[k]!, mode: defaultMode }));
  const out: FileSpec[] = [];
  for (const it of items) {
    if (!(it.key in data)) {
      if (optional) continue;
      return `${what} references non-existent config key: ${it.key}`;
    }
    out.push({ path: it.path, data: data[it.key]!, mode: it.mode ?? defaultMode });
  }
  return out;
}

/** downwardFiles renders downwardAPI items (fieldRef, resourceFieldRef) as files. */
export function downwardFiles(pod: KubeObject, items: any[], defaultMode: number, ctx: Pick<EnvContext, 'podIP' | 'hostIP' | 'nodeAllocatable'>): FileSpec[] {
  const out: FileSpec[] = [];
  for (const it of items ?? []) {
    let data = '';
    if (it.fieldRef) {
      const p = it.fieldRef.fieldPath;
      data = p === 'metadata.labels' ? formatMap(pod.metadata.labels ?? {}) : p === 'metadata.annotations' ? formatMap(pod.metadata.annotations ?? {}) : fieldRefValue(pod, p, ctx);
    } else if (it.resourceFieldRef) {
      data = resourceFieldValue(pod, it.resourceFieldRef, it.resourceFieldRef.containerName ?? '', ctx.nodeAllocatable);
    }
    out.push({ path: it.path, data, mode: it.mode ?? defaultMode });
  }
  return out;
}

/** safeJoin joins a relative path under a base, refusing `..` escapes and absolute paths. */
export function safeJoin(base: string, rel: string): string | undefined {
  if (rel.startsWith('/')) return undefined;
  const p = normalize(join(base, rel));
  return p === base || p.startsWith(base + sep) ? p : undefined;
}

/** writeFiles makes `dir` hold exactly `files`: changed files are replaced atomically (write + rename), stale ones removed. */
export async function writeFiles(dir: string, files: FileSpec[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const want = new Set<string>();
  for (const f of files) {
    const target = safeJoin(dir, f.path);
    if (!target) throw new Error(`invalid path ${JSON.stringify(f.path)}`);
    want.add(target);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const cur = await readFile(target, 'utf8').catch(() => undefined);
    const st = cur === undefined ? undefined : await stat(target);
    if (cur === f.data && st && (st.mode & 0o777) === (f.mode & 0o777)) continue;
    const tmp = `${target}.kubeling-tmp`;
    await writeFile(tmp, f.data, { mode: f.mode & 0o777 });
    await chmod(tmp, f.mode & 0o777);
    await rename(tmp, target);
  }
  await prune(dir, want);
}

async function prune(dir: string, want: Set<string>): Promise<boolean> {
  let keep = false;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const inner = await prune(p, want);
      if (!inner) await rm(p, { recursive: true, force: true });
      else keep = true;
    } else if (!want.has(p)) await rm(p, { force: true });
    else keep = true;
  }
  return keep;
}

/** hostPathCheck applies a hostPath volume's `type` (creating for *OrCreate); returns the failure text or undefined. */
export async function hostPathCheck(path: string, type: string | undefined): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  switch (type ?? '') {
    case '':
      return undefined;
    case 'DirectoryOrCreate':
      if (!st) {
        await mkdir(path, { recursive: true, mode: 0o755 });
        return undefined;
      }
      return st.isDirectory() ? undefined : `hostPath type check failed: ${path} is not a directory`;
    case 'Directory':
      return st?.isDirectory() ? undefined : `hostPath type check failed: ${path} is not a directory`;
    case 'FileOrCreate':
      if (!st) {
        await mkdir(dirname(path), { recursive: true, mode: 0o755 });
        await writeFile(path, '', { flag: 'a', mode: 0o644 });
        return undefined;
      }
      return st.isFile() ? undefined : `hostPath type check failed: ${path} is not a file`;
    case 'File':
      return st?.isFile() ? undefined : `hostPath type check failed: ${path} is not a file`;
    case 'Socket':
      return st?.isSocket() ? undefined : `hostPath type check failed: ${path} is not a socket file`;
    case 'CharDevice':
      return st?.isCharacterDevice() ? undefined : `hostPath type check failed: ${path} is not a character device`;
    case 'BlockDevice':
      return st?.isBlockDevice() ? undefined : `hostPath type check failed: ${path} is not a block device`;
    default:
      return `hostPath type check failed: unknown type ${JSON.stringify(type)}`;
  }
}

/**
 * setUpVolumes prepares every volume of the pod. It returns the host paths by volume name, or the failures
 * (missing ConfigMap/Secret, failed hostPath check…) for FailedMount events; the pod waits in ContainerCreating.
 */
export async function setUpVolumes(
  pod: KubeObject,
  dataDir: string,
  fetch: Fetch,
  ctx: Pick<EnvContext, 'podIP' | 'hostIP' | 'nodeAllocatable'>,
  tokens?: TokenSource,
): Promise<{ paths: Map<string, VolumePath>; failures: VolumeFailure[] }> {
  const uid = pod.metadata.uid!;
  const ns = pod.metadata.namespace ?? 'default';
  const paths = new Map<string, VolumePath>();
  const failures: VolumeFailure[] = [];
  const fail = (volume: string, message: string): void => {
    failures.push({ volume, message: `MountVolume.SetUp failed for volume "${volume}" : ${message}` });
  };
  for (const v of pod.spec?.volumes ?? []) {
    try {
      if (v.emptyDir) {
        const dir = volumeDir(dataDir, uid, 'empty-dir', v.name);
        await mkdir(dir, { recursive: true });
        await chmod(dir, 0o777);
        paths.set(v.name, { path: dir, readOnly: false });
      } else if (v.hostPath) {
        const msg = await hostPathCheck(v.hostPath.path, v.hostPath.type);
        if (msg) fail(v.name, msg);
        else paths.set(v.name, { path: v.hostPath.path, readOnly: false });
      } else if (v.configMap || v.secret || v.downwardAPI || v.projected) {
        const plugin = v.configMap ? 'configmap' : v.secret ? 'secret' : v.downwardAPI ? 'downward-api' : 'projected';
        const files = await sourceFiles(pod, ns, v, fetch, ctx, tokens);
        if (typeof files === 'string') {
          fail(v.name, files);
          continue;
        }
        const dir = volumeDir(dataDir, uid, plugin, v.name);
        await writeFiles(dir, files);
        paths.set(v.name, { path: dir, readOnly: true });
      } else {
        const type = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
        fail(v.name, `volume type ${type} is not supported by kubeling`);
      }
    } catch (err) {
      fail(v.name, (err as Error).message);
    }
  }
  return { paths, failures };
}

/** sourceFiles computes the files of a configMap, secret, downwardAPI or projected volume, or a failure text. */
async function sourceFiles(pod: KubeObject, ns: string, v: any, fetch: Fetch, ctx: Pick<EnvContext, 'podIP' | 'hostIP' | 'nodeAllocatable'>, tokens?: TokenSource): Promise<FileSpec[] | string> {
  if (v.configMap) return configMapFiles(ns, v.configMap, v.configMap.defaultMode ?? 0o644, fetch);
  if (v.secret) return secretFiles(ns, v.secret, v.secret.defaultMode ?? 0o644, fetch);
  if (v.downwardAPI) return downwardFiles(pod, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode ?? 0o644, ctx);
  const mode = v.projected.defaultMode ?? 0o644;
  const all: FileSpec[] = [];
  for (const src of v.projected.sources ?? []) {
    let files: FileSpec[] | string = [];
    if (src.configMap) files = await configMapFiles(ns, src.configMap, mode, fetch);
    else if (src.secret) files = await secretFiles(ns, src.secret, mode, fetch);
    else if (src.downwardAPI) files = downwardFiles(pod, src.downwardAPI.items ?? [], mode, ctx);
    else if (src.serviceAccountToken) files = await tokenFiles(pod, src.serviceAccountToken, mode, tokens);
    if (typeof files === 'string') return files;
    all.push(...files);
  }
  return all;
}

/**
 * tokenFiles is a projected serviceAccountToken: the token the TokenManager holds for the pod (requested bound to
 * the pod, renewed at 80 % of its lifetime; each sync rewrites the file when it changed) with the projection's mode.
 */
async function tokenFiles(pod: KubeObject, src: { audience?: string; expirationSeconds?: number; path: string }, mode: number, tokens: TokenSource | undefined): Promise<FileSpec[] | string> {
  if (!tokens) return 'no token source: the kubelet cannot request service account tokens';
  try {
    return [{ path: src.path, data: await tokens(pod, src), mode }];
  } catch (e) {
    return `failed to fetch token: ${(e as Error).message}`;
  }
}

async function configMapFiles(ns: string, src: any, mode: number, fetch: Fetch): Promise<FileSpec[] | string> {
  const cm = await fetch('configmaps', ns, src.name);
  if (!cm) return src.optional ? [] : `configmap "${src.name}" not found`;
  return keyFiles(configMapData(cm), src.items, mode, 'configMap', !!src.optional);
}

async function secretFiles(ns: string, src: any, mode: number, fetch: Fetch): Promise<FileSpec[] | string> {
  const name = src.secretName ?? src.name;
  const s = await fetch('secrets', ns, name);
  if (!s) return src.optional ? [] : `secret "${name}" not found`;
  return keyFiles(secretData(s), src.items, mode, 'secret', !!src.optional);
}

/**
 * mountsFor turns a container's volumeMounts into bind mounts: subPath (or subPathExpr, expanded over the env) picks
 * a path inside the volume, created as a directory when missing; configMap/secret/downwardAPI are always read-only.
 */
export async function mountsFor(container: any, paths: Map<string, VolumePath>, env: EnvVar[]): Promise<{ mounts: Mount[] } | { error: string }> {
  const mounts: Mount[] = [];
  const envMap = new Map(env.map((e) => [e.name, e.value]));
  for (const m of container.volumeMounts ?? []) {
    const v = paths.get(m.name);
    if (!v) return { error: `cannot find volume "${m.name}" to mount into container "${container.name}"` };
    let hostPath = v.path;
    const sub = m.subPathExpr ? expand(m.subPathExpr, (n) => envMap.get(n)) : m.subPath;
    if (sub) {
      const p = safeJoin(resolve(v.path), sub);
      if (!p) return { error: `invalid subpath ${JSON.stringify(sub)} in volume "${m.name}"` };
      const exists = await lstat(p).catch(() => undefined);
      if (!exists) {
        if (v.readOnly) return { error: `subPath ${JSON.stringify(sub)} does not exist in volume "${m.name}"` };
        await mkdir(p, { recursive: true, mode: 0o777 });
        await chmod(p, 0o777);
      }
      hostPath = p;
    }
    mounts.push({ hostPath, containerPath: m.mountPath, readOnly: !!m.readOnly || v.readOnly });
  }
  return { mounts };
}

/** tearDownPod removes the pod's directory (its emptyDirs and rendered volumes). */
export async function tearDownPod(dataDir: string, uid: string): Promise<void> {
  await rm(podDir(dataDir, uid), { recursive: true, force: true });
}
