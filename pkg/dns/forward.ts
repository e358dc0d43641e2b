// forward: relays queries the cluster does not own to upstream nameservers over UDP or TCP, bounded in flight and in time.
import { createSocket } from 'node:dgram';
import { isIPv6, connect } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Transport } from './packet.ts';

/** Upstream is one nameserver. */
export interface Upstream {
  host: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** per-upstream attempt timeout (default 2 s) */
  attemptTimeoutMs?: number;
  /** overall budget of one query across upstreams (default 5 s) */
  totalTimeoutMs?: number;
  /** queries forwarded at once; more are refused with SERVFAIL at once (default 256) */
  maxInFlight?: number;
}

/**
 * parseUpstream reads `1.2.3.4`, `1.2.3.4:5353`, `::1` or `[::1]:5353` (port 53 when none), or undefined.
 * Example: parseUpstream('127.0.0.1:5300') → { host: '127.0.0.1', port: 5300 }.
 */
export function parseUpstream(s: string): Upstream | undefined {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) return isIPv6(bracket[1]!) ? { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : 53 } : undefined;
  if (isIPv6(s)) return { host: s, port: 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : 53;
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

/**
 * upstreamsFrom picks the upstreams: the given list, else the host's nameservers, without the responder's own address
 * (a loop). Example: upstreamsFrom(undefined, ['10.43.0.10','1.1.1.1'], '10.43.0.10', 53) → [1.1.1.1:53].
 */
export function upstreamsFrom(given: string[] | undefined, hostNameservers: string[], self: string, selfPort: number): Upstream[] {
  const list = (given ?? hostNameservers).map(parseUpstream).filter((u): u is Upstream => !!u);
  return list.filter((u) => !(u.host === self && u.port === selfPort) && !(given === undefined && u.host === self));
}

/** Forwarder sends a query's bytes to the upstreams in order until one answers; the answer comes back with the client's id. */
export class Forwarder {
  private readonly opts: Required<ForwarderOptions>;
  private inFlight = 0;

  constructor(opts: ForwarderOptions) {
    this.opts = { attemptTimeoutMs: 2000, totalTimeoutMs: 5000, maxInFlight: 256, ...opts };
  }

  get pending(): number {
    return this.inFlight;
  }

  /** forward relays `query` (raw bytes as the client sent them) and resolves to the raw answer, or undefined (no upstream answered: SERVFAIL). */
  async forward(query: Buffer, transport: Transport): Promise<Buffer | undefined> {
    if (query.length < 12 || this.inFlight >= this.opts.maxInFlight || this.opts.upstreams.length === 0) return undefined;
    this.inFlight++;
    try {
      const clientId = query.readUInt16BE(0);
      const out = Buffer.from(query);
      const id = randomInt(0, 65536);
      out.writeUInt16BE(id, 0);
      const deadline = Date.now() + this.opts.totalTimeoutMs;
      for (const u of this.opts.upstreams) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const timeout = Math.min(this.opts.attemptTimeoutMs, left);
        const answer = await (transport === 'tcp' ? askTcp(u, out, id, timeout) : askUdp(u, out, id, timeout)).catch(() => undefined);
        if (answer) {
          answer.writeUInt16BE(clientId, 0);
          return answer;
        }
      }
      return undefined;
    } finally {
      this.inFlight--;
    }
  }
}

/** askUdp sends one datagram from a fresh socket (a fresh source port per query) and waits for the reply with our id. */
function askUdp(u: Upstream, query: Buffer, id: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(u.host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (b: Buffer | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve(b);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port !== u.port || msg.length < 12 || msg.readUInt16BE(0) !== id || !(msg[2]! & 0x80)) return; // not our answer
      finish(msg);
    });
    sock.send(query, u.port, u.host, (err) => err && finish(undefined));
  });
}

/** askTcp sends one length-prefixed query on a new connection and reads one length-prefixed answer (RFC 1035 §4.2.2). */
function askTcp(u: Upstream, query: Buffer, id: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: u.host, port: u.port });
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (b: Buffer | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(b);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) return;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) return finish(Buffer.from(msg));
      }
    });
  });
}
