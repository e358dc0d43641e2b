// udp: one UDP listener of the proxy — a flow per client address towards a chosen endpoint, replies relayed from the service socket, idle flows expired.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { EndpointPicker } from './picker.ts';
import type { Target } from './servicemap.ts';

/** DEFAULT_UDP_IDLE_TIMEOUT_MS ends a client's flow after this long without a datagram either way. */
export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 30_000;
/** DEFAULT_UDP_MAX_FLOWS bounds the flows (one socket each) of one listener; the oldest is dropped for a new one. */
export const DEFAULT_UDP_MAX_FLOWS = 4096;

export interface UdpListenerOptions {
  ip: string;
  port: number;
  picker: EndpointPicker;
  idleTimeoutMs?: number;
  maxFlows?: number;
  log: Logger;
}

interface Flow {
  sock: Socket;
  target: Target;
  last: number;
  /** queue holds datagrams sent before the flow's socket is connected (bounded; undefined once connected) */
  queue: Buffer[] | undefined;
}

/** MAX_QUEUED bounds the datagrams held per flow while its socket connects. */
const MAX_QUEUED = 64;

/**
 * UdpListener binds ip:port (SO_REUSEPORT) and forwards datagrams: the first datagram of a client (ip:port) picks an
 * endpoint and opens a connected socket to it; later datagrams of that client use the same flow; what the endpoint
 * sends back is relayed to the client from the service socket, so the reply's source is the address the client
 * sent to. A flow ends after the idle timeout or when the endpoint answers ICMP unreachable (the next datagram
 * picks again). Flows are bounded; the oldest gives way.
 */
export class UdpListener {
  picker: EndpointPicker;
  private readonly ip: string;
  private readonly port: number;
  private readonly idleTimeoutMs: number;
  private readonly maxFlows: number;
  private readonly log: Logger;
  private readonly socket: Socket;
  private readonly flows = new Map<string, Flow>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(opts: UdpListenerOptions) {
    this.ip = opts.ip;
    this.port = opts.port;
    this.picker = opts.picker;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_UDP_IDLE_TIMEOUT_MS;
    this.maxFlows = opts.maxFlows ?? DEFAULT_UDP_MAX_FLOWS;
    this.log = opts.log;
    this.socket = createSocket({ type: 'udp4', reuseAddr: true, reusePort: true });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        try {
          this.socket.close();
        } catch {
          /* not bound */
        }
        reject(e);
      };
      this.socket.once('error', onError);
      this.socket.bind({ address: this.ip, port: this.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.socket.on('error', (e) => this.log.warn({ err: e, ip: this.ip, port: this.port }, 'udp listener error'));
        this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
        const every = Math.max(100, Math.min(this.idleTimeoutMs / 2, 10_000));
        this.sweeper = setInterval(() => this.sweep(), every);
        this.sweeper.unref();
        resolve();
      });
    });
  }

  /** close closes the service socket and every flow. */
  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const k of [...this.flows.keys()]) this.endFlow(k);
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** dropStaleFlows ends the flows whose endpoint left the picker's targets (as kube-proxy flushes their conntrack entries). */
  dropStaleFlows(): void {
    const live = new Set(this.picker.targets.map((t) => `${t.ip}:${t.port}`));
    for (const [k, f] of this.flows) if (!live.has(`${f.target.ip}:${f.target.port}`)) this.endFlow(k);
  }

  /** flowCount is how many client flows are open (tests). */
  get flowCount(): number {
    return this.flows.size;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      const targets = this.picker.targets;
      const i = this.picker.start(rinfo.address);
      if (i < 0) return;
      if (this.flows.size >= this.maxFlows) this.endFlow(this.flows.keys().next().value!);
      flow = this.openFlow(key, rinfo, targets[i]);
      this.picker.connected(rinfo.address, targets[i]);
    }
    flow.last = Date.now();
    if (flow.queue) {
      if (flow.queue.length < MAX_QUEUED) flow.queue.push(msg);
    } else flow.sock.send(msg);
  }

  private openFlow(key: string, client: RemoteInfo, target: Target): Flow {
    const sock = createSocket('udp4');
    const flow: Flow = { sock, target, last: Date.now(), queue: [] };
    this.flows.set(key, flow);
    sock.on('message', (reply) => {
      flow.last = Date.now();
      this.socket.send(reply, client.port, client.address);
    });
    sock.on('error', (e) => {
      this.log.debug({ err: e, client: key, endpoint: `${target.ip}:${target.port}` }, 'udp flow error; ending it');
      if (this.flows.get(key) === flow) this.endFlow(key);
    });
    sock.connect(target.port, target.ip, () => {
      const q = flow.queue ?? [];
      flow.queue = undefined;
      if (this.flows.get(key) !== flow) return;
      for (const m of q) sock.send(m);
    });
    this.log.debug({ client: key, endpoint: `${target.ip}:${target.port}` }, 'udp flow opened');
    return flow;
  }

  private endFlow(key: string): void {
    const f = this.flows.get(key);
    if (!f) return;
    this.flows.delete(key);
    try {
      f.sock.close();
    } catch {
      /* already closed */
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, f] of this.flows) if (now - f.last >= this.idleTimeoutMs) this.endFlow(k);
  }
}
