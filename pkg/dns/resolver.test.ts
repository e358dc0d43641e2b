// resolver.test: the cluster DNS name rules, table by table (upstream DNS spec 1.1.0 / CoreDNS kubernetes plugin).
import { describe, expect, it } from 'vitest';
import type { Question, RecordType } from 'dns-packet';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { dashIP, readyEndpoints, resolve, reverseIP, undashIP, type Resolution } from './resolver.ts';
import { listView } from './view.ts';

const svc = (ns: string, name: string, spec: Service['spec']): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec });
const slice = (ns: string, svcName: string, name: string, endpoints: EndpointSlice['endpoints'], ports: EndpointSlice['ports'] = [{ name: 'http', port: 8080, protocol: 'TCP' }]): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4',
  endpoints,
  ports,
});

const services = [
  svc('default', 'kubernetes', { clusterIP: '10.43.0.1', clusterIPs: ['10.43.0.1'], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] }),
  svc('prod', 'web', { clusterIP: '10.43.0.20', ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }] }),
  svc('prod', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }),
  svc('prod', 'empty', { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] }),
  svc('prod', 'ext', { type: 'ExternalName', externalName: 'db.example.com' }),
  svc('prod', 'alias', { type: 'ExternalName', externalName: 'web.prod.svc.cluster.local' }),
];
const slices = [
  slice('prod', 'web', 'web-abc', [{ addresses: ['10.42.1.5'], conditions: { ready: true } }]),
  slice(
    'prod',
    'db',
    'db-1',
    [
      { addresses: ['10.42.1.7'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.42.2.8'], hostname: 'db-1', conditions: { ready: true } },
      { addresses: ['10.42.2.9'], hostname: 'db-2', conditions: { ready: false } },
      { addresses: ['10.42.3.3'] },
    ],
    [{ name: 'pg', port: 5432, protocol: 'TCP' }],
  ),
  slice('prod', 'empty', 'empty-1', [{ addresses: ['10.42.9.9'], conditions: { ready: false } }]),
];
const view = listView(services, slices);
const opts = { domain: 'cluster.local', dnsAddress: '10.43.0.10' };
const q = (name: string, type: RecordType = 'A'): Question => ({ name, type, class: 'IN' });
const data = (r: Resolution) => (r.kind === 'answer' ? r.answers.map((a) => `${a.type} ${'data' in a ? (typeof a.data === 'object' && !Array.isArray(a.data) ? JSON.stringify(a.data) : String(a.data)) : ''}`) : 'forward');
const rcode = (r: Resolution) => (r.kind === 'answer' ? r.rcode : 'forward');

describe('resolve', () => {
  const cases: { name: string; q: Question; rcode: string; answers?: string[] }[] = [
    { name: 'ClusterIP service A', q: q('web.prod.svc.cluster.local'), rcode: 'NOERROR', answers: ['A 10.43.0.20'] },
    { name: 'case-insensitive, trailing dot', q: q('WEB.Prod.SVC.cluster.local.'), rcode: 'NOERROR', answers: ['A 10.43.0.20'] },
    { name: 'kubernetes service', q: q('kubernetes.default.svc.cluster.local'), rcode: 'NOERROR', answers: ['A 10.43.0.1'] },
    { name: 'AAAA of an IPv4 service is NODATA', q: q('web.prod.svc.cluster.local', 'AAAA'), rcode: 'NOERROR', answers: [] },
    { name: 'unknown service NXDOMAIN', q: q('nope.prod.svc.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'unknown namespace NXDOMAIN', q: q('web.nope.svc.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'search expansion of an outside name NXDOMAIN', q: q('example.com.prod.svc.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'namespace name NODATA', q: q('prod.svc.cluster.local'), rcode: 'NOERROR', answers: [] },
    { name: 'svc name NODATA', q: q('svc.cluster.local'), rcode: 'NOERROR', answers: [] },
    { name: 'zone SOA', q: q('cluster.local', 'SOA'), rcode: 'NOERROR', answers: [`SOA ${JSON.stringify({ mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 })}`] },
    { name: 'zone NS', q: q('cluster.local', 'NS'), rcode: 'NOERROR', answers: ['NS ns.dns.cluster.local'] },
    { name: 'ns.dns A is the responder', q: q('ns.dns.cluster.local'), rcode: 'NOERROR', answers: ['A 10.43.0.10'] },
    { name: 'dns-version TXT', q: q('dns-version.cluster.local', 'TXT'), rcode: 'NOERROR', answers: ['TXT 1.1.0'] },
    { name: 'headless A lists ready endpoints only', q: q('db.prod.svc.cluster.local'), rcode: 'NOERROR', answers: ['A 10.42.1.7', 'A 10.42.2.8', 'A 10.42.3.3'] },
    { name: 'headless with no ready endpoints NODATA', q: q('empty.prod.svc.cluster.local'), rcode: 'NOERROR', answers: [] },
    { name: 'endpoint hostname A', q: q('db-1.db.prod.svc.cluster.local'), rcode: 'NOERROR', answers: ['A 10.42.2.8'] },
    { name: 'unready endpoint hostname NXDOMAIN', q: q('db-2.db.prod.svc.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'endpoint without hostname by dashed IP', q: q('10-42-3-3.db.prod.svc.cluster.local'), rcode: 'NOERROR', answers: ['A 10.42.3.3'] },
    { name: 'hostname under a ClusterIP service NXDOMAIN', q: q('x.web.prod.svc.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'ClusterIP SRV for a named port', q: q('_http._tcp.web.prod.svc.cluster.local', 'SRV'), rcode: 'NOERROR', answers: [`SRV ${JSON.stringify({ priority: 0, weight: 100, port: 80, target: 'web.prod.svc.cluster.local' })}`] },
    { name: 'SRV protocol must match', q: q('_dns._tcp.web.prod.svc.cluster.local', 'SRV'), rcode: 'NXDOMAIN' },
    { name: 'UDP SRV', q: q('_dns._udp.web.prod.svc.cluster.local', 'SRV'), rcode: 'NOERROR', answers: [`SRV ${JSON.stringify({ priority: 0, weight: 100, port: 53, target: 'web.prod.svc.cluster.local' })}`] },
    {
      name: 'headless SRV: one per ready endpoint',
      q: q('_pg._tcp.db.prod.svc.cluster.local', 'SRV'),
      rcode: 'NOERROR',
      answers: ['db-0', 'db-1', '10-42-3-3'].map((h) => `SRV ${JSON.stringify({ priority: 0, weight: 33, port: 5432, target: `${h}.db.prod.svc.cluster.local` })}`),
    },
    { name: 'ExternalName CNAME', q: q('ext.prod.svc.cluster.local', 'CNAME'), rcode: 'NOERROR', answers: ['CNAME db.example.com'] },
    { name: 'ExternalName A: CNAME, target chased by the caller', q: q('ext.prod.svc.cluster.local'), rcode: 'NOERROR', answers: ['CNAME db.example.com'] },
    { name: 'ExternalName into the cluster is followed', q: q('alias.prod.svc.cluster.local'), rcode: 'NOERROR', answers: ['CNAME web.prod.svc.cluster.local', 'A 10.43.0.20'] },
    { name: 'pod A (pods insecure)', q: q('10-42-1-5.prod.pod.cluster.local'), rcode: 'NOERROR', answers: ['A 10.42.1.5'] },
    { name: 'pod name not an IP NXDOMAIN', q: q('10-42-1.prod.pod.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'other name in the zone NXDOMAIN', q: q('foo.cluster.local'), rcode: 'NXDOMAIN' },
    { name: 'PTR of a ClusterIP', q: q('20.0.43.10.in-addr.arpa', 'PTR'), rcode: 'NOERROR', answers: ['PTR web.prod.svc.cluster.local'] },
    { name: 'PTR of a headless endpoint', q: q('8.2.42.10.in-addr.arpa', 'PTR'), rcode: 'NOERROR', answers: ['PTR db-1.db.prod.svc.cluster.local'] },
    { name: 'PTR of an unready endpoint is forwarded', q: q('9.2.42.10.in-addr.arpa', 'PTR'), rcode: 'forward' },
    { name: 'PTR of a ClusterIP service endpoint is forwarded', q: q('5.1.42.10.in-addr.arpa', 'PTR'), rcode: 'forward' },
    { name: 'outside names are forwarded', q: q('example.com'), rcode: 'forward' },
    { name: 'a suffix that only looks like the zone is forwarded', q: q('notcluster.local'), rcode: 'forward' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = resolve(c.q, view, opts);
      expect(rcode(r)).toBe(c.rcode);
      if (c.answers) expect(data(r)).toEqual(c.answers);
      if (r.kind === 'answer' && r.answers.length === 0) expect(r.authorities.map((a) => a.type)).toEqual(['SOA']);
    });
  }

  it('ExternalName outside the zone asks the caller to chase the target', () => {
    const r = resolve(q('ext.prod.svc.cluster.local', 'A'), view, opts);
    expect(r.kind === 'answer' && r.chase).toEqual({ name: 'db.example.com', type: 'A' });
  });

  it('SRV answers carry the targets addresses as additionals', () => {
    const r = resolve(q('_pg._tcp.db.prod.svc.cluster.local', 'SRV'), view, opts);
    expect(r.kind === 'answer' && r.additionals.map((a) => `${a.name} ${'data' in a ? a.data : ''}`)).toEqual([
      'db-0.db.prod.svc.cluster.local 10.42.1.7',
      'db-1.db.prod.svc.cluster.local 10.42.2.8',
      '10-42-3-3.db.prod.svc.cluster.local 10.42.3.3',
    ]);
  });

  it('SRV at the service name lists every named port', () => {
    const r = resolve(q('web.prod.svc.cluster.local', 'SRV'), view, opts);
    expect(r.kind === 'answer' && r.answers.map((a) => a.name)).toEqual(['_http._tcp.web.prod.svc.cluster.local', '_dns._udp.web.prod.svc.cluster.local']);
  });

  it('answers with the TTL given, echoing the question name', () => {
    const r = resolve(q('Web.prod.svc.cluster.local'), view, { ...opts, ttl: 30 });
    expect(r.kind === 'answer' && r.answers[0]).toMatchObject({ name: 'Web.prod.svc.cluster.local', ttl: 30 });
  });

  it('serves another cluster domain', () => {
    expect(data(resolve(q('web.prod.svc.k.test'), view, { domain: 'k.test' }))).toEqual(['A 10.43.0.20']);
    expect(rcode(resolve(q('web.prod.svc.cluster.local'), view, { domain: 'k.test' }))).toBe('forward');
  });
});

describe('helpers', () => {
  it('dashes and undashes addresses', () => {
    expect(dashIP('10.42.0.5')).toBe('10-42-0-5');
    expect(undashIP('10-42-0-5')).toBe('10.42.0.5');
    expect(undashIP('10-42-0-500')).toBeUndefined();
    expect(undashIP('db-0')).toBeUndefined();
  });
  it('reads reverse names', () => {
    expect(reverseIP('4.3.2.1.in-addr.arpa')).toBe('1.2.3.4');
    expect(reverseIP('3.2.1.in-addr.arpa')).toBeUndefined();
  });
  it('counts endpoints with ready unset as ready and drops duplicates across slices', () => {
    const a = slice('ns', 's', 'a', [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'], conditions: { ready: false } }]);
    const b = slice('ns', 's', 'b', [{ addresses: ['10.0.0.1'] }]);
    expect(readyEndpoints([a, b]).map((e) => e.ip)).toEqual(['10.0.0.1']);
  });
});
