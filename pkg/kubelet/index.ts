// kubelet: the pod-sync part of the node agent — syncs this node's pods through Docker and serves logs/exec
// (composed with the network, proxy and DNS by pkg/agent).
import { createHash } from 'node:crypto';

export { Kubelet } from './sync.ts';
export { UNAUTHORIZED_MESSAGE } from './node.ts';
export { KUBELET_VERSION } from './nodestatus.ts';

/**
 * clusterId names the cluster an agent's containers belong to: a digest of the cluster CA. Two clusters whose agents
 * share one Docker engine (tests, or two kubeling clusters on one laptop) then never adopt or remove each other's.
 */
export function clusterId(caPem: string): string {
  // the certificate's bytes, not the PEM text: the server's own file and a copy pinned over the network may differ in
  // line breaks or trailing whitespace and must still name one cluster
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(caPem)?.[1]?.replace(/\s+/g, '');
  return createHash('sha256').update(b64 ? Buffer.from(b64, 'base64') : Buffer.from(caPem)).digest('hex').slice(0, 16);
}
