// Tests of the SPDY/3.1 frame codec, header compression and session (flow control, ping, reset, goaway).
import { createHash, randomBytes } from 'node:crypto';
import { duplexPair } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeFrame, DEFAULT_WINDOW, encodeFrame, FrameSplitter, HEADER_DICTIONARY, HeaderCompressor, HeaderDecompressor,
  headerBlockOffset, RST_STATUS, SpdySession, type Frame, type SpdyStream,
} from './spdy.ts';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** roundTrip encodes frames on one compressor and decodes them on one decompressor, fed a byte at a time. */
async function roundTrip(frames: Frame[]): Promise<Frame[]> {
  const comp = new HeaderCompressor();
  const decomp = new HeaderDecompressor();
  const wire: Buffer[] = [];
  for (const f of frames) wire.push(encodeFrame(f, 'headers' in f ? await comp.compress(f.headers) : undefined));
  const bytes = Buffer.concat(wire);
  const splitter = new FrameSplitter();
  const out: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) {
    for (const raw of splitter.push(bytes.subarray(i, i + 1))) {
      const at = headerBlockOffset(raw);
      const decoded = decodeFrame(raw, at === undefined ? undefined : await decomp.decompress(raw.payload.subarray(at)));
      if (decoded) out.push(decoded);
    }
  }
  comp.close();
  decomp.close();
  return out;
}

describe('SPDY/3 header dictionary', () => {
  it('is the 1423-byte dictionary of the draft (zlib dictionary id 0xe3c6a7c2)', () => {
    expect(HEADER_DICTIONARY.length).toBe(1423);
    expect(adler32(HEADER_DICTIONARY).toString(16)).toBe('e3c6a7c2');
    expect(HEADER_DICTIONARY.subarray(0, 11)).toEqual(Buffer.from('\0\0\0\x07options', 'latin1'));
    expect(HEADER_DICTIONARY.subarray(-6).toString()).toBe('enq=0.');
  });
});

describe('frame codec', () => {
  const frames: Frame[] = [
    { type: 'syn_stream', streamId: 1, associatedId: 0, priority: 3, fin: false, unidirectional: false, headers: { streamtype: 'error', port: '80', requestid: '0' } },
    { type: 'syn_reply', streamId: 1, fin: false, headers: {} },
    { type: 'syn_stream', streamId: 3, associatedId: 1, priority: 0, fin: true, unidirectional: true, headers: { streamtype: 'data', multi: 'a\0b' } },
    { type: 'headers', streamId: 3, fin: true, headers: { 'x-extra': 'yes' } },
    { type: 'data', streamId: 3, fin: false, data: Buffer.from('hello') },
    { type: 'data', streamId: 3, fin: true, data: Buffer.alloc(0) },
    { type: 'rst_stream', streamId: 5, status: RST_STATUS.CANCEL },
    { type: 'settings', clear: false, settings: [{ id: 7, value: 1 << 20, flags: 0 }, { id: 4, value: 100, flags: 1 }] },
    { type: 'ping', id: 7 },
    { type: 'goaway', lastGoodStreamId: 9, status: 0 },
    { type: 'window_update', streamId: 0, delta: 65536 },
    { type: 'window_update', streamId: 3, delta: 0x7fffffff },
  ];

  it('round-trips every frame type through one compressor/decompressor pair, split byte by byte', async () => {
    expect(await roundTrip(frames)).toEqual(frames);
  });

  it('writes the SPDY/3 control header: control bit, version 3, type, flags and 24-bit length', () => {
    const ping = encodeFrame({ type: 'ping', id: 0x01020304 });
    expect([...ping]).toEqual([0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
    const data = encodeFrame({ type: 'data', streamId: 5, fin: true, data: Buffer.from('ab') });
    expect([...data]).toEqual([0, 0, 0, 5, 0x01, 0, 0, 2, 0x61, 0x62]);
  });

  it('compresses header blocks against the dictionary on one shared stream with SYNC_FLUSH', async () => {
    const comp = new HeaderCompressor();
    const headers = { streamtype: 'stdout', 'content-type': 'text/plain', version: 'HTTP/1.1' };
    const first = await comp.compress(headers);
    const second = await comp.compress(headers);
    comp.close();
    expect(first[0]).toBe(0x78);
    expect(first[1]! & 0x20).toBe(0x20); // FDICT: a preset dictionary is announced
    expect(first.readUInt32BE(2)).toBe(0xe3c6a7c2);
    expect(first.subarray(-4)).toEqual(Buffer.from([0, 0, 0xff, 0xff])); // sync flush marker
    expect(second.length).toBeLessThan(first.length); // the second block refers back to the first
    const plain = zlib.inflateSync(Buffer.concat([first, second]), { dictionary: HEADER_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(plain.readUInt32BE(0)).toBe(3);
    expect(plain.toString('latin1')).toContain('streamtype');
  });

  it('ignores unknown control frame types', () => {
    expect(decodeFrame({ control: true, type: 10, version: 3, flags: 0, streamId: 0, payload: Buffer.alloc(4) })).toBeUndefined();
  });
});

/** pair connects a client and a server session back to back. */
function pair(flowControl: 'on' | 'auto' | 'off'): { client: SpdySession; server: SpdySession } {
  const [a, b] = duplexPair();
  return { client: new SpdySession(a, { server: false, flowControl }), server: new SpdySession(b, { server: true, flowControl }) };
}

async function readAll(s: SpdyStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('SpdySession', () => {
  it('opens a stream, replies, and echoes 4 MB both ways with enforced 64 KiB windows', async () => {
    const { client, server } = pair('on');
    server.on('stream', (s: SpdyStream) => {
      void s.sendReply({ ok: 'yes' });
      s.pipe(s); // echo
    });
    const payload = randomBytes(4 * 1024 * 1024);
    const stream = client.openStream({ streamtype: 'data', port: '80' });
    expect(await stream.reply).toEqual({ ok: 'yes' });
    const received = readAll(stream);
    stream.end(payload);
    const back = await received;
    expect(back.length).toBe(payload.length);
    expect(sha(back)).toBe(sha(payload));
    expect(client.streams.size).toBe(0);
    client.destroy();
    server.destroy();
  });

  it('stops at the 64 KiB window while the peer does not consume, and resumes when it does', async () => {
    const { client, server } = pair('on');
    const got = new Promise<SpdyStream>((resolve) => server.on('stream', (s: SpdyStream) => { void s.sendReply(); resolve(s); }));
    const s = client.openStream({ streamtype: 'data' });
    const written = new Promise<void>((resolve) => s.end(Buffer.alloc(3 * DEFAULT_WINDOW), () => resolve()));
    const peer = await got;
    await new Promise((r) => setTimeout(r, 50));
    expect(s.sendWindow).toBe(0);
    expect(peer.readableLength).toBe(DEFAULT_WINDOW);
    expect((await readAll(peer)).length).toBe(3 * DEFAULT_WINDOW);
    await written;
    client.destroy();
    server.destroy();
  });

  it('sends past 64 KiB without any WINDOW_UPDATE when the peer never does flow control (auto, like spdystream)', async () => {
    const [a, b] = duplexPair();
    const server = new SpdySession(b, { server: true });
    const splitter = new FrameSplitter();
    let dataBytes = 0;
    a.on('data', (c: Buffer) => {
      for (const raw of splitter.push(c)) if (!raw.control) dataBytes += raw.payload.length;
    });
    const got = new Promise<SpdyStream>((resolve) => server.on('stream', resolve));
    const comp = new HeaderCompressor();
    a.write(encodeFrame({ type: 'syn_stream', streamId: 1, associatedId: 0, priority: 0, fin: false, unidirectional: false, headers: { streamtype: 'stdout' } }, await comp.compress({ streamtype: 'stdout' })));
    const s = await got;
    expect(s.headers['streamtype']).toBe('stdout');
    await s.sendReply();
    await new Promise<void>((resolve) => s.end(Buffer.alloc(5 * DEFAULT_WINDOW), () => resolve()));
    expect(dataBytes).toBe(5 * DEFAULT_WINDOW);
    comp.close();
    server.destroy();
  });

  it('answers PINGs, and resolves its own', async () => {
    const { client, server } = pair('auto');
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(await server.ping()).toBeGreaterThanOrEqual(0);
    client.destroy();
    server.destroy();
  });

  it('passes RST_STREAM both ways and refuses streams after GOAWAY', async () => {
    const { client, server } = pair('auto');
    const serverStreams: SpdyStream[] = [];
    server.on('stream', (s: SpdyStream) => {
      serverStreams.push(s);
      void s.sendReply();
    });
    const a = client.openStream({ streamtype: 'data' });
    await a.reply;
    const closed = new Promise((r) => serverStreams[0]!.on('close', r));
    a.destroy();
    await closed;
    expect(serverStreams[0]!.resetStatus).toBe(RST_STATUS.CANCEL);

    await server.goAway();
    await new Promise((r) => setTimeout(r, 20));
    expect(client.goneAway).toBe(true);
    expect(() => client.openStream({ streamtype: 'data' })).toThrow(/closed/);
    client.destroy();
    server.destroy();
  });

  it('half-closes: FIN from one side ends its reader, the other side can still write', async () => {
    const { client, server } = pair('auto');
    server.on('stream', (s: SpdyStream) => {
      void s.sendReply();
      void readAll(s).then((b) => s.end(`got ${b.length}`));
    });
    const s = client.openStream({ streamtype: 'data' });
    s.end('12345');
    expect((await readAll(s)).toString()).toBe('got 5');
    client.destroy();
    server.destroy();
  });
});
