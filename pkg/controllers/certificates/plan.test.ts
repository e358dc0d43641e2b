// plan.test: which CSRs the approver approves and the signer signs.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { Node } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import type { CsrFacts } from '../../pki/csrchild.ts';
import { approval, CLIENT_KUBELET, isApproved, KUBELET_SERVING, signingProblem, signingSeconds } from './plan.ts';

const facts = (o: Partial<CsrFacts> = {}): CsrFacts => ({ cn: 'system:node:a', orgs: ['system:nodes'], dns: [], ips: [], emails: [], uris: [], signatureValid: true, ...o });
const csr = (signerName: string, username: string, groups: string[], usages: string[]): CertificateSigningRequest => ({ metadata: { name: 'c' }, spec: { request: '', signerName, username, groups, usages } });
const node: Node = { metadata: { name: 'a' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'a' }] } };
const nodes = (n: string) => (n === 'a' ? node : undefined);

describe('approval', () => {
  const clientUsages = ['digital signature', 'client auth'];
  it.each([
    ['bootstrap token asks for a node client cert', csr(CLIENT_KUBELET, 'system:bootstrap:x', ['system:bootstrappers'], clientUsages), facts(), ['nodeclient'], true],
    ['no one granted nodeclient', csr(CLIENT_KUBELET, 'bob', [], clientUsages), facts(), [], false],
    ['node renews its own', csr(CLIENT_KUBELET, 'system:node:a', ['system:nodes'], clientUsages), facts(), ['selfnodeclient'], true],
    ['node renews another node', csr(CLIENT_KUBELET, 'system:node:b', ['system:nodes'], clientUsages), facts(), ['selfnodeclient'], false],
    ['client cert with SANs', csr(CLIENT_KUBELET, 'system:bootstrap:x', [], clientUsages), facts({ ips: ['1.2.3.4'] }), ['nodeclient'], false],
    ['client cert for masters', csr(CLIENT_KUBELET, 'system:bootstrap:x', [], clientUsages), facts({ orgs: ['system:masters'] }), ['nodeclient'], false],
    ['serving for itself', csr(KUBELET_SERVING, 'system:node:a', ['system:nodes'], ['digital signature', 'server auth']), facts({ ips: ['10.0.0.1'], dns: ['a'] }), [], true],
    ['serving with a foreign IP', csr(KUBELET_SERVING, 'system:node:a', ['system:nodes'], ['digital signature', 'server auth']), facts({ ips: ['10.0.0.9'] }), [], false],
    ['serving asked by another node', csr(KUBELET_SERVING, 'system:node:b', ['system:nodes'], ['server auth']), facts({ ips: ['10.0.0.1'] }), [], false],
    ['serving with client usage', csr(KUBELET_SERVING, 'system:node:a', ['system:nodes'], ['server auth', 'client auth']), facts({ ips: ['10.0.0.1'] }), [], false],
    ['another signer', csr('kubernetes.io/kube-apiserver-client', 'bob', [], clientUsages), facts({ cn: 'bob', orgs: [] }), ['nodeclient'], false],
  ] as const)('%s', (_n, c, f, grants, ok) => expect(approval(c, f, (sub) => (grants as readonly string[]).includes(sub), nodes).approve).toBe(ok));
  it('retries a serving request until the Node is there', () => {
    const a = approval(csr(KUBELET_SERVING, 'system:node:z', ['system:nodes'], ['server auth']), facts({ cn: 'system:node:z', ips: ['1.1.1.1'] }), () => false, nodes);
    expect(a).toMatchObject({ approve: false, retry: true });
  });
});

describe('signing', () => {
  it('checks the signer rules and the duration', () => {
    expect(signingProblem(csr(CLIENT_KUBELET, '', [], ['client auth']), facts())).toBeUndefined();
    expect(signingProblem(csr(CLIENT_KUBELET, '', [], ['client auth']), facts({ orgs: ['system:masters'] }))).toMatch(/not a kubelet client/);
    expect(signingProblem(csr(KUBELET_SERVING, '', [], ['server auth']), facts({ ips: ['1.1.1.1'] }))).toBeUndefined();
    expect(signingProblem(csr('example.com/x', '', [], ['server auth']), facts())).toMatch(/unknown signer/);
    expect(signingSeconds({ spec: { request: '', signerName: '', usages: [], expirationSeconds: 3600 } })).toBe(3600);
    expect(signingSeconds({ spec: { request: '', signerName: '', usages: [] } })).toBe(365 * 86400);
    expect(isApproved({ status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Failed', status: 'True' }] } } as never)).toBe(false);
  });
});
