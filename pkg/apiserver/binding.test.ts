// binding.test: POST pods/{name}/binding through the registry — nodeName, annotations and PodScheduled in one write, no
// managedFields entry for the binder (upstream writes storage directly), and every precondition and conflict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { lookupKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { openTempStore, type TempStore } from '../store/testing.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import type { UserInfo } from './auth/types.ts';
import { Registry } from './registry.ts';

const POD = lookupKind('v1', 'Pod')!;
const NS = lookupKind('v1', 'Namespace')!;

let tmp: TempStore;
let store: Store;
let reg: Registry;

beforeAll(async () => {
  tmp = openTempStore('binding', { compactEveryWrites: 0 });
  store = tmp.store;
  reg = new Registry(store, silentLogger());
  await reg.start();
  await reg.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } }, {});
});

afterAll(async () => {
  await tmp?.close();
});

const pod = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

const binding = (name: string, node: string, meta: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Binding', metadata: { name, ...meta }, target: { apiVersion: 'v1', kind: 'Node', name: node } });

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
}

describe('pods/binding', () => {
  it('sets nodeName, the annotations and PodScheduled True in one write, without a managedFields entry', async () => {
    const created = await reg.create(POD, 'b', pod('a'), { fieldManager: 'kubectl-create' });
    const managers = created.metadata.managedFields?.map((m: { manager?: string }) => m.manager);
    await reg.bind('b', 'a', binding('a', 'node-1', { annotations: { 'example.com/x': 'y' } }), { fieldManager: 'kube-scheduler' });
    const got = await reg.get(POD, 'b', 'a');
    expect(got.spec.nodeName).toBe('node-1');
    expect(got.metadata.annotations).toEqual({ 'example.com/x': 'y' });
    expect(got.status.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'True', lastProbeTime: null })]);
    expect(Number(got.metadata.resourceVersion)).toBe(Number(created.metadata.resourceVersion) + 1);
    expect(got.metadata.managedFields?.map((m: { manager?: string }) => m.manager)).toEqual(managers);
    expect(got.metadata.uid).toBe(created.metadata.uid);
  });

  it('conflicts when the pod is already assigned, with upstream message', async () => {
    await reg.create(POD, 'b', pod('c'), {});
    await reg.bind('b', 'c', binding('c', 'node-1'), {});
    const err = await reg.bind('b', 'c', binding('c', 'node-2'), {}).catch((e: ApiError) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(409);
    expect((err as ApiError).message).toContain('pod c is already assigned to node "node-1"');
    expect((await reg.get(POD, 'b', 'c')).spec.nodeName).toBe('node-1');
  });

  it('honours the uid and resourceVersion preconditions, and 404s a missing pod', async () => {
    const p = await reg.create(POD, 'b', pod('d'), {});
    expect(await code(reg.bind('b', 'd', binding('d', 'n', { uid: 'other' }), {}))).toBe(409);
    expect(await code(reg.bind('b', 'd', binding('d', 'n', { resourceVersion: String(Number(p.metadata.resourceVersion) - 1) }), {}))).toBe(409);
    expect(await code(reg.bind('b', 'nope', binding('nope', 'n'), {}))).toBe(404);
    await reg.bind('b', 'd', binding('d', 'n', { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion }), {});
    expect((await reg.get(POD, 'b', 'd')).spec.nodeName).toBe('n');
  });

  it('rejects a bad Binding and writes nothing on dry run', async () => {
    await reg.create(POD, 'b', pod('e'), {});
    expect(await code(reg.bind('b', 'e', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'e' }, target: {} }, {}))).toBe(422);
    expect(await code(reg.bind('b', 'e', binding('other', 'n'), {}))).toBe(400);
    await reg.bind('b', 'e', binding('e', 'n'), { dryRun: true });
    expect((await reg.get(POD, 'b', 'e')).spec.nodeName).toBeUndefined();
  });

  it('forbids a node identity from binding (NodeRestriction)', async () => {
    await reg.create(POD, 'b', pod('f'), {});
    const user: UserInfo = { name: 'system:node:n', groups: ['system:nodes', 'system:authenticated'] };
    expect(await code(reg.bind('b', 'f', binding('f', 'n'), { user }))).toBe(403);
  });
});
