// dns.test: the cluster DNS responder against a real server's Services and EndpointSlices, asked by real resolvers
// (Node's c-ares resolver, busybox nslookup) over UDP and TCP; forwarding goes to a tiny upstream on loopback only.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, type DecodedPacket } from 'dns-packet';
import { SharedInformerFactory } from '../../pkg/client/informer.ts';
import { Client } from '../../pkg/client/index.ts';
import { startDnsServer, type DnsServer } from '../../pkg/dns/index.ts';
import { silentLogger } from '../../pkg/util/log.ts';
import { freePort, kubectl, startServer, type RunningServer } from '../helpers/server.ts';

const NS = 'dnstest';
const ZONE = 'cluster.local';
let srv: RunningServer;
let informers: SharedInformerFactory;
let dns: DnsServer;
let port = 0;
let webIP = '';
let upstreamPort = 0;
const closers: (() => Promise<void> | void)[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'kubeling-dns-'));
const k = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });

/** run runs a command without blocking the event loop (the DNS server under test lives in this process). */
function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (_err, stdout, stderr) => resolve({ stdout, stderr })));
}

/** startUpstream is a tiny authoritative server for `upstream.test` (UDP and TCP on one loopback port): www → 192.0.2.1, db → 192.0.2.10. */
async function startUpstream(): Promise<{ port: number; queries: string[] }> {
  const p = await freePort();
  const queries: string[] = [];
  const answer = (raw: Buffer): Buffer => {
    const q = decode(raw);
    const name = q.questions![0]!.name.toLowerCase();
    queries.push(`${q.questions![0]!.type} ${name}`);
    const table: Record<string, string> = { 'www.upstream.test': '192.0.2.1', 'db.upstream.test': '192.0.2.10' };
    const ip = table[name];
    const rcode = ip ? 0 : 3;
    return encode({ type: 'response', id: q.id, flags: 0x0100 | 0x0080 | rcode, questions: q.questions, answers: ip && q.questions![0]!.type === 'A' ? [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: ip }] : [] });
  };
  const udp = createSocket('udp4');
  udp.on('message', (m, ri) => udp.send(answer(m), ri.port, ri.address));
  await new Promise<void>((r) => udp.bind(p, '127.0.0.1', () => r()));
  const tcp = createServer((s) =>
    s.on('data', (d: Buffer) => {
      const a = answer(d.subarray(2, 2 + d.readUInt16BE(0)));
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length);
      s.end(Buffer.concat([len, a]));
    }),
  );
  await new Promise<void>((r) => tcp.listen(p, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => udp.close(() => r())), () => new Promise<void>((r) => tcp.close(() => r())));
  return { port: p, queries };
}

function resolver(p = port): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([`127.0.0.1:${p}`]);
  return r;
}

/** askTcp sends one query over TCP (length-prefixed) and decodes the answer. */
function askTcp(name: string, type: 'A' | 'SRV' = 'A'): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    s.setTimeout(5000, () => s.destroy(new Error('tcp query timed out')));
    s.on('error', reject);
    s.on('connect', () => {
      const q = encode({ type: 'query', id: 99, flags: 0x0100, questions: [{ name, type, class: 'IN' }] });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      s.write(Buffer.concat([len, q]));
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
  });
}

async function eventually<T>(what: string, probe: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (e) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  ports: [{name: http, port: 80, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ${NS}}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ${NS}}
spec: {type: ExternalName, externalName: db.upstream.test}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: ${NS}
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
- addresses: ["10.99.0.10"]
  hostname: db-0
  conditions: {ready: true}
- addresses: ["10.99.0.11"]
  hostname: db-1
  conditions: {ready: true}
- addresses: ["10.99.0.12"]
  hostname: db-2
  conditions: {ready: false}
`;

beforeAll(async () => {
  const upstream = await startUpstream();
  upstreamPort = upstream.port;
  srv = await startServer();
  const r = k(['apply', '-f', '-'], manifests);
  expect(r.stderr).toBe('');
  webIP = k(['get', 'svc', 'web', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}']).stdout;
  expect(webIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  const client = new Client({ server: srv.url, token: srv.token, caPem: srv.caPem });
  informers = new SharedInformerFactory(client, silentLogger());
  port = await freePort();
  dns = startDnsServer({ informers, address: '127.0.0.1', port, clusterDomain: ZONE, upstream: [`127.0.0.1:${upstream.port}`], log: silentLogger() });
  informers.start();
  await Promise.all([dns.ready, informers.waitForSync()]);
}, 60_000);

afterAll(async () => {
  await dns?.stop();
  informers?.stop();
  for (const c of closers.reverse()) await c();
  await srv?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('cluster DNS', () => {
  it('answers a ClusterIP service A record, over UDP and TCP', async () => {
    expect(await resolver().resolve4(`web.${NS}.svc.${ZONE}`)).toEqual([webIP]);
    const t = await askTcp(`web.${NS}.svc.${ZONE}`);
    expect(t.answers?.map((a) => ('data' in a ? a.data : undefined))).toEqual([webIP]);
    expect(t.flag_aa).toBe(true);
  });

  it('answers the ready endpoints of a headless service and their hostnames', async () => {
    expect((await resolver().resolve4(`db.${NS}.svc.${ZONE}`)).sort()).toEqual(['10.99.0.10', '10.99.0.11']);
    expect(await resolver().resolve4(`db-1.db.${NS}.svc.${ZONE}`)).toEqual(['10.99.0.11']);
    await expect(resolver().resolve4(`db-2.db.${NS}.svc.${ZONE}`)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('answers SRV records for named ports', async () => {
    expect(await resolver().resolveSrv(`_http._tcp.web.${NS}.svc.${ZONE}`)).toMatchObject([{ name: `web.${NS}.svc.${ZONE}`, port: 80, priority: 0, weight: 100 }]);
    expect(await resolver().resolveSrv(`_dns._udp.web.${NS}.svc.${ZONE}`)).toMatchObject([{ name: `web.${NS}.svc.${ZONE}`, port: 53, priority: 0, weight: 100 }]);
    const srv = await resolver().resolveSrv(`_pg._tcp.db.${NS}.svc.${ZONE}`);
    expect(srv.map((s) => `${s.name}:${s.port}`).sort()).toEqual([`db-0.db.${NS}.svc.${ZONE}:5432`, `db-1.db.${NS}.svc.${ZONE}:5432`]);
  });

  it('answers NXDOMAIN for unknown names in the cluster domain, NODATA for AAAA of a known one', async () => {
    await expect(resolver().resolve4(`nope.${NS}.svc.${ZONE}`)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver().resolve4(`web.nons.svc.${ZONE}`)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver().resolve6(`web.${NS}.svc.${ZONE}`)).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('answers PTR for a ClusterIP', async () => {
    expect(await resolver().reverse(webIP)).toEqual([`web.${NS}.svc.${ZONE}`]);
  });

  it('forwards other names upstream (UDP and TCP) and chases ExternalName targets', async () => {
    expect(await resolver().resolve4('www.upstream.test')).toEqual(['192.0.2.1']);
    expect((await askTcp('www.upstream.test')).answers?.map((a) => ('data' in a ? a.data : undefined))).toEqual(['192.0.2.1']);
    await expect(resolver().resolve4('missing.upstream.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(await resolver().resolveCname(`ext.${NS}.svc.${ZONE}`)).toEqual(['db.upstream.test']);
    expect(await resolver().resolve4(`ext.${NS}.svc.${ZONE}`)).toEqual(['192.0.2.10']);
  });

  it('follows endpoint and service changes', async () => {
    let r = k(['patch', 'endpointslice', 'db-1', '-n', NS, '--type=json', '-p', '[{"op":"replace","path":"/endpoints/2/conditions/ready","value":true}]']);
    expect(r.stderr).toBe('');
    await eventually('db-2 ready', async () => expect((await resolver().resolve4(`db.${NS}.svc.${ZONE}`)).sort()).toEqual(['10.99.0.10', '10.99.0.11', '10.99.0.12']));
    expect(await resolver().resolve4(`db-2.db.${NS}.svc.${ZONE}`)).toEqual(['10.99.0.12']);
    r = k(['apply', '-f', '-'], `apiVersion: v1\nkind: Service\nmetadata: {name: late, namespace: ${NS}}\nspec: {ports: [{port: 8080}]}\n`);
    expect(r.stderr).toBe('');
    const lateIP = k(['get', 'svc', 'late', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}']).stdout;
    await eventually('late service', async () => expect(await resolver().resolve4(`late.${NS}.svc.${ZONE}`)).toEqual([lateIP]));
    k(['delete', 'svc', 'late', '-n', NS]);
    await eventually('late service gone', async () => expect(resolver().resolve4(`late.${NS}.svc.${ZONE}`)).rejects.toMatchObject({ code: 'ENOTFOUND' }));
  });

  it('answers busybox nslookup', async () => {
    const r = await run('/bin/busybox', ['nslookup', `web.${NS}.svc.${ZONE}`, `127.0.0.1:${port}`], 15_000);
    expect(r.stdout).toContain(`Address: ${webIP}`);
  });

  it('resolves short names through the search domains of a pod resolv.conf (glibc getent in a private mount namespace)', async () => {
    // glibc's resolver takes no port, so a second responder serves port 53 on an address of our own in 127/8
    let local: DnsServer | undefined;
    let address = '';
    for (let i = 0; i < 5 && !local; i++) {
      address = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;
      const d = startDnsServer({ informers, address, port: 53, clusterDomain: ZONE, upstream: [`127.0.0.1:${upstreamPort}`], log: silentLogger() });
      if (await d.ready.then(() => true, () => false)) local = d;
      else await d.stop();
    }
    expect(local, 'a free 127/8 address for port 53').toBeDefined();
    try {
      const conf = join(tmp, 'resolv.conf');
      writeFileSync(conf, `search ${NS}.svc.${ZONE} svc.${ZONE} ${ZONE}\nnameserver ${address}\noptions ndots:5 timeout:2 attempts:1\n`);
      const getent = (name: string) => run('unshare', ['-m', 'sh', '-c', `mount --bind ${conf} /etc/resolv.conf && exec getent ahostsv4 ${name}`]);
      for (const name of ['web', `web.${NS}`, `web.${NS}.svc`, `db-0.db`]) {
        const r = await getent(name);
        const want = name === 'db-0.db' ? '10.99.0.10' : webIP;
        expect(r.stdout, `${name}: ${JSON.stringify(r)}`).toMatch(new RegExp(`^${want.replaceAll('.', '\\.')}\\s+STREAM\\s+\\S+\\.svc\\.${ZONE.replace('.', '\\.')}`, 'm'));
      }
      expect((await getent('www.upstream.test')).stdout).toMatch(/^192\.0\.2\.1\s+STREAM\s+www\.upstream\.test/m);
    } finally {
      await local?.stop();
    }
  }, 60_000);

  it('lets two responders share one address and port (reusePort, several agents of a cluster on one host)', async () => {
    const twin = startDnsServer({ informers, address: '127.0.0.1', port, clusterDomain: ZONE, upstream: [`127.0.0.1:${upstreamPort}`], log: silentLogger() });
    try {
      await twin.ready;
      for (let i = 0; i < 8; i++) expect(await resolver().resolve4(`web.${NS}.svc.${ZONE}`)).toEqual([webIP]);
      expect((await askTcp(`web.${NS}.svc.${ZONE}`)).flags! & 0xf).toBe(0);
    } finally {
      await twin.stop();
    }
    expect(await resolver().resolve4(`web.${NS}.svc.${ZONE}`)).toEqual([webIP]);
  });

  it('answers SERVFAIL when no upstream answers', async () => {
    const p = await freePort();
    const dead = await freePort(); // nothing listens here
    const lonely = startDnsServer({ informers, address: '127.0.0.1', port: p, clusterDomain: ZONE, upstream: [`127.0.0.1:${dead}`], log: silentLogger() });
    try {
      await lonely.ready;
      const t0 = Date.now();
      await expect(resolver(p).resolve4('www.upstream.test')).rejects.toMatchObject({ code: 'ESERVFAIL' });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(await resolver(p).resolve4(`web.${NS}.svc.${ZONE}`)).toEqual([webIP]); // its own names still answer
    } finally {
      await lonely.stop();
    }
  }, 20_000);
});
