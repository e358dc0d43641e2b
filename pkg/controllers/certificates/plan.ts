// plan: the certificate controllers' decisions as pure functions — which CSRs csrapproving approves (upstream's sarapprove recognizers plus k3s-style kubelet-serving approval) and whether csrsigning may sign one.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { CsrFacts } from '../../pki/csrchild.ts';

export const CLIENT_KUBELET = 'kubernetes.io/kube-apiserver-client-kubelet';
export const KUBELET_SERVING = 'kubernetes.io/kubelet-serving';
export const APISERVER_CLIENT = 'kubernetes.io/kube-apiserver-client';
/** SIGNERS are the signer names csrsigning issues for, all with the cluster CA. */
export const SIGNERS = new Set([CLIENT_KUBELET, KUBELET_SERVING, APISERVER_CLIENT]);

const NODE_PREFIX = 'system:node:';
const NODES = 'system:nodes';

/** isDecided reports a CSR that is approved or denied (or failed): the approver leaves it alone. */
export function isDecided(csr: CertificateSigningRequest): boolean {
  return (csr.status?.conditions ?? []).some((c) => ['Approved', 'Denied', 'Failed'].includes(c.type) && c.status !== 'False');
}

export function isApproved(csr: CertificateSigningRequest): boolean {
  const c = csr.status?.conditions ?? [];
  return c.some((x) => x.type === 'Approved' && x.status !== 'False') && !c.some((x) => (x.type === 'Denied' || x.type === 'Failed') && x.status !== 'False');
}

const subset = (have: string[], allowed: string[]): boolean => have.every((u) => allowed.includes(u));
const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && subset(a, b);

/** kubeletClientUsagesOk is upstream's ValidateKubeletClientCSR usage rule: client auth, optionally digital signature and key encipherment. */
export function kubeletClientUsagesOk(usages: string[]): boolean {
  return usages.includes('client auth') && subset(usages, ['digital signature', 'key encipherment', 'client auth']);
}

/** kubeletServingUsagesOk: server auth, optionally digital signature and key encipherment. */
export function kubeletServingUsagesOk(usages: string[]): boolean {
  return usages.includes('server auth') && subset(usages, ['digital signature', 'key encipherment', 'server auth']);
}

/** isNodeClientCert is upstream's: O = [system:nodes], CN system:node:…, no SANs, kubelet client usages. */
export function isNodeClientCert(f: CsrFacts, usages: string[]): boolean {
  return sameSet(f.orgs, [NODES]) && f.cn.startsWith(NODE_PREFIX) && !f.dns.length && !f.ips.length && !f.emails.length && !f.uris.length && kubeletClientUsagesOk(usages);
}

/** Approval is what the approver does with one CSR: approve (with upstream's reason and message), or leave it (why). */
export type Approval = { approve: true; message: string } | { approve: false; why: string; retry?: boolean };

/**
 * approval decides one pending CSR:
 *   kube-apiserver-client-kubelet, CN = requester (renewal) and the requester may create certificatesigningrequests/selfnodeclient → approve
 *   kube-apiserver-client-kubelet from anyone who may create certificatesigningrequests/nodeclient (the join token) → approve
 *   kubelet-serving from system:node:<n> itself (group system:nodes), its SANs among Node <n>'s addresses → approve
 *   anything else → left for a person (`kubectl certificate approve`)
 * `may(sub)` answers the SubjectAccessReview for the requester: create certificatesigningrequests/<sub>.
 */
export function approval(csr: CertificateSigningRequest, f: CsrFacts, may: (sub: string) => boolean, node: (name: string) => Node | undefined): Approval {
  const spec = csr.spec!;
  if (!f.signatureValid) return { approve: false, why: 'the request signature does not verify' };
  if (spec.signerName === CLIENT_KUBELET) {
    if (!isNodeClientCert(f, spec.usages ?? [])) return { approve: false, why: 'not a node client certificate request' };
    if (spec.username === f.cn && may('selfnodeclient')) return { approve: true, message: 'Auto approving self kubelet client certificate after SubjectAccessReview.' };
    if (may('nodeclient')) return { approve: true, message: 'Auto approving kubelet client certificate after SubjectAccessReview.' };
    return { approve: false, why: 'the requester may not create certificatesigningrequests/nodeclient' };
  }
  if (spec.signerName === KUBELET_SERVING) {
    if (!sameSet(f.orgs, [NODES]) || !f.cn.startsWith(NODE_PREFIX) || spec.username !== f.cn || !(spec.groups ?? []).includes(NODES)) {
      return { approve: false, why: 'only a node may ask for its own serving certificate' };
    }
    if (!kubeletServingUsagesOk(spec.usages ?? [])) return { approve: false, why: 'usages are not those of a kubelet serving certificate' };
    if (f.emails.length || f.uris.length || (!f.dns.length && !f.ips.length)) return { approve: false, why: 'a serving certificate names DNS names and IPs only, at least one' };
    const name = f.cn.slice(NODE_PREFIX.length);
    const n = node(name);
    if (!n) return { approve: false, why: `node ${name} is not registered yet`, retry: true };
    const addrs = n.status?.addresses ?? [];
    const dns = addrs.filter((a) => ['Hostname', 'InternalDNS', 'ExternalDNS'].includes(a.type)).map((a) => a.address.toLowerCase());
    const ips = addrs.filter((a) => ['InternalIP', 'ExternalIP'].includes(a.type)).map((a) => a.address);
    const badDns = f.dns.filter((d) => !dns.includes(d.toLowerCase()));
    const badIps = f.ips.filter((i) => !ips.includes(i));
    if (badDns.length || badIps.length) return { approve: false, why: `names not among node ${name}'s addresses: ${[...badDns, ...badIps].join(', ')}`, retry: true };
    return { approve: true, message: `Auto approving kubelet serving certificate for node ${name} (its names match its Node addresses).` };
  }
  return { approve: false, why: `signer ${spec.signerName} is approved by hand` };
}

/** signingProblem says why csrsigning must fail an approved CSR for its signer (upstream's signer validation), or undefined. */
export function signingProblem(csr: CertificateSigningRequest, f: CsrFacts): string | undefined {
  const usages = csr.spec?.usages ?? [];
  switch (csr.spec?.signerName) {
    case CLIENT_KUBELET:
      return isNodeClientCert(f, usages) ? undefined : 'the request is not a kubelet client certificate request (O=system:nodes, CN=system:node:…, client auth, no SANs)';
    case KUBELET_SERVING:
      if (!kubeletServingUsagesOk(usages)) return 'invalid usage for a kubelet serving certificate';
      if (!sameSet(f.orgs, [NODES]) || !f.cn.startsWith(NODE_PREFIX)) return 'subject must be O=system:nodes, CN=system:node:<name>';
      if (f.emails.length || f.uris.length) return 'no email or URI SANs allowed';
      return undefined;
    case APISERVER_CLIENT:
      if (!usages.includes('client auth') || usages.includes('server auth')) return 'invalid usage for a client certificate';
      return undefined;
    default:
      return `unknown signer ${csr.spec?.signerName}`;
  }
}

/** DEFAULT_SIGNING_SECONDS is --cluster-signing-duration (1 year); a CSR's expirationSeconds may only shorten it. */
export const DEFAULT_SIGNING_SECONDS = 365 * 86_400;

export function signingSeconds(csr: CertificateSigningRequest): number {
  const e = csr.spec?.expirationSeconds;
  return typeof e === 'number' && e >= 600 ? Math.min(e, DEFAULT_SIGNING_SECONDS) : DEFAULT_SIGNING_SECONDS;
}
