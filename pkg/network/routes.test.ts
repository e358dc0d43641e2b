// routes.test: table tests of the host-gateway route planner.
import { describe, expect, it } from 'vitest';
import { desiredRoutes, nodeRoute, parseAddressJson, parseRouteJson, planRoutes, routeKey, type CurrentRoute, type NodeRoute, type Route } from './routes.ts';

const CLUSTER = '10.42.0.0/16';
const LOCAL = new Set(['192.168.1.10', '127.0.0.1']);

describe('desiredRoutes', () => {
  const cases: { name: string; nodes: NodeRoute[]; want: Route[] }[] = [
    { name: 'no other nodes', nodes: [{ name: 'me', podCidr: '10.42.0.0/24', ip: '192.168.1.10' }], want: [] },
    {
      name: 'one route per other node, sorted by destination',
      nodes: [
        { name: 'me', podCidr: '10.42.0.0/24', ip: '192.168.1.10' },
        { name: 'c', podCidr: '10.42.2.0/24', ip: '192.168.1.12' },
        { name: 'b', podCidr: '10.42.1.0/24', ip: '192.168.1.11' },
      ],
      want: [
        { dst: '10.42.1.0/24', via: '192.168.1.11' },
        { dst: '10.42.2.0/24', via: '192.168.1.12' },
      ],
    },
    { name: 'a node without podCIDR yet', nodes: [{ name: 'b', ip: '192.168.1.11' }], want: [] },
    { name: 'a node without address', nodes: [{ name: 'b', podCidr: '10.42.1.0/24' }], want: [] },
    { name: 'a node whose address is local (agents sharing the host)', nodes: [{ name: 'b', podCidr: '10.42.1.0/24', ip: '192.168.1.10' }], want: [] },
    { name: 'a loopback node address', nodes: [{ name: 'b', podCidr: '10.42.1.0/24', ip: '127.0.0.3' }], want: [] },
    { name: 'a subnet outside the cluster CIDR', nodes: [{ name: 'b', podCidr: '10.99.1.0/24', ip: '192.168.1.11' }], want: [] },
    { name: 'an invalid subnet', nodes: [{ name: 'b', podCidr: 'nonsense', ip: '192.168.1.11' }], want: [] },
    {
      name: 'my own subnet claimed by another node is never routed away',
      nodes: [
        { name: 'me', podCidr: '10.42.0.0/24', ip: '192.168.1.10' },
        { name: 'b', podCidr: '10.42.0.0/24', ip: '192.168.1.11' },
      ],
      want: [],
    },
    {
      name: 'two nodes claiming one subnet: the first by name wins',
      nodes: [
        { name: 'z', podCidr: '10.42.5.0/24', ip: '192.168.1.20' },
        { name: 'y', podCidr: '10.42.5.0/24', ip: '192.168.1.19' },
      ],
      want: [{ dst: '10.42.5.0/24', via: '192.168.1.19' }],
    },
    { name: 'host bits in podCIDR are masked', nodes: [{ name: 'b', podCidr: '10.42.1.9/24', ip: '192.168.1.11' }], want: [{ dst: '10.42.1.0/24', via: '192.168.1.11' }] },
  ];
  it.each(cases)('$name', ({ nodes, want }) => {
    expect(desiredRoutes(nodes, { self: 'me', clusterCidr: CLUSTER, localAddresses: LOCAL })).toEqual(want);
  });
});

describe('planRoutes', () => {
  const cases: { name: string; desired: Route[]; current: CurrentRoute[]; want: { replace: Route[]; del: string[] } }[] = [
    { name: 'nothing to do', desired: [], current: [], want: { replace: [], del: [] } },
    { name: 'add a missing route', desired: [{ dst: '10.42.1.0/24', via: '1.1.1.1' }], current: [], want: { replace: [{ dst: '10.42.1.0/24', via: '1.1.1.1' }], del: [] } },
    { name: 'keep a correct route', desired: [{ dst: '10.42.1.0/24', via: '1.1.1.1' }], current: [{ dst: '10.42.1.0/24', gateway: '1.1.1.1' }], want: { replace: [], del: [] } },
    { name: 'move a route whose node changed address', desired: [{ dst: '10.42.1.0/24', via: '1.1.1.2' }], current: [{ dst: '10.42.1.0/24', gateway: '1.1.1.1' }], want: { replace: [{ dst: '10.42.1.0/24', via: '1.1.1.2' }], del: [] } },
    { name: 'delete the route of a deleted node', desired: [], current: [{ dst: '10.42.1.0/24', gateway: '1.1.1.1' }], want: { replace: [], del: ['10.42.1.0/24'] } },
    { name: "leave another cluster's routes of our protocol", desired: [], current: [{ dst: '10.77.1.0/24', gateway: '1.1.1.1' }], want: { replace: [], del: [] } },
    {
      name: 'a node whose subnet changed: new route, old one deleted',
      desired: [{ dst: '10.42.9.0/24', via: '1.1.1.1' }],
      current: [{ dst: '10.42.1.0/24', gateway: '1.1.1.1' }],
      want: { replace: [{ dst: '10.42.9.0/24', via: '1.1.1.1' }], del: ['10.42.1.0/24'] },
    },
    { name: 'a /32 reported without suffix', desired: [], current: [{ dst: '10.42.3.3', gateway: '1.1.1.1' }], want: { replace: [], del: ['10.42.3.3/32'] } },
  ];
  it.each(cases)('$name', ({ desired, current, want }) => {
    expect(planRoutes(desired, current, CLUSTER)).toEqual(want);
  });
});

describe('parsers', () => {
  it('reads nodes: podCIDR or podCIDRs, InternalIP else ExternalIP', () => {
    expect(nodeRoute({ metadata: { name: 'a' }, spec: { podCIDRs: ['10.42.1.0/24'] }, status: { addresses: [{ type: 'Hostname', address: 'a' }, { type: 'ExternalIP', address: '5.5.5.5' }] } })).toEqual({
      name: 'a',
      podCidr: '10.42.1.0/24',
      ip: '5.5.5.5',
    });
    expect(nodeRoute({ metadata: { name: 'a' }, spec: { podCIDR: '10.42.2.0/24' }, status: { addresses: [{ type: 'ExternalIP', address: '5.5.5.5' }, { type: 'InternalIP', address: '10.0.0.5' }] } })).toEqual({
      name: 'a',
      podCidr: '10.42.2.0/24',
      ip: '10.0.0.5',
    });
    expect(routeKey(nodeRoute({ metadata: { name: 'a' } }))).toBe('a  ');
  });

  it('reads ip -j output', () => {
    expect(parseRouteJson('[{"dst":"default","gateway":"1.1.1.1"},{"dst":"10.42.1.0/24","gateway":"1.1.1.2","dev":"eth0","protocol":"75"}]\n')).toEqual([{ dst: '10.42.1.0/24', gateway: '1.1.1.2' }]);
    expect(parseRouteJson('')).toEqual([]);
    expect(parseAddressJson('[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"}]},{"ifname":"eth0","addr_info":[{"family":"inet6","local":"fe80::1"},{"family":"inet","local":"192.0.2.2"}]}]')).toEqual(
      new Set(['127.0.0.1', '192.0.2.2']),
    );
  });
});
