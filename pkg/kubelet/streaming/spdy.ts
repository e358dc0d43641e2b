// SPDY/3.1 as kubectl speaks it (moby/spdystream): frame codec, zlib header compression, and a stream-multiplexing session.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';

/** SPDY_VERSION is the version field of every control frame we send. */
export const SPDY_VERSION = 3;

/** FRAME_TYPES are the control frame type codes of SPDY/3. */
export const FRAME_TYPES = {
  syn_stream: 1, syn_reply: 2, rst_stream: 3, settings: 4, ping: 6, goaway: 7, headers: 8, window_update: 9,
} as const;
const TYPE_NAMES = new Map<number, ControlType>(
  Object.entries(FRAME_TYPES).map(([name, code]) => [code, name as ControlType]),
);

/** RST_STATUS are the RST_STREAM status codes. */
export const RST_STATUS = {
  PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, UNSUPPORTED_VERSION: 4, CANCEL: 5,
  INTERNAL_ERROR: 6, FLOW_CONTROL_ERROR: 7, STREAM_IN_USE: 8, STREAM_ALREADY_CLOSED: 9, FRAME_TOO_LARGE: 11,
} as const;

/** SETTINGS_INITIAL_WINDOW_SIZE is the SETTINGS id that changes every stream's initial send window. */
export const SETTINGS_INITIAL_WINDOW_SIZE = 7;
/** DEFAULT_WINDOW is SPDY/3.1's initial stream and session window (64 KiB). */
export const DEFAULT_WINDOW = 65536;
const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;
const MAX_FRAME_LENGTH = 0xffffff;
const MAX_DATA_CHUNK = 16384;

// The SPDY/3 header dictionary: 65 words each prefixed by its 4-byte length, then a plain tail.
const DICTIONARY_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding',
  'accept-language', 'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection',
  'content-base', 'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5',
  'content-range', 'content-type', 'date', 'etag', 'expect', 'expires', 'from', 'host', 'if-match',
  'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified', 'location',
  'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer', 'retry-after',
  'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie',
  'keep-alive', 'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** HEADER_DICTIONARY is the 1423-byte zlib dictionary of the SPDY/3 draft (adler32 0xe3c6a7c2). */
export const HEADER_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, 'latin1')]);
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

/** SpdyHeaders maps lower-case header names to values (several values joined by NUL, as on the wire). */
export type SpdyHeaders = Record<string, string>;
type ControlType = keyof typeof FRAME_TYPES;

/** Frame is one decoded SPDY frame. */
export type Frame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedId: number; priority: number; fin: boolean; unidirectional: boolean; headers: SpdyHeaders }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'headers'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; settings: { id: number; value: number; flags: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number };

/** RawFrame is a frame cut from the byte stream but not yet decoded (its header block still compressed). */
export interface RawFrame { control: boolean; type: number; version: number; flags: number; streamId: number; payload: Buffer }

/** encodeHeaderBlock serialises headers as SPDY/3's uncompressed name/value block (32-bit counts and lengths). */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** decodeHeaderBlock parses an uncompressed name/value block; names are lower-cased. */
export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  let off = 0;
  const take = (): Buffer => {
    if (off + 4 > block.length) throw new Error('spdy: truncated header block');
    const len = block.readUInt32BE(off);
    if (off + 4 + len > block.length) throw new Error('spdy: truncated header block');
    const out = block.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return out;
  };
  if (block.length < 4) throw new Error('spdy: truncated header block');
  const count = block.readUInt32BE(0);
  off = 4;
  for (let i = 0; i < count; i++) {
    const name = take().toString('utf8').toLowerCase();
    headers[name] = take().toString('utf8');
  }
  return headers;
}

/** encodeFrame serialises a frame; frames with headers need `block`, their already-compressed header block. */
export function encodeFrame(frame: Frame, block: Buffer = Buffer.alloc(0)): Buffer {
  switch (frame.type) {
    case 'data': {
      if (frame.data.length > MAX_FRAME_LENGTH) throw new Error('spdy: data frame too large');
      const head = Buffer.alloc(8);
      head.writeUInt32BE(frame.streamId & 0x7fffffff, 0);
      head.writeUInt32BE(((frame.fin ? FLAG_FIN : 0) << 24 | frame.data.length) >>> 0, 4);
      return Buffer.concat([head, frame.data]);
    }
    case 'syn_stream': {
      const body = Buffer.alloc(10);
      body.writeUInt32BE(frame.streamId & 0x7fffffff, 0);
      body.writeUInt32BE(frame.associatedId & 0x7fffffff, 4);
      body[8] = (frame.priority & 7) << 5;
      const flags = (frame.fin ? FLAG_FIN : 0) | (frame.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return control('syn_stream', flags, Buffer.concat([body, block]));
    }
    case 'syn_reply':
    case 'headers':
      return control(frame.type, frame.fin ? FLAG_FIN : 0, Buffer.concat([u32(frame.streamId & 0x7fffffff), block]));
    case 'rst_stream':
      return control('rst_stream', 0, Buffer.concat([u32(frame.streamId & 0x7fffffff), u32(frame.status)]));
    case 'settings': {
      const entries = frame.settings.map((s) => Buffer.concat([u32(((s.flags & 0xff) << 24 | (s.id & 0xffffff)) >>> 0), u32(s.value)]));
      return control('settings', frame.clear ? 1 : 0, Buffer.concat([u32(frame.settings.length), ...entries]));
    }
    case 'ping':
      return control('ping', 0, u32(frame.id));
    case 'goaway':
      return control('goaway', 0, Buffer.concat([u32(frame.lastGoodStreamId & 0x7fffffff), u32(frame.status)]));
    case 'window_update':
      return control('window_update', 0, Buffer.concat([u32(frame.streamId & 0x7fffffff), u32(frame.delta & 0x7fffffff)]));
  }
}

/** headerBlockOffset tells where a raw control frame's compressed header block starts (undefined: it has none). */
export function headerBlockOffset(raw: RawFrame): number | undefined {
  if (!raw.control) return undefined;
  if (raw.type === FRAME_TYPES.syn_stream) return 10;
  if (raw.type === FRAME_TYPES.syn_reply || raw.type === FRAME_TYPES.headers) return 4;
  return undefined;
}

/** decodeFrame turns a raw frame into a Frame; `headers` is its decompressed header block when it has one. */
export function decodeFrame(raw: RawFrame, headers: SpdyHeaders = {}): Frame | undefined {
  const p = raw.payload;
  const fin = (raw.flags & FLAG_FIN) !== 0;
  if (!raw.control) return { type: 'data', streamId: raw.streamId, fin, data: p };
  const need = (n: number): void => {
    if (p.length < n) throw new Error(`spdy: control frame type ${raw.type} too short`);
  };
  const id = (off: number): number => p.readUInt32BE(off) & 0x7fffffff;
  switch (TYPE_NAMES.get(raw.type)) {
    case 'syn_stream':
      need(10);
      return { type: 'syn_stream', streamId: id(0), associatedId: id(4), priority: p[8]! >> 5, fin, unidirectional: (raw.flags & FLAG_UNIDIRECTIONAL) !== 0, headers };
    case 'syn_reply':
      need(4);
      return { type: 'syn_reply', streamId: id(0), fin, headers };
    case 'headers':
      need(4);
      return { type: 'headers', streamId: id(0), fin, headers };
    case 'rst_stream':
      need(8);
      return { type: 'rst_stream', streamId: id(0), status: p.readUInt32BE(4) };
    case 'settings': {
      need(4);
      const n = p.readUInt32BE(0);
      need(4 + n * 8);
      const settings = [];
      for (let i = 0; i < n; i++) {
        const word = p.readUInt32BE(4 + i * 8);
        settings.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
      }
      return { type: 'settings', clear: (raw.flags & 1) !== 0, settings };
    }
    case 'ping':
      need(4);
      return { type: 'ping', id: p.readUInt32BE(0) };
    case 'goaway':
      need(4);
      return { type: 'goaway', lastGoodStreamId: id(0), status: p.length >= 8 ? p.readUInt32BE(4) : 0 };
    case 'window_update':
      need(8);
      return { type: 'window_update', streamId: id(0), delta: p.readUInt32BE(4) & 0x7fffffff };
    default:
      return undefined; // unknown control frames (e.g. CREDENTIAL) are ignored, as the spec asks
  }
}

/** FrameSplitter cuts a byte stream into raw frames; bytes may arrive cut at any point. */
export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);

  /** push adds bytes and returns the frames completed by them. */
  push(chunk: Buffer): RawFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: RawFrame[] = [];
    let off = 0;
    while (this.buf.length - off >= 8) {
      const w0 = this.buf.readUInt32BE(off);
      const w1 = this.buf.readUInt32BE(off + 4);
      const len = w1 & 0xffffff;
      if (this.buf.length - off < 8 + len) break;
      const control = (w0 & 0x80000000) !== 0;
      frames.push({
        control,
        version: control ? (w0 >>> 16) & 0x7fff : 0,
        type: control ? w0 & 0xffff : 0,
        streamId: control ? 0 : w0 & 0x7fffffff,
        flags: w1 >>> 24,
        payload: this.buf.subarray(off + 8, off + 8 + len),
      });
      off += 8 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
    return frames;
  }
}

/** ZlibChannel runs one long-lived zlib stream, returning what each input yields after a SYNC_FLUSH. */
class ZlibChannel {
  private queue: Promise<unknown> = Promise.resolve();
  private chunks: Buffer[] = [];
  private failure: Error | undefined;
  private z: zlib.Deflate | zlib.Inflate;

  constructor(z: zlib.Deflate | zlib.Inflate) {
    this.z = z;
    z.on('data', (c: Buffer) => this.chunks.push(c));
    z.on('error', (e: Error) => { this.failure = e; });
  }

  /** run feeds input and resolves with all output up to the flush; calls are served in order. */
  run(input: Buffer): Promise<Buffer> {
    const job = this.queue.then(() => new Promise<Buffer>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.z.write(input);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        // Data events may still sit in the nextTick queue; setImmediate runs after them.
        setImmediate(() => {
          const out = Buffer.concat(this.chunks);
          this.chunks = [];
          if (this.failure) reject(this.failure);
          else resolve(out);
        });
      });
    }));
    this.queue = job.catch(() => undefined);
    return job;
  }

  close(): void {
    this.z.close();
  }
}

/** HeaderCompressor compresses header blocks on one shared zlib stream with the SPDY dictionary. */
export class HeaderCompressor {
  private ch = new ZlibChannel(zlib.createDeflate({ dictionary: HEADER_DICTIONARY }));
  /** compress returns the compressed bytes of one header block (ending with a SYNC_FLUSH marker). */
  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.ch.run(encodeHeaderBlock(headers));
  }
  close(): void { this.ch.close(); }
}

/** HeaderDecompressor inflates header blocks from one shared zlib stream with the SPDY dictionary. */
export class HeaderDecompressor {
  private ch = new ZlibChannel(zlib.createInflate({ dictionary: HEADER_DICTIONARY }));
  /** decompress returns the headers of one compressed block. */
  async decompress(compressed: Buffer): Promise<SpdyHeaders> {
    return decodeHeaderBlock(await this.ch.run(compressed));
  }
  close(): void { this.ch.close(); }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function control(type: ControlType, flags: number, body: Buffer): Buffer {
  if (body.length > MAX_FRAME_LENGTH) throw new Error('spdy: control frame too large');
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x80000000 | SPDY_VERSION << 16 | FRAME_TYPES[type]) >>> 0, 0);
  head.writeUInt32BE((flags << 24 | body.length) >>> 0, 4);
  return Buffer.concat([head, body]);
}

/** SessionOptions configure a SpdySession. */
export interface SessionOptions {
  /** server: true for the side that accepted the connection (it opens even stream ids, answers odd pings). */
  server: boolean;
  /**
   * flowControl: 'on' respects the peer's windows from the start; 'auto' (default) only once the peer shows it
   * does flow control (sends SETTINGS or WINDOW_UPDATE). Go's spdystream, which kubectl uses, never sends
   * WINDOW_UPDATE, so enforcing its window would stall every transfer after 64 KiB.
   */
  flowControl?: 'on' | 'auto' | 'off';
}

/** SpdySession multiplexes SPDY streams over one byte stream. Events: 'stream' (SpdyStream), 'goaway', 'close'. */
export class SpdySession extends EventEmitter {
  readonly streams = new Map<number, SpdyStream>();
  closed = false;
  goneAway = false;
  private transport: Duplex;
  private server: boolean;
  private enforce: boolean;
  private mode: 'on' | 'auto' | 'off';
  private splitter = new FrameSplitter();
  private compressor = new HeaderCompressor();
  private decompressor = new HeaderDecompressor();
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  private nextStreamId: number;
  private nextPingId: number;
  private lastRemoteStreamId = 0;
  private sessionSendWindow = DEFAULT_WINDOW;
  /** peerInitialWindow is the send window each new stream starts with (changed by the peer's SETTINGS). */
  peerInitialWindow = DEFAULT_WINDOW;
  private sessionUnacked = 0;
  private windowWaiters: (() => void)[] = [];
  private pings = new Map<number, () => void>();

  constructor(transport: Duplex, options: SessionOptions) {
    super();
    this.transport = transport;
    this.server = options.server;
    this.mode = options.flowControl ?? 'auto';
    this.enforce = this.mode === 'on';
    this.nextStreamId = this.server ? 2 : 1;
    this.nextPingId = this.server ? 2 : 1;
    transport.on('data', (chunk: Buffer) => this.onBytes(chunk));
    transport.on('end', () => this.destroy());
    transport.on('close', () => this.destroy());
    transport.on('error', () => this.destroy());
  }

  /** openStream sends SYN_STREAM and returns the new stream; its `reply` promise resolves on SYN_REPLY. */
  openStream(headers: SpdyHeaders, opts: { fin?: boolean; priority?: number } = {}): SpdyStream {
    if (this.closed || this.goneAway) throw new Error('spdy: session is closed');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, true);
    this.streams.set(id, stream);
    void this.send({ type: 'syn_stream', streamId: id, associatedId: 0, priority: opts.priority ?? 0, fin: !!opts.fin, unidirectional: false, headers });
    if (opts.fin) stream.markLocalFinSent();
    return stream;
  }

  /** ping sends a PING and resolves with the round-trip time in ms. */
  ping(): Promise<number> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('spdy: session is closed'));
      this.pings.set(id, () => resolve(Date.now() - started));
      this.send({ type: 'ping', id }).catch(reject);
    });
  }

  /** goAway sends GOAWAY (no new streams will be accepted); the transport stays open. */
  goAway(status = 0): Promise<void> {
    if (this.goneAway || this.closed) return Promise.resolve();
    this.goneAway = true;
    return this.send({ type: 'goaway', lastGoodStreamId: this.lastRemoteStreamId, status });
  }

  /** close sends GOAWAY, then ends the transport once everything queued is written and the peer has closed or `graceMs` passed. */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    await this.goAway().catch(() => undefined);
    await this.outbound;
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.once('close', () => { clearTimeout(timer); resolve(); });
    });
    this.destroy();
  }

  /** destroy tears everything down at once: streams are destroyed and the transport is closed. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
    this.wakeWindowWaiters();
    this.compressor.close();
    this.decompressor.close();
    if (!this.transport.destroyed) this.transport.end(() => this.transport.destroy());
    setTimeout(() => this.transport.destroy(), 1000).unref();
    this.emit('close');
  }

  /** send queues one frame; frames go out in the order send was called. Resolves when handed to the transport. */
  send(frame: Frame): Promise<void> {
    const job = this.outbound.then(async () => {
      if (this.closed) throw new Error('spdy: session is closed');
      const block = 'headers' in frame ? await this.compressor.compress(frame.headers) : undefined;
      if (this.closed) throw new Error('spdy: session is closed');
      if (!this.transport.write(encodeFrame(frame, block))) await drained(this.transport);
    });
    this.outbound = job.catch(() => undefined);
    return job;
  }

  /** sendData writes data on a stream in window-sized DATA frames, waiting for window when flow control is on. */
  async sendData(stream: SpdyStream, data: Buffer, fin: boolean): Promise<void> {
    let off = 0;
    do {
      let n = Math.min(data.length - off, MAX_DATA_CHUNK);
      if (n > 0 && this.enforce) {
        while (!this.closed && !stream.destroyed && Math.min(this.sessionSendWindow, stream.sendWindow) <= 0) {
          await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
        }
        n = Math.min(n, this.sessionSendWindow, stream.sendWindow);
      }
      if (this.closed || stream.destroyed) throw new Error('spdy: stream is closed');
      this.sessionSendWindow -= n;
      stream.sendWindow -= n;
      const last = off + n >= data.length;
      await this.send({ type: 'data', streamId: stream.id, fin: fin && last, data: data.subarray(off, off + n) });
      off += n;
    } while (off < data.length);
  }

  /** ackStream is called by a stream when its reader took `n` bytes; it returns that window to the peer. */
  ackStream(stream: SpdyStream, n: number): void {
    if (n > 0 && !this.closed) void this.send({ type: 'window_update', streamId: stream.id, delta: n }).catch(() => undefined);
  }

  /** forget drops a finished stream from the table. */
  forget(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
  }

  /** pauseInput/resumeInput apply a reader's backpressure to the whole connection (as spdystream does). */
  pauseInput(): void { this.transport.pause(); }
  resumeInput(): void { if (!this.closed) this.transport.resume(); }

  private onBytes(chunk: Buffer): void {
    let raws: RawFrame[];
    try {
      raws = this.splitter.push(chunk);
    } catch {
      return this.destroy();
    }
    for (const raw of raws) {
      this.inbound = this.inbound.then(async () => {
        if (this.closed) return;
        const at = headerBlockOffset(raw);
        const headers = at === undefined ? undefined : await this.decompressor.decompress(raw.payload.subarray(at));
        const frame = decodeFrame(raw, headers);
        if (frame && !this.closed) this.handle(frame);
      }).catch((err: unknown) => {
        this.emit('protocolError', err);
        void this.goAway(1).finally(() => this.destroy());
      });
    }
  }

  private handle(f: Frame): void {
    switch (f.type) {
      case 'syn_stream': {
        const fromPeer = (f.streamId % 2 === 1) === this.server;
        if (!fromPeer || f.streamId <= this.lastRemoteStreamId) {
          void this.send({ type: 'rst_stream', streamId: f.streamId, status: RST_STATUS.PROTOCOL_ERROR }).catch(() => undefined);
          return;
        }
        this.lastRemoteStreamId = f.streamId;
        if (this.goneAway) {
          void this.send({ type: 'rst_stream', streamId: f.streamId, status: RST_STATUS.REFUSED_STREAM }).catch(() => undefined);
          return;
        }
        const stream = new SpdyStream(this, f.streamId, f.headers, false);
        this.streams.set(f.streamId, stream);
        if (f.unidirectional) stream.markLocalFinSent();
        if (f.fin) stream.onRemoteFin();
        this.emit('stream', stream);
        return;
      }
      case 'syn_reply': {
        this.streams.get(f.streamId)?.onReply(f.headers, f.fin);
        return;
      }
      case 'headers': {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        Object.assign(s.headers, f.headers);
        if (f.fin) s.onRemoteFin();
        return;
      }
      case 'data': {
        this.sessionUnacked += f.data.length;
        if (this.sessionUnacked >= DEFAULT_WINDOW / 2) {
          void this.send({ type: 'window_update', streamId: 0, delta: this.sessionUnacked }).catch(() => undefined);
          this.sessionUnacked = 0;
        }
        const s = this.streams.get(f.streamId);
        if (!s) {
          void this.send({ type: 'rst_stream', streamId: f.streamId, status: RST_STATUS.INVALID_STREAM }).catch(() => undefined);
          return;
        }
        s.onData(f.data, f.fin);
        return;
      }
      case 'rst_stream':
        this.streams.get(f.streamId)?.onReset(f.status);
        return;
      case 'settings':
        for (const s of f.settings) {
          if (s.id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          const delta = s.value - this.peerInitialWindow;
          this.peerInitialWindow = s.value;
          for (const st of this.streams.values()) st.sendWindow += delta;
          if (this.mode === 'auto') this.enforce = true;
        }
        this.wakeWindowWaiters();
        return;
      case 'ping': {
        const ours = (f.id % 2 === 0) === this.server;
        if (!ours) {
          void this.send({ type: 'ping', id: f.id }).catch(() => undefined);
          return;
        }
        const done = this.pings.get(f.id);
        this.pings.delete(f.id);
        done?.();
        return;
      }
      case 'goaway':
        this.goneAway = true;
        this.emit('goaway', f.lastGoodStreamId, f.status);
        return;
      case 'window_update':
        if (this.mode === 'auto') this.enforce = true;
        if (f.streamId === 0) this.sessionSendWindow += f.delta;
        else {
          const s = this.streams.get(f.streamId);
          if (s) s.sendWindow += f.delta;
        }
        this.wakeWindowWaiters();
        return;
    }
  }

  private wakeWindowWaiters(): void {
    const waiters = this.windowWaiters;
    this.windowWaiters = [];
    for (const w of waiters) w();
  }
}

/** SpdyStream is one SPDY stream as a Duplex: writes become DATA frames, end() sends FIN, destroy() sends RST_STREAM. */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  /** reply resolves with the peer's SYN_REPLY headers (streams we opened); rejects if the stream is reset first. */
  readonly reply: Promise<SpdyHeaders>;
  sendWindow: number;
  /** resetStatus is the RST_STREAM status the peer sent, if it reset the stream. */
  resetStatus: number | undefined;
  private session: SpdySession;
  private ready: Promise<void>;
  private markReady: () => void = () => undefined;
  private resolveReply: (h: SpdyHeaders) => void = () => undefined;
  private rejectReply: (e: Error) => void = () => undefined;
  private replied = false;
  private localFin = false;
  private remoteFin = false;
  private unacked = 0;
  private inputPaused = false;

  constructor(session: SpdySession, id: number, headers: SpdyHeaders, local: boolean) {
    super({ allowHalfOpen: true });
    this.session = session;
    this.id = id;
    this.headers = headers;
    this.sendWindow = session.peerInitialWindow;
    this.reply = new Promise((resolve, reject) => { this.resolveReply = resolve; this.rejectReply = reject; });
    this.reply.catch(() => undefined);
    // Write errors only mean the session is gone; 'close' tells users that, so an error never crashes the agent.
    this.on('error', () => undefined);
    // We may send data on a stream we opened at once; on a peer's stream only after our SYN_REPLY.
    this.ready = local ? Promise.resolve() : new Promise((resolve) => { this.markReady = resolve; });
  }

  /** sendReply answers a peer's SYN_STREAM; with fin the stream is closed from our side at once. */
  sendReply(headers: SpdyHeaders = {}, fin = false): Promise<void> {
    if (this.replied) return Promise.resolve();
    this.replied = true;
    const sent = this.session.send({ type: 'syn_reply', streamId: this.id, fin, headers });
    if (fin) {
      this.localFin = true;
      this.end();
    }
    this.markReady();
    return sent;
  }

  /** markLocalFinSent records that our side is closed already (SYN with FIN, or a unidirectional peer stream). */
  markLocalFinSent(): void {
    this.localFin = true;
    this.end();
  }

  onReply(headers: SpdyHeaders, fin: boolean): void {
    this.resolveReply(headers);
    if (fin) this.onRemoteFin();
  }

  onData(data: Buffer, fin: boolean): void {
    if (this.remoteFin) return;
    if (data.length) {
      this.unacked += data.length;
      if (!this.push(data)) {
        this.inputPaused = true;
        this.session.pauseInput();
      } else if (this.unacked >= DEFAULT_WINDOW / 2) this.ack();
    }
    if (fin) this.onRemoteFin();
  }

  onRemoteFin(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
    this.maybeForget();
  }

  onReset(status: number): void {
    this.resetStatus = status;
    this.remoteFin = true;
    this.localFin = true;
    this.rejectReply(new Error(`spdy: stream ${this.id} reset (status ${status})`));
    this.destroy();
  }

  override _read(): void {
    this.ack();
    if (this.inputPaused) {
      this.inputPaused = false;
      this.session.resumeInput();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.ready.then(() => this.session.sendData(this, chunk, false)).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.localFin) return cb();
    this.ready.then(() => {
      this.localFin = true;
      return this.session.sendData(this, Buffer.alloc(0), true);
    }).then(() => { this.maybeForget(); cb(); }, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this.localFin && this.remoteFin) && !this.session.closed && this.resetStatus === undefined) {
      this.resetStatus = RST_STATUS.CANCEL;
      void this.session.send({ type: 'rst_stream', streamId: this.id, status: RST_STATUS.CANCEL }).catch(() => undefined);
    }
    this.rejectReply(new Error(`spdy: stream ${this.id} closed`));
    this.session.forget(this);
    if (this.inputPaused) {
      this.inputPaused = false;
      this.session.resumeInput();
    }
    cb(err);
  }

  private ack(): void {
    if (this.unacked > 0 && !this.remoteFin) this.session.ackStream(this, this.unacked);
    this.unacked = 0;
  }

  private maybeForget(): void {
    if (this.localFin && this.remoteFin) this.session.forget(this);
  }
}

function drained(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/** isSpdyUpgrade tells a `Connection: Upgrade` + `Upgrade: SPDY/3.1` request. */
export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase().startsWith('spdy/3');
}

/** negotiateStreamProtocol picks from X-Stream-Protocol-Version: '' if none was offered, undefined if none fits. */
export function negotiateStreamProtocol(req: IncomingMessage, supported: readonly string[]): string | undefined {
  const raw = req.headers['x-stream-protocol-version'];
  const offered = (Array.isArray(raw) ? raw.join(',') : raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (offered.length === 0) return '';
  return offered.find((p) => supported.includes(p));
}

/**
 * acceptSpdy answers a SPDY/3.1 upgrade with 101 (echoing the negotiated X-Stream-Protocol-Version) and starts a
 * server session on the socket. It returns undefined after answering 403 when no offered protocol is supported.
 */
export function acceptSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, supported: readonly string[], fallback: string): { session: SpdySession; protocol: string } | undefined {
  const picked = negotiateStreamProtocol(req, supported);
  if (picked === undefined) {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
      message: `unable to upgrade: unable to negotiate protocol: client supports ${String(req.headers['x-stream-protocol-version'])}, server supports [${supported.join(', ')}]` });
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return undefined;
  }
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1'];
  if (picked) lines.push(`X-Stream-Protocol-Version: ${picked}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void };
  s.setNoDelay?.(true);
  s.setTimeout?.(0);
  if (head.length) socket.unshift(head);
  return { session: new SpdySession(socket, { server: true }), protocol: picked || fallback };
}
