// proxy-iptables: the service proxy in `--proxy-mode iptables` (kernel DNAT) against a real server and real containers — ClusterIP from host and container, NodePort/LB on a 127.x /32, spread, affinity, refusing endpoints (not retried), no endpoints, endpoint changes under a live connection, UDP with stale-flow flush; teardown leaves no chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import type { Client } from '../../pkg/client/index.ts';
import { hostRunner } from '../../pkg/network/exec.ts';
import { teardownProxyRules } from '../../pkg/proxy/index.ts';
import { echoRoundTrip, openTcp, proxyFixture, sliceInfo } from '../helpers/proxyfixture.ts';
import { waitFor } from '../helpers/wait.ts';

const execFileP = promisify(execFile);
const f = proxyFixture({ label: 'kubeling.test.proxy-iptables', udpPrefixes: ['echo', 'two'], proxy: { mode: 'iptables', clusterCidr: '192.0.2.0/24' } });
const { backends, httpGet, createService, sliceObj, refusedCode, clusterId } = f;
let client: Client;
let nodeAddr = '';
let udpEchoPort = 0;
let udpEcho2Port = 0;
const ROUTE_LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';
const hasConntrack = (() => {
  try {
    execFileSync('conntrack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const routeLocalnetBefore = readFileSync(ROUTE_LOCALNET, 'utf8').trim();

beforeAll(async () => {
  await f.setup();
  ({ client, nodeAddr } = f);
  [udpEchoPort, udpEcho2Port] = f.udpEchoPorts as [number, number];
}, 120_000);

afterAll(async () => {
  try {
    await f.teardown();
  } finally {
    await teardownProxyRules(clusterId, hostRunner).catch(() => undefined);
    writeFileSync(ROUTE_LOCALNET, routeLocalnetBefore);
  }
}, 60_000);

/** ourChains lists the chains of this test's cluster left in nat and filter. */
function ourChains(): string[] {
  const id8 = clusterId.slice(0, 8);
  return ['nat', 'filter'].flatMap((t) => execFileSync('iptables-save', ['-t', t], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(':KL-') && l.includes(`-${id8}-`)));
}

describe('service proxy, iptables mode', () => {
  it('ClusterIP is reachable from the host and from a container, spreading connections across 3 endpoints', async () => {
    const svc = await createService('web', { ports: [{ name: 'http', port: 80 }] });
    const ip = svc.spec!.clusterIP!;
    await client.create(sliceInfo, 'default', sliceObj('web-1', 'web', 80, backends, 'http'));
    await waitFor('ClusterIP answers', async () => (await httpGet(ip, 80)).length > 0);
    const seen = new Map<string, number>();
    // random choice (statistic), not round robin: 45 connections miss an endpoint with probability 3·(2/3)^45 ≈ 4e-8
    for (let i = 0; i < 45; i++) {
      const body = (await httpGet(ip, 80)).trim();
      seen.set(body, (seen.get(body) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(backends.map((b) => b.host).sort());
    const { stdout: fromPod } = await execFileP('docker', ['exec', backends[0].id, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${ip} 80`], { encoding: 'utf8', timeout: 10_000 });
    expect(fromPod).toMatch(/^HTTP\/1\.[01] 200/);
    expect(backends.map((b) => b.host)).toContain(fromPod.split('\r\n\r\n')[1]?.trim());
  });

  it('NodePort on the node address (a 127.x /32), LoadBalancer on the service port there too', async () => {
    const np = await createService('np', { type: 'NodePort', ports: [{ port: 80 }] });
    const lb = await createService('lb', { type: 'LoadBalancer', ports: [{ port: 18080 + Math.floor(Math.random() * 1000), targetPort: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('np-1', 'np', 80, [backends[0]]));
    await client.create(sliceInfo, 'default', sliceObj('lb-1', 'lb', 80, [backends[1]]));
    const nodePort = np.spec!.ports![0].nodePort!;
    expect((await waitFor('NodePort answers', () => httpGet(nodeAddr, nodePort))).trim()).toBe(backends[0].host);
    expect((await waitFor('LB port answers', () => httpGet(nodeAddr, lb.spec!.ports![0].port))).trim()).toBe(backends[1].host);
    expect((await waitFor('LB nodePort answers', () => httpGet(nodeAddr, lb.spec!.ports![0].nodePort!))).trim()).toBe(backends[1].host);
    expect(await refusedCode('127.0.0.1', nodePort)).toBe('ECONNREFUSED');
  });

  it('ClientIP affinity keeps a client on one endpoint', async () => {
    const svc = await createService('sticky', { sessionAffinity: 'ClientIP', ports: [{ port: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('sticky-1', 'sticky', 80, backends));
    const ip = svc.spec!.clusterIP!;
    const first = (await waitFor('sticky answers', () => httpGet(ip, 80))).trim();
    for (let i = 0; i < 12; i++) expect((await httpGet(ip, 80)).trim()).toBe(first);
  });

  it('an endpoint that refuses is not retried: the client sees ECONNREFUSED at once for its share', async () => {
    const svc = await createService('half', { ports: [{ port: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('half-bad', 'half', 81, [backends[0], backends[1]]));
    await client.create(sliceInfo, 'default', sliceObj('half-good', 'half', 80, [backends[2]]));
    const ip = svc.spec!.clusterIP!;
    await waitFor('the good endpoint answers', async () => (await httpGet(ip, 80)).length > 0);
    await new Promise((r) => setTimeout(r, 300));
    const results = new Map<string, number>();
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      const r = await httpGet(ip, 80).then((b) => b.trim(), (e: NodeJS.ErrnoException) => e.code ?? e.message);
      results.set(r, (results.get(r) ?? 0) + 1);
    }
    expect([...results.keys()].sort()).toEqual([backends[2].host, 'ECONNREFUSED'].sort());
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('refuses at once when no endpoint is ready (and when there is no slice at all)', async () => {
    const a = await createService('none-ready', { ports: [{ port: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('none-ready-1', 'none-ready', 80, backends.map((b) => ({ ...b, ready: false }))));
    const b = await createService('no-slice', { type: 'NodePort', ports: [{ port: 80 }] });
    await new Promise((r) => setTimeout(r, 300));
    for (const [host, port] of [
      [a.spec!.clusterIP!, 80],
      [b.spec!.clusterIP!, 80],
      [nodeAddr, b.spec!.ports![0].nodePort!],
    ] as const) {
      const t0 = Date.now();
      expect(await refusedCode(host, port)).toBe('ECONNREFUSED');
      expect(Date.now() - t0).toBeLessThan(2000); // refused, not a connect that hangs (generous: the machine may be loaded)
    }
    // and from a container (the filter REJECT answers for the ClusterIP)
    const { stdout } = await execFileP('docker', ['exec', backends[0].id, 'sh', '-c', `nc -w 2 ${a.spec!.clusterIP!} 80 </dev/null; echo rc=$?`], { encoding: 'utf8', timeout: 10_000 }).catch((e: { stdout: string }) => e);
    expect(stdout).toMatch(/rc=1/);
  });

  it('keeps an established connection when its endpoint is removed; new connections follow within a second', async () => {
    const svc = await createService('move', { ports: [{ name: 'echo', port: 7000 }, { name: 'http', port: 80 }] });
    const obj = sliceObj('move-1', 'move', 7000, [backends[0]], 'echo');
    obj.ports.push({ name: 'http', port: 80, protocol: 'TCP' });
    const slice = await client.create(sliceInfo, 'default', obj);
    const ip = svc.spec!.clusterIP!;
    const open = () => openTcp(ip, 7000);
    const long = await waitFor('echo answers', async () => {
      const s = await open();
      if ((await echoRoundTrip(s, 'ping')) === 'ping') return s;
      s.destroy();
      return undefined;
    });
    let closed = false;
    long.once('close', () => (closed = true));
    expect((await httpGet(ip, 80)).trim()).toBe(backends[0].host);
    slice.endpoints = [backends[1], backends[2]].map((b) => ({ addresses: [b.ip], conditions: { ready: true } }));
    const t0 = Date.now();
    await client.update(sliceInfo, slice);
    await waitFor('new connections reach the new endpoints', async () => (await httpGet(ip, 80)).trim() !== backends[0].host);
    expect(Date.now() - t0).toBeLessThan(2500); // about 40 ms on a quiet machine; generous for a loaded one
    for (let i = 0; i < 6; i++) expect([backends[1].host, backends[2].host]).toContain((await httpGet(ip, 80)).trim());
    const fresh = await open();
    expect(await echoRoundTrip(fresh, 'new')).toBe('new');
    fresh.destroy();
    expect(await echoRoundTrip(long, 'still here')).toBe('still here');
    expect(closed).toBe(false);
    long.destroy();
  });

  it('forwards UDP with replies from the ClusterIP, and a flow follows when its endpoint is replaced (conntrack flush)', async () => {
    const svc = await createService('udp', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] });
    const slice = await client.create(sliceInfo, 'default', sliceObj('udp-1', 'udp', udpEchoPort, [{ ip: '127.0.0.1' }], 'dns', 'UDP'));
    const ip = svc.spec!.clusterIP!;
    const c = createSocket('udp4');
    try {
      await new Promise<void>((r) => c.bind(0, () => r()));
      const ask = (msg: string) =>
        new Promise<{ text: string; from: string } | undefined>((resolve) => {
          const t = setTimeout(() => (c.off('message', on), resolve(undefined)), 300);
          const on = (m: Buffer, r: { address: string; port: number }) => (clearTimeout(t), c.off('message', on), resolve({ text: String(m), from: `${r.address}:${r.port}` }));
          c.on('message', on);
          c.send(msg, 53, ip);
        });
      expect(await waitFor('UDP echo', () => ask('hello'))).toEqual({ text: 'echo:hello', from: `${ip}:53` });
      expect(await ask('again')).toEqual({ text: 'echo:again', from: `${ip}:53` });
      // the same client flow (same source port) moves to the new endpoint — needs the conntrack tool (apt package conntrack)
      if (!hasConntrack) return;
      slice.ports = [{ name: 'dns', port: udpEcho2Port, protocol: 'UDP' }];
      await client.update(sliceInfo, slice);
      expect(await waitFor('UDP flow on the new endpoint', async () => ((await ask('moved'))?.text === 'two:moved' ? true : undefined), 3000)).toBe(true);
    } finally {
      c.close();
    }
  });

  it('teardownProxyRules removes every chain and jump of the cluster', async () => {
    expect(ourChains().length).toBeGreaterThan(5);
    await f.proxy.stop();
    // stop leaves the rules, as kube-proxy
    expect(ourChains().length).toBeGreaterThan(5);
    const removed = await teardownProxyRules(clusterId, hostRunner);
    expect(removed.length).toBeGreaterThan(5);
    expect(ourChains()).toEqual([]);
    const id8 = clusterId.slice(0, 8);
    for (const t of ['nat', 'filter']) expect(execFileSync('iptables-save', ['-t', t], { encoding: 'utf8' })).not.toContain(`-${id8}-`);
  });
});
