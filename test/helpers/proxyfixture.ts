// proxyfixture: what the service-proxy integration tests (both modes) stand on — a server with its own address slot,
// three busybox backends (HTTP hostname on :80, TCP echo on :7000), UDP echo servers on loopback, the proxy under test
// fed by one informer factory, and the helpers that create Services and EndpointSlices and probe them.
import { randomBytes } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import Dockerode from 'dockerode';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { Client, SharedInformerFactory } from '../../pkg/client/index.ts';
import { serviceInterfaceName, startProxy, type ProxyOptions, type ServiceProxy } from '../../pkg/proxy/index.ts';
import { createLogger, silentLogger } from '../../pkg/util/log.ts';
import { ensureTestImages, TEST_IMAGES } from './images.ts';
import { startServer, type RunningServer } from './server.ts';
import { waitFor } from './wait.ts';

const execFileP = promisify(execFile);
const svcInfo = lookupKind('v1', 'Service')!;
export const sliceInfo = lookupKind('discovery.k8s.io/v1', 'EndpointSlice')!;
const docker = new Dockerode();

export interface Backend {
  ip: string;
  host: string;
  id: string;
}

/** ProxyFixture is one started fixture; every field is set once `setup` has resolved. */
export interface ProxyFixture {
  clusterId: string;
  /** x is the second octet of the service CIDR (10.x.0.0/16) */
  x: number;
  /** nodeAddr is the node's own loopback address; NodePorts listen on it alone */
  nodeAddr: string;
  srv: RunningServer;
  client: Client;
  informers: SharedInformerFactory;
  proxy: ServiceProxy;
  backends: Backend[];
  /** udpEchoPorts: loopback UDP servers answering `<prefix>:<datagram>` */
  udpEchoPorts: number[];
  setup(): Promise<void>;
  teardown(): Promise<void>;
  httpGet(host: string, port: number, timeoutMs?: number): Promise<string>;
  /** localAddresses lists the ClusterIPs the proxy made local (on the cluster's service interface). */
  localAddresses(): Promise<string>;
  /**
   * createService creates a Service and waits until the proxy made its ClusterIP local: before that, a packet to it
   * would follow the default route off the host (and a connect would hang on SYN retransmits).
   */
  createService(name: string, spec: Service['spec']): Promise<Service>;
  sliceObj(name: string, service: string, port: number, endpoints: { ip: string; ready?: boolean }[], portName?: string, protocol?: string): KubeObject;
  /** refusedCode connects over HTTP and gives the error code, or 'connected' */
  refusedCode(host: string, port: number): Promise<string>;
}

/** proxyFixture prepares (not yet starts) a fixture; `udpPrefixes` gives one UDP echo server per prefix. */
export function proxyFixture(o: { label: string; udpPrefixes: string[]; proxy?: Partial<ProxyOptions> }): ProxyFixture {
  const runId = randomBytes(4).toString('hex');
  const udpSockets: UdpSocket[] = [];
  const removeContainers = async () => {
    const list = await docker.listContainers({ all: true, filters: { label: [`${o.label}=${runId}`] } });
    await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  };
  const httpGet = (host: string, port: number, timeoutMs = 3000) =>
    new Promise<string>((resolve, reject) => {
      const req = get({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  const f: ProxyFixture = {
    clusterId: randomBytes(8).toString('hex'),
    x: 0,
    nodeAddr: '',
    srv: undefined as unknown as RunningServer,
    client: undefined as unknown as Client,
    informers: undefined as unknown as SharedInformerFactory,
    proxy: undefined as unknown as ServiceProxy,
    backends: [],
    udpEchoPorts: [],
    httpGet,
    async setup() {
      await ensureTestImages();
      // network: true — the server gets the slot's service CIDR, and the slot's node address is ours alone
      f.srv = await startServer({ network: true, args: ['--disable-agent'] });
      f.x = 200 + f.srv.slot.index;
      f.nodeAddr = f.srv.slot.nodeIp(1);
      f.client = new Client({ server: f.srv.url, token: f.srv.token, caPem: f.srv.caPem });
      try {
        for (let i = 0; i < 3; i++) {
          const c = await docker.createContainer({
            Image: TEST_IMAGES.busybox,
            Cmd: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && httpd -p 80 -h /www && exec nc -ll -p 7000 -e cat'],
            Labels: { [o.label]: runId },
            HostConfig: { NetworkMode: 'bridge' },
          });
          await c.start();
          const info = await c.inspect();
          f.backends.push({ ip: info.NetworkSettings.Networks.bridge.IPAddress, host: info.Config.Hostname, id: info.Id });
        }
      } catch (e) {
        await removeContainers();
        throw e;
      }
      for (const prefix of o.udpPrefixes) {
        const s = createSocket('udp4');
        s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from(`${prefix}:`), m]), r.port, r.address));
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
        udpSockets.push(s);
        f.udpEchoPorts.push(s.address().port);
      }
      f.informers = new SharedInformerFactory(f.client, silentLogger());
      f.proxy = startProxy({
        informers: f.informers,
        clusterId: f.clusterId,
        nodeName: 'proxy-node',
        nodeIp: f.nodeAddr,
        nodePortAddresses: [`${f.nodeAddr}/32`],
        clusterDNS: `10.${f.x}.0.10`,
        log: process.env.PROXY_TEST_LOG ? createLogger({ level: process.env.PROXY_TEST_LOG }) : silentLogger(),
        connectTimeoutMs: 1500,
        ...o.proxy,
      });
      f.informers.start();
      await f.proxy.ready();
      // the backends answer before the tests start
      for (const b of f.backends) await waitFor(`backend ${b.ip}`, async () => (await httpGet(b.ip, 80)).trim() === b.host, 10_000, 100);
    },
    async teardown() {
      try {
        await f.proxy?.stop();
        f.informers?.stop();
        await f.client?.close();
        for (const s of udpSockets) s.close();
      } finally {
        await removeContainers();
        try {
          execFileSync('ip', ['link', 'del', serviceInterfaceName(f.clusterId)], { stdio: 'ignore' });
        } catch {
          /* never created */
        }
        await f.srv?.cleanup();
      }
    },
    async localAddresses() {
      try {
        return (await execFileP('ip', ['-4', '-o', 'addr', 'show', 'dev', serviceInterfaceName(f.clusterId)], { encoding: 'utf8' })).stdout;
      } catch {
        return '';
      }
    },
    async createService(name, spec) {
      const svc = (await f.client.create(svcInfo, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec } as KubeObject)) as unknown as Service;
      const ip = svc.spec!.clusterIP!;
      if (!ip.startsWith(`10.${f.x}.`)) throw new Error(`ClusterIP ${ip} is not in the slot's service CIDR 10.${f.x}.0.0/16`);
      await waitFor(`ClusterIP ${ip} local`, async () => (await f.localAddresses()).includes(` ${ip}/32`), 10_000, 100);
      return svc;
    },
    sliceObj(name, service, port, endpoints, portName = '', protocol = 'TCP') {
      const s: EndpointSlice = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name, labels: { 'kubernetes.io/service-name': service } },
        addressType: 'IPv4',
        ports: [{ name: portName, port, protocol }],
        endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true } })),
      };
      return s as unknown as KubeObject;
    },
    refusedCode: (host, port) =>
      httpGet(host, port).then(
        () => 'connected',
        (e: NodeJS.ErrnoException) => e.code ?? e.message,
      ),
  };
  return f;
}

/** openTcp connects to `host`:`port` and resolves once connected. */
export async function openTcp(host: string, port: number): Promise<Socket> {
  const s = connect({ host, port });
  await new Promise((r, j) => (s.once('connect', r), s.once('error', j)));
  return s;
}

/** echoRoundTrip writes `msg` on a connection to an echo server and resolves with what came back (3 s at most). */
export function echoRoundTrip(s: Socket, msg: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got = '';
    const t = setTimeout(() => (s.off('data', on), reject(new Error(`no echo of ${msg} (got ${JSON.stringify(got)})`))), 3000);
    const on = (d: Buffer) => {
      got += d;
      if (got.length >= msg.length) (clearTimeout(t), s.off('data', on), resolve(got));
    };
    s.on('data', on);
    s.once('error', reject);
    s.write(msg);
  });
}
