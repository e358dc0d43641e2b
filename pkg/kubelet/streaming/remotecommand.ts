// exec/attach server side: kubectl's remotecommand protocol over WebSocket (v1–v5 channels) and SPDY/3.1 streams.
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { WebSocket } from 'ws';
import { acceptSpdy, isSpdyUpgrade, type SpdySession, type SpdyStream } from './spdy.ts';
import {
  acceptWebSocket, CHANNEL, CLOSE_CHANNEL, decodeChannelMessage, encodeChannelMessage, isBase64Protocol,
  isWebSocketUpgrade, rejectUpgrade, REMOTECOMMAND_WS_PROTOCOLS,
} from './websocket.ts';

/** ExecStreams is a running command as the runtime hands it over: its pipes, resize, and its exit code. */
export interface ExecStreams {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** resize changes the tty size (columns, rows). */
  resize?(width: number, height: number): void;
  /** wait resolves with the exit code once the command ended. */
  wait(): Promise<number>;
  /** cancel is called when the client went away before the command ended. */
  cancel?(): void;
}

/** RemoteCommandOptions is what the client asked for in the exec/attach query. */
export interface RemoteCommandOptions {
  command: string[];
  container: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** StartCommand starts (exec) or attaches to (attach) a process for the given options. */
export type StartCommand = (options: RemoteCommandOptions) => Promise<ExecStreams>;

/** ExitStatus is the metav1.Status written on the error channel (no kind/apiVersion, as the kubelet writes it). */
export interface ExitStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

/** SPDY_REMOTECOMMAND_PROTOCOLS are the X-Stream-Protocol-Version values we accept for exec/attach over SPDY. */
export const SPDY_REMOTECOMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** parseRemoteCommandOptions reads command/container/stdin/stdout/stderr/tty from a request URL (`true` or `1`). */
export function parseRemoteCommandOptions(url: string): RemoteCommandOptions {
  const q = new URL(url, 'http://localhost').searchParams;
  const flag = (name: string): boolean => ['true', '1'].includes((q.get(name) ?? '').toLowerCase());
  const tty = flag('tty');
  const opts: RemoteCommandOptions = {
    command: q.getAll('command'), container: q.get('container') ?? '',
    stdin: flag('stdin'), stdout: flag('stdout'), stderr: flag('stderr') && !tty, tty,
  };
  if (!opts.stdin && !opts.stdout && !flag('stderr')) throw new Error('you must specify at least 1 of stdin, stdout, stderr');
  return opts;
}

/** protocolVersion maps a channel protocol name to its number: `v4.channel.k8s.io` → 4, `channel.k8s.io` → 1. */
export function protocolVersion(protocol: string): number {
  const m = /^v(\d+)\./.exec(protocol);
  return m ? Number(m[1]) : 1;
}

/**
 * exitStatus is the status for an exit code: Success for 0, otherwise NonZeroExitCode with an ExitCode cause,
 * which kubectl turns into its own exit code (e.g. 3 → "command terminated with exit code 3", exit 3).
 */
export function exitStatus(code: number): ExitStatus {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {}, status: 'Failure', reason: 'NonZeroExitCode',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** internalErrorStatus is the status for a command that could not be run at all. */
export function internalErrorStatus(err: unknown): ExitStatus {
  const message = `error executing command in container: ${err instanceof Error ? err.message : String(err)}`;
  return { metadata: {}, status: 'Failure', reason: 'InternalError', code: 500, message: `Internal error occurred: ${message}`, details: { causes: [{ message }] } };
}

/** encodeStatus renders a status for a protocol version: JSON from v4 on, the bare message (or nothing) before. */
export function encodeStatus(status: ExitStatus, version: number): Buffer | undefined {
  if (version >= 4) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? 'error');
}

/** ResizeParser turns a byte stream of newline-separated `{"Width":W,"Height":H}` objects into sizes. */
export class ResizeParser {
  private pending = '';
  /** push returns the sizes completed by this chunk. */
  push(chunk: Buffer): { width: number; height: number }[] {
    this.pending += chunk.toString('utf8');
    const out: { width: number; height: number }[] = [];
    let nl: number;
    // A message without a trailing newline (WebSocket) is complete too, so try the rest as well.
    while ((nl = this.pending.indexOf('\n')) >= 0 || this.pending.trim().endsWith('}')) {
      const line = nl >= 0 ? this.pending.slice(0, nl) : this.pending;
      this.pending = nl >= 0 ? this.pending.slice(nl + 1) : '';
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as { Width?: number; Height?: number };
        if (typeof v.Width === 'number' && typeof v.Height === 'number') out.push({ width: v.Width, height: v.Height });
      } catch {
        // Ignore a garbled size; the next one will do.
      }
    }
    return out;
  }
}

/** handleRemoteCommandUpgrade serves an exec or attach upgrade (WebSocket or SPDY/3.1) on an 'upgrade' socket. */
export function handleRemoteCommandUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, start: StartCommand): void {
  socket.on('error', () => socket.destroy()); // Node's HTTP server drops its own error handler on upgrade.
  let opts: RemoteCommandOptions;
  try {
    opts = parseRemoteCommandOptions(req.url ?? '/');
  } catch (err) {
    return rejectUpgrade(socket, 400, (err as Error).message);
  }
  if (isWebSocketUpgrade(req)) {
    void acceptWebSocket(req, socket, head, REMOTECOMMAND_WS_PROTOCOLS).then((accepted) => {
      if (accepted) void serveRemoteCommandWebSocket(accepted.ws, accepted.protocol, opts, start);
    });
  } else if (isSpdyUpgrade(req)) {
    const accepted = acceptSpdy(req, socket, head, SPDY_REMOTECOMMAND_PROTOCOLS, 'channel.k8s.io');
    if (accepted) serveRemoteCommandSpdy(accepted.session, accepted.protocol, opts, start);
  } else {
    rejectUpgrade(socket, 400, 'unable to upgrade: expected Upgrade: websocket or SPDY/3.1');
  }
}

/** serveRemoteCommandWebSocket runs one exec/attach session on an accepted WebSocket. */
export async function serveRemoteCommandWebSocket(ws: WebSocket, protocol: string, opts: RemoteCommandOptions, start: StartCommand): Promise<void> {
  const base64 = isBase64Protocol(protocol);
  const version = protocolVersion(protocol);
  const resize = new ResizeParser();
  let exec: ExecStreams | undefined;
  let done = false;
  const early: { channel: number; data: Buffer }[] = [];
  const onMessage = (m: { channel: number; data: Buffer }): void => {
    if (!exec) return void early.push(m);
    if (m.channel === CHANNEL.stdin && exec.stdin && !exec.stdin.writableEnded) {
      if (!exec.stdin.write(m.data) && !ws.isPaused) {
        ws.pause();
        exec.stdin.once('drain', () => ws.resume());
      }
    } else if (m.channel === CHANNEL.resize) {
      for (const s of resize.push(m.data)) exec.resize?.(s.width, s.height);
    } else if (m.channel === CLOSE_CHANNEL && version >= 5 && m.data[0] === CHANNEL.stdin) {
      exec.stdin?.end();
    }
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const m = decodeChannelMessage(data, base64 && !isBinary);
    if (m) onMessage(m);
  });
  ws.on('close', () => {
    if (done || !exec) return;
    exec.stdin?.end();
    exec.cancel?.();
  });
  ws.on('error', () => ws.terminate());

  // send resolves at once while little is buffered, else when the message has been written (backpressure).
  const send = (channel: number, data: Buffer): Promise<void> => new Promise((resolve) => {
    if (ws.readyState !== ws.OPEN) return resolve();
    ws.send(encodeChannelMessage(channel, data, base64), () => resolve());
    if (ws.bufferedAmount < 1 << 18) resolve();
  });
  let status: ExitStatus;
  try {
    exec = await start(opts);
    exec.stdin?.on('error', () => undefined); // EPIPE when the process exits before reading all input
    for (const m of early.splice(0)) onMessage(m);
    const copies = [
      opts.stdout ? copyOut(exec.stdout, (d) => send(CHANNEL.stdout, d)) : drain(exec.stdout),
      opts.stderr ? copyOut(exec.stderr, (d) => send(CHANNEL.stderr, d)) : drain(exec.stderr),
    ];
    const [code] = await Promise.all([exec.wait(), ...copies]);
    status = exitStatus(code);
  } catch (err) {
    status = internalErrorStatus(err);
  }
  done = true;
  const body = encodeStatus(status, version);
  if (body && ws.readyState === ws.OPEN) ws.send(encodeChannelMessage(CHANNEL.error, body, base64));
  if (ws.readyState === ws.OPEN) ws.close(1000);
}

/** serveRemoteCommandSpdy waits for the client's streams (error, stdin, stdout, stderr, resize), then runs the command. */
export function serveRemoteCommandSpdy(session: SpdySession, protocol: string, opts: RemoteCommandOptions, start: StartCommand): void {
  const version = protocolVersion(protocol);
  const expected = ['error'];
  if (opts.stdin) expected.push('stdin');
  if (opts.stdout) expected.push('stdout');
  if (opts.stderr) expected.push('stderr');
  if (opts.tty && version >= 3) expected.push('resize');
  const streams = new Map<string, SpdyStream>();
  const timer = setTimeout(() => session.destroy(), 30_000);
  let started = false;
  session.on('stream', (stream: SpdyStream) => {
    const type = stream.headers['streamtype'] ?? '';
    if (!expected.includes(type) || streams.has(type) || started) {
      void stream.sendReply({}, true).catch(() => undefined);
      return;
    }
    void stream.sendReply().catch(() => undefined);
    streams.set(type, stream);
    if (streams.size === expected.length) {
      started = true;
      clearTimeout(timer);
      void runSpdy(session, streams, version, opts, start);
    }
  });
  session.on('close', () => clearTimeout(timer));
}

async function runSpdy(session: SpdySession, streams: Map<string, SpdyStream>, version: number, opts: RemoteCommandOptions, start: StartCommand): Promise<void> {
  const errorStream = streams.get('error')!;
  let status: ExitStatus;
  let exec: ExecStreams | undefined;
  const onClose = (): void => {
    if (!exec) return;
    exec.stdin?.end();
    exec.cancel?.();
  };
  session.on('close', onClose);
  try {
    exec = await start(opts);
    exec.stdin?.on('error', () => undefined); // EPIPE when the process exits before reading all input
    const stdin = streams.get('stdin');
    if (stdin) {
      if (exec.stdin) stdin.pipe(exec.stdin);
      else stdin.resume();
    }
    const resizeStream = streams.get('resize');
    if (resizeStream) {
      const parser = new ResizeParser();
      resizeStream.on('data', (chunk: Buffer) => {
        for (const s of parser.push(chunk)) exec?.resize?.(s.width, s.height);
      });
    }
    const copies = (['stdout', 'stderr'] as const).map((name) => {
      const out = streams.get(name);
      return out ? copyOut(exec![name], (d) => writeTo(out, d)).then(() => endStream(out)) : drain(exec![name]);
    });
    const [code] = await Promise.all([exec.wait(), ...copies]);
    status = exitStatus(code);
  } catch (err) {
    status = internalErrorStatus(err);
  }
  // Input nobody will read any more must not hold up the connection (a paused stream pauses the session).
  for (const name of ['stdin', 'resize']) {
    const s = streams.get(name);
    s?.unpipe();
    s?.resume();
  }
  for (const name of ['stdout', 'stderr']) {
    const s = streams.get(name);
    if (s && !s.writableEnded) await endStream(s);
  }
  session.off('close', onClose);
  const body = encodeStatus(status, version);
  if (body) await writeTo(errorStream, body).catch(() => undefined);
  await endStream(errorStream);
  await session.close();
}

/** copyOut forwards a readable chunk by chunk, awaiting each send (backpressure); a missing stream is done at once. */
async function copyOut(src: Readable | undefined, send: (chunk: Buffer) => Promise<void>): Promise<void> {
  if (!src) return;
  try {
    for await (const chunk of src) await send(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  } catch {
    // The process side broke off; what was sent stands.
  }
}

/** drain consumes an output nobody asked for, so the process never blocks on it. */
async function drain(src: Readable | undefined): Promise<void> {
  if (!src) return;
  src.resume();
  await finished(src).catch(() => undefined);
}

function writeTo(stream: SpdyStream, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve();
    stream.write(data, () => resolve());
  });
}

function endStream(stream: SpdyStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableFinished) return resolve();
    stream.once('close', resolve);
    stream.end(() => resolve());
  });
}
