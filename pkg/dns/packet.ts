// packet: the pure message layer of the cluster DNS — a decoded query in, a response packet (or "forward") out, sized for its transport.
import { AUTHORITATIVE_ANSWER, encode, RECURSION_AVAILABLE, RECURSION_DESIRED, TRUNCATED_RESPONSE, type Answer, type DecodedPacket, type OptAnswer, type Packet, type RecordType } from 'dns-packet';
import { resolve, type ResolverOptions } from './resolver.ts';
import type { ClusterView } from './view.ts';

/** RCODE holds the response codes the responder uses (RFC 1035 §4.1.1). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

/** UDP_DEFAULT_SIZE is the classic DNS UDP limit; EDNS_SIZE what we advertise and honour at most (the DNS flag day 2020 value). */
export const UDP_DEFAULT_SIZE = 512;
export const EDNS_SIZE = 1232;

export type Transport = 'udp' | 'tcp';

/**
 * Plan is what to do with one query: `reply` with a packet; `forward` the query as it came to the upstreams; or
 * `chase` — reply with `packet` after appending the upstream's answers for `name`/`qtype` (a CNAME out of the cluster domain).
 */
export type Plan = { kind: 'reply'; packet: Packet } | { kind: 'forward' } | { kind: 'chase'; packet: Packet; name: string; qtype: RecordType };

/** opcodeOf reads the opcode bits of a decoded header. */
export function opcodeOf(q: DecodedPacket): number {
  return ((q.flags ?? 0) >> 11) & 0xf;
}

/**
 * plan decides the answer to a query: one question of opcode QUERY is resolved against the cluster (class IN);
 * other opcodes get NOTIMP, zero or several questions FORMERR.
 */
export function plan(q: DecodedPacket, view: ClusterView, opts: ResolverOptions): Plan {
  if (opcodeOf(q) !== 0) return { kind: 'reply', packet: header(q, 'NOTIMP', false) };
  const question = q.questions?.length === 1 ? q.questions[0]! : undefined;
  if (!question) return { kind: 'reply', packet: header(q, 'FORMERR', false) };
  if (question.class && question.class !== 'IN' && question.class !== 'ANY') return { kind: 'forward' };
  const r = resolve(question, view, opts);
  if (r.kind === 'forward') return r;
  const p = header(q, r.rcode, true);
  p.answers = r.answers;
  p.authorities = r.authorities;
  p.additionals = r.additionals;
  return r.chase ? { kind: 'chase', packet: p, name: r.chase.name, qtype: r.chase.type } : { kind: 'reply', packet: p };
}

/** header builds an empty response to `q`: its id and question, RD echoed, RA set (we recurse by forwarding), AA for our zone. */
export function header(q: Pick<DecodedPacket, 'id' | 'flags' | 'questions'>, rcode: Rcode, authoritative: boolean): Packet {
  const rd = (q.flags ?? 0) & RECURSION_DESIRED;
  const opcode = (q.flags ?? 0) & 0x7800;
  return {
    type: 'response',
    id: q.id ?? 0,
    flags: opcode | rd | RECURSION_AVAILABLE | (authoritative ? AUTHORITATIVE_ANSWER : 0) | RCODE[rcode],
    questions: q.questions ?? [],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** ednsOf returns the query's OPT record, if it has one. */
export function ednsOf(q: DecodedPacket): OptAnswer | undefined {
  return q.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
}

/** sizeLimit is the largest UDP answer the client takes: 512, or its EDNS buffer size capped at EDNS_SIZE; TCP takes 65535. */
export function sizeLimit(q: DecodedPacket, transport: Transport): number {
  if (transport === 'tcp') return 65535;
  const opt = ednsOf(q);
  return opt ? Math.min(Math.max(opt.udpPayloadSize, UDP_DEFAULT_SIZE), EDNS_SIZE) : UDP_DEFAULT_SIZE;
}

/**
 * encodeReply encodes a response for its transport: it carries an OPT record when the query did (EDNS0), and a UDP
 * answer larger than the client's limit is cut to header + question with TC set, so the client retries over TCP.
 */
export function encodeReply(p: Packet, q: DecodedPacket, transport: Transport): Buffer {
  const opt: Answer[] = ednsOf(q) ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
  const full: Packet = { ...p, additionals: [...(p.additionals ?? []).filter((a) => a.type !== 'OPT'), ...opt] };
  const buf = encode(full);
  if (buf.length <= sizeLimit(q, transport)) return buf;
  return encode({ ...p, flags: (p.flags ?? 0) | TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
}

/** errorFor answers bytes that do not decode: FORMERR with the request's id when a header is there, else nothing. */
export function errorFor(raw: Buffer): Buffer | undefined {
  if (raw.length < 12 || raw[2]! & 0x80) return undefined; // too short, or a response: never answer those
  return encode({ type: 'response', id: raw.readUInt16BE(0), flags: (raw.readUInt16BE(2) & (0x7800 | RECURSION_DESIRED)) | RECURSION_AVAILABLE | RCODE.FORMERR });
}

/** appendChased adds the upstream's answer for a chased CNAME target to `p` (its answers; an NXDOMAIN carries over). */
export function appendChased(p: Packet, upstream: DecodedPacket | undefined): Packet {
  if (!upstream) return p;
  const rcode = (upstream.flags ?? 0) & 0xf;
  const flags = rcode === RCODE.NXDOMAIN ? ((p.flags ?? 0) & ~0xf) | RCODE.NXDOMAIN : p.flags;
  return { ...p, flags, answers: [...(p.answers ?? []), ...(upstream.answers ?? [])] };
}
