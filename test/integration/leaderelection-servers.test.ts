// leaderelection-servers: two real `kubeling server` processes on one data dir (one SQLite store) — one leads the
// controller manager and the scheduler, the standby serves the leader's writes (watches included), and takes over
// both leases when the leader is SIGKILLed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lease, LeaseSpec } from 'kubernetes-types/coordination/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject, WatchEvent } from '../../pkg/api/types.ts';
import { Client } from '../../pkg/client/client.ts';
import type { WatchHandle } from '../../pkg/client/interface.ts';
import { kubectl, startServer, type RunningServer } from '../helpers/server.ts';

const leaseInfo = lookupKind('coordination.k8s.io/v1', 'Lease')!;
const deployInfo = lookupKind('apps/v1', 'Deployment')!;
const rsInfo = lookupKind('apps/v1', 'ReplicaSet')!;
const podInfo = lookupKind('v1', 'Pod')!;
const LEASES = ['kube-controller-manager', 'kube-scheduler'];

interface Master {
  name: string;
  srv: RunningServer;
  client: Client;
  kubeconfig: string;
}

let dataDir: string;
let kubeconfigDir: string;
let first: Master;
let second: Master;
let leader: Master;
let standby: Master;
const watches: WatchHandle[] = [];

/** startMaster starts a server on the shared data dir; `kubeconfig` = where it writes its own (default: in the data dir). */
async function startMaster(name: string, kubeconfig?: string): Promise<Master> {
  const srv = await startServer({
    dataDir,
    args: ['--disable-agent', ...(kubeconfig ? ['--write-kubeconfig', kubeconfig] : [])],
    env: { KUBELING_LOG_LEVEL: 'info' },
  });
  return { name, srv, client: new Client({ server: srv.url, token: srv.token, caPem: srv.caPem }), kubeconfig: kubeconfig ?? srv.kubeconfig };
}

/** acquired is the identity under which a server's log says it took `lease` (undefined = it never did). */
function acquired(m: Master, lease: string): string | undefined {
  for (const line of m.srv.logs().split('\n')) {
    if (!line.includes('successfully acquired lease') || !line.includes(`kube-system/${lease}"`)) continue;
    const id = /"identity":"([^"]+)"/.exec(line)?.[1];
    if (id) return id;
  }
  return undefined;
}

async function holder(m: Master, lease: string): Promise<string | undefined> {
  const l = (await m.client.getOrUndefined(leaseInfo, 'kube-system', lease)) as (Lease & { spec: LeaseSpec }) | undefined;
  return l?.spec.holderIdentity;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const podsOf = async (m: Master, app: string) => (await m.client.list(podInfo, 'default', { labelSelector: `app=${app}` })).items;

function deployment(name: string, replicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    },
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kubeling-2masters-'));
  kubeconfigDir = mkdtempSync(join(tmpdir(), 'kubeling-2masters-kc-'));
  // the second server starts once the first has written the PKI and tokens, so both serve the same cluster identity
  // (the second writes its kubeconfig elsewhere: the one in the data dir keeps pointing at the first)
  first = await startMaster('first');
  second = await startMaster('second', join(kubeconfigDir, 'kubeconfig.yaml'));
}, 90_000);

afterAll(async () => {
  for (const w of watches) w.stop();
  await Promise.all([first, second].map((m) => m?.client.close()));
  await Promise.all([first, second].map((m) => m?.srv.kill()));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (kubeconfigDir) rmSync(kubeconfigDir, { recursive: true, force: true });
});

describe('two servers on one store', () => {
  it('exactly one server holds both leases, seen alike through either server', async () => {
    // the first server runs alone for a moment, so it takes both; the second must stay standby
    const holders = await until(
      'both leases held',
      async () => {
        const h = await Promise.all(LEASES.map((l) => holder(second, l)));
        return h.every(Boolean) ? h : undefined;
      },
      30_000,
    );
    const byLog = (m: Master) => LEASES.map((l) => acquired(m, l));
    leader = byLog(first).every(Boolean) ? first : second;
    standby = leader === first ? second : first;
    expect(holders).toEqual(byLog(leader));
    expect(new Set(holders).size).toBe(1); // one process: the two electors share its identity
    // over a few renewal periods (retry 2 s) nothing changes hands, and both servers read the same holders
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      expect(await Promise.all(LEASES.map((l) => holder(first, l)))).toEqual(holders);
      expect(await Promise.all(LEASES.map((l) => holder(second, l)))).toEqual(holders);
      expect(byLog(standby)).toEqual([undefined, undefined]);
    }
  }, 60_000);

  it("a Deployment created through the standby is rolled out by the leader, and the standby's watches see it", async () => {
    const added: string[] = [];
    watches.push(
      standby.client.watch(podInfo, 'default', { labelSelector: 'app=web' }, (ev: WatchEvent) => {
        if (ev.type === 'ADDED') added.push((ev.object as KubeObject).metadata.name!);
      }),
    );
    await new Promise((r) => setTimeout(r, 300)); // the watch is open before anything is created
    await standby.client.create(deployInfo, 'default', deployment('web', 2));
    const rs = await until(
      'a ReplicaSet for web',
      async () => (await standby.client.list(rsInfo, 'default', { labelSelector: 'app=web' })).items[0],
      20_000,
    );
    expect(rs.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'web', controller: true });
    await until('2 pods of web', async () => (await podsOf(standby, 'web')).length === 2, 20_000);
    // pods were written by the leader's process: the standby's watch (fed by its store's polling) delivers them
    await until('2 ADDED events through the standby', async () => added.length === 2, 10_000);
    const pods = await podsOf(standby, 'web');
    expect(added.sort()).toEqual(pods.map((p) => p.metadata.name).sort());
    for (const p of pods) expect((p as { status?: { phase?: string } }).status?.phase).toBe('Pending'); // no nodes
    // a list served from the standby's watch cache (resourceVersion=0) holds them too
    const cached = await standby.client.list(podInfo, 'default', { labelSelector: 'app=web', resourceVersion: '0' });
    expect(cached.items).toHaveLength(2);
  }, 60_000);

  it('when the leader is SIGKILLed the standby takes both leases and its controllers work', async () => {
    const killedAt = Date.now();
    await leader.srv.kill();
    const identity = await until(
      'the standby acquiring both leases',
      async () => {
        const ids = LEASES.map((l) => acquired(standby, l));
        if (!ids.every(Boolean)) return undefined;
        const h = await Promise.all(LEASES.map((l) => holder(standby, l)));
        return h.every((x, i) => x === ids[i]) ? ids[0] : undefined;
      },
      30_000,
    );
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThan(30_000); // 15 s lease + retry period + slack
    expect(identity).toBeTruthy();
    const r = kubectl(standby.kubeconfig, ['scale', 'deployment/web', '--replicas=4']);
    expect(r.code, r.stderr).toBe(0);
    await until('4 pods of web', async () => (await podsOf(standby, 'web')).length === 4, 30_000);
    const d = await until(
      'the Deployment status to show 4 replicas',
      async () => {
        const cur = (await standby.client.get(deployInfo, 'default', 'web')) as KubeObject & { status?: { replicas?: number } };
        return cur.status?.replicas === 4 ? cur : undefined;
      },
      20_000,
    );
    expect(d.metadata.name).toBe('web');
  }, 90_000);
});
