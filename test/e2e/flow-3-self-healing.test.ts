// flow-3: self-healing — a `docker kill`ed container is restarted, a deleted replica replaced, a killed host's pods
// run on the others within the configured time (measured and printed, with the request loop's failures) while the
// NodePort keeps answering on the survivors, and the returned host duplicates nothing.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from './hosts.ts';
import {
  clientDeployment, dockerCli, flowCluster, flowTimer, live, NODE_MONITOR_GRACE_S, ok, podsOf, ready, requestLoop,
  UNREACHABLE_TOLERATION_S, type FlowCluster,
} from './flow/cluster.ts';

const NODE_PORT = 31515;
const REPLICAS = 3;
/** MOVE_BOUND_S: detection (grace) + eviction (toleration) + rescheduling and start, with slack for a loaded machine */
const MOVE_BOUND_S = NODE_MONITOR_GRACE_S + UNREACHABLE_TOLERATION_S + 40;

describe('flow 3: self-healing (kubectl 1.32)', () => {
  let f: FlowCluster;
  const timer = flowTimer('flow 3 (self-healing)');

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
    await clientDeployment(f, REPLICAS);
  });
  afterAll(async () => {
    // the host comes back even when a step failed, so later flows find three hosts
    for (const h of f?.c.hosts ?? []) if (!(await f.c.nodeReady(h.name))) await f.c.startHost(h.name).catch(() => undefined);
    timer.done();
  });

  const pods = () => podsOf(f.c, 'component=web');

  it('restarts a container killed with docker kill', async () => {
    const victim = (await pods())[0]!;
    const host = victim.spec!.nodeName!;
    const containers = await f.c.host(host).docker.listContainers({});
    const main = containers.find((x) => x.podName === victim.metadata!.name && !x.isSandbox && x.state === 'running');
    expect(main, `the running container of ${victim.metadata!.name} in ${host}'s dockerd`).toBeTruthy();
    dockerCli(f.c, host, ['kill', main!.id]);
    const back = await f.c.waitFor(`${victim.metadata!.name} restarted`, async () => {
      const p = (await pods()).find((x) => x.metadata!.uid === victim.metadata!.uid);
      const st = p?.status?.containerStatuses?.[0];
      return p && ready(p) && (st?.restartCount ?? 0) >= 1 && st?.containerID !== `docker://${main!.id}` ? p : undefined;
    }, 60_000);
    expect(back.status!.containerStatuses![0]!.lastState?.terminated?.exitCode).toBe(137);
  });

  it('replaces a deleted replica', async () => {
    const victim = (await pods())[1]!.metadata!.name!;
    ok(f.c.kubectl('delete', 'pod', victim, '--wait=false'));
    const now = await f.c.waitFor(`${REPLICAS} Ready without ${victim}`, async () => {
      const ps = (await pods()).filter(live);
      return ps.length === REPLICAS && ps.every(ready) && !ps.some((p) => p.metadata!.name === victim) ? ps : undefined;
    }, 60_000);
    expect(now.map((p) => p.metadata!.name)).not.toContain(victim);
  });

  it('moves a killed host\'s pods to the others in the configured time; the NodePort answers on the survivors; the returned host duplicates nothing', async () => {
    // the host with the most replicas goes
    const byHost = new Map<string, number>();
    for (const p of (await pods()).filter(live)) byHost.set(p.spec!.nodeName!, (byHost.get(p.spec!.nodeName!) ?? 0) + 1);
    const dead = [...byHost].sort((a, b) => b[1] - a[1])[0]![0];
    const survivors = f.c.hosts.filter((h) => h.name !== dead);
    const loop = requestLoop(survivors.map((h) => `http://${h.ip}:${NODE_PORT}/version.txt`), 100, 2000);
    const t0 = Date.now();
    await f.c.killHost(dead);
    const moved = await f.c.waitFor(`${REPLICAS} replicas Ready off ${dead}`, async () => {
      const ps = (await pods()).filter((p) => ready(p) && p.spec!.nodeName !== dead);
      return ps.length === REPLICAS ? ps : undefined;
    }, (MOVE_BOUND_S + 30) * 1000);
    const took = (Date.now() - t0) / 1000;
    for (const h of survivors) {
      await f.c.waitFor(`NodePort on ${h.name} after the move`, async () => (await httpGet(`http://${h.ip}:${NODE_PORT}/version.txt`, 2000).catch(() => undefined))?.status === 200, 20_000);
    }
    const seen = await loop.stop();
    console.log(`e2e flow 3: killed ${dead} (${byHost.get(dead)} of ${REPLICAS} replicas): all ${REPLICAS} Ready on ${survivors.map((h) => h.name).join(', ')} after ${took.toFixed(1)} s ` +
      `(bound ${MOVE_BOUND_S} s: node-monitor-grace-period ${NODE_MONITOR_GRACE_S} s + unreachable toleration ${UNREACHABLE_TOLERATION_S} s + 40 s); ` +
      `request loop on the survivors: ${seen.ok} ok, ${seen.failed} failed${seen.errors.length ? ` (first: ${seen.errors.slice(0, 3).join('; ')})` : ''}`);
    expect(took).toBeLessThan(MOVE_BOUND_S);
    expect(moved.every((p) => p.spec!.nodeName !== dead)).toBe(true);
    expect(seen.ok).toBeGreaterThan(seen.failed);
    expect(ok(f.c.kubectl('get', 'node', dead))).toMatch(new RegExp(`^${dead}\\s+NotReady\\s`, 'm'));

    await f.c.startHost(dead);
    // the pods evicted from the dead host finish terminating; exactly REPLICAS pods remain, none of them twice
    const final = await f.c.waitFor(`exactly ${REPLICAS} client pods after ${dead} returned`, async () => {
      const ps = await pods();
      return ps.length === REPLICAS && ps.every(ready) ? ps : undefined;
    }, 90_000);
    expect(new Set(final.map((p: Pod) => p.metadata!.name)).size).toBe(REPLICAS);
    const names = new Set(final.map((p) => p.metadata!.name));
    await f.c.waitFor(`${dead} runs no container of a deleted pod`, async () => {
      const running = (await f.c.host(dead).docker.listContainers({})).filter((x) => x.state === 'running' && x.namespace === 'default' && x.podName.startsWith('client-deployment-'));
      return running.every((x) => names.has(x.podName));
    }, 60_000);
    expect(ok(f.c.kubectl('get', 'deployment', 'client-deployment'))).toMatch(new RegExp(`^client-deployment\\s+${REPLICAS}/${REPLICAS}\\s`, 'm'));
  });
});
