// dnsconfig: a pod's resolver configuration from its dnsPolicy and dnsConfig — upstream kubelet's GetPodDNS (pkg/kubelet/network/dns), pure.
import type { Pod, PodDNSConfigOption } from 'kubernetes-types/core/v1.js';
import { parseResolvConf, mergeOptions, formatResolvConf, type ResolvConf } from '../dns/index.ts';

export { parseResolvConf, formatResolvConf, type ResolvConf };

/** Upstream's limits (apis/core/validation): nameservers, search domains, search line length, and one search domain's length. */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
/** DEFAULT_DNS_OPTIONS are the options of a ClusterFirst pod (upstream's defaultDNSOptions). */
export const DEFAULT_DNS_OPTIONS = ['ndots:5'];

export interface DnsSettings {
  /** the cluster DNS address; '' when unknown (ClusterFirst then falls back to Default, as upstream) */
  clusterDNS: string;
  clusterDomain: string;
  hostResolvConf: ResolvConf;
}

/** PodDns is the resolver configuration of a pod's sandbox, with the Warning events upstream records while forming it. */
export interface PodDns extends ResolvConf {
  warnings: { reason: 'DNSConfigForming' | 'MissingClusterDNS'; message: string }[];
}

type DnsType = 'none' | 'cluster' | 'host';

/** podDnsType maps dnsPolicy to upstream's podDNSType: ClusterFirst on the host network behaves as Default. */
export function podDnsType(pod: Pod): DnsType {
  switch (pod.spec?.dnsPolicy ?? 'ClusterFirst') {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'Default':
      return 'host';
    case 'ClusterFirst':
    default:
      return pod.spec?.hostNetwork ? 'host' : 'cluster';
  }
}

/**
 * podDnsConfig is the resolv.conf of a pod's sandbox, or undefined to keep Docker's default (the host's resolvers, as
 * Docker reaches them — a pod with dnsPolicy Default, or ClusterFirst on the host network, and no dnsConfig).
 * - ClusterFirst / ClusterFirstWithHostNet: nameserver = clusterDNS; search `<ns>.svc.<domain> svc.<domain> <domain>`
 *   then the host's; options ndots:5 (the host's options are dropped, as upstream).
 * - Default: the host's resolv.conf; None: empty; then spec.dnsConfig is appended (nameservers and searches without
 *   duplicates, options merged by name), and the limits applied (3 nameservers; 32 search domains, each ≤ 253
 *   characters, 2048 characters in all — over the limit, the last ones are dropped with a DNSConfigForming warning).
 * Example: pod in `prod`, ClusterFirst, clusterDNS 10.43.0.10 → nameservers [10.43.0.10], searches
 * [prod.svc.cluster.local, svc.cluster.local, cluster.local, …host searches], options [ndots:5].
 */
export function podDnsConfig(pod: Pod, settings: DnsSettings): PodDns | undefined {
  const warnings: PodDns['warnings'] = [];
  const host = settings.hostResolvConf;
  let type = podDnsType(pod);
  let cfg: ResolvConf = { nameservers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
  if (type === 'none') cfg = { nameservers: [], searches: [], options: [] };
  if (type === 'cluster') {
    if (settings.clusterDNS) {
      cfg = { nameservers: [settings.clusterDNS], searches: clusterSearches(host.searches, pod.metadata?.namespace ?? 'default', settings.clusterDomain), options: [...DEFAULT_DNS_OPTIONS] };
    } else {
      warnings.push({ reason: 'MissingClusterDNS', message: `pod: "${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid ?? ''})". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.` });
      type = 'host';
    }
  }
  const dnsConfig = pod.spec?.dnsConfig;
  // the host's configuration as Docker gives it: it reaches the host's resolvers even where they are on loopback
  if (type === 'host' && !dnsConfig && !warnings.length) return undefined;
  if (type === 'host' && !pod.spec?.hostNetwork) cfg.nameservers = cfg.nameservers.filter((n) => !isLoopback(n)); // unreachable from the pod's network namespace
  if (dnsConfig) {
    cfg = {
      nameservers: omitDuplicates([...cfg.nameservers, ...(dnsConfig.nameservers ?? [])]),
      searches: omitDuplicates([...cfg.searches, ...(dnsConfig.searches ?? [])]),
      options: mergeDnsOptions(cfg.options, dnsConfig.options ?? []),
    };
  }
  if (cfg.nameservers.length > MAX_DNS_NAMESERVERS) {
    cfg.nameservers = cfg.nameservers.slice(0, MAX_DNS_NAMESERVERS);
    warnings.push({ reason: 'DNSConfigForming', message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${cfg.nameservers.join(' ')}` });
  }
  const search = searchFitsLimits(cfg.searches);
  cfg.searches = search.searches;
  if (search.exceeded) warnings.push({ reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${cfg.searches.join(' ')}` });
  return { ...cfg, warnings };
}

/** clusterSearches is upstream's generateSearchesForDNSClusterFirst: the cluster's three domains, then the host's, without duplicates. */
export function clusterSearches(hostSearches: string[], namespace: string, clusterDomain: string): string[] {
  if (!clusterDomain) return [...hostSearches];
  return omitDuplicates([`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain, ...hostSearches]);
}

/** mergeDnsOptions is upstream's mergeDNSOptions: pod options replace same-named ones; a value-less option is written bare. */
export function mergeDnsOptions(existing: string[], podOptions: PodDNSConfigOption[]): string[] {
  return mergeOptions(
    existing,
    podOptions.filter((o) => o.name).map((o) => (o.value !== undefined && o.value !== '' ? `${o.name}:${o.value}` : o.name!)),
  );
}

/** searchFitsLimits is upstream's formDNSSearchFitsLimits: at most 32 domains, none over 253 characters, the line ≤ 2048 characters (cut from the end). */
export function searchFitsLimits(searches: string[]): { searches: string[]; exceeded: boolean } {
  let exceeded = false;
  let out = searches;
  if (out.length > MAX_DNS_SEARCH_PATHS) {
    out = out.slice(0, MAX_DNS_SEARCH_PATHS);
    exceeded = true;
  }
  const fit = out.filter((s) => s.length <= DNS1123_SUBDOMAIN_MAX_LENGTH);
  if (fit.length !== out.length) exceeded = true;
  out = fit;
  let lineLen = out.join(' ').length;
  if (lineLen > MAX_DNS_SEARCH_LIST_CHARS) {
    exceeded = true;
    while (out.length && lineLen > MAX_DNS_SEARCH_LIST_CHARS) {
      lineLen -= out[out.length - 1]!.length + 1;
      out = out.slice(0, -1);
    }
  }
  return { searches: out, exceeded };
}

function omitDuplicates(list: string[]): string[] {
  return [...new Set(list)];
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
