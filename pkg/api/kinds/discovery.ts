// discovery: defaults and validation for discovery.k8s.io/v1 EndpointSlice (upstream's ValidateEndpointSlice).
import { isIPv4, isIPv6 } from 'node:net';
import type { EndpointPort, EndpointSlice, Endpoint } from 'kubernetes-types/discovery/v1.js';
import type { FieldError } from '../errors.ts';
import { field } from '../errors.ts';
import type { KindRules } from './meta.ts';
import { IMMUTABLE, isDNS1123Subdomain, isValidPortNum, nameIsDNSSubdomain, validateDNS1123Label } from './meta.ts';

const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;

const listOf = <T>(v: T[] | undefined | null): T[] => (Array.isArray(v) ? v : []);
const tooMany = (path: string, n: number, max: number): FieldError => ({ type: 'FieldValueTooMany', field: path, value: n, detail: `must have at most ${max} items` });

/** isFQDN is upstream's IsFullyQualifiedDomainName: a DNS subdomain with at least two labels, a trailing dot allowed. */
function fqdnErrors(v: string): string[] {
  const name = v.endsWith('.') ? v.slice(0, -1) : v;
  const errs = isDNS1123Subdomain(name);
  if (!errs.length && name.split('.').length < 2) errs.push('should be a domain with at least two segments separated by dots');
  return errs;
}

function addressErrors(addressType: string | undefined, a: string): string[] {
  switch (addressType) {
    case 'IPv4':
      return isIPv4(a) ? [] : ['must be a valid IPv4 address'];
    case 'IPv6':
      return isIPv6(a) ? [] : ['must be a valid IPv6 address'];
    case 'FQDN':
      return fqdnErrors(a);
  }
  return [];
}

export const endpointSlice: KindRules = {
  nameRule: nameIsDNSSubdomain,
  defaults(obj) {
    for (const p of listOf((obj as unknown as EndpointSlice).ports)) {
      p.name ??= '';
      p.protocol ??= 'TCP';
    }
  },
  validate(obj) {
    const s = obj as unknown as EndpointSlice;
    const errs: FieldError[] = [];
    if (!s.addressType) errs.push(field.required('addressType', ''));
    else if (!ADDRESS_TYPES.includes(s.addressType)) errs.push(field.notSupported('addressType', s.addressType, ADDRESS_TYPES));
    const endpoints = listOf<Endpoint>(s.endpoints);
    if (endpoints.length > MAX_ENDPOINTS) errs.push(tooMany('endpoints', endpoints.length, MAX_ENDPOINTS));
    endpoints.forEach((ep, i) => {
      const p = `endpoints[${i}]`;
      const addrs = listOf(ep?.addresses);
      if (addrs.length === 0) errs.push(field.required(`${p}.addresses`, 'must contain at least 1 address'));
      else if (addrs.length > MAX_ADDRESSES) errs.push(tooMany(`${p}.addresses`, addrs.length, MAX_ADDRESSES));
      addrs.forEach((a, j) => {
        for (const m of addressErrors(s.addressType, String(a))) errs.push(field.invalid(`${p}.addresses[${j}]`, a, m));
      });
      if (ep?.hostname) errs.push(...validateDNS1123Label(ep.hostname, `${p}.hostname`));
      if (ep?.nodeName) for (const m of isDNS1123Subdomain(ep.nodeName)) errs.push(field.invalid(`${p}.nodeName`, ep.nodeName, m));
    });
    const ports = listOf<EndpointPort>(s.ports);
    if (ports.length > MAX_PORTS) errs.push(tooMany('ports', ports.length, MAX_PORTS));
    const names = new Set<string>();
    ports.forEach((port, i) => {
      const p = `ports[${i}]`;
      const name = port?.name ?? '';
      if (name) errs.push(...validateDNS1123Label(name, `${p}.name`));
      if (names.has(name)) errs.push(field.duplicate(`${p}.name`, name));
      names.add(name);
      if (!port?.protocol) errs.push(field.required(`${p}.protocol`, ''));
      else if (!PROTOCOLS.includes(port.protocol)) errs.push(field.notSupported(`${p}.protocol`, port.protocol, PROTOCOLS));
      if (port?.port !== undefined && port.port !== null) for (const m of isValidPortNum(port.port)) errs.push(field.invalid(`${p}.port`, port.port, m));
    });
    return errs;
  },
  validateUpdate(next, old) {
    const n = next as unknown as EndpointSlice;
    const o = old as unknown as EndpointSlice;
    return n.addressType !== o.addressType ? [field.invalid('addressType', n.addressType, IMMUTABLE)] : [];
  },
};
