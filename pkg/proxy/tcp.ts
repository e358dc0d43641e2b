// tcp: one TCP listener of the proxy — accepts, picks an endpoint (skipping ones that refuse), then splices the two sockets with back-pressure and half-close.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { EndpointPicker } from './picker.ts';
import { Pump } from './pump.ts';
import type { Target } from './servicemap.ts';

/** DEFAULT_CONNECT_TIMEOUT_MS bounds one connect attempt to an endpoint before the next is tried. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

export interface TcpListenerOptions {
  ip: string;
  port: number;
  picker: EndpointPicker;
  connectTimeoutMs?: number;
  log: Logger;
}

/**
 * TcpListener listens on ip:port (SO_REUSEPORT, so several agents of one cluster may share a host) and forwards each
 * connection to an endpoint of its picker. Accepted sockets stay paused until the endpoint answers, so nothing is
 * buffered meanwhile. An endpoint that refuses, is unreachable or does not answer within the connect timeout is
 * skipped and the next one tried, each at most once; when all fail the client gets a reset. Once connected, the
 * endpoint's data reaches the client through a Pump (one reused read buffer, the endpoint paused while a write to the
 * client is pending) and the client's through `pipe` (net gives accepted sockets no `onread`); each pauses its
 * reader while the writer is full, and one side's end ends the other side's writable half (half-close); an error on
 * either side destroys both. Swapping the picker (new endpoints) touches neither the listening socket nor established
 * connections.
 */
export class TcpListener {
  picker: EndpointPicker;
  private readonly server: Server;
  private readonly ip: string;
  private readonly port: number;
  private readonly connectTimeoutMs: number;
  private readonly log: Logger;
  private readonly conns = new Set<Socket>();

  constructor(opts: TcpListenerOptions) {
    this.ip = opts.ip;
    this.port = opts.port;
    this.picker = opts.picker;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.log = opts.log;
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => this.accept(c));
  }

  /** listen binds the socket; it rejects (EADDRINUSE, EADDRNOTAVAIL…) and leaves nothing open when it cannot. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        this.server.close();
        reject(e);
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.ip, port: this.port, reusePort: true, backlog: 1024 }, () => {
        this.server.off('error', onError);
        this.server.on('error', (e) => this.log.warn({ err: e, ip: this.ip, port: this.port }, 'listener error'));
        resolve();
      });
    });
  }

  /** close stops accepting; established connections carry on. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** destroyConnections cuts every connection still open (end of stop's grace period). */
  destroyConnections(): void {
    for (const c of this.conns) c.destroy();
  }

  /** connections is the number of client connections open. */
  get connections(): number {
    return this.conns.size;
  }

  private accept(client: Socket): void {
    const picker = this.picker;
    const targets = picker.targets;
    const clientIp = client.remoteAddress;
    const start = picker.start(clientIp);
    if (start < 0) {
      client.resetAndDestroy();
      return;
    }
    this.conns.add(client);
    const conn = new Connection(client, clientIp, targets, start, picker, this.connectTimeoutMs, this.log);
    client.once('close', () => {
      this.conns.delete(client);
      conn.clientClosed();
    });
    conn.next();
  }
}

/** Connection is one client's forwarding state: the endpoints still to try, then the spliced upstream. */
class Connection {
  private upstream: Socket | undefined;
  private attempt = 0;
  private done = false;
  private readonly client: Socket;
  private readonly clientIp: string | undefined;
  private readonly targets: readonly Target[];
  private readonly start: number;
  private readonly picker: EndpointPicker;
  private readonly connectTimeoutMs: number;
  private readonly log: Logger;
  /** down carries the endpoint's bytes to the client; made once, its onread given to every connect attempt */
  private readonly down: Pump;

  constructor(client: Socket, clientIp: string | undefined, targets: readonly Target[], start: number, picker: EndpointPicker, connectTimeoutMs: number, log: Logger) {
    this.client = client;
    this.clientIp = clientIp;
    this.targets = targets;
    this.start = start;
    this.picker = picker;
    this.connectTimeoutMs = connectTimeoutMs;
    this.log = log;
    this.down = new Pump(client);
    client.on('error', (e) => {
      this.log.debug({ err: e, client: clientIp }, 'client connection error');
      this.upstream?.destroy();
    });
  }

  clientClosed(): void {
    this.done = true;
    // a client gone without ending its half (reset, destroyed at stop) takes the upstream with it
    const up = this.upstream;
    if (up && !up.destroyed && (up.connecting || !up.writableEnded)) up.destroy();
  }

  /** next tries the next endpoint, or resets the client when every endpoint was tried. */
  next(): void {
    if (this.done) return;
    if (this.attempt >= this.targets.length) {
      this.log.debug({ client: this.clientIp, tried: this.attempt }, 'no endpoint accepted the connection');
      this.done = true;
      this.client.resetAndDestroy();
      return;
    }
    const t = this.targets[(this.start + this.attempt) % this.targets.length];
    this.attempt++;
    const up = connect({ host: t.ip, port: t.port, allowHalfOpen: true, noDelay: true, onread: this.down.onread });
    this.upstream = up;
    up.setTimeout(this.connectTimeoutMs);
    const onFail = (e: Error | undefined) => {
      up.off('connect', onConnect);
      up.off('timeout', onTimeout);
      up.destroy();
      this.log.debug({ err: e, client: this.clientIp, endpoint: `${t.ip}:${t.port}` }, 'endpoint failed; trying the next');
      this.next();
    };
    const onTimeout = () => onFail(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    const onConnect = () => {
      up.off('error', onFail);
      up.off('timeout', onTimeout);
      up.setTimeout(0);
      if (this.done) {
        up.destroy();
        return;
      }
      this.picker.connected(this.clientIp, t);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ client: this.clientIp, endpoint: `${t.ip}:${t.port}`, attempt: this.attempt }, 'connection forwarded');
      this.splice(up);
    };
    up.once('error', onFail);
    up.once('timeout', onTimeout);
    up.once('connect', onConnect);
  }

  private splice(up: Socket): void {
    const client = this.client;
    up.on('error', (e) => {
      this.log.debug({ err: e, client: this.clientIp }, 'endpoint connection error');
      client.destroy();
    });
    up.once('close', () => {
      if (!client.writableEnded) client.destroy();
    });
    this.down.attach(up, client);
    up.once('end', () => client.end());
    up.resume(); // flowing, so that its 'end' is emitted (the pump reads, not the stream)
    client.pipe(up);
  }
}
