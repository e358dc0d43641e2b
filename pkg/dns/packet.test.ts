// packet.test: queries in, response packets out — header flags, FORMERR/NOTIMP, EDNS and UDP truncation.
import { describe, expect, it } from 'vitest';
import { decode, encode, RECURSION_DESIRED, type DecodedPacket, type Packet } from 'dns-packet';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { appendChased, encodeReply, errorFor, plan, sizeLimit } from './packet.ts';
import { listView } from './view.ts';

const many: EndpointSlice = {
  metadata: { namespace: 'ns', name: 'big-1', labels: { 'kubernetes.io/service-name': 'big' } },
  addressType: 'IPv4',
  endpoints: Array.from({ length: 20 }, (_, i) => ({ addresses: [`10.42.0.${i + 1}`] })),
};
const services: Service[] = [
  { metadata: { namespace: 'ns', name: 'web' }, spec: { clusterIP: '10.43.0.5', ports: [{ port: 80 }] } },
  { metadata: { namespace: 'ns', name: 'big' }, spec: { clusterIP: 'None' } },
  { metadata: { namespace: 'ns', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'x.example' } },
];
const view = listView(services, [many]);
const opts = { domain: 'cluster.local' };
const query = (name: string, type: 'A' | 'AAAA' | 'SRV' = 'A', extra: Partial<Packet> = {}): DecodedPacket => decode(encode({ type: 'query', id: 4242, flags: RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra }));
const rcodeOf = (b: Buffer) => decode(b).flags! & 0xf;

describe('plan + encodeReply', () => {
  it('answers authoritatively with the query id, RD echoed and RA set', () => {
    const q = query('web.ns.svc.cluster.local');
    const p = plan(q, view, opts);
    expect(p.kind).toBe('reply');
    const r = decode(encodeReply((p as { packet: Packet }).packet, q, 'udp'));
    expect(r).toMatchObject({ id: 4242, type: 'response', flag_aa: true, flag_rd: true, flag_ra: true, flag_tc: false });
    expect(r.answers).toEqual([{ name: 'web.ns.svc.cluster.local', type: 'A', ttl: 5, class: 'IN', flush: false, data: '10.43.0.5' }]);
  });
  it('NXDOMAIN carries the SOA', () => {
    const q = query('nope.ns.svc.cluster.local');
    const b = encodeReply((plan(q, view, opts) as { packet: Packet }).packet, q, 'udp');
    expect(rcodeOf(b)).toBe(3);
    expect(decode(b).authorities?.map((a) => a.type)).toEqual(['SOA']);
  });
  it('outside names are forwarded, ExternalName targets chased', () => {
    expect(plan(query('example.com'), view, opts).kind).toBe('forward');
    expect(plan(query('ext.ns.svc.cluster.local'), view, opts)).toMatchObject({ kind: 'chase', name: 'x.example', qtype: 'A' });
  });
  it('NOTIMP for other opcodes, FORMERR without one question', () => {
    const notify = decode(encode({ type: 'query', id: 1, flags: 4 << 11, questions: [{ name: 'a', type: 'A' }] }));
    expect(rcodeOf(encodeReply((plan(notify, view, opts) as { packet: Packet }).packet, notify, 'udp'))).toBe(4);
    const none = decode(encode({ type: 'query', id: 1, questions: [] }));
    expect(rcodeOf(encodeReply((plan(none, view, opts) as { packet: Packet }).packet, none, 'udp'))).toBe(1);
  });
  it('truncates a UDP answer over 512 bytes (TC), not over TCP (dns-packet does not compress names)', () => {
    const q = query('big.ns.svc.cluster.local');
    const pkt = (plan(q, view, opts) as { packet: Packet }).packet;
    const udp = decode(encodeReply(pkt, q, 'udp'));
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    expect(decode(encodeReply(pkt, q, 'tcp')).answers).toHaveLength(20);
  });
  it('honours the EDNS buffer size and answers with an OPT record', () => {
    const q = query('big.ns.svc.cluster.local', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] });
    expect(sizeLimit(q, 'udp')).toBe(1232);
    const r = decode(encodeReply((plan(q, view, opts) as { packet: Packet }).packet, q, 'udp'));
    expect(r.flag_tc).toBe(false);
    expect(r.answers).toHaveLength(20);
    expect(r.additionals?.map((a) => a.type)).toEqual(['OPT']);
  });
});

describe('errorFor', () => {
  it('answers FORMERR to garbage with a header, nothing to shorter garbage or responses', () => {
    const junk = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 5, 0, 0, 0, 0, 0, 0, 1]);
    const r = errorFor(junk)!;
    expect(r.readUInt16BE(0)).toBe(0x1234);
    expect(rcodeOf(r)).toBe(1);
    expect(errorFor(Buffer.from([1, 2, 3]))).toBeUndefined();
    expect(errorFor(Buffer.from([0x12, 0x34, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
  });
});

describe('appendChased', () => {
  it('appends the upstream answers and carries an NXDOMAIN over', () => {
    const p: Packet = { type: 'response', id: 1, flags: 0, answers: [{ type: 'CNAME', name: 'ext', data: 'x.example' }] };
    const up = decode(encode({ type: 'response', id: 2, flags: 3, answers: [] }));
    expect(appendChased(p, up).flags! & 0xf).toBe(3);
    const ok = decode(encode({ type: 'response', id: 2, answers: [{ type: 'A', name: 'x.example', ttl: 60, data: '192.0.2.1' }] }));
    expect(appendChased(p, ok).answers?.map((a) => a.type)).toEqual(['CNAME', 'A']);
    expect(appendChased(p, undefined)).toBe(p);
  });
});
