// serviceproxy.test: table tests of the proxy subresources' pure parts — path parsing, port resolution, endpoint
// choice, the pod location, forwarded headers and Go-style dial errors.
import { describe, expect, it } from 'vitest';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { ApiError } from '../api/errors.ts';
import { dialError, forwardHeaders, isProxyableIP, parseProxyPath, pickEndpoint, podLocation, servicePortName, splitSchemeNamePort } from './serviceproxy.ts';

function apiError(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return { code: e.code, message: e.status.message ?? '' };
    throw e;
  }
  throw new Error('no error');
}

describe('splitSchemeNamePort', () => {
  it.each([
    ['web', { scheme: '', name: 'web', port: '' }],
    ['web:80', { scheme: '', name: 'web', port: '80' }],
    ['web:http', { scheme: '', name: 'web', port: 'http' }],
    ['https:web:443', { scheme: 'https', name: 'web', port: '443' }],
    ['http:web:', { scheme: 'http', name: 'web', port: '' }],
    [':80', undefined],
    ['ftp:web:21', undefined],
    ['a:b:c:d', undefined],
  ])('%s', (id, want) => expect(splitSchemeNamePort(id)).toEqual(want));
});

describe('parseProxyPath', () => {
  it.each([
    ['/api/v1/namespaces/default/services/web/proxy/', { namespace: 'default', resource: 'services', id: 'web', scheme: '', name: 'web', port: '', path: '/' }],
    ['/api/v1/namespaces/default/services/web:8080/proxy', { namespace: 'default', resource: 'services', id: 'web:8080', scheme: '', name: 'web', port: '8080', path: '' }],
    ['/api/v1/namespaces/ns/services/https:web:tls/proxy/a/b/', { namespace: 'ns', resource: 'services', id: 'https:web:tls', scheme: 'https', name: 'web', port: 'tls', path: '/a/b/' }],
    ['/api/v1/namespaces/ns/pods/p%3A81/proxy/x', { namespace: 'ns', resource: 'pods', id: 'p:81', scheme: '', name: 'p', port: '81', path: '/x' }],
    ['/api/v1/namespaces/ns/services/web', undefined],
    ['/api/v1/namespaces/ns/configmaps/web/proxy/', undefined],
    ['/api/v1/namespaces/ns/services/web/proxyx', undefined],
  ])('%s', (p, want) => expect(parseProxyPath(p)).toEqual(want));
  it('a bad id is a BadRequest', () => expect(apiError(() => parseProxyPath('/api/v1/namespaces/ns/services/ftp:web:21/proxy/'))).toEqual({ code: 400, message: 'invalid service request "ftp:web:21"' }));
});

describe('servicePortName and pickEndpoint', () => {
  const svc: Service = { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 9000 }] } };
  const slice = (ports: { name: string; port: number }[], eps: [string, boolean?][], addressType = 'IPv4'): EndpointSlice => ({
    addressType,
    ports,
    endpoints: eps.map(([ip, ready]) => ({ addresses: [ip], conditions: ready === undefined ? {} : { ready } })),
  });
  it.each([
    ['80', 'http'],
    ['admin', 'admin'],
    ['', ''],
  ])('port %j resolves to name %j', (p, want) => expect(servicePortName(svc, p)).toBe(want));
  it('an unknown port number is 503', () => expect(apiError(() => servicePortName(svc, '81'))).toEqual({ code: 503, message: 'no service port 81 found for service "web"' }));
  const slices = [slice([{ name: 'http', port: 8080 }], [['10.0.0.1', false], ['10.0.0.2', true], ['10.0.0.3']]), slice([{ name: 'admin', port: 9090 }], [['10.0.0.4', true]]), slice([{ name: 'http', port: 1 }], [['10.0.0.9', true]], 'FQDN')];
  it.each([
    ['http', 0, { ip: '10.0.0.2', port: 8080 }],
    ['http', 1, { ip: '10.0.0.3', port: 8080 }],
    ['admin', 0, { ip: '10.0.0.4', port: 9090 }],
  ])('%s, candidate %d', (name, i, want) => expect(pickEndpoint('web', slices, name, () => i)).toEqual(want));
  it.each([
    ['no slices', []],
    ['only not-ready endpoints', [slice([{ name: '', port: 80 }], [['10.0.0.1', false]])]],
    ['no port of that name', [slice([{ name: 'other', port: 80 }], [['10.0.0.1', true]])]],
  ])('%s is 503', (_n, s) => expect(apiError(() => pickEndpoint('web', s as EndpointSlice[], ''))).toEqual({ code: 503, message: 'no endpoints available for service "web"' }));
});

describe('podLocation', () => {
  const pod = (ip: string | undefined, ports: { name?: string; containerPort: number }[] = []): Pod => ({ metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y', ports }] }, status: { podIP: ip } });
  it.each([
    ['first declared container port', pod('10.1.0.5', [{ containerPort: 8080 }, { containerPort: 9090 }]), '', '', { scheme: 'http', host: '10.1.0.5', port: 8080 }],
    ['no declared port: the scheme default', pod('10.1.0.5'), '', '', { scheme: 'http', host: '10.1.0.5', port: 80 }],
    ['https default', pod('10.1.0.5'), 'https', '', { scheme: 'https', host: '10.1.0.5', port: 443 }],
    ['explicit port', pod('10.1.0.5', [{ containerPort: 8080 }]), '', '81', { scheme: 'http', host: '10.1.0.5', port: 81 }],
    ['named port', pod('10.1.0.5', [{ name: 'web', containerPort: 8080 }]), '', 'web', { scheme: 'http', host: '10.1.0.5', port: 8080 }],
  ])('%s', (_n, p, scheme, port, want) => expect(podLocation(p, scheme, port)).toEqual(want));
  it.each([undefined, '127.0.0.1', '169.254.1.1'])('pod IP %s is not allowed', (ip) => expect(apiError(() => podLocation(pod(ip), '', ''))).toEqual({ code: 400, message: 'address not allowed' }));
  it.each([
    ['10.0.0.1', true],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['fd00::1', true],
    ['nonsense', false],
  ])('isProxyableIP(%s)', (ip, want) => expect(isProxyableIP(ip)).toBe(want));
});

describe('forwardHeaders and dialError', () => {
  it('drops hop-by-hop headers, those named in Connection, and Authorization', () => {
    expect(forwardHeaders({ authorization: 'Bearer x', connection: 'keep-alive, x-drop', 'x-drop': '1', 'keep-alive': '5', accept: '*/*', 'transfer-encoding': 'chunked' })).toEqual({ accept: '*/*' });
  });
  it('keeps Upgrade and Connection for an upgrade', () => {
    expect(forwardHeaders({ connection: 'Upgrade', upgrade: 'websocket', authorization: 'Bearer x' }, true)).toEqual({ connection: 'Upgrade', upgrade: 'websocket' });
  });
  it.each([
    ['ECONNREFUSED', 'dial tcp 10.0.0.1:80: connect: connection refused'],
    ['EHOSTUNREACH', 'dial tcp 10.0.0.1:80: connect: no route to host'],
    ['ETIMEDOUT', 'dial tcp 10.0.0.1:80: i/o timeout'],
  ])('%s', (code, want) => expect(dialError(Object.assign(new Error('x'), { code }), { scheme: 'http', host: '10.0.0.1', port: 80 })).toBe(want));
});
