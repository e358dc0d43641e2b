// api-endpointslices: discovery.k8s.io/v1 EndpointSlice through the genuine kubectl — apply, get (upstream columns), explain, validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, kubectl, type RunningServer } from '../helpers/server.ts';

let srv: RunningServer;
const k = (args: string[], input?: string) => kubectl(srv.kubeconfig, args, { input });

beforeAll(async () => {
  srv = await startServer();
}, 60_000);

afterAll(async () => {
  await srv?.cleanup();
});

const slice = (name: string, addresses: string[], extra = '') => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  labels: {kubernetes.io/service-name: manual}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}, {name: https, port: 443}]
endpoints:
${addresses.map((a) => `- addresses: ["${a}"]\n  conditions: {ready: true}`).join('\n')}
${extra}`;

describe('EndpointSlice', () => {
  it('applies and lists with NAME ADDRESSTYPE PORTS ENDPOINTS AGE', () => {
    let r = k(['apply', '-f', '-'], slice('manual-a', ['10.42.0.5', '10.42.0.6', '10.42.0.7', '10.42.0.8']));
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('endpointslice.discovery.k8s.io/manual-a created');
    r = k(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=manual']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE']);
    expect(lines[1]).toMatch(/^manual-a\s+IPv4\s+80,443\s+10\.42\.0\.5,10\.42\.0\.6,10\.42\.0\.7 \+ 1 more\.\.\.\s+\d+s$/);
    r = k(['get', 'endpointslice', 'manual-a', '-o', 'jsonpath={.ports[1].protocol}']);
    expect(r.stdout).toBe('TCP');
    expect(k(['api-resources', '--api-group=discovery.k8s.io']).stdout).toMatch(/^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m);
  });

  it('explains its fields and rejects what upstream rejects', () => {
    const e = k(['explain', 'endpointslice.addressType']);
    expect(e.stdout).toContain('addressType specifies the type of address carried by this EndpointSlice');
    const bad = k(['apply', '-f', '-'], 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: bad}\nendpoints: [{addresses: []}]\n');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('The EndpointSlice "bad" is invalid');
    expect(bad.stderr).toContain('addressType: Required value');
    expect(bad.stderr).toContain('endpoints[0].addresses: Required value: must contain at least 1 address');
    const imm = k(['patch', 'endpointslice', 'manual-a', '--type=merge', '-p', '{"addressType":"IPv6"}']);
    expect(imm.stderr).toContain('addressType: Invalid value: "IPv6": field is immutable');
  });
});
