// net: small host-network facts (the default node IP, the host name).
import { hostname, networkInterfaces } from 'node:os';

/** defaultNodeIp is the first non-internal IPv4 address of the host, else 127.0.0.1. */
export function defaultNodeIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
  }
  return '127.0.0.1';
}

export function hostName(): string {
  return hostname().toLowerCase();
}
