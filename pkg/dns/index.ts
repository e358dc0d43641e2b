// dns: the cluster DNS responder each agent runs on the clusterDNS address — Services and EndpointSlices answered from informers, the rest forwarded.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIPv6, type Server, type Socket as TcpSocket } from 'node:net';
import { decode, encode, RECURSION_DESIRED, type DecodedPacket } from 'dns-packet';
import type { Logger } from 'pino';
import type { SharedInformerFactory } from '../client/informer.ts';
import { Forwarder, upstreamsFrom } from './forward.ts';
import { appendChased, encodeReply, errorFor, header, plan, type Transport } from './packet.ts';
import { parseResolvConf } from './resolvconf.ts';
import { DEFAULT_TTL, type ResolverOptions } from './resolver.ts';
import { informerView, type ClusterView } from './view.ts';

export { parseResolvConf, mergeOptions, formatResolvConf, type ResolvConf } from './resolvconf.ts';
export { resolve, DEFAULT_TTL, type Resolution, type ResolverOptions } from './resolver.ts';
export { listView, informerView, type ClusterView } from './view.ts';
export { parseUpstream, type Upstream } from './forward.ts';

export interface DnsOptions {
  informers: SharedInformerFactory;
  /** clusterDNS, already made local by ServiceAddresses.ensure */
  address: string;
  /** default 53 */
  port?: number;
  clusterDomain: string;
  /** upstream nameservers (`ip` or `ip:port`); default: the nameservers of the host's /etc/resolv.conf */
  upstream?: string[];
  log: Logger;
}

export interface DnsServer {
  /** ready resolves when the UDP and TCP listeners are bound (rejects if either cannot bind) */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** TCP_IDLE_MS closes idle TCP clients (RFC 7766 suggests seconds); MAX_TCP_CONNS and MAX_TCP_PENDING bound what TCP clients may hold. */
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNS = 256;
const MAX_TCP_PENDING = 16;
const HOST_RESOLV_CONF = '/etc/resolv.conf';

/**
 * startDnsServer serves the cluster domain on UDP and TCP `address:port` (reusePort, so agents of several test clusters
 * may share a host). Answers come from the Service and EndpointSlice informers of `informers` (the caller starts the
 * factory; until both have listed, cluster names answer SERVFAIL); names outside the cluster domain are forwarded to
 * the upstreams, upstream failure answers SERVFAIL.
 */
export function startDnsServer(opts: DnsOptions): DnsServer {
  const port = opts.port ?? 53;
  const log = opts.log;
  const { view, services, slices } = informerView(opts.informers);
  const synced = () => services.hasSynced() && slices.hasSynced();
  const forwarder = new Forwarder({ upstreams: upstreamsFrom(opts.upstream, opts.upstream ? [] : hostNameservers(log), opts.address, port) });
  const handler = new Handler(view, synced, forwarder, { domain: opts.clusterDomain, ttl: DEFAULT_TTL, dnsAddress: opts.address, serial: Math.floor(Date.now() / 1000) }, log);

  const udp: Socket = createSocket({ type: isIPv6(opts.address) ? 'udp6' : 'udp4', reuseAddr: true, reusePort: true });
  udp.on('message', (msg, rinfo) => {
    void handler.handle(msg, 'udp').then((out) => {
      if (!out) return;
      try {
        udp.send(out, rinfo.port, rinfo.address, (err) => err && log.debug({ err }, 'dns: udp send failed'));
      } catch {
        // stopped while the answer was being made
      }
    });
  });
  const conns = new Set<TcpSocket>();
  const tcp: Server = createServer((sock) => {
    if (conns.size >= MAX_TCP_CONNS) return void sock.destroy();
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    serveTcp(sock, handler, log);
  });
  const bound = (what: string, start: (done: (err?: Error) => void) => void) =>
    new Promise<void>((resolve, reject) => start((err) => (err ? reject(new Error(`dns: cannot listen on ${what} ${opts.address}:${port}: ${err.message}`)) : resolve())));
  const ready = Promise.all([
    bound('udp', (done) => {
      udp.once('error', done);
      udp.bind({ address: opts.address, port }, () => {
        udp.off('error', done);
        udp.on('error', (err) => log.warn({ err }, 'dns: udp socket error'));
        done();
      });
    }),
    bound('tcp', (done) => {
      tcp.once('error', done);
      tcp.listen({ host: opts.address, port, reusePort: true }, () => {
        tcp.off('error', done);
        tcp.on('error', (err) => log.warn({ err }, 'dns: tcp server error'));
        done();
      });
    }),
  ]).then(() => log.info({ address: opts.address, port, domain: opts.clusterDomain }, 'dns: serving'));
  ready.catch((err) => log.error({ err }, 'dns: not serving'));

  return {
    ready,
    async stop() {
      await new Promise<void>((r) => {
        try {
          udp.close(() => r());
        } catch {
          r(); // never bound
        }
      });
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => (tcp.listening ? tcp.close(() => r()) : r()));
    },
  };
}

function hostNameservers(log: Logger): string[] {
  try {
    return parseResolvConf(readFileSync(HOST_RESOLV_CONF, 'utf8')).nameservers;
  } catch (err) {
    log.warn({ err }, 'dns: cannot read the host resolv.conf; nothing to forward to');
    return [];
  }
}

/** Handler turns one query's bytes into the answer's bytes (the socket-free part of the server). */
class Handler {
  private readonly view: ClusterView;
  private readonly synced: () => boolean;
  private readonly forwarder: Forwarder;
  private readonly ropts: ResolverOptions;
  private readonly log: Logger;

  constructor(view: ClusterView, synced: () => boolean, forwarder: Forwarder, ropts: ResolverOptions, log: Logger) {
    this.view = view;
    this.synced = synced;
    this.forwarder = forwarder;
    this.ropts = ropts;
    this.log = log;
  }

  async handle(raw: Buffer, transport: Transport): Promise<Buffer | undefined> {
    let q: DecodedPacket;
    try {
      q = decode(raw);
    } catch {
      return errorFor(raw);
    }
    if (q.type !== 'query') return undefined;
    try {
      const p = plan(q, this.view, this.ropts);
      // before the first list, a cluster name's absence proves nothing: SERVFAIL makes the client retry instead of caching NXDOMAIN
      if (p.kind !== 'forward' && !this.synced()) return encodeReply(header(q, 'SERVFAIL', false), q, transport);
      if (p.kind === 'reply') return encodeReply(p.packet, q, transport);
      if (p.kind === 'chase') {
        const ask = encode({ type: 'query', id: 0, flags: RECURSION_DESIRED, questions: [{ type: p.qtype, name: p.name, class: 'IN' }] });
        const got = await this.forwarder.forward(ask, transport);
        return encodeReply(appendChased(p.packet, got ? safeDecode(got) : undefined), q, transport);
      }
      const answer = await this.forwarder.forward(raw, transport);
      if (answer) return answer;
      this.log.debug({ question: q.questions?.[0] }, 'dns: no upstream answered');
      return encodeReply(header(q, 'SERVFAIL', false), q, transport);
    } catch (err) {
      this.log.warn({ err }, 'dns: query failed');
      return encodeReply(header(q, 'SERVFAIL', false), q, transport);
    }
  }
}

function safeDecode(b: Buffer): DecodedPacket | undefined {
  try {
    return decode(b);
  } catch {
    return undefined;
  }
}

/** serveTcp reads length-prefixed queries from one client (pipelined, at most MAX_TCP_PENDING unanswered) and writes each answer as it is ready. */
function serveTcp(sock: TcpSocket, handler: Handler, log: Logger): void {
  let buf: Buffer = Buffer.alloc(0);
  let pending = 0;
  sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
  sock.on('error', (err) => log.debug({ err }, 'dns: tcp client error'));
  sock.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 2) {
      const n = buf.readUInt16BE(0);
      if (buf.length < 2 + n) break;
      const msg = Buffer.from(buf.subarray(2, 2 + n));
      buf = buf.subarray(2 + n);
      if (++pending > MAX_TCP_PENDING) return void sock.destroy();
      void handler.handle(msg, 'tcp').then((out) => {
        pending--;
        if (!out || sock.destroyed) return;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length, 0);
        sock.write(Buffer.concat([len, out]));
      });
    }
  });
}
