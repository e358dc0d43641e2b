// port-forward server side: SPDY/3.1 (direct or tunnelled in WebSocket) error/data stream pairs, and the WebSocket channel protocol.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { acceptSpdy, isSpdyUpgrade, SpdySession, type SpdyStream } from './spdy.ts';
import {
  acceptWebSocket, decodeChannelMessage, encodeChannelMessage, isBase64Protocol, isWebSocketUpgrade,
  PORTFORWARD_WS_PROTOCOLS, rejectUpgrade, SPDY_TUNNEL_PROTOCOL, tunnelStream,
} from './websocket.ts';

/** DialPort connects to a port inside the pod's network namespace. */
export type DialPort = (port: number) => Promise<Duplex>;

/** PortForwardOptions name the pod in error messages, as the kubelet does. */
export interface PortForwardOptions {
  pod?: string;
  uid?: string;
  /** streamCreationTimeoutMs bounds the wait for the second stream of a pair (default 30 s). */
  streamCreationTimeoutMs?: number;
}

/** PORTFORWARD_SPDY_PROTOCOL is the only X-Stream-Protocol-Version of port-forward. */
export const PORTFORWARD_SPDY_PROTOCOL = 'portforward.k8s.io';

/** handlePortForwardUpgrade serves a port-forward upgrade: SPDY/3.1, SPDY inside WebSocket, or WebSocket channels. */
export function handlePortForwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, dial: DialPort, options: PortForwardOptions = {}): void {
  socket.on('error', () => socket.destroy()); // Node's HTTP server drops its own error handler on upgrade.
  if (isWebSocketUpgrade(req)) {
    void acceptWebSocket(req, socket, head, PORTFORWARD_WS_PROTOCOLS).then((accepted) => {
      if (!accepted) return;
      if (accepted.protocol === SPDY_TUNNEL_PROTOCOL) {
        servePortForwardSpdy(new SpdySession(tunnelStream(accepted.ws), { server: true }), dial, options);
      } else {
        const ports = parsePorts(req.url ?? '/');
        if (!ports) return accepted.ws.close(1008, 'query parameter "ports" must list valid ports');
        void servePortForwardWebSocket(accepted.ws, accepted.protocol, ports, dial, options);
      }
    });
  } else if (isSpdyUpgrade(req)) {
    const accepted = acceptSpdy(req, socket, head, [PORTFORWARD_SPDY_PROTOCOL], PORTFORWARD_SPDY_PROTOCOL);
    if (accepted) servePortForwardSpdy(accepted.session, dial, options);
  } else {
    rejectUpgrade(socket, 400, 'unable to upgrade: expected Upgrade: websocket or SPDY/3.1');
  }
}

/** parsePorts reads `?ports=80,8080` (or repeated `ports=`); undefined when missing or invalid. */
export function parsePorts(url: string): number[] | undefined {
  const q = new URL(url, 'http://localhost').searchParams;
  const ports = q.getAll('ports').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean).map(Number);
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return undefined;
  return ports;
}

/** pairKey identifies one forwarded connection: kubectl's requestid, or (old clients) the error stream's id. */
export function pairKey(headers: Record<string, string>, streamId: number): string | undefined {
  if (headers['requestid'] !== undefined) return headers['requestid'];
  if (headers['streamtype'] === 'error') return String(streamId);
  if (headers['streamtype'] === 'data') return String(streamId - 2);
  return undefined;
}

/** forwardError is the text written on the error stream when a port cannot be reached. */
export function forwardError(port: number, err: unknown, options: PortForwardOptions): string {
  const msg = err instanceof Error ? err.message : String(err);
  return `error forwarding port ${port} to pod ${options.pod ?? ''}, uid ${options.uid ?? ''}: ${msg}`;
}

/**
 * servePortForwardSpdy serves kubectl's SPDY port-forward: for each local connection kubectl opens an `error` and
 * a `data` stream with the same `port` and `requestid`; the data stream is piped to `dial(port)`.
 */
export function servePortForwardSpdy(session: SpdySession, dial: DialPort, options: PortForwardOptions = {}): void {
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  session.on('stream', (stream: SpdyStream) => {
    const type = stream.headers['streamtype'];
    const port = Number(stream.headers['port']);
    const key = pairKey(stream.headers, stream.id);
    if ((type !== 'error' && type !== 'data') || !Number.isInteger(port) || port < 1 || port > 65535 || key === undefined) {
      void stream.sendReply({}, true).catch(() => undefined);
      return;
    }
    void stream.sendReply().catch(() => undefined);
    let pair = pairs.get(key);
    if (!pair) {
      const timer = setTimeout(() => {
        const p = pairs.get(key);
        pairs.delete(key);
        p?.error?.destroy();
        p?.data?.destroy();
      }, options.streamCreationTimeoutMs ?? 30_000);
      timer.unref();
      pair = { timer };
      pairs.set(key, pair);
    }
    if (pair[type]) return void stream.destroy();
    pair[type] = stream;
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pairs.delete(key);
      void forward(port, pair.error, pair.data, dial, options);
    }
  });
  session.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });
}

async function forward(port: number, errorStream: SpdyStream, data: SpdyStream, dial: DialPort, options: PortForwardOptions): Promise<void> {
  errorStream.resume(); // kubectl half-closes it at once; we only write on it.
  let target: Duplex;
  try {
    target = await dial(port);
  } catch (err) {
    errorStream.end(forwardError(port, err, options));
    data.resume();
    data.end();
    return;
  }
  if (data.destroyed) return void target.destroy();
  target.on('error', () => {
    // A reset from the pod ends this connection only; the error stream stays quiet, or kubectl drops the whole session.
    if (!data.writableEnded) data.end();
    errorStream.end();
  });
  target.on('close', () => {
    if (!data.writableEnded) data.end();
    if (!errorStream.writableEnded) errorStream.end();
  });
  data.on('close', () => {
    // Reset by kubectl, or torn down with the session: the pod side has to go too.
    if (data.resetStatus !== undefined || !data.readableEnded || !data.writableFinished) target.destroy();
  });
  data.pipe(target);
  target.pipe(data);
}

/**
 * servePortForwardWebSocket serves the channel protocol: port i uses channel 2i for data and 2i+1 for errors; the
 * first message on each channel carries the port (uint16 little endian). The socket closes when all ports ended.
 */
export async function servePortForwardWebSocket(ws: WebSocket, protocol: string, ports: number[], dial: DialPort, options: PortForwardOptions = {}): Promise<void> {
  const base64 = isBase64Protocol(protocol);
  const send = (channel: number, data: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(encodeChannelMessage(channel, data, base64));
  };
  ws.on('error', () => ws.terminate());
  const targets: (Duplex | undefined)[] = [];
  const pending: Buffer[][] = ports.map(() => []);
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const m = decodeChannelMessage(data, base64 && !isBinary);
    if (!m || m.channel % 2 !== 0 || (m.channel >> 1) >= ports.length) return;
    const target = targets[m.channel >> 1];
    if (!target) pending[m.channel >> 1]!.push(m.data);
    else if (!target.writableEnded) target.write(m.data);
  });
  ws.on('close', () => { for (const t of targets) t?.destroy(); });
  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
  });
  await Promise.all(ports.map(async (port, i) => {
    try {
      const target = await dial(port);
      targets[i] = target;
      for (const chunk of pending[i]!.splice(0)) target.write(chunk);
      target.on('data', (chunk: Buffer) => send(2 * i, chunk));
      await new Promise<void>((resolve) => {
        target.on('close', () => resolve());
        target.on('error', () => resolve());
      });
    } catch (err) {
      send(2 * i + 1, Buffer.from(forwardError(port, err, options)));
    }
  }));
  if (ws.readyState === ws.OPEN) ws.close(1000);
}
