// kubeconfig: the admin kubeconfig as another host must see it — the server URL moved from loopback (what the server
// writes for this machine) to an address the server's certificate names and other hosts reach.
import { parse, stringify } from 'yaml';

/** reachableServer replaces a loopback or wildcard host in `url` by `host`; other URLs stay. */
export function reachableServer(url: string, host: string): string {
  const u = new URL(url);
  const h = u.hostname.replace(/^\[|\]$/g, '');
  if (['127.0.0.1', 'localhost', '0.0.0.0', '::', '::1'].includes(h) || h.startsWith('127.')) u.hostname = host.includes(':') ? `[${host}]` : host;
  return u.toString().replace(/\/$/, '');
}

/** withServer sets every cluster's server in a kubeconfig text. */
export function withServer(kubeconfig: string, server: string): string {
  const doc = parse(kubeconfig) as { clusters?: { cluster?: { server?: string } }[] };
  for (const c of doc.clusters ?? []) if (c.cluster) c.cluster.server = server;
  return stringify(doc);
}

/** serverOf reads the first cluster's server URL. */
export function serverOf(kubeconfig: string): string | undefined {
  const doc = parse(kubeconfig) as { clusters?: { cluster?: { server?: string } }[] } | null;
  return doc?.clusters?.[0]?.cluster?.server;
}
