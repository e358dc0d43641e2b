// WebSocket side of the streaming protocols: subprotocol negotiation, the k8s channel framing, and raw tunnels.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';

/** CLOSE_CHANNEL is the v5 channel byte of a "this channel is closed" message: `[0xFF, channel]`. */
export const CLOSE_CHANNEL = 0xff;
/** Channel numbers of the remotecommand protocols. */
export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

/** REMOTECOMMAND_WS_PROTOCOLS are the exec/attach WebSocket subprotocols we speak, best first. */
export const REMOTECOMMAND_WS_PROTOCOLS = [
  'v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io',
  'channel.k8s.io', 'base64.channel.k8s.io',
];
/** SPDY_TUNNEL_PROTOCOL is the subprotocol of kubectl 1.30+ port-forward: raw SPDY/3.1 bytes inside binary messages. */
export const SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/** PORTFORWARD_WS_PROTOCOLS are the port-forward subprotocols: the SPDY tunnel, or the channel protocol (`?ports=`). */
export const PORTFORWARD_WS_PROTOCOLS = [SPDY_TUNNEL_PROTOCOL, 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

/** isWebSocketUpgrade tells a WebSocket upgrade from a SPDY one. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** offeredProtocols lists the client's Sec-WebSocket-Protocol values in its order. */
export function offeredProtocols(req: IncomingMessage): string[] {
  return splitList(req.headers['sec-websocket-protocol']);
}

/** splitList splits a comma-separated (possibly repeated) header into trimmed values. */
export function splitList(value: string | string[] | undefined): string[] {
  const all = Array.isArray(value) ? value.join(',') : value ?? '';
  return all.split(',').map((s) => s.trim()).filter(Boolean);
}

/** chooseProtocol picks the first protocol the client offered that we support (the client's preference wins). */
export function chooseProtocol(offered: readonly string[], supported: readonly string[]): string | undefined {
  return offered.find((p) => supported.includes(p));
}

/** isBase64Protocol tells the text/base64 variants of the channel protocol. */
export function isBase64Protocol(protocol: string): boolean {
  return protocol.includes('base64.');
}

/** encodeChannelMessage frames data for a channel: binary `[ch, ...data]`, or text `'<digit><base64>'`. */
export function encodeChannelMessage(channel: number, data: Buffer, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(48 + channel) + data.toString('base64');
  return Buffer.concat([Buffer.from([channel]), data]);
}

/** decodeChannelMessage splits a received message into channel and payload; undefined for an empty message. */
export function decodeChannelMessage(msg: Buffer, base64: boolean): { channel: number; data: Buffer } | undefined {
  if (msg.length === 0) return undefined;
  if (base64) {
    const text = msg.toString('latin1');
    return { channel: text.charCodeAt(0) - 48, data: Buffer.from(text.slice(1), 'base64') };
  }
  return { channel: msg[0]!, data: msg.subarray(1) };
}

// ws rejects subprotocols that are not RFC 7230 tokens, and `SPDY/3.1+portforward.k8s.io` has a '/'; so we
// negotiate ourselves, hide the request header from ws and add the chosen protocol to its response headers.
const chosen = new WeakMap<IncomingMessage, string>();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
wss.on('headers', (headers: string[], req: IncomingMessage) => {
  const protocol = chosen.get(req);
  if (protocol) headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
});

/**
 * acceptWebSocket completes the WebSocket handshake if the client offered one of `supported`, echoing the chosen
 * subprotocol. Otherwise it answers 400 (which makes kubectl fall back to SPDY) and resolves undefined.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, supported: readonly string[]): Promise<{ ws: WebSocket; protocol: string } | undefined> {
  const offered = offeredProtocols(req);
  const protocol = chooseProtocol(offered, supported);
  if (!protocol) {
    rejectUpgrade(socket, 400, `unable to upgrade: no supported WebSocket subprotocol in [${offered.join(', ')}], server supports [${supported.join(', ')}]`);
    return Promise.resolve(undefined);
  }
  chosen.set(req, protocol);
  delete req.headers['sec-websocket-protocol'];
  return new Promise((resolve) => {
    // ws answers malformed handshakes itself (400) and then never calls back.
    socket.once('close', () => resolve(undefined));
    wss.handleUpgrade(req, socket, head, (ws) => resolve({ ws, protocol }));
  });
}

/** tunnelStream exposes a WebSocket as a plain byte stream: messages in, binary messages out. */
export function tunnelStream(ws: WebSocket): Duplex {
  return createWebSocketStream(ws, { allowHalfOpen: false });
}

/** rejectUpgrade answers an upgrade request with an HTTP error carrying a Kubernetes Status, then closes. */
export function rejectUpgrade(socket: Duplex, code: number, message: string): void {
  const reasons: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 500: 'InternalError' };
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reasons[code] ?? 'BadRequest', code });
  const text = { 400: 'Bad Request', 403: 'Forbidden', 500: 'Internal Server Error' }[code] ?? 'Error';
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
