// discovery.test: EndpointSlice defaults and validation against upstream's messages.
import { describe, expect, it } from 'vitest';
import { fieldErrorText } from '../errors.ts';
import { lookupKind } from '../resources.ts';
import type { KubeObject } from '../types.ts';
import { applyDefaults, validate } from './index.ts';

const ES = lookupKind('discovery.k8s.io/v1', 'EndpointSlice')!;
const slice = (extra: Record<string, unknown>): KubeObject => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-x', namespace: 'default' }, addressType: 'IPv4', ...extra });
const texts = (obj: KubeObject, old?: KubeObject) => {
  applyDefaults(ES, obj, old);
  return validate(ES, obj, old).map(fieldErrorText);
};

describe('EndpointSlice', () => {
  it('defaults port name and protocol', () => {
    const s = slice({ ports: [{ port: 80 }] });
    applyDefaults(ES, s);
    expect(s.ports).toEqual([{ name: '', port: 80, protocol: 'TCP' }]);
  });

  it.each([
    ['valid', slice({ endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready: true }, nodeName: 'node-a' }], ports: [{ name: 'http', port: 80 }] }), []],
    ['no endpoints is fine', slice({ endpoints: [] }), []],
    ['addressType required', slice({ addressType: undefined }), ['addressType: Required value']],
    ['addressType supported', slice({ addressType: 'IPv5' }), ['addressType: Unsupported value: "IPv5": supported values: "IPv4", "IPv6", "FQDN"']],
    ['addresses required', slice({ endpoints: [{ addresses: [] }] }), ['endpoints[0].addresses: Required value: must contain at least 1 address']],
    ['IPv4 address', slice({ endpoints: [{ addresses: ['fe80::1'] }] }), ['endpoints[0].addresses[0]: Invalid value: "fe80::1": must be a valid IPv4 address']],
    ['IPv6 address', slice({ addressType: 'IPv6', endpoints: [{ addresses: ['fe80::1'] }] }), []],
    ['FQDN address', slice({ addressType: 'FQDN', endpoints: [{ addresses: ['example.com'] }] }), []],
    ['port range and protocol', slice({ ports: [{ name: 'a', port: 70000 }, { name: 'b', port: 80, protocol: 'ICMP' }] }), ['ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive', 'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']],
    ['duplicate port names', slice({ ports: [{ port: 80 }, { port: 81 }] }), ['ports[1].name: Duplicate value: ""']],
  ])('%s', (_n, obj, want) => expect(texts(obj)).toEqual(want));

  it('addressType is immutable', () => {
    const old = slice({});
    expect(texts(slice({ addressType: 'IPv6', metadata: { ...old.metadata } }), old)).toEqual(['addressType: Invalid value: "IPv6": field is immutable']);
  });
});
