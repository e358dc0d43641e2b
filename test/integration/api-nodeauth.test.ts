// api-nodeauth: kubelet TLS bootstrapping end to end — the join token only makes CSRs, an agent then runs as system:node:<name> with a CA-signed certificate, the Node authorizer and NodeRestriction keep each node to its own objects, and the server refuses an agent endpoint whose certificate names another node.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../pkg/api/errors.ts';
import { lookupKind } from '../../pkg/api/resources.ts';
import type { KubeObject } from '../../pkg/api/types.ts';
import { Client } from '../../pkg/client/index.ts';
import { clientRequest, requestCertificate } from '../../pkg/kubelet/servingcert.ts';
import { issueCert } from '../../pkg/pki/certs.ts';
import { nodes, pod, pods, secrets, startCluster, type Cluster } from './agent-harness.ts';

const NODE_A = 'nodeauth-a';
const NODE_B = 'nodeauth-b';
const namespaces = lookupKind('v1', 'Namespace')!;
const csrs = lookupKind('certificates.k8s.io/v1', 'CertificateSigningRequest')!;
const silent = { info() {}, warn() {}, debug() {}, error() {} } as never;

let c: Cluster;
let tokenClient: Client;
let nodeA: Client;
let nodeB: Client;

/** status of a call: the HTTP code, 200 for success */
async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
}

beforeAll(async () => {
  c = await startCluster(NODE_A);
  tokenClient = new Client({ server: c.url, token: c.nodeToken, caPem: c.caPem });
  const dir = join(c.dir, 'agent', 'pki');
  nodeA = new Client({ server: c.url, token: '', caPem: c.caPem, cert: { certPem: readFileSync(join(dir, 'kubelet-client.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'kubelet-client.key'), 'utf8') } });
  // node b joins as a real kubelet would: its own CSR with the join token, auto-approved and signed
  const certB = await requestCertificate(tokenClient, clientRequest(NODE_B), silent, 30_000);
  nodeB = new Client({ server: c.url, token: '', caPem: c.caPem, cert: certB });
  await nodeB.create(nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_B }, spec: {} } as KubeObject);
  for (const [name, node] of [['secret-a', NODE_A], ['secret-b', NODE_B]]) {
    await c.admin.create(secrets, 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { k: 'v' } } as KubeObject);
    await c.admin.create(pods, 'default', pod(`uses-${name}`, node, { containers: [{ name: 'c', image: 'kubeling/busybox:test', command: ['sleep', '3600'], env: [{ name: 'S', valueFrom: { secretKeyRef: { name, key: 'k' } } }] }] }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([tokenClient?.close(), nodeA?.close(), nodeB?.close()]);
  await c?.cleanup();
});

describe('bootstrap', () => {
  it('the agent runs as system:node:<name> with a certificate from an approved, issued CSR', async () => {
    const crt = new X509Certificate(readFileSync(join(c.dir, 'agent', 'pki', 'kubelet-client.crt')));
    expect(crt.subject).toBe(`O=system:nodes\nCN=system:node:${NODE_A}`);
    expect(crt.verify(new X509Certificate(c.caPem).publicKey)).toBe(true);
    const who = await c.kubectl('auth', 'whoami', '-o', 'json', '--client-certificate', join(c.dir, 'agent', 'pki', 'kubelet-client.crt'), '--client-key', join(c.dir, 'agent', 'pki', 'kubelet-client.key'), '--token', '');
    expect(JSON.parse(who.stdout).status.userInfo).toMatchObject({ username: `system:node:${NODE_A}`, groups: expect.arrayContaining(['system:nodes']) });
    const got = await c.kubectl('get', 'csr', '-o', 'json');
    expect(got.code).toBe(0);
    const list = JSON.parse(got.stdout).items as { spec: Record<string, any>; status: Record<string, any> }[];
    const client = list.find((x) => x.spec.signerName === 'kubernetes.io/kube-apiserver-client-kubelet' && x.spec.username === 'system:bootstrap:kubeling');
    expect(client?.status.conditions).toEqual([expect.objectContaining({ type: 'Approved', status: 'True', reason: 'AutoApproved' })]);
    expect(client?.status.certificate).toBeTruthy();
    const serving = list.find((x) => x.spec.signerName === 'kubernetes.io/kubelet-serving' && x.spec.username === `system:node:${NODE_A}`);
    expect(serving?.status.certificate).toBeTruthy();
    // the kubelet's Node, Lease and status writes went through with the node's own identity
    const node = await c.admin.get(nodes, undefined, NODE_A);
    expect(node.status?.conditions?.find((x: any) => x.type === 'Ready')?.status).toBe('True');
  });

  it('kubectl certificate approve and deny work on a pending request', async () => {
    const { requestInChild } = await import('../../pkg/pki/csrchild.ts');
    const { csrPem } = await requestInChild({ cn: 'carol', orgs: ['devs'] });
    for (const name of ['carol-approve', 'carol-deny']) {
      await c.admin.create(csrs, undefined, { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name }, spec: { request: Buffer.from(csrPem).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } } as KubeObject);
    }
    const approved = await c.kubectl('certificate', 'approve', 'carol-approve');
    expect(approved.stdout + approved.stderr).toMatch(/approved/);
    const denied0 = await c.kubectl('certificate', 'deny', 'carol-deny');
    expect(denied0.stdout + denied0.stderr).toMatch(/denied/);
    let issued: KubeObject | undefined;
    for (let i = 0; i < 100 && !issued?.status?.certificate; i++) {
      issued = await c.admin.get(csrs, undefined, 'carol-approve');
      if (!issued.status?.certificate) await new Promise((r) => setTimeout(r, 100));
    }
    expect(new X509Certificate(Buffer.from(issued!.status!.certificate, 'base64')).subject).toBe('O=devs\nCN=carol');
    const denied = await c.admin.get(csrs, undefined, 'carol-deny');
    expect(denied.status?.conditions?.[0]).toMatchObject({ type: 'Denied', status: 'True' });
    expect(denied.status?.certificate).toBeUndefined();
  });
});

describe('the join token alone', () => {
  it('may only make and read CSRs', async () => {
    expect(await code(tokenClient.list(csrs))).toBe(200);
    expect(await code(tokenClient.list(secrets, 'default'))).toBe(403);
    expect(await code(tokenClient.create(pods, 'kube-system', pod('evil', NODE_A, { hostNetwork: true, containers: [{ name: 'c', image: 'x' }] })))).toBe(403);
    expect(await code(tokenClient.delete(nodes, undefined, NODE_B))).toBe(403);
    expect(await code(tokenClient.delete(namespaces, undefined, 'default'))).toBe(403);
    expect(await code(tokenClient.create(nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'intruder' } } as KubeObject))).toBe(403);
  });
});

describe('a node credential', () => {
  it('reads the Secrets of its own pods only', async () => {
    expect((await nodeA.get(secrets, 'default', 'secret-a')).data?.k).toBe(Buffer.from('v').toString('base64'));
    const e = await nodeA.get(secrets, 'default', 'secret-b').catch((x: ApiError) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(403);
    expect((e as ApiError).message).toBe(`secrets "secret-b" is forbidden: User "system:node:${NODE_A}" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node '${NODE_A}' and this object`);
    expect(await code(nodeA.list(secrets, 'default'))).toBe(403);
  });

  it('cannot patch another node, delete it, or touch the pods bound to it', async () => {
    expect(await code(nodeA.patch(nodes, undefined, NODE_B, { metadata: { labels: { x: 'y' } } }, 'merge'))).toBe(403);
    expect(await code(nodeA.patch(nodes, undefined, NODE_B, { status: { phase: 'x' } }, 'merge', 'status'))).toBe(403);
    expect(await code(nodeA.delete(nodes, undefined, NODE_B))).toBe(403);
    expect(await code(nodeA.patch(pods, 'default', 'uses-secret-b', { status: { phase: 'Failed' } }, 'merge', 'status'))).toBe(403);
    expect(await code(nodeA.delete(pods, 'default', 'uses-secret-b'))).toBe(403);
    expect(await code(nodeA.get(pods, 'default', 'uses-secret-b'))).toBe(403);
    expect(await code(nodeA.get(pods, 'default', 'uses-secret-a'))).toBe(200);
  });

  it('may change its own Node but not its taints or kubernetes.io labels (NodeRestriction)', async () => {
    expect(await code(nodeB.patch(nodes, undefined, NODE_B, { metadata: { labels: { 'example.com/tier': 'x' } } }, 'merge'))).toBe(200);
    const e = await nodeB.patch(nodes, undefined, NODE_B, { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } }, 'merge').catch((x: ApiError) => x);
    expect((e as ApiError).message).toBe(`nodes "${NODE_B}" is forbidden: node "${NODE_B}" is not allowed to modify labels: node-role.kubernetes.io/control-plane`);
    expect(await code(nodeB.patch(nodes, undefined, NODE_B, { spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } }, 'merge'))).toBe(403);
    expect(await code(nodeB.create(pods, 'kube-system', pod('static', NODE_B, { hostNetwork: true, containers: [{ name: 'c', image: 'x' }] })))).toBe(403);
  });
});

describe('server → agent', () => {
  it('refuses an agent endpoint whose certificate names another node, before sending anything', async () => {
    const caKey = readFileSync(join(c.dir, 'tls', 'ca.key'), 'utf8');
    const wrong = await issueCert({ certPem: c.caPem, keyPem: caKey }, { cn: 'system:node:someone-else', orgs: ['system:nodes'], sans: { dns: [], ips: ['127.0.0.1'] }, days: 1, server: true });
    let requests = 0;
    const fake = https.createServer({ key: wrong.keyPem, cert: wrong.certPem }, (_req, res) => {
      requests++;
      res.end('stolen');
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const port = (fake.address() as AddressInfo).port;
      await c.admin.create(nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'posing' } } as KubeObject);
      await c.admin.patch(nodes, undefined, 'posing', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } }, 'merge', 'status');
      await c.admin.create(pods, 'default', pod('on-posing', 'posing', { containers: [{ name: 'c', image: 'x' }] }));
      const p = await c.admin.get(pods, 'default', 'on-posing');
      p.status = { phase: 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: {} } }] };
      await c.admin.updateStatus(pods, p);
      const r = await c.kubectl('logs', 'on-posing');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/x509: the node agent's certificate is for "system:node:someone-else", not for node "posing"/);
      expect(requests).toBe(0);
    } finally {
      fake.closeAllConnections();
      await new Promise((r) => fake.close(r));
    }
  });

  it('the agent endpoint refuses a caller without the API server\'s client certificate', async () => {
    const node = await c.admin.get(nodes, undefined, NODE_A);
    const port = node.status!.daemonEndpoints.kubeletEndpoint.Port;
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request({ host: c.nodeIp, port, path: `/containerLogs/default/uses-secret-a/c`, ca: c.caPem, checkServerIdentity: () => undefined, cert: undefined }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  });
});
