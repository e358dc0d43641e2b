// node.test: the requests the NodeRegistrar makes — registration, one write per lease renewal, status posted when it
// changed or the report period passed (upstream's nodelease controller and nodeStatusReportFrequency).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/errors.ts';
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import type { ApiClient } from '../client/index.ts';
import { silentLogger } from '../util/log.ts';
import { NODE_STATUS_REPORT_MS, NodeRegistrar, renewed } from './node.ts';
import { FakeRuntime } from './runtime/fake.ts';

/** FakeApi keeps objects by resource/namespace/name with resourceVersions and logs every call as `VERB resource`. */
class FakeApi {
  readonly calls: string[] = [];
  readonly objs = new Map<string, KubeObject>();
  private rv = 1;
  private key = (info: ResourceInfo, ns: string | undefined, name: string) => `${info.resource}/${ns ?? ''}/${name}`;
  private notFound = (name: string) => new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: `"${name}" not found` });

  private put(info: ResourceInfo, obj: KubeObject): KubeObject {
    const stored = structuredClone({ ...obj, metadata: { ...obj.metadata, uid: obj.metadata.uid ?? `uid-${obj.metadata.name}`, resourceVersion: String(++this.rv) } });
    this.objs.set(this.key(info, obj.metadata.namespace, obj.metadata.name!), stored);
    return structuredClone(stored);
  }

  async get(info: ResourceInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    this.calls.push(`GET ${info.resource}`);
    const o = this.objs.get(this.key(info, ns, name));
    if (!o) throw this.notFound(name);
    return structuredClone(o);
  }

  async getOrUndefined(info: ResourceInfo, ns: string | undefined, name: string): Promise<KubeObject | undefined> {
    return this.get(info, ns, name).catch((e) => (e instanceof ApiError && e.code === 404 ? undefined : Promise.reject(e)));
  }

  async create(info: ResourceInfo, ns: string | undefined, obj: KubeObject): Promise<KubeObject> {
    this.calls.push(`POST ${info.resource}`);
    return this.put(info, { ...obj, metadata: { ...obj.metadata, namespace: ns } });
  }

  async update(info: ResourceInfo, obj: KubeObject, sub?: string): Promise<KubeObject> {
    this.calls.push(`PUT ${info.resource}${sub ? `/${sub}` : ''}`);
    const cur = this.objs.get(this.key(info, obj.metadata.namespace, obj.metadata.name!));
    if (!cur) throw this.notFound(obj.metadata.name!);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Conflict', code: 409, message: 'the object has been modified' });
    }
    return this.put(info, obj);
  }

  updateStatus(info: ResourceInfo, obj: KubeObject): Promise<KubeObject> {
    return this.update(info, obj, 'status');
  }

  /** bump changes an object behind the registrar's back (another writer) */
  bump(resource: string, ns: string, name: string): void {
    const o = this.objs.get(`${resource}/${ns}/${name}`)!;
    o.metadata.resourceVersion = String(++this.rv);
  }

  take(): string[] {
    return this.calls.splice(0);
  }
}

const log = silentLogger();

async function registered(): Promise<{ api: FakeApi; reg: NodeRegistrar; runtime: FakeRuntime }> {
  const api = new FakeApi();
  const runtime = new FakeRuntime({ info: { hostname: 'n1' } });
  const reg = new NodeRegistrar(api as unknown as ApiClient, runtime, { nodeName: 'n1', nodeIp: '10.0.0.1', hostname: 'n1', kubeletPort: 10250, labels: {} }, log);
  await reg.register();
  return { api, reg, runtime };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('NodeRegistrar', () => {
  it('registers: creates the Node, posts its status and creates the Lease', async () => {
    const { api } = await registered();
    expect(api.take()).toEqual(['POST nodes', 'GET nodes', 'PUT nodes/status', 'GET leases', 'POST leases']);
    expect(api.objs.get('leases/kube-node-lease/n1')?.spec).toMatchObject({ holderIdentity: 'n1', leaseDurationSeconds: 40 });
  });

  it('renews the lease with one write, reading it again only after a conflict', async () => {
    const { api, reg } = await registered();
    api.take();
    await reg.renewLease();
    await reg.renewLease();
    expect(api.take()).toEqual(['PUT leases', 'PUT leases']);
    api.bump('leases', 'kube-node-lease', 'n1');
    await reg.renewLease();
    expect(api.take()).toEqual(['PUT leases', 'GET leases', 'PUT leases']);
    await reg.renewLease();
    expect(api.take()).toEqual(['PUT leases']);
  });

  it('recreates a deleted lease', async () => {
    const { api, reg } = await registered();
    api.objs.delete('leases/kube-node-lease/n1');
    api.take();
    await reg.renewLease();
    expect(api.take()).toEqual(['PUT leases', 'GET leases', 'POST leases']);
  });

  it('starts renewing 10 s after registration renewed, at once when starting took longer', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const quick = await registered();
    quick.api.take();
    quick.reg.start();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(quick.api.take()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(quick.api.take()).toEqual(['PUT leases', 'GET nodes']);
    quick.reg.stop();
    const slow = await registered();
    slow.api.take();
    vi.setSystemTime(Date.now() + 15_000);
    slow.reg.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(slow.api.take()).toEqual(['PUT leases']);
    slow.reg.stop();
  });

  it('posts an unchanged status only once the report period passed, a changed one at once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { api, reg, runtime } = await registered();
    api.take();
    vi.setSystemTime(Date.now() + 60_000);
    await reg.postStatus(false);
    expect(api.take()).toEqual(['GET nodes']);
    vi.setSystemTime(Date.now() + NODE_STATUS_REPORT_MS);
    await reg.postStatus(false);
    expect(api.take()).toEqual(['GET nodes', 'PUT nodes/status']);
    runtime.down = true;
    await reg.postStatus(false);
    expect(api.take()).toEqual(['GET nodes', 'PUT nodes/status']);
    const ready = (api.objs.get('nodes//n1')!.status.conditions as { type: string; status: string }[]).find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('False');
  });
});

describe('renewed', () => {
  it('sets holder, duration and a MicroTime renewTime and keeps the metadata', () => {
    const l = renewed({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1', resourceVersion: '7' }, spec: { holderIdentity: 'x' } }, 'n1', new Date('2026-01-02T03:04:05.678Z'));
    expect(l.metadata.resourceVersion).toBe('7');
    expect(l.spec).toEqual({ holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-01-02T03:04:05.678000Z' });
  });
});
