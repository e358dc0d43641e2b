// dnsconfig.test: pods' resolv.conf per dnsPolicy + dnsConfig (cases from upstream's pkg/kubelet/network/dns/dns_test.go).
import { describe, expect, it } from 'vitest';
import type { Pod, PodSpec } from 'kubernetes-types/core/v1.js';
import { clusterSearches, formatResolvConf, parseResolvConf, podDnsConfig, searchFitsLimits } from './dnsconfig.ts';

const host = { nameservers: ['192.168.1.1', '8.8.8.8'], searches: ['corp.example', 'example'], options: ['timeout:2', 'attempts:3'] };
const settings = { clusterDNS: '10.43.0.10', clusterDomain: 'cluster.local', hostResolvConf: host };
const pod = (spec: Partial<PodSpec> = {}, ns = 'prod'): Pod => ({ metadata: { name: 'p', namespace: ns, uid: 'u1' }, spec: { containers: [{ name: 'c' }], ...spec } });

describe('parseResolvConf', () => {
  const cases: { name: string; text: string; want: ReturnType<typeof parseResolvConf> }[] = [
    { name: 'empty', text: '', want: { nameservers: [], searches: [], options: [] } },
    { name: 'nameservers accumulate', text: 'nameserver 1.2.3.4\nnameserver 5.6.7.8\n', want: { nameservers: ['1.2.3.4', '5.6.7.8'], searches: [], options: [] } },
    { name: 'comments and blanks', text: '# nameserver 9.9.9.9\n\n   nameserver\t1.2.3.4  \n', want: { nameservers: ['1.2.3.4'], searches: [], options: [] } },
    { name: 'last search wins, dots trimmed', text: 'search a b\nsearch foo. bar .\n', want: { nameservers: [], searches: ['foo', 'bar'], options: [] } },
    { name: 'options merge by name', text: 'options ndots:1 debug\noptions ndots:3 timeout:1\n', want: { nameservers: [], searches: [], options: ['ndots:3', 'debug', 'timeout:1'] } },
    { name: 'empty nameserver line ignored', text: 'nameserver\nnameserver 1.1.1.1', want: { nameservers: ['1.1.1.1'], searches: [], options: [] } },
  ];
  for (const c of cases) it(c.name, () => expect(parseResolvConf(c.text)).toEqual(c.want));

  it('formats what it parses', () => {
    const cfg = { nameservers: ['10.43.0.10'], searches: ['a.svc.cluster.local', 'cluster.local'], options: ['ndots:5'] };
    expect(formatResolvConf(cfg)).toBe('search a.svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n');
    expect(parseResolvConf(formatResolvConf(cfg))).toEqual(cfg);
  });
});

describe('podDnsConfig', () => {
  const clusterFirst = { nameservers: ['10.43.0.10'], searches: ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'example'], options: ['ndots:5'], warnings: [] };
  const cases: { name: string; pod: Pod; settings?: typeof settings; want: unknown }[] = [
    { name: 'ClusterFirst is the default', pod: pod(), want: clusterFirst },
    { name: 'ClusterFirst', pod: pod({ dnsPolicy: 'ClusterFirst' }), want: clusterFirst },
    { name: 'ClusterFirst on the host network is Default', pod: pod({ dnsPolicy: 'ClusterFirst', hostNetwork: true }), want: undefined },
    { name: 'ClusterFirstWithHostNet on the host network', pod: pod({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }), want: clusterFirst },
    { name: 'Default keeps Docker’s host resolvers', pod: pod({ dnsPolicy: 'Default' }), want: undefined },
    { name: 'None without dnsConfig is empty', pod: pod({ dnsPolicy: 'None' }), want: { nameservers: [], searches: [], options: [], warnings: [] } },
    {
      name: 'None with dnsConfig',
      pod: pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['203.0.113.1'], searches: ['my.dns.search.suffix'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }),
      want: { nameservers: ['203.0.113.1'], searches: ['my.dns.search.suffix'], options: ['ndots:2', 'edns0'], warnings: [] },
    },
    {
      name: 'ClusterFirst merged with dnsConfig (duplicates dropped, options replaced by name)',
      pod: pod({ dnsConfig: { nameservers: ['10.43.0.10', '1.1.1.1'], searches: ['cluster.local', 'extra'], options: [{ name: 'ndots', value: '1' }, { name: 'single-request' }] } }),
      want: { nameservers: ['10.43.0.10', '1.1.1.1'], searches: [...clusterFirst.searches, 'extra'], options: ['ndots:1', 'single-request'], warnings: [] },
    },
    {
      name: 'Default with dnsConfig starts from the host',
      pod: pod({ dnsPolicy: 'Default', dnsConfig: { searches: ['extra'], options: [{ name: 'timeout', value: '5' }] } }),
      want: { nameservers: ['192.168.1.1', '8.8.8.8'], searches: ['corp.example', 'example', 'extra'], options: ['timeout:5', 'attempts:3'], warnings: [] },
    },
    {
      name: 'nameservers cut to 3 with a warning',
      pod: pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'] } }),
      want: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'], searches: [], options: [], warnings: [{ reason: 'DNSConfigForming', message: 'Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 1.1.1.1 2.2.2.2 3.3.3.3' }] },
    },
    {
      name: 'ClusterFirst without a cluster DNS falls back to Default with a warning',
      pod: pod(),
      settings: { ...settings, clusterDNS: '' },
      want: {
        nameservers: ['192.168.1.1', '8.8.8.8'],
        searches: ['corp.example', 'example'],
        options: ['timeout:2', 'attempts:3'],
        warnings: [{ reason: 'MissingClusterDNS', message: 'pod: "p_prod(u1)". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.' }],
      },
    },
    {
      name: 'loopback host nameservers are dropped for a pod off the host network',
      pod: pod({ dnsPolicy: 'Default', dnsConfig: { searches: ['x'] } }),
      settings: { ...settings, hostResolvConf: { nameservers: ['127.0.0.53', '10.0.0.2'], searches: [], options: [] } },
      want: { nameservers: ['10.0.0.2'], searches: ['x'], options: [], warnings: [] },
    },
  ];
  for (const c of cases) it(c.name, () => expect(podDnsConfig(c.pod, c.settings ?? settings)).toEqual(c.want));

  it('uses the pod namespace and the cluster domain', () => {
    expect(podDnsConfig(pod({}, 'kube-system'), { ...settings, clusterDomain: 'k.test', hostResolvConf: { nameservers: [], searches: [], options: [] } })?.searches).toEqual(['kube-system.svc.k.test', 'svc.k.test', 'k.test']);
  });
});

describe('search limits', () => {
  it('keeps the host searches after the cluster ones, without duplicates', () => {
    expect(clusterSearches(['svc.cluster.local', 'a'], 'ns', 'cluster.local')).toEqual(['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'a']);
    expect(clusterSearches(['a'], 'ns', '')).toEqual(['a']);
  });
  it('cuts to 32 domains', () => {
    const many = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
    expect(searchFitsLimits(many)).toEqual({ searches: many.slice(0, 32), exceeded: true });
  });
  it('drops domains longer than 253 characters', () => {
    const long = 'a'.repeat(254);
    expect(searchFitsLimits(['a', long, 'b'])).toEqual({ searches: ['a', 'b'], exceeded: true });
  });
  it('cuts the line to 2048 characters from the end', () => {
    const d = Array.from({ length: 10 }, (_, i) => `${String(i)}${'x'.repeat(249)}`); // 250 chars each: 10*250+9 = 2509
    const r = searchFitsLimits(d);
    expect(r.exceeded).toBe(true);
    expect(r.searches).toEqual(d.slice(0, 8)); // 8*250+7 = 2007 ≤ 2048
  });
  it('leaves a line within the limits alone', () => {
    expect(searchFitsLimits(['a', 'b'])).toEqual({ searches: ['a', 'b'], exceeded: false });
  });
});
