// events.test: the event recorder — involvedObject from objects or targets, upstream names, dedup by patch, re-create after deletion, non-blocking.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { errors } from '../api/errors.ts';
import type { ResourceInfo } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { EventRecorder, eventName, objectReference, podTarget } from './events.ts';
import type { ApiClient } from './interface.ts';

const log = pino({ level: 'silent' });

/** fakeClient stores Events by namespace/name and records the calls the recorder makes. */
function fakeClient() {
  const events = new Map<string, KubeObject>();
  const calls: string[] = [];
  let slow: Promise<void> | undefined;
  const client = {
    async create(_info: ResourceInfo, ns: string | undefined, obj: KubeObject) {
      await slow;
      calls.push(`create ${ns}/${obj.metadata.name}`);
      events.set(`${ns}/${obj.metadata.name}`, structuredClone(obj));
      return obj;
    },
    async patch(_info: ResourceInfo, ns: string | undefined, name: string, patch: Record<string, unknown>, type?: string) {
      calls.push(`patch ${ns}/${name} ${type}`);
      const cur = events.get(`${ns}/${name}`);
      if (!cur) throw errors.notFound({ group: '', resource: 'events' }, name);
      Object.assign(cur, patch);
      return cur;
    },
  } as unknown as ApiClient;
  return { client, events, calls, setSlow: (p: Promise<void> | undefined) => (slow = p) };
}

const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'prod', uid: 'u-1', resourceVersion: '17' },
  spec: { initContainers: [{ name: 'init', image: 'busybox' }], containers: [{ name: 'app', image: 'busybox' }] },
};

describe('objectReference', () => {
  it('builds the involvedObject from an object', () => {
    expect(objectReference(pod)).toEqual({ kind: 'Pod', apiVersion: 'v1', namespace: 'prod', name: 'web-1', uid: 'u-1', resourceVersion: '17' });
  });
  it('passes an EventTarget through, fieldPath included', () => {
    expect(objectReference(podTarget(pod, 'init'))).toMatchObject({ kind: 'Pod', name: 'web-1', fieldPath: 'spec.initContainers{init}' });
    expect(podTarget(pod, 'app').fieldPath).toBe('spec.containers{app}');
  });
});

describe('eventName', () => {
  it('is <object>.<hex of unix ns>', () => {
    expect(eventName('web-1', 1_700_000_000_000, 0)).toBe(`web-1.${(1_700_000_000_000n * 1_000_000n).toString(16)}`);
    expect(eventName('x', 1, 1)).not.toBe(eventName('x', 1, 2));
  });
});

describe('EventRecorder', () => {
  it('creates a core/v1 Event with the source component and host', async () => {
    const f = fakeClient();
    const r = new EventRecorder(f.client, { component: 'replicaset-controller' }, log);
    const rs: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: 'prod', uid: 'rs-1', resourceVersion: '3' } };
    r.event(rs, 'Normal', 'SuccessfulCreate', 'Created pod: web-abcde');
    await r.flush();
    const [ev] = [...f.events.values()];
    expect(ev.metadata.name).toMatch(/^web\.[0-9a-f]+$/);
    expect(ev.metadata.namespace).toBe('prod');
    expect(ev).toMatchObject({
      involvedObject: { kind: 'ReplicaSet', apiVersion: 'apps/v1', namespace: 'prod', name: 'web', uid: 'rs-1', resourceVersion: '3' },
      reason: 'SuccessfulCreate',
      message: 'Created pod: web-abcde',
      type: 'Normal',
      count: 1,
      source: { component: 'replicaset-controller' },
      reportingComponent: 'replicaset-controller',
    });
    expect(ev.source.host).toBeUndefined();
    expect(ev.firstTimestamp).toBe(ev.lastTimestamp);
  });

  it('puts events about cluster-scoped objects in default, with the host as source', async () => {
    const f = fakeClient();
    const r = new EventRecorder(f.client, { component: 'kubelet', host: 'node-a' }, log);
    r.event({ kind: 'Node', name: 'node-a', uid: 'node-a' }, 'Normal', 'Starting', 'Starting kubelet.');
    await r.flush();
    const [ev] = [...f.events.values()];
    expect(ev.metadata.namespace).toBe('default');
    expect(ev.involvedObject.namespace).toBeUndefined();
    expect(ev.source).toEqual({ component: 'kubelet', host: 'node-a' });
    expect(ev.reportingInstance).toBe('node-a');
  });

  it('deduplicates equal events by patching count and lastTimestamp', async () => {
    const f = fakeClient();
    const r = new EventRecorder(f.client, { component: 'default-scheduler' }, log);
    for (let i = 0; i < 3; i++) r.event(pod, 'Warning', 'FailedScheduling', '0/2 nodes are available: 2 Insufficient cpu.');
    r.event(pod, 'Warning', 'FailedScheduling', 'a different message');
    await r.flush();
    expect(f.calls.map((c) => c.split(' ')[0])).toEqual(['create', 'patch', 'patch', 'create']);
    expect(f.calls[1]).toMatch(/strategic$/);
    const evs = [...f.events.values()];
    expect(evs.map((e) => e.count)).toEqual([3, 1]);
  });

  it('does not merge events from different sources or objects', async () => {
    const f = fakeClient();
    const a = new EventRecorder(f.client, { component: 'kubelet', host: 'node-a' }, log);
    const b = new EventRecorder(f.client, { component: 'kubelet', host: 'node-b' }, log);
    a.event(podTarget(pod, 'app'), 'Normal', 'Pulled', 'ok');
    a.event(podTarget(pod, 'init'), 'Normal', 'Pulled', 'ok');
    b.event(podTarget(pod, 'app'), 'Normal', 'Pulled', 'ok');
    await Promise.all([a.flush(), b.flush()]);
    expect(f.calls.filter((c) => c.startsWith('create')).length).toBe(3);
  });

  it('re-creates a deduplicated event that was deleted, keeping its name and running count', async () => {
    const f = fakeClient();
    const r = new EventRecorder(f.client, { component: 'kubelet', host: 'n' }, log);
    r.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await r.flush();
    const [name] = [...f.events.keys()];
    f.events.delete(name);
    r.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await r.flush();
    expect(f.calls.map((c) => c.split(' ')[0])).toEqual(['create', 'patch', 'create']);
    expect(f.events.get(name)?.count).toBe(2);
  });

  it('never blocks the caller: event() returns before the API answers', async () => {
    const f = fakeClient();
    let release!: () => void;
    f.setSlow(new Promise<void>((r) => (release = r)));
    const r = new EventRecorder(f.client, { component: 'x' }, log);
    r.event(pod, 'Normal', 'A', 'one');
    r.event(pod, 'Normal', 'B', 'two');
    expect(f.calls).toEqual([]);
    release();
    await r.flush();
    expect(f.calls.length).toBe(2);
  });

  it('formats eventf like upstream Eventf', async () => {
    const f = fakeClient();
    const r = new EventRecorder(f.client, { component: 'deployment-controller' }, log);
    r.eventf(pod, 'Normal', 'ScalingReplicaSet', 'Scaled up replica set %s to %d', 'web-5d8f', 3);
    await r.flush();
    expect([...f.events.values()][0].message).toBe('Scaled up replica set web-5d8f to 3');
  });
});
