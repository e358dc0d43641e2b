// serviceenv.test: service environment variables (cases from upstream's pkg/kubelet/envvars/envvars_test.go and kubelet_pods_test.go).
import { describe, expect, it } from 'vitest';
import type { Service } from 'kubernetes-types/core/v1.js';
import { fromServices, serviceEnv } from './serviceenv.ts';

const svc = (ns: string, name: string, clusterIP: string, ports: NonNullable<Service['spec']>['ports'], type?: string): Service => ({ metadata: { namespace: ns, name }, spec: { clusterIP, ports, selector: { bar: 'baz' }, ...(type ? { type } : {}) } });

describe('fromServices (envvars_test TestFromServices)', () => {
  it('writes the variables in upstream order', () => {
    const sl = [
      svc('', 'foo-bar', '1.2.3.4', [{ port: 8080, protocol: 'TCP' }]),
      svc('', 'abc-123', '5.6.7.8', [
        { name: 'u-d-p', port: 8081, protocol: 'UDP' },
        { name: 't-c-p', port: 8081, protocol: 'TCP' },
      ]),
      svc('', 'q-u-u-x', '9.8.7.6', [
        { port: 8082, protocol: 'TCP' },
        { name: '8083', port: 8083, protocol: 'TCP' },
      ]),
      svc('', 'svrc-clusterip-none', 'None', [{ port: 8082, protocol: 'TCP' }]),
      svc('', 'svrc-clusterip-empty', '', [{ port: 8082, protocol: 'TCP' }]),
    ];
    expect(fromServices(sl)).toEqual([
      ['FOO_BAR_SERVICE_HOST', '1.2.3.4'],
      ['FOO_BAR_SERVICE_PORT', '8080'],
      ['FOO_BAR_PORT', 'tcp://1.2.3.4:8080'],
      ['FOO_BAR_PORT_8080_TCP', 'tcp://1.2.3.4:8080'],
      ['FOO_BAR_PORT_8080_TCP_PROTO', 'tcp'],
      ['FOO_BAR_PORT_8080_TCP_PORT', '8080'],
      ['FOO_BAR_PORT_8080_TCP_ADDR', '1.2.3.4'],
      ['ABC_123_SERVICE_HOST', '5.6.7.8'],
      ['ABC_123_SERVICE_PORT', '8081'],
      ['ABC_123_SERVICE_PORT_U_D_P', '8081'],
      ['ABC_123_SERVICE_PORT_T_C_P', '8081'],
      ['ABC_123_PORT', 'udp://5.6.7.8:8081'],
      ['ABC_123_PORT_8081_UDP', 'udp://5.6.7.8:8081'],
      ['ABC_123_PORT_8081_UDP_PROTO', 'udp'],
      ['ABC_123_PORT_8081_UDP_PORT', '8081'],
      ['ABC_123_PORT_8081_UDP_ADDR', '5.6.7.8'],
      ['ABC_123_PORT_8081_TCP', 'tcp://5.6.7.8:8081'],
      ['ABC_123_PORT_8081_TCP_PROTO', 'tcp'],
      ['ABC_123_PORT_8081_TCP_PORT', '8081'],
      ['ABC_123_PORT_8081_TCP_ADDR', '5.6.7.8'],
      ['Q_U_U_X_SERVICE_HOST', '9.8.7.6'],
      ['Q_U_U_X_SERVICE_PORT', '8082'],
      ['Q_U_U_X_SERVICE_PORT_8083', '8083'],
      ['Q_U_U_X_PORT', 'tcp://9.8.7.6:8082'],
      ['Q_U_U_X_PORT_8082_TCP', 'tcp://9.8.7.6:8082'],
      ['Q_U_U_X_PORT_8082_TCP_PROTO', 'tcp'],
      ['Q_U_U_X_PORT_8082_TCP_PORT', '8082'],
      ['Q_U_U_X_PORT_8082_TCP_ADDR', '9.8.7.6'],
      ['Q_U_U_X_PORT_8083_TCP', 'tcp://9.8.7.6:8083'],
      ['Q_U_U_X_PORT_8083_TCP_PROTO', 'tcp'],
      ['Q_U_U_X_PORT_8083_TCP_PORT', '8083'],
      ['Q_U_U_X_PORT_8083_TCP_ADDR', '9.8.7.6'],
    ]);
  });
  it('defaults the protocol to TCP and brackets IPv6', () => {
    expect(Object.fromEntries(fromServices([svc('', 'v6', 'fd00::1', [{ port: 80 }])]))).toMatchObject({ V6_PORT: 'tcp://[fd00::1]:80', V6_PORT_80_TCP_ADDR: 'fd00::1' });
  });
});

describe('serviceEnv (kubelet_pods_test TestMakeEnvironmentVariables)', () => {
  const services = [
    svc('default', 'kubernetes', '1.2.3.1', [{ protocol: 'TCP', port: 8081 }]),
    svc('test1', 'test', '1.2.3.3', [{ protocol: 'TCP', port: 8083 }]),
    svc('test1', 'kubernetes', '1.2.3.2', [{ protocol: 'TCP', port: 8084 }]),
    svc('test1', 'headless', 'None', [{ protocol: 'TCP', port: 8085 }]),
    svc('test1', 'ext', '', [], 'ExternalName'),
    svc('test2', 'other', '1.2.3.6', [{ protocol: 'TCP', port: 8086 }]),
  ];
  const keys = (e: Record<string, string>) => Object.keys(e).filter((k) => k.endsWith('_SERVICE_HOST'));

  it('pod namespace services plus the master kubernetes service; the pod namespace wins', () => {
    const e = serviceEnv(services, 'test1');
    expect(keys(e).sort()).toEqual(['KUBERNETES_SERVICE_HOST', 'TEST_SERVICE_HOST']);
    expect(e).toMatchObject({ KUBERNETES_SERVICE_HOST: '1.2.3.2', KUBERNETES_SERVICE_PORT: '8084', TEST_SERVICE_HOST: '1.2.3.3', TEST_PORT: 'tcp://1.2.3.3:8083' });
  });
  it('the pod namespace wins whatever the list order', () => {
    expect(serviceEnv([...services].reverse(), 'test1').KUBERNETES_SERVICE_HOST).toBe('1.2.3.2');
  });
  it('enableServiceLinks false keeps only the master service', () => {
    const e = serviceEnv(services, 'test1', { enableServiceLinks: false });
    expect(keys(e)).toEqual(['KUBERNETES_SERVICE_HOST']);
    expect(e.KUBERNETES_SERVICE_HOST).toBe('1.2.3.1');
    expect(Object.keys(e)).toHaveLength(7);
  });
  it('a pod in the master namespace', () => {
    expect(serviceEnv(services, 'default')).toEqual({
      KUBERNETES_SERVICE_HOST: '1.2.3.1',
      KUBERNETES_SERVICE_PORT: '8081',
      KUBERNETES_PORT: 'tcp://1.2.3.1:8081',
      KUBERNETES_PORT_8081_TCP: 'tcp://1.2.3.1:8081',
      KUBERNETES_PORT_8081_TCP_PROTO: 'tcp',
      KUBERNETES_PORT_8081_TCP_PORT: '8081',
      KUBERNETES_PORT_8081_TCP_ADDR: '1.2.3.1',
    });
  });
  it('another master namespace', () => {
    expect(keys(serviceEnv(services, 'test2', { masterServiceNamespace: 'test1', enableServiceLinks: false }))).toEqual(['KUBERNETES_SERVICE_HOST']);
    expect(serviceEnv(services, 'test2', { masterServiceNamespace: 'test1' }).KUBERNETES_SERVICE_HOST).toBe('1.2.3.2');
  });
  it('no services, no variables', () => {
    expect(serviceEnv([], 'x')).toEqual({});
  });
});
