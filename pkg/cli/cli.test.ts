// cli.test: the CLI's pure helpers — example image swap and NodePort address, kubeconfig rewriting, preflight
// sentences, status rendering — by table.
import type { Node } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { nodePortHost, parseManifests, withImage } from './examples.ts';
import { reachableServer, serverOf, withServer } from './kubeconfig.ts';
import { dataDirProblem, dockerProblem, portProblem } from './preflight.ts';
import { age, nodeStatus, table } from './status.ts';

describe('examples', () => {
  const objs = parseManifests([
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: c, image: stephengrider/multi-client}\n',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: c, image: stephengrider/multi-client}\n        - {name: s, image: other}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n',
  ]);
  it('reads every document', () => expect(objs.map((o) => o.kind)).toEqual(['Pod', 'Deployment', 'Service']));
  it('swaps only the example image, in pods and templates, without touching the input', () => {
    const out = withImage(objs, 'local/x:1');
    expect(out[0]!.spec.containers[0].image).toBe('local/x:1');
    expect(out[1]!.spec.template.spec.containers.map((c: { image: string }) => c.image)).toEqual(['local/x:1', 'other']);
    expect(objs[0]!.spec.containers[0].image).toBe('stephengrider/multi-client');
  });
  it.each([
    ['10.0.0.5', [], '10.0.0.5'],
    [undefined, [], '127.0.0.1'],
    ['10.0.0.5', ['127.1.2.1/32'], '127.1.2.1'],
    ['10.0.0.5', ['10.0.0.0/8'], '10.0.0.5'],
  ] as const)('nodePortHost(%s, %j) = %s', (ip, cidrs, want) => expect(nodePortHost(ip, [...cidrs])).toBe(want));
});

describe('kubeconfig', () => {
  it.each([
    ['https://127.0.0.1:6443', '10.0.0.5', 'https://10.0.0.5:6443'],
    ['https://localhost:6443', 'fd00::5', 'https://[fd00::5]:6443'],
    ['https://10.1.1.1:6443', '10.0.0.5', 'https://10.1.1.1:6443'],
  ])('reachableServer(%s, %s) = %s', (url, host, want) => expect(reachableServer(url, host)).toBe(want));
  it('withServer sets the cluster server and keeps the rest', () => {
    const kc = 'apiVersion: v1\nkind: Config\nclusters:\n  - name: kubeling\n    cluster:\n      server: https://127.0.0.1:6443\n      certificate-authority-data: QUJD\nusers:\n  - name: a\n    user: {token: t}\n';
    const out = withServer(kc, 'https://10.0.0.5:6443');
    expect(serverOf(out)).toBe('https://10.0.0.5:6443');
    expect(out).toContain('certificate-authority-data: QUJD');
    expect(out).toContain('token: t');
  });
});

describe('preflight sentences', () => {
  it.each([
    [dockerProblem(undefined, 'unix:///var/run/docker.sock', false), /^Docker is not installed .*apt-get install -y docker\.io/],
    [dockerProblem('ENOENT', 'unix:///x.sock', true), /^Docker is not running: no socket at unix:\/\/\/x\.sock/],
    [dockerProblem('ECONNREFUSED', 's', true), /^Docker is not running/],
    [dockerProblem('EACCES', 's', true), /permission denied.*sudo/],
    [portProblem('EADDRINUSE', '0.0.0.0', 6443), /^port 6443 on 0\.0\.0\.0 is taken .*--https-listen-port/],
    [portProblem('EADDRNOTAVAIL', '10.9.9.9', 6443), /not an address of this host/],
    [dataDirProblem('EACCES', '/var/lib/kubeling'), /^data dir \/var\/lib\/kubeling is not writable \(permission denied\)/],
    [dataDirProblem('EROFS', '/x'), /read-only/],
    [dataDirProblem('ENOTDIR', '/x'), /is not a directory/],
  ])('%s', (text, want) => expect(text).toMatch(want));
});

describe('status', () => {
  const node = (ready: string, extra: Partial<Node['spec']> = {}, message?: string): Node => ({
    metadata: { name: 'n' },
    spec: extra,
    status: { conditions: [{ type: 'Ready', status: ready, ...(message ? { message } : {}) }, { type: 'DiskPressure', status: 'False' }] },
  });
  it.each([
    [node('True'), 'Ready'],
    [node('True', { unschedulable: true }), 'Ready,SchedulingDisabled'],
    [node('Unknown', {}, 'Kubelet stopped posting node status.'), 'Unknown (Kubelet stopped posting node status.)'],
    [node('False'), 'NotReady'],
  ])('nodeStatus %#', (n, want) => expect(nodeStatus(n)).toBe(want));
  it.each([
    [45, '45s'],
    [600, '10m'],
    [3 * 3600, '3h'],
    [3 * 86400, '3d'],
  ])('age(%i s) = %s', (s, want) => expect(age(new Date(1_000_000_000 - s * 1000).toISOString(), 1_000_000_000)).toBe(want));
  it('table pads columns as kubectl does', () => {
    expect(table(['NAME', 'STATUS'], [['node-1', 'Ready']])).toBe('NAME     STATUS\nnode-1   Ready\n');
  });
});
