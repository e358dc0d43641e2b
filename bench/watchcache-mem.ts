// watchcache-mem: what the pods' watch cache holds and costs at 15,000 realistic pods (~5.4 KB each, with managedFields), with its texts packed and plain, over a real SQLite store.
//
// `node bench/watchcache-mem.ts [--pods 15000] [--nodes 500]` prints, per mode (texts plain; packed; packed with a
// 1 MiB event window instead of the default 16 MiB, whose texts stay plain): the cache's share of the V8 heap and of
// external memory after a full GC (the heap with the cache, minus the heap once it is dropped), bytes per object,
// the ms the store's creates took with the cache following them, the ms a fresh cache takes to apply the same
// 15,000 creates replayed from the store's log (its own cost), and the ms of a full RV=0 list; then the codec's µs
// per pack and unpack of one pod text. One JSON line at the end.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lookupKind } from '../pkg/api/resources.ts';
import type { KubeObject } from '../pkg/api/types.ts';
import { TextPacker, WatchCache } from '../pkg/apiserver/watchcache.ts';
import { openSqliteStore, type Store } from '../pkg/store/index.ts';

const POD = lookupKind('v1', 'Pod')!;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** fullGc collects until the heap stops shrinking (weak and finalised objects take more than one pass). */
async function fullGc(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

const suffix = () => Math.random().toString(36).slice(2, 7);

/**
 * realisticPod is pod i of a Deployment's ReplicaSet as the API server stores it once running: labels, annotations,
 * an ownerReference, managedFields of three managers, a container, the projected service-account token volume,
 * the default tolerations, and a status with five conditions, a container status and pod IPs.
 */
export function realisticPod(i: number, nodes: number): KubeObject {
  const hash = `7f9c${((i % 50) * 7919).toString(36)}`;
  const rs = `web-${i % 50}-${hash}`;
  const at = (s: number) => new Date(Date.UTC(2025, 5, 1, 10, 0, s) + i * 137).toISOString().replace(/\.\d+Z$/, 'Z');
  const [t0, t1] = [at(0), at(2)];
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const hostIP = `172.18.${(i % nodes) >> 8}.${(i % nodes) & 255}`;
  const rsUid = randomUUID();
  const probe = { '.': {}, 'f:lastProbeTime': {}, 'f:lastTransitionTime': {}, 'f:status': {}, 'f:type': {} };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${rs}-${suffix()}`,
      generateName: `${rs}-`,
      namespace: `ns-${i % 20}`,
      uid: randomUUID(),
      creationTimestamp: t0,
      labels: { app: `web-${i % 50}`, 'pod-template-hash': hash, tier: 'frontend' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-05-30T09:12:44Z', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: rsUid, controller: true, blockOwnerDeletion: true }],
      managedFields: [
        {
          manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: t0, fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/restartedAt': {}, 'f:prometheus.io/port': {}, 'f:prometheus.io/scrape': {} }, 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:tier': {} }, 'f:ownerReferences': { '.': {}, [`k:{"uid":"${rsUid}"}`]: {} } },
            'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {}, 'f:ports': { '.': {}, 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:protocol': {} } }, 'f:resources': { '.': {}, 'f:limits': { '.': {}, 'f:memory': {} }, 'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} } }, 'f:terminationMessagePath': {}, 'f:terminationMessagePolicy': {} } }, 'f:dnsPolicy': {}, 'f:enableServiceLinks': {}, 'f:restartPolicy': {}, 'f:schedulerName': {}, 'f:securityContext': {}, 'f:terminationGracePeriodSeconds': {} },
          },
        },
        { manager: 'kube-scheduler', operation: 'Update', apiVersion: 'v1', time: t0, fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': { '.': {}, 'k:{"type":"PodScheduled"}': probe } } }, subresource: 'status' },
        {
          manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: t1, fieldsType: 'FieldsV1', subresource: 'status',
          fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"ContainersReady"}': probe, 'k:{"type":"Initialized"}': probe, 'k:{"type":"PodReadyToStartContainers"}': probe, 'k:{"type":"Ready"}': probe }, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:hostIPs': {}, 'f:phase': {}, 'f:podIP': {}, 'f:podIPs': { '.': {}, [`k:{"ip":"${ip}"}`]: { '.': {}, 'f:ip': {} } }, 'f:startTime': {} } },
        },
      ],
    },
    spec: {
      volumes: [{ name: `kube-api-access-${suffix()}`, projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } }], defaultMode: 420 } }],
      containers: [{ name: 'web', image: 'registry.example.com/team/web:1.27.3', ports: [{ containerPort: 8080, protocol: 'TCP' }], resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } }, volumeMounts: [{ name: 'kube-api-access', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }], terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }],
      restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', serviceAccountName: 'default', serviceAccount: 'default', nodeName: `hollow-${i % nodes}`, securityContext: {}, schedulerName: 'default-scheduler',
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      priority: 0, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: type === 'PodScheduled' ? t0 : t1 })),
      hostIP, hostIPs: [{ ip: hostIP }], podIP: ip, podIPs: [{ ip }], startTime: t0,
      containerStatuses: [{ name: 'web', state: { running: { startedAt: t1 } }, lastState: {}, ready: true, restartCount: 0, image: 'registry.example.com/team/web:1.27.3', imageID: 'docker-pullable://registry.example.com/team/web@sha256:4f1b3c1d2e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c', containerID: `docker://${randomUUID().replaceAll('-', '')}${randomUUID().replaceAll('-', '')}`, started: true, volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true, recursiveReadOnly: 'Disabled' }] }],
      qosClass: 'Burstable',
    },
  } as KubeObject;
}

/** settled waits until the cache applied the store's revision and its fan-out and packing turns stopped. */
async function settled(c: WatchCache, store: Store): Promise<void> {
  if (!(await c.waitFresh(store.revision()))) throw new Error('cache did not catch up');
  for (let quiet = 0, last = -1; quiet < 3; ) {
    await new Promise((r) => setImmediate(r));
    quiet = c.stats.packed === last ? quiet + 1 : 0;
    last = c.stats.packed;
  }
}

const mb = (n: number) => +(n / 1024 / 1024).toFixed(1);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];

interface Mode {
  compress: boolean;
  /** the event window's bound (WatchCacheOptions.maxBytes); undefined = the default */
  windowBytes?: number;
}

interface ModeResult extends Mode {
  heapMb: number;
  externalMb: number;
  heapBytesPerPod: number;
  textBytesPerPod: number;
  plain: number;
  packed: number;
  createMs: number;
  replayApplyMs: number;
  listMs: number;
  listedMb: number;
}

/**
 * timeList times a full list (median of 5). Apart from run(): a suspended async function keeps its dead locals, and
 * a list's array of texts kept there would count as the cache's.
 */
function timeList(cache: WatchCache): { ms: number; bytes: number } {
  const ms: number[] = [];
  let bytes = 0;
  for (let k = 0; k < 5; k++) {
    const s = performance.now();
    const items = cache.list({ labels: [], fields: [] }).items;
    ms.push(performance.now() - s);
    bytes = items.reduce((n, t) => n + t.length, 0);
  }
  return { ms: +median(ms).toFixed(1), bytes };
}

/** run fills a store with the pods while a cache follows it, and measures that cache and a second one replaying the log. */
async function run(mode: Mode, pods: number, nodes: number): Promise<ModeResult> {
  const opts = { compress: mode.compress, maxBytes: mode.windowBytes };
  const dir = mkdtempSync(join(tmpdir(), 'kubeling-wcmem-'));
  const store = openSqliteStore(join(dir, 'state.db'), { compactIntervalMs: 0, compactEveryWrites: 0 });
  try {
    let cache: WatchCache | undefined = new WatchCache(store, POD, opts);
    await cache.ready();
    const t0 = performance.now();
    for (let i = 0; i < pods; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, pods - i) }, (_, k) => store.create('pods', realisticPod(i + k, nodes))));
    }
    await settled(cache, store);
    const createMs = performance.now() - t0;
    const list = timeList(cache);
    const m = cache.memory();
    await fullGc();
    const withCache = process.memoryUsage();
    cache.stop();
    cache = undefined;
    await fullGc();
    const without = process.memoryUsage();

    // the cache's own cost of applying the creates: a fresh cache replays all of them from the store's log
    const replay = new WatchCache(store, POD, opts);
    const r0 = performance.now();
    await replay.ready();
    await settled(replay, store);
    const replayApplyMs = performance.now() - r0;
    if (replay.size !== pods) throw new Error(`replayed ${replay.size} of ${pods}`);
    replay.stop();

    const heap = withCache.heapUsed - without.heapUsed;
    return {
      ...mode,
      heapMb: mb(heap),
      externalMb: mb(withCache.external + withCache.arrayBuffers - without.external - without.arrayBuffers),
      heapBytesPerPod: Math.round(heap / pods),
      textBytesPerPod: Math.round((m.plainBytes + m.packedBytes) / pods),
      plain: m.plain,
      packed: m.packed,
      createMs: Math.round(createMs),
      replayApplyMs: Math.round(replayApplyMs),
      listMs: list.ms,
      listedMb: mb(list.bytes),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** codec times the packer alone on pod texts (the first one is its dictionary, as in a cache). */
function codec(nodes: number): { textBytes: number; packedBytes: number; packUs: number; unpackUs: number } {
  const texts = Array.from({ length: 2001 }, (_, i) => JSON.stringify({ ...realisticPod(i, nodes), metadata: { ...realisticPod(i, nodes).metadata, resourceVersion: String(1000 + i) } }));
  const p = new TextPacker();
  p.pack(texts[0]);
  const sample = texts.slice(1);
  let packUs = Infinity;
  let unpackUs = Infinity;
  let packed: string[] = [];
  for (let round = 0; round < 5; round++) {
    const a = performance.now();
    packed = sample.map((t) => p.pack(t)!);
    const b = performance.now();
    const back = packed.map((s) => p.unpack(s));
    const c = performance.now();
    if (back.some((t, i) => t !== sample[i])) throw new Error('codec round trip changed a text');
    packUs = Math.min(packUs, ((b - a) * 1000) / sample.length);
    unpackUs = Math.min(unpackUs, ((c - b) * 1000) / sample.length);
  }
  const avg = (xs: string[]) => Math.round(xs.reduce((n, t) => n + t.length, 0) / xs.length);
  return { textBytes: avg(sample), packedBytes: avg(packed), packUs: +packUs.toFixed(1), unpackUs: +unpackUs.toFixed(1) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { pods: { type: 'string', default: '15000' }, nodes: { type: 'string', default: '500' } } });
  const pods = Number(values.pods);
  const nodes = Number(values.nodes);
  const c = codec(nodes);
  console.log(`codec: a ${c.textBytes} B pod text packs to ${c.packedBytes} B; ${c.packUs} µs per pack, ${c.unpackUs} µs per unpack`);
  const results: ModeResult[] = [];
  const modes: Mode[] = [{ compress: false }, { compress: true }, { compress: true, windowBytes: 1024 * 1024 }];
  for (const mode of modes) {
    const r = await run(mode, pods, nodes);
    results.push(r);
    console.log(
      `compress ${mode.compress ? 'on ' : 'off'}${mode.windowBytes ? `, window ${mb(mode.windowBytes)} MiB` : ''}: heap ${r.heapMb} MB (${r.heapBytesPerPod} B/pod; text ${r.textBytesPerPod} B/pod, ${r.packed} packed, ${r.plain} plain), ` +
        `external ${r.externalMb} MB; ${pods} creates ${r.createMs} ms with the cache following, its own apply (replay) ${r.replayApplyMs} ms; RV=0 list ${r.listMs} ms (${r.listedMb} MB)`,
    );
  }
  // what one packed object costs in all (entry, key, index, text): the packed run's heap less its plain objects at the plain run's cost
  const [off, on] = results;
  const heapBytesPerPackedPod = Math.round((on.heapMb * 1024 * 1024 - on.plain * off.heapBytesPerPod) / on.packed);
  console.log(`per object on the heap: ${off.heapBytesPerPod} B plain, ~${heapBytesPerPackedPod} B packed`);
  console.log(JSON.stringify({ pods, nodes, codec: c, heapBytesPerPackedPod, results }));
}

if (import.meta.main) await main();
