// fake.test: the in-memory runtime on its own, and the kubelet's syncPod driven through it (no dockerd, no API server).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, errors } from '../../api/errors.ts';
import type { ResourceInfo } from '../../api/resources.ts';
import type { KubeObject, Status, WatchEvent } from '../../api/types.ts';
import { EventRecorder } from '../../client/events.ts';
import type { ApiClient, ListResult, WatchHandle } from '../../client/interface.ts';
import { Kubelet } from '../sync.ts';
import { FakeRuntime } from './fake.ts';
import type { ContainerOptions } from './types.ts';

const log = pino({ level: 'silent' });

/** MemoryApi is just enough of the API for one kubelet: pods (list, watch, status, delete) and events (create). */
class MemoryApi implements ApiClient {
  readonly pods = new Map<string, KubeObject>();
  readonly events: KubeObject[] = [];
  private rv = 1;
  private watchers = new Set<(ev: WatchEvent) => void>();

  put(pod: KubeObject, type: 'ADDED' | 'MODIFIED' = 'ADDED'): KubeObject {
    const obj = structuredClone(pod);
    obj.metadata.resourceVersion = String(++this.rv);
    this.pods.set(obj.metadata.name!, obj);
    for (const w of this.watchers) w({ type, object: structuredClone(obj) });
    return obj;
  }
  async get(_i: ResourceInfo, _ns: string | undefined, name: string): Promise<KubeObject> {
    const p = this.pods.get(name);
    if (!p) throw errors.notFound({ group: '', resource: 'pods' }, name);
    return structuredClone(p);
  }
  async getOrUndefined(i: ResourceInfo, ns: string | undefined, name: string): Promise<KubeObject | undefined> {
    return i.resource === 'pods' ? this.get(i, ns, name).catch(() => undefined) : undefined;
  }
  async list(): Promise<ListResult> {
    return { metadata: { resourceVersion: String(this.rv) }, items: [...this.pods.values()].map((p) => structuredClone(p)) };
  }
  async create(i: ResourceInfo, _ns: string | undefined, obj: KubeObject): Promise<KubeObject> {
    if (i.resource === 'events') this.events.push(obj);
    return obj;
  }
  async update(i: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    const cur = this.pods.get(obj.metadata.name!);
    if (!cur) throw errors.notFound({ group: '', resource: 'pods' }, obj.metadata.name!);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 409, reason: 'Conflict', message: 'conflict' });
    return this.put({ ...cur, status: obj.status }, 'MODIFIED');
  }
  updateStatus(i: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    return this.update(i, obj);
  }
  async patch(): Promise<KubeObject> {
    throw new Error('not used');
  }
  async delete(_i: ResourceInfo, _ns: string | undefined, name: string): Promise<KubeObject | Status> {
    const cur = this.pods.get(name);
    if (!cur) throw errors.notFound({ group: '', resource: 'pods' }, name);
    this.pods.delete(name);
    for (const w of this.watchers) w({ type: 'DELETED', object: structuredClone(cur) });
    return cur;
  }
  async bind(): Promise<void> {}
  async evict(): Promise<void> {}
  watch(_i: ResourceInfo, _ns: string | undefined, _q: unknown, onEvent: (ev: WatchEvent) => void): WatchHandle {
    let end!: () => void;
    const done = new Promise<void>((r) => (end = r));
    this.watchers.add(onEvent);
    return { stop: () => (this.watchers.delete(onEvent), end()), done };
  }
  async close(): Promise<void> {}

  /** graceful marks a pod for deletion as the API does (deletionTimestamp), leaving the kubelet to finish it. */
  graceful(name: string): void {
    const cur = this.pods.get(name)!;
    this.put({ ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 1 } }, 'MODIFIED');
  }
}

function pod(name: string, extra: { restartPolicy?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: new Date().toISOString() },
    spec: { nodeName: 'hollow-1', restartPolicy: extra.restartPolicy ?? 'Always', containers: [{ name: 'app', image: 'busybox', imagePullPolicy: 'IfNotPresent' }] },
    status: { phase: 'Pending' },
  };
}

async function until<T>(fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(onStart?: (c: ContainerOptions) => { exitCode: number; afterMs?: number } | undefined) {
  const api = new MemoryApi();
  const runtime = new FakeRuntime({ onStart, ipPrefix: '10.42.7' });
  const dataDir = mkdtempSync(join(tmpdir(), 'kubeling-fake-'));
  const events = new EventRecorder(api, { component: 'kubelet', host: 'hollow-1' }, log);
  const kubelet = new Kubelet({ client: api, runtime, events, nodeName: 'hollow-1', nodeIp: '127.0.0.9', dataDir, log, allocatable: () => ({ cpu: 4, memory: 2 ** 34 }) });
  await kubelet.start();
  cleanups.push(async () => {
    await kubelet.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { api, runtime, kubelet };
}

describe('FakeRuntime', () => {
  it('runs a sandbox with an IP and containers that start, exit as scripted, stop and go away', async () => {
    const rt = new FakeRuntime({ onStart: (c) => (c.containerName === 'job' ? { exitCode: 3 } : undefined) });
    const seen: string[] = [];
    await rt.events((e) => seen.push(`${e.labels['io.kubernetes.container.name']}:${e.action}`), { node: 'n' });
    const sb = await rt.createSandbox({ podUid: 'u', namespace: 'ns', name: 'p', nodeName: 'n', image: 'pause', hostname: 'p' });
    expect(sb.ip).toMatch(/^10\.88\.0\.\d+$/);
    const base = { sandboxId: sb.id, podUid: 'u', namespace: 'ns', podName: 'p', nodeName: 'n', attempt: 0, image: 'busybox' };
    const app = await rt.createContainer({ ...base, containerName: 'app' });
    const job = await rt.createContainer({ ...base, containerName: 'job' });
    await rt.startContainer(app);
    await rt.startContainer(job);
    expect((await rt.inspectContainer(app))!.state).toBe('running');
    expect(await rt.inspectContainer(job)).toMatchObject({ state: 'exited', exitCode: 3 });
    await rt.stopContainer(app, 30);
    expect(await rt.inspectContainer(app)).toMatchObject({ state: 'exited', exitCode: 137 });
    expect((await rt.listContainers({ podUid: 'u' })).length).toBe(3);
    for (const c of await rt.listContainers({ node: 'n' })) await rt.removeContainer(c.id);
    expect(rt.size).toBe(0);
    await until(() => seen.includes('app:destroy'));
    expect(seen).toEqual(expect.arrayContaining(['POD:start', 'app:start', 'job:die', 'app:die', 'POD:destroy']));
  });

  it('keeps what a sandbox was created with (DNS, network) for tests to read', async () => {
    const rt = new FakeRuntime();
    const dns = { nameservers: ['10.43.0.10'], searches: ['ns.svc.cluster.local'], options: ['ndots:5'] };
    const sb = await rt.createSandbox({ podUid: 'u', namespace: 'ns', name: 'p', nodeName: 'n', image: 'pause', hostname: 'p', networkName: 'kl-net', dns });
    expect(rt.sandboxOptions(sb.id)).toMatchObject({ networkName: 'kl-net', dns });
    expect(rt.sandboxOptions('missing')).toBeUndefined();
  });

  it('reports Unavailable while down and ImageNotFound for missing images', async () => {
    const rt = new FakeRuntime({ missingImages: new Set(['nope:1']) });
    await expect(rt.pullImage('nope:1')).rejects.toMatchObject({ code: 'ImageNotFound' });
    expect(await rt.imageExists('busybox')).toBeDefined();
    rt.down = true;
    await expect(rt.info()).rejects.toMatchObject({ code: 'Unavailable' });
  });
});

describe('syncPod over the fake runtime', () => {
  it('brings a pod to Running and Ready with the sandbox IP', async () => {
    const { api, runtime } = await start();
    api.put(pod('web'));
    const p = await until(() => (api.pods.get('web')?.status?.phase === 'Running' && api.pods.get('web')!.status.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? api.pods.get('web') : undefined));
    expect(p!.status.podIP).toMatch(/^10\.42\.7\./);
    expect(p!.status.containerStatuses[0]).toMatchObject({ name: 'app', ready: true, restartCount: 0, state: { running: {} } });
    expect(runtime.size).toBe(2);
    await until(() => api.events.some((e) => e.reason === 'Started'));
  });

  it('a container that exits 1 under restartPolicy Never fails the pod', async () => {
    const { api } = await start(() => ({ exitCode: 1 }));
    api.put(pod('once', { restartPolicy: 'Never' }));
    const p = await until(() => (api.pods.get('once')?.status?.phase === 'Failed' ? api.pods.get('once') : undefined));
    expect(p!.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
  });

  it('restarts a crashing container under restartPolicy Always and then backs off', async () => {
    const { api } = await start(() => ({ exitCode: 2 }));
    api.put(pod('crash'));
    const p = await until(() => {
      const cs = api.pods.get('crash')?.status?.containerStatuses?.[0];
      return cs?.restartCount >= 1 && cs.state?.waiting?.reason === 'CrashLoopBackOff' ? api.pods.get('crash') : undefined;
    }, 8000);
    expect(p!.status.containerStatuses[0].lastState.terminated).toMatchObject({ exitCode: 2 });
  });

  it('removes every container of a deleted pod and finalizes the deletion', async () => {
    const { api, runtime } = await start();
    api.put(pod('gone'));
    await until(() => api.pods.get('gone')?.status?.phase === 'Running');
    api.graceful('gone');
    await until(() => !api.pods.has('gone'));
    expect(runtime.size).toBe(0);
  });
});
