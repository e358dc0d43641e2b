// proxy: the service proxy (pkg/proxy) against a real server and real containers — ClusterIP, NodePort, LoadBalancer, spread, affinity, refusing endpoints, no endpoints, endpoint changes under a live connection, UDP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { Client } from '../../pkg/client/index.ts';
import { echoRoundTrip, openTcp, proxyFixture, sliceInfo } from '../helpers/proxyfixture.ts';
import { waitFor } from '../helpers/wait.ts';

const execFileP = promisify(execFile);
const f = proxyFixture({ label: 'kubeling.test.proxy', udpPrefixes: ['echo'] });
const { backends, httpGet, createService, sliceObj, refusedCode } = f;
let client: Client;
let nodeAddr = '';
let udpEchoPort = 0;

beforeAll(async () => {
  await f.setup();
  ({ client, nodeAddr } = f);
  udpEchoPort = f.udpEchoPorts[0]!;
}, 120_000);

afterAll(() => f.teardown(), 60_000);

describe('service proxy', () => {
  it('ClusterIP is reachable from the host and spreads connections across 3 endpoints', async () => {
    const svc = await createService('web', { ports: [{ name: 'http', port: 80 }] });
    const ip = svc.spec!.clusterIP!;
    await client.create(sliceInfo, 'default', sliceObj('web-1', 'web', 80, backends, 'http'));
    await waitFor('ClusterIP answers', async () => (await httpGet(ip, 80)).length > 0);
    const seen = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const body = (await httpGet(ip, 80)).trim();
      seen.set(body, (seen.get(body) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(backends.map((b) => b.host).sort());
    expect([...seen.values()]).toEqual([3, 3, 3]);
    // and from inside a container on the docker bridge (the ClusterIP is local to the host it routes through)
    // (busybox nc: the static busybox wget crashes)
    // (async: the proxy runs in this process, a sync exec would stall it)
    const { stdout: fromPod } = await execFileP('docker', ['exec', backends[0].id, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${ip} 80`], { encoding: 'utf8', timeout: 10_000 });
    expect(fromPod).toMatch(/^HTTP\/1\.[01] 200/);
    expect(backends.map((b) => b.host)).toContain(fromPod.split('\r\n\r\n')[1]?.trim());
  });

  it('NodePort listens on the node address (a 127.x /32), LoadBalancer on the service port there too', async () => {
    const np = await createService('np', { type: 'NodePort', ports: [{ port: 80 }] });
    const lb = await createService('lb', { type: 'LoadBalancer', ports: [{ port: 18080 + Math.floor(Math.random() * 1000), targetPort: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('np-1', 'np', 80, [backends[0]]));
    await client.create(sliceInfo, 'default', sliceObj('lb-1', 'lb', 80, [backends[1]]));
    const nodePort = np.spec!.ports![0].nodePort!;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect((await waitFor('NodePort answers', () => httpGet(nodeAddr, nodePort))).trim()).toBe(backends[0].host);
    expect((await waitFor('LB port answers', () => httpGet(nodeAddr, lb.spec!.ports![0].port))).trim()).toBe(backends[1].host);
    expect((await waitFor('LB nodePort answers', () => httpGet(nodeAddr, lb.spec!.ports![0].nodePort!))).trim()).toBe(backends[1].host);
    // only the given /32: 127.0.0.1 has no such port
    expect(await refusedCode('127.0.0.1', nodePort)).toBe('ECONNREFUSED');
  });

  it('retries a LoadBalancer port that something else holds, and opens it once freed', async () => {
    const port = 19080 + Math.floor(Math.random() * 1000);
    const blocker = createServer((c) => c.end('blocker\n'));
    await new Promise<void>((r) => blocker.listen(port, nodeAddr, () => r()));
    const readAll = () =>
      new Promise<string>((resolve, reject) => {
        let got = '';
        const c = connect({ host: nodeAddr, port }, () => c.setEncoding('utf8'));
        c.on('data', (d) => (got += d));
        c.on('end', () => (c.destroy(), resolve(got)));
        c.on('error', reject);
      });
    try {
      await createService('lb-busy', { type: 'LoadBalancer', ports: [{ port, targetPort: 80 }] });
      await client.create(sliceInfo, 'default', sliceObj('lb-busy-1', 'lb-busy', 80, [backends[2]]));
      await new Promise((r) => setTimeout(r, 500));
      expect(await readAll()).toBe('blocker\n');
    } finally {
      blocker.close();
    }
    expect((await waitFor('LB port after the blocker left', () => httpGet(nodeAddr, port))).trim()).toBe(backends[2].host);
  });

  it('ClientIP affinity keeps a client on one endpoint', async () => {
    const svc = await createService('sticky', { sessionAffinity: 'ClientIP', ports: [{ port: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('sticky-1', 'sticky', 80, backends));
    const ip = svc.spec!.clusterIP!;
    const first = (await waitFor('sticky answers', () => httpGet(ip, 80))).trim();
    for (let i = 0; i < 6; i++) expect((await httpGet(ip, 80)).trim()).toBe(first);
  });

  it('skips endpoints that refuse', async () => {
    const svc = await createService('half', { ports: [{ port: 80 }] });
    // two endpoints on a port nothing listens on (the containers answer RST), one good
    await client.create(sliceInfo, 'default', sliceObj('half-bad', 'half', 81, [backends[0], backends[1]]));
    await client.create(sliceInfo, 'default', sliceObj('half-good', 'half', 80, [backends[2]]));
    const ip = svc.spec!.clusterIP!;
    await waitFor('both slices seen', async () => (await httpGet(ip, 80)).length > 0);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 6; i++) expect((await httpGet(ip, 80)).trim()).toBe(backends[2].host);
  });

  it('refuses at once when no endpoint is ready (and when there is no slice at all)', async () => {
    const a = await createService('none-ready', { ports: [{ port: 80 }] });
    await client.create(sliceInfo, 'default', sliceObj('none-ready-1', 'none-ready', 80, backends.map((b) => ({ ...b, ready: false }))));
    const b = await createService('no-slice', { type: 'NodePort', ports: [{ port: 80 }] });
    // the ClusterIPs are local (createService waited), so the kernel refuses: nothing listens
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
    // move the service to the other two backends
    slice.endpoints = [backends[1], backends[2]].map((b) => ({ addresses: [b.ip], conditions: { ready: true } }));
    const t0 = Date.now();
    await client.update(sliceInfo, slice);
    await waitFor('new connections reach the new endpoints', async () => (await httpGet(ip, 80)).trim() !== backends[0].host);
    expect(Date.now() - t0).toBeLessThan(1000);
    for (let i = 0; i < 4; i++) expect([backends[1].host, backends[2].host]).toContain((await httpGet(ip, 80)).trim());
    const fresh = await open();
    expect(await echoRoundTrip(fresh, 'new')).toBe('new');
    fresh.destroy();
    expect(await echoRoundTrip(long, 'still here')).toBe('still here');
    expect(closed).toBe(false);
    long.destroy();
  });

  it('forwards UDP request/response with replies from the ClusterIP', async () => {
    const svc = await createService('udp', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] });
    await client.create(sliceInfo, 'default', sliceObj('udp-1', 'udp', udpEchoPort, [{ ip: '127.0.0.1' }], 'dns', 'UDP'));
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
      const first = await waitFor('UDP echo', () => ask('hello'));
      expect(first).toEqual({ text: 'echo:hello', from: `${ip}:53` });
      expect(await ask('again')).toEqual({ text: 'echo:again', from: `${ip}:53` });
    } finally {
      c.close();
    }
  });
});
